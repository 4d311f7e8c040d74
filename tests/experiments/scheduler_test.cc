// The scheduler's rules on hand-made rung results: rungs, brackets, ASHA's promotions and closed
// rungs, the median rule, and the spec's "scheduler" errors. Expected values are worked out by hand
// from the rules in experiments/scheduler.h.
#include "experiments/scheduler.h"

#include "experiments/spec.h"
#include "experiments/trial.h"
#include "gtest/gtest.h"

namespace experiments {
namespace {

using Json = nlohmann::json;

SchedulerSpec Asha(int min_epochs, int max_epochs, int eta) {
  SchedulerSpec s;
  s.min_epochs = min_epochs;
  s.max_epochs = max_epochs;
  s.eta = eta;
  return s;
}

ScheduledTrial Paused(int64_t id, std::map<int, double> results, std::map<int, std::string> decisions = {}) {
  ScheduledTrial t;
  t.id = id;
  t.ordinal = id;
  t.status = "PAUSED";
  t.results = std::move(results);
  t.decisions = std::move(decisions);
  t.target_rung = t.results.empty() ? 0 : t.results.rbegin()->first;
  return t;
}

ScheduledTrial Queued(int64_t id) {
  ScheduledTrial t;
  t.id = id;
  t.ordinal = id;
  t.status = "QUEUED";
  t.can_run = true;
  return t;
}

TEST(SchedulerTest, RungsAreGeometricUpToTheBudget) {
  EXPECT_EQ(Asha(1, 8, 2).Rungs(0), (std::vector<int>{1, 2, 4, 8}));
  EXPECT_EQ(Asha(1, 10, 3).Rungs(0), (std::vector<int>{1, 3, 9, 10}));
  EXPECT_EQ(Asha(2, 2, 2).Rungs(0), (std::vector<int>{2}));
  EXPECT_EQ(Asha(1, 8, 2).NumBrackets(), 1);
  SchedulerSpec hb = Asha(1, 8, 2);
  hb.type = SchedulerSpec::Type::kHyperband;
  // s_max = log2(8) = 3: four brackets starting at 1, 2, 4 and 8 epochs.
  ASSERT_EQ(hb.NumBrackets(), 4);
  EXPECT_EQ(hb.Rungs(1), (std::vector<int>{2, 4, 8}));
  EXPECT_EQ(hb.Rungs(3), (std::vector<int>{8}));
  EXPECT_EQ(BracketOf(hb, 6), 2);
}

TEST(SchedulerTest, AshaPromotesTheBestOfTheTopFractionHighestRungFirst) {
  const SchedulerSpec s = Asha(1, 8, 2);
  // One result at rung 0: floor(1 / 2) = 0 promotable.
  EXPECT_FALSE(PickPromotion(s, {Paused(1, {{0, 0.9}}), Queued(2)}).has_value());
  // Two: the better one.
  std::optional<Promotion> p = PickPromotion(s, {Paused(1, {{0, 0.3}}), Paused(2, {{0, 0.5}})});
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->trial_id, 2);
  EXPECT_EQ(p->from_rung, 0);
  // Trial 2 already promoted from rung 0 and paused at rung 1 alone: rung 0 has 3 results, top 1 is
  // trial 2 (decided), so nothing; with a fourth result the top 2 holds trial 4.
  std::vector<ScheduledTrial> t = {Paused(1, {{0, 0.3}}), Paused(2, {{0, 0.5}, {1, 0.55}}, {{0, "promoted"}}),
                                   Paused(3, {{0, 0.3}})};
  EXPECT_FALSE(PickPromotion(s, t).has_value());
  t.push_back(Paused(4, {{0, 0.5}}));
  p = PickPromotion(s, t);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->trial_id, 4);  // ties with trial 2 at 0.5, after it by ordinal: second of the top 2
  // A second result at rung 1 makes the higher rung go first.
  t[3] = Paused(4, {{0, 0.5}, {1, 0.8}}, {{0, "promoted"}});
  p = PickPromotion(s, t);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->trial_id, 4);
  EXPECT_EQ(p->from_rung, 1);
  // mode min: the smaller value is the better one.
  SchedulerSpec m = s;
  m.mode = "min";
  p = PickPromotion(m, {Paused(1, {{0, 0.3}}), Paused(2, {{0, 0.5}})});
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->trial_id, 1);
}

TEST(SchedulerTest, ARungClosesWhenNoTrialCanReachItAnyMore) {
  const SchedulerSpec s = Asha(1, 4, 2);
  // A trial still queued for rung 0: nothing closes.
  std::vector<ScheduledTrial> t = {Paused(1, {{0, 0.3}}), Paused(2, {{0, 0.5}}, {{0, "promoted"}}),
                                   Queued(3)};
  EXPECT_TRUE(ClosedRungPrunes(s, t).empty());
  // All four through rung 0; 2 and 4 promoted (top 2); 4 still running to rung 1.
  t = {Paused(1, {{0, 0.3}}), Paused(2, {{0, 0.5}, {1, 0.55}}, {{0, "promoted"}}), Paused(3, {{0, 0.3}}),
       Paused(4, {{0, 0.5}}, {{0, "promoted"}})};
  t[3].status = "RUNNING";
  t[3].target_rung = 1;
  std::vector<Promotion> pruned = ClosedRungPrunes(s, t);
  ASSERT_EQ(pruned.size(), 2u);  // rung 0 closed: 1 and 3; rung 1 still open (4 heads there)
  EXPECT_EQ(pruned[0].trial_id, 1);
  EXPECT_EQ(pruned[1].trial_id, 3);
  // 4 reports 0.8 at rung 1: rung 1 closes; its top 1 is 4, so 2 is pruned at rung 1.
  t[3] = Paused(4, {{0, 0.5}, {1, 0.8}}, {{0, "promoted"}});
  t[0].decisions[0] = t[2].decisions[0] = "pruned";
  t[0].status = t[2].status = "PRUNED";
  pruned = ClosedRungPrunes(s, t);
  ASSERT_EQ(pruned.size(), 1u);
  EXPECT_EQ(pruned[0].trial_id, 2);
  EXPECT_EQ(pruned[0].from_rung, 1);
  // A failed trial without retries left does not hold a rung open.
  t.push_back(Queued(5));
  t.back().status = "FAILED";
  t.back().can_run = false;
  EXPECT_EQ(ClosedRungPrunes(s, t).size(), 1u);
}

TEST(SchedulerTest, MedianRuleContinuesTrialsAtLeastAsGoodAsTheMedian) {
  SchedulerSpec s = Asha(1, 4, 2);
  s.type = SchedulerSpec::Type::kMedian;
  s.min_samples = 3;
  std::vector<ScheduledTrial> t = {Paused(1, {{0, 0.4}}), Paused(2, {{0, 0.1}})};
  EXPECT_TRUE(MedianContinues(s, t, 2, 0));  // fewer than 3 results: always continues
  t.push_back(Paused(3, {{0, 0.2}}));
  EXPECT_TRUE(MedianContinues(s, t, 3, 0));   // median of {0.1, 0.2, 0.4} is 0.2
  EXPECT_FALSE(MedianContinues(s, t, 2, 0));  // 0.1 < 0.2
  t.push_back(Paused(4, {{0, 0.3}}));
  EXPECT_FALSE(MedianContinues(s, t, 3, 0));  // median of four is 0.25
  EXPECT_TRUE(MedianContinues(s, t, 4, 0));
  EXPECT_FALSE(PickPromotion(s, t).has_value());  // the median rule decides at once, never later
}

absl::Status PlanWith(const Json& scheduler, const Json& trainer = Json::object()) {
  Json spec = {{"name", "s"}, {"params", {{"RPN_ANCHOR_STRIDE", {1, 2}}}}, {"scheduler", scheduler}};
  if (!trainer.empty()) spec["trainer"] = trainer;
  return PlanSweep(spec, "spec.json").status();
}

void ExpectRefused(const absl::Status& s, const std::string& key, const std::string& why) {
  ASSERT_FALSE(s.ok()) << key;
  const std::string m(s.message());
  EXPECT_NE(m.find("spec.json"), std::string::npos) << m;
  EXPECT_NE(m.find(key), std::string::npos) << m;
  EXPECT_NE(m.find(why), std::string::npos) << m;
}

TEST(SchedulerTest, BadSchedulersAreRefusedNamingTheKey) {
  const Json ok = {{"type", "asha"}, {"metric", "segm_AP"}, {"min_epochs", 1}, {"max_epochs", 8}, {"eta", 2}};
  EXPECT_TRUE(PlanWith(ok).ok()) << PlanWith(ok);
  Json j = ok;
  j["eta"] = 1;
  ExpectRefused(PlanWith(j), "scheduler.eta", "integer >= 2");
  j = ok;
  j["min_epochs"] = 9;
  ExpectRefused(PlanWith(j), "scheduler.min_epochs", "above max_epochs");
  j = ok;
  j["metric"] = "segm_APX";
  ExpectRefused(PlanWith(j), "scheduler.metric", "no trial reports \"segm_APX\"");
  // COCO metrics are not reported when the trainer's COCO evaluation is off.
  ExpectRefused(PlanWith(ok, {{"coco_eval", false}}), "scheduler.metric", "no trial reports");
  EXPECT_TRUE(PlanWith({{"type", "asha"}, {"metric", "epoch_loss"}}, {{"coco_eval", false}}).ok());
  j = ok;
  j["type"] = "bohb";
  ExpectRefused(PlanWith(j), "scheduler.type", "\"asha\", \"hyperband\" or \"median\"");
  j = ok;
  j["mode"] = "up";
  ExpectRefused(PlanWith(j), "scheduler.mode", "\"max\" or \"min\"");
  j = ok;
  j["rungs"] = 3;
  ExpectRefused(PlanWith(j), "scheduler.rungs", "unknown key");
  j = ok;
  j["min_samples"] = 2;
  ExpectRefused(PlanWith(j), "scheduler.min_samples", "median rule only");
  ExpectRefused(PlanWith(ok, {{"epochs", 5}}), "trainer.epochs", "differs from scheduler.max_epochs");
  ExpectRefused(PlanWith(ok, {{"stop_at_epoch", 2}}), "trainer.stop_at_epoch", "set by the coordinator");
  ExpectRefused(PlanWith("asha"), "\"scheduler\" must be an object", "");
}

TEST(SchedulerTest, PlanStoresTheBudgetAsTheTrainersEpochs) {
  absl::StatusOr<SweepPlan> p = PlanSweep(
      {{"name", "s"},
       {"params", {{"RPN_ANCHOR_STRIDE", {1, 2}}}},
       {"scheduler", {{"type", "hyperband"}, {"metric", "val_loss"}, {"max_epochs", 4}}}},
      "spec.json");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->scheduler.has_value());
  EXPECT_EQ(p->scheduler->mode, "min");  // a loss is minimised unless "mode" says otherwise
  EXPECT_EQ(p->spec["trainer"]["epochs"], 4);
  EXPECT_EQ(p->trainer_args, (std::vector<std::string>{"--epochs=4"}));
}

TEST(SchedulerTest, TrialArgumentsCarryTheRungAndTheCheckpoint) {
  TrialArgs a;
  a.config_path = "c.json";
  a.trial_dir = "d";
  a.db_path = "l.sqlite";
  a.trial_id = 3;
  a.attempt = 2;
  a.stop_at_epoch = 4;
  a.resume = "d/ckpt_2.txt";
  absl::StatusOr<TrialArgs> back = ParseTrialArgs(a.ToArgs());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->stop_at_epoch, 4);
  EXPECT_EQ(back->resume, "d/ckpt_2.txt");
  absl::StatusOr<TrialArgs> bad = ParseTrialArgs(
      {"--config=c", "--seed=0", "--trial_dir=d", "--db=l", "--trial_id=1", "--attempt=1",
       "--threads=1", "--stop_at_epoch=0"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--stop_at_epoch"), std::string::npos) << bad.status();
}

}  // namespace
}  // namespace experiments
