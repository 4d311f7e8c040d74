#include "experiments/store.h"

#include <signal.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "experiments/log.h"

namespace experiments {
namespace {

bool ProcessGone(int64_t pid) { return pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH; }

}  // namespace

absl::StatusOr<int64_t> MaterializeSweep(Db& db, const SweepPlan& plan) {
  int64_t sweep_id = 0;
  absl::Status s = db.Write([&](Db& d) -> absl::Status {
    absl::StatusOr<Stmt> st = d.Prepare("SELECT id, spec FROM sweeps WHERE name = ?");
    if (!st.ok()) return st.status();
    st->Bind(1, plan.name);
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    const std::string spec = plan.spec.dump();
    if (*row) {
      if (st->Text(1) != spec) {
        return absl::AlreadyExistsError(absl::StrCat(
            d.path(), ": sweep '", plan.name, "' already exists with a different spec (stored: ",
            st->Text(1), "; given: ", spec, "); choose another name with --name"));
      }
      sweep_id = st->Int(0);
      return absl::OkStatus();
    }
    absl::StatusOr<Stmt> ins = d.Prepare(
        "INSERT INTO sweeps (name, spec, seed, seeds, created_at) VALUES (?, ?, ?, ?, ?)");
    if (!ins.ok()) return ins.status();
    ins->Bind(1, plan.name).Bind(2, spec).Bind(3, plan.seed).Bind(4, plan.seeds).Bind(5,
                                                                                    NowSeconds());
    absl::Status s = ins->Run();
    if (!s.ok()) return s;
    sweep_id = d.LastInsertId();
    int64_t ordinal = 0;
    for (const PlannedTrial& t : plan.trials) {
      const nlohmann::json config = t.config.ToJson();
      absl::StatusOr<Stmt> ti = d.Prepare(
          "INSERT INTO trials (sweep_id, ordinal, seed, config_json, config_hash, point_hash) "
          "VALUES (?, ?, ?, ?, ?, ?)");
      if (!ti.ok()) return ti.status();
      ti->Bind(1, sweep_id).Bind(2, ordinal++).Bind(3, t.seed).Bind(4, config.dump());
      ti->Bind(5, t.config.Hash()).Bind(6, PointHash(t.config));
      s = ti->Run();
      if (!s.ok()) return s;
      const int64_t trial_id = d.LastInsertId();
      for (auto it = config.begin(); it != config.end(); ++it) {
        absl::StatusOr<Stmt> pi =
            d.Prepare("INSERT INTO params (trial_id, key, value, swept) VALUES (?, ?, ?, ?)");
        if (!pi.ok()) return pi.status();
        const bool swept = t.point.contains(it.key());
        pi->Bind(1, trial_id).Bind(2, it.key()).Bind(3, ParamValue(it.value())).Bind(4, swept ? 1 : 0);
        s = pi->Run();
        if (!s.ok()) return s;
      }
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return sweep_id;
}

absl::StatusOr<int> ReapLost(Db& db, int64_t sweep_id, const ClaimPolicy& policy) {
  absl::StatusOr<Stmt> st = db.Prepare(
      "SELECT id, attempts, heartbeat_at, host, coordinator_pid FROM trials "
      "WHERE sweep_id = ? AND status = 'RUNNING'");
  if (!st.ok()) return st.status();
  st->Bind(1, sweep_id);
  const double now = NowSeconds();
  std::vector<std::tuple<int64_t, int, std::string>> lost;
  while (true) {
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const double hb = st->IsNull(2) ? 0.0 : st->Real(2);
    const std::string host = st->Text(3);
    const int64_t cpid = st->IsNull(4) ? 0 : st->Int(4);
    std::string why;
    if (host == policy.host && cpid != policy.coordinator_pid && ProcessGone(cpid)) {
      why = absl::StrCat("lost: its coordinator (pid ", cpid, " on ", host, ") no longer exists");
    } else if (now - hb > policy.stale_after_s) {
      why = absl::StrCat("lost: no heartbeat for ", static_cast<int64_t>(now - hb), " s (grace ",
                         policy.stale_after_s, " s) from its coordinator (pid ", cpid, " on ", host,
                         ")");
    }
    if (!why.empty()) lost.emplace_back(st->Int(0), static_cast<int>(st->Int(1)), why);
  }
  for (const auto& [id, attempt, why] : lost) {
    absl::Status s = FinishAttempt(db, id, attempt, kKilled, std::nullopt, why);
    if (!s.ok()) return s;
  }
  return static_cast<int>(lost.size());
}

absl::StatusOr<std::optional<Claim>> ClaimNext(Db& db, int64_t sweep_id, const ClaimPolicy& policy) {
  std::optional<Claim> claim;
  absl::Status s = db.Write([&](Db& d) -> absl::Status {
    absl::StatusOr<int> reaped = ReapLost(d, sweep_id, policy);
    if (!reaped.ok()) return reaped.status();
    const double now = NowSeconds();
    absl::StatusOr<Stmt> st = d.Prepare(R"sql(
UPDATE trials SET status = 'RUNNING', attempts = attempts + 1, heartbeat_at = ?2, host = ?3,
    coordinator_pid = ?4, pid = NULL, started_at = ?2, finished_at = NULL, exit_code = NULL,
    error = NULL, git_commit = ?5, git_dirty = ?6
WHERE id = (SELECT id FROM trials WHERE sweep_id = ?1 AND
              (status IN ('QUEUED', 'KILLED') OR (status = 'FAILED' AND failures <= ?7))
            ORDER BY ordinal LIMIT 1)
RETURNING id, attempts, seed, ordinal, config_json
)sql");
    if (!st.ok()) return st.status();
    st->Bind(1, sweep_id).Bind(2, now).Bind(3, policy.host).Bind(4, policy.coordinator_pid);
    if (policy.git_commit.empty()) {
      st->BindNull(5);
    } else {
      st->Bind(5, policy.git_commit);
    }
    if (policy.git_dirty) {
      st->Bind(6, *policy.git_dirty ? 1 : 0);
    } else {
      st->BindNull(6);
    }
    st->Bind(7, policy.retries);
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
    Claim c;
    c.trial_id = st->Int(0);
    c.attempt = static_cast<int>(st->Int(1));
    c.seed = st->Int(2);
    c.ordinal = st->Int(3);
    c.config_json = st->Text(4);
    absl::Status rs = st->Run();  // finish the statement before the next one
    if (!rs.ok()) return rs;
    absl::StatusOr<Stmt> at = d.Prepare(
        "INSERT INTO attempts (trial_id, attempt, status, host, coordinator_pid, started_at) "
        "VALUES (?, ?, 'RUNNING', ?, ?, ?)");
    if (!at.ok()) return at.status();
    at->Bind(1, c.trial_id).Bind(2, c.attempt).Bind(3, policy.host).Bind(4, policy.coordinator_pid);
    at->Bind(5, now);
    rs = at->Run();
    if (!rs.ok()) return rs;
    absl::StatusOr<Stmt> ps = d.Prepare(
        "SELECT key, value FROM params WHERE trial_id = ? AND swept = 1 ORDER BY key");
    if (!ps.ok()) return ps.status();
    ps->Bind(1, c.trial_id);
    std::vector<std::string> parts;
    while (true) {
      absl::StatusOr<bool> r = ps->Step();
      if (!r.ok()) return r.status();
      if (!*r) break;
      parts.push_back(absl::StrCat(ps->Text(0), "=", SqlValueText(ps->Column(1))));
    }
    c.point = absl::StrJoin(parts, " ");
    claim = c;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return claim;
}

absl::Status SetTrialProcess(Db& db, int64_t trial_id, int attempt, int64_t pid,
                             const std::string& trial_dir) {
  return db.Write([&](Db& d) -> absl::Status {
    absl::StatusOr<Stmt> st = d.Prepare(
        "UPDATE trials SET pid = ?, trial_dir = ? WHERE id = ? AND attempts = ?");
    if (!st.ok()) return st.status();
    st->Bind(1, pid).Bind(2, trial_dir).Bind(3, trial_id).Bind(4, attempt);
    absl::Status s = st->Run();
    if (!s.ok()) return s;
    absl::StatusOr<Stmt> at =
        d.Prepare("UPDATE attempts SET pid = ? WHERE trial_id = ? AND attempt = ?");
    if (!at.ok()) return at.status();
    at->Bind(1, pid).Bind(2, trial_id).Bind(3, attempt);
    return at->Run();
  });
}

absl::Status Heartbeat(Db& db, const std::vector<std::pair<int64_t, int>>& trial_attempts) {
  if (trial_attempts.empty()) return absl::OkStatus();
  const double now = NowSeconds();
  return db.Write([&](Db& d) -> absl::Status {
    for (const auto& [id, attempt] : trial_attempts) {
      absl::StatusOr<Stmt> st = d.Prepare(
          "UPDATE trials SET heartbeat_at = ? WHERE id = ? AND attempts = ? AND status = 'RUNNING'");
      if (!st.ok()) return st.status();
      st->Bind(1, now).Bind(2, id).Bind(3, attempt);
      absl::Status s = st->Run();
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  });
}

absl::Status FinishAttempt(Db& db, int64_t trial_id, int attempt, const std::string& status,
                           std::optional<int> exit_code, const std::string& error) {
  const auto body = [&](Db& d) -> absl::Status {
    const double now = NowSeconds();
    // Only the trial's current RUNNING attempt may be finished: an attempt that another coordinator
    // already reaped stays as it was recorded.
    absl::StatusOr<Stmt> st = d.Prepare(R"sql(
UPDATE trials SET status = ?1, finished_at = ?2, exit_code = ?3, error = ?4,
    failures = failures + (CASE WHEN ?1 = 'FAILED' THEN 1 ELSE 0 END)
WHERE id = ?5 AND attempts = ?6 AND status = 'RUNNING'
)sql");
    if (!st.ok()) return st.status();
    st->Bind(1, status).Bind(2, now);
    if (exit_code) {
      st->Bind(3, *exit_code);
    } else {
      st->BindNull(3);
    }
    if (error.empty()) {
      st->BindNull(4);
    } else {
      st->Bind(4, error);
    }
    st->Bind(5, trial_id).Bind(6, attempt);
    absl::Status s = st->Run();
    if (!s.ok()) return s;
    if (d.Changes() == 0) return absl::OkStatus();
    absl::StatusOr<Stmt> at = d.Prepare(
        "UPDATE attempts SET status = ?, finished_at = ?, exit_code = ?, error = ? "
        "WHERE trial_id = ? AND attempt = ?");
    if (!at.ok()) return at.status();
    at->Bind(1, status).Bind(2, now);
    if (exit_code) {
      at->Bind(3, *exit_code);
    } else {
      at->BindNull(3);
    }
    if (error.empty()) {
      at->BindNull(4);
    } else {
      at->Bind(4, error);
    }
    at->Bind(5, trial_id).Bind(6, attempt);
    return at->Run();
  };
  // Called both on its own and inside ClaimNext's transaction.
  if (!db.InTransaction()) return db.Write(body);
  return body(db);
}

absl::StatusOr<SweepCounts> CountTrials(Db& db, int64_t sweep_id) {
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows = db.QueryAll(
      "SELECT status, COUNT(*) FROM trials WHERE sweep_id = ? GROUP BY status", {sweep_id});
  if (!rows.ok()) return rows.status();
  SweepCounts c;
  for (const auto& r : *rows) {
    const std::string s = std::get<std::string>(r[0]);
    const int n = static_cast<int>(std::get<int64_t>(r[1]));
    if (s == kQueued) c.queued = n;
    if (s == kRunning) c.running = n;
    if (s == kFinished) c.finished = n;
    if (s == kFailed) c.failed = n;
    if (s == kKilled) c.killed = n;
  }
  return c;
}

}  // namespace experiments
