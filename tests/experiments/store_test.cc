// Tests of the coordinator's log operations: materialising sweeps, typed params, lost-trial
// detection and the retry limit.
#include "experiments/store.h"

#include <sys/wait.h>
#include <unistd.h>

#include "experiments/log.h"
#include "gtest/gtest.h"
#include "tests/experiments/test_util.h"

namespace experiments {
namespace {

using Json = nlohmann::json;

std::string Text(Db& db, const std::string& sql, const std::vector<SqlValue>& params = {}) {
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows = db.QueryAll(sql, params);
  EXPECT_TRUE(rows.ok()) << rows.status();
  if (!rows.ok() || rows->empty()) return "<none>";
  std::string out;
  for (const auto& r : *rows) {
    for (size_t i = 0; i < r.size(); ++i) out += (i ? "|" : "") + SqlValueText(r[i]);
    out += ";";
  }
  return out;
}

SweepPlan Plan(const std::string& name, int seeds = 1) {
  Json spec = {{"name", name},
               {"params", {{"RPN_ANCHOR_STRIDE", {1, 2}}, {"RPN_NMS_THRESHOLD", {0.6}}}},
               {"seeds", seeds}};
  absl::StatusOr<SweepPlan> p = PlanSweep(spec, "spec");
  EXPECT_TRUE(p.ok()) << p.status();
  return *p;
}

ClaimPolicy Policy(int64_t pid) {
  ClaimPolicy p;
  p.host = "host-a";
  p.coordinator_pid = pid;
  p.retries = 1;
  p.stale_after_s = 30;
  return p;
}

class StoreTest : public testing::Test {
 protected:
  void SetUp() override {
    path_ = experiments_test::NewTempDir("store") + "/s.sqlite";
    absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(path_);
    ASSERT_TRUE(log.ok()) << log.status();
    log_.emplace(std::move(*log));
  }
  Db& db() { return log_->db(); }
  std::string path_;
  std::optional<ExperimentLog> log_;
};

TEST_F(StoreTest, ParamsKeepTheirTypesAndFilterThroughTheRunsView) {
  ASSERT_TRUE(MaterializeSweep(db(), Plan("typed", 2)).ok());
  EXPECT_EQ(Text(db(), "SELECT DISTINCT typeof(value) FROM params WHERE key = 'RPN_ANCHOR_STRIDE'"),
            "integer;");
  EXPECT_EQ(Text(db(), "SELECT DISTINCT typeof(value) FROM params WHERE key = 'RPN_NMS_THRESHOLD'"),
            "real;");
  EXPECT_EQ(Text(db(), "SELECT DISTINCT typeof(value), value FROM params WHERE key = 'USE_MINI_MASK'"),
            "integer|1;");
  EXPECT_EQ(Text(db(), "SELECT DISTINCT typeof(value) FROM params WHERE key = 'NAME'"), "text;");
  EXPECT_EQ(Text(db(), "SELECT DISTINCT value FROM params WHERE key = 'BACKBONE_STRIDES'"),
            "[4,8,16,32,64];");
  EXPECT_EQ(Text(db(), "SELECT key FROM params WHERE swept = 1 GROUP BY key"),
            "RPN_ANCHOR_STRIDE;RPN_NMS_THRESHOLD;");
  // Numbers compare as numbers through the view (text '10' > '2' would not).
  EXPECT_EQ(Text(db(), "SELECT COUNT(*) FROM runs WHERE RPN_ANCHOR_STRIDE > 1"), "2;");
  EXPECT_EQ(Text(db(), "SELECT COUNT(*) FROM runs WHERE RPN_NMS_THRESHOLD < 0.65"), "4;");
  EXPECT_EQ(Text(db(), "SELECT SEED FROM runs ORDER BY trial_id"), "0;1;0;1;");
  EXPECT_EQ(Text(db(), "SELECT typeof(SEED), typeof(USE_MINI_MASK) FROM runs LIMIT 1"),
            "integer|integer;");
  // The config JSON and hash round-trip.
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows =
      db().QueryAll("SELECT config_json, config_hash FROM trials");
  ASSERT_TRUE(rows.ok());
  for (const auto& r : *rows) {
    absl::StatusOr<mrcnn::Config> c =
        mrcnn::Config::FromJson(Json::parse(std::get<std::string>(r[0])), "row");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->Hash(), std::get<std::string>(r[1]));
  }
}

TEST_F(StoreTest, MaterialisingAgainIsANoOpAndAChangedSpecIsAnError) {
  // Names with quotes and SQL go through bound parameters.
  const std::string name = "it's\"; DROP TABLE sweeps; --";
  absl::StatusOr<int64_t> a = MaterializeSweep(db(), Plan(name));
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<int64_t> b = MaterializeSweep(db(), Plan(name));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(Text(db(), "SELECT COUNT(*) FROM trials"), "2;");
  absl::StatusOr<int64_t> c = MaterializeSweep(db(), Plan(name, 3));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(c.status().message().find("different spec"), std::string::npos);
  EXPECT_EQ(Text(db(), "SELECT name FROM sweeps"), name + ";");
}

TEST_F(StoreTest, TrialsAreUniquePerSweepConfigAndSeed) {
  ASSERT_TRUE(MaterializeSweep(db(), Plan("u")).ok());
  absl::Status s = db().Write([](Db& d) {
    return d.Exec("INSERT INTO trials (sweep_id, ordinal, seed, config_json, config_hash, "
                  "point_hash) SELECT sweep_id, 9, seed, config_json, config_hash, point_hash "
                  "FROM trials LIMIT 1");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
}

TEST_F(StoreTest, RetryLimitCountsFailures) {
  absl::StatusOr<int64_t> sweep = MaterializeSweep(db(), Plan("retry"));
  ASSERT_TRUE(sweep.ok());
  const ClaimPolicy p = Policy(getpid());  // retries = 1: two failed attempts at most
  // Trial 1 fails twice; trial 2 finishes; then nothing is left to claim.
  std::vector<std::string> order;
  while (true) {
    absl::StatusOr<std::optional<Claim>> c = ClaimNext(db(), *sweep, p);
    ASSERT_TRUE(c.ok()) << c.status();
    if (!c->has_value()) break;
    order.push_back(std::to_string((*c)->trial_id) + "/" + std::to_string((*c)->attempt));
    const bool fail = (*c)->ordinal == 0;
    ASSERT_TRUE(FinishAttempt(db(), (*c)->trial_id, (*c)->attempt, fail ? kFailed : kFinished,
                              fail ? 3 : 0, fail ? "exit code 3" : "")
                    .ok());
    ASSERT_LT(order.size(), 10u);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"1/1", "1/2", "2/1"}));
  EXPECT_EQ(Text(db(), "SELECT status, attempts, failures, exit_code, error FROM trials ORDER BY id"),
            "FAILED|2|2|3|exit code 3;FINISHED|1|0|0|;");
  EXPECT_EQ(Text(db(), "SELECT trial_id, attempt, status FROM attempts ORDER BY trial_id, attempt"),
            "1|1|FAILED;1|2|FAILED;2|1|FINISHED;");
  // A higher limit makes the failed trial eligible again.
  ClaimPolicy more = p;
  more.retries = 2;
  absl::StatusOr<std::optional<Claim>> c = ClaimNext(db(), *sweep, more);
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->attempt, 3);
}

TEST_F(StoreTest, LostTrialsAreReapedByHeartbeatOrDeadCoordinator) {
  absl::StatusOr<int64_t> sweep = MaterializeSweep(db(), Plan("lost"));
  ASSERT_TRUE(sweep.ok());
  // A coordinator process that has exited: its pid is gone.
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  ASSERT_EQ(waitpid(dead, nullptr, 0), dead);
  absl::StatusOr<std::optional<Claim>> a = ClaimNext(db(), *sweep, Policy(dead));
  ASSERT_TRUE(a.ok() && a->has_value());
  // Another host's coordinator, alive as far as we can tell, but silent for 100 s.
  ClaimPolicy other = Policy(getppid());
  other.host = "host-b";
  absl::StatusOr<std::optional<Claim>> b = ClaimNext(db(), *sweep, other);
  ASSERT_TRUE(b.ok() && b->has_value());
  ASSERT_TRUE(db().Write([&](Db& d) {
                    absl::StatusOr<Stmt> st =
                        d.Prepare("UPDATE trials SET heartbeat_at = heartbeat_at - 100 WHERE id = ?");
                    if (!st.ok()) return st.status();
                    st->Bind(1, (*b)->trial_id);
                    return st->Run();
                  })
                  .ok());
  // A live coordinator with a fresh heartbeat keeps its trial.
  ClaimPolicy me = Policy(getpid());
  me.stale_after_s = 1000;
  ASSERT_TRUE(db().Write([&](Db& d) { return ReapLost(d, *sweep, me).status(); }).ok());
  // With a 1000 s grace only the dead coordinator's trial is lost; with 30 s both are.
  EXPECT_EQ(Text(db(), "SELECT status, IFNULL(error, '') LIKE '%no longer exists%' FROM trials ORDER BY id"),
            "KILLED|1;RUNNING|0;");
  me.stale_after_s = 30;
  ASSERT_TRUE(db().Write([&](Db& d) { return ReapLost(d, *sweep, me).status(); }).ok());
  EXPECT_EQ(Text(db(), "SELECT status, error LIKE '%no heartbeat for 10_ s%' FROM trials ORDER BY id"),
            "KILLED|0;KILLED|1;");
  // KILLED trials are claimed again, and do not count as failures.
  absl::StatusOr<std::optional<Claim>> again = ClaimNext(db(), *sweep, me);
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->attempt, 2);
  EXPECT_EQ(Text(db(), "SELECT SUM(failures) FROM trials"), "0;");
  // The reaped coordinator's late report changes nothing.
  ASSERT_TRUE(FinishAttempt(db(), (*b)->trial_id, (*b)->attempt, kFinished, 0, "").ok());
  EXPECT_EQ(Text(db(), "SELECT status FROM attempts WHERE trial_id = ? AND attempt = 1",
                 {(*b)->trial_id}),
            "KILLED;");
}

}  // namespace
}  // namespace experiments

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  experiments_test::SetArgs(argc, argv);
  return RUN_ALL_TESTS();
}
