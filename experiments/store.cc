#include "experiments/store.h"

#include <signal.h>

#include <cerrno>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "experiments/log.h"

namespace experiments {
namespace {

bool ProcessGone(int64_t pid) { return pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH; }

// The attempts whose rows make up the curve of attempt ?2 of trial ?1: `member` with its rows up to
// step `upto` (NULL: all). An attempt that resumed an earlier one from its checkpoint at step s takes
// the earlier one's rows up to s.
constexpr char kLineage[] = R"sql(
WITH RECURSIVE lineage(member, upto) AS (
  SELECT ?2, NULL
  UNION ALL
  SELECT a.resumed_from, a.resume_step FROM lineage l
  JOIN attempts a ON a.trial_id = ?1 AND a.attempt = l.member
  WHERE a.resumed_from IS NOT NULL)
)sql";

struct Checkpoint {
  std::string path;
  int64_t step = 0;
  int attempt = 0;
};

// The newest checkpoint in the curve of the trial's `attempt`.
absl::StatusOr<std::optional<Checkpoint>> LatestCheckpoint(Db& db, int64_t trial_id, int attempt) {
  absl::StatusOr<Stmt> st = db.Prepare(absl::StrCat(kLineage, R"sql(
SELECT c.path, c.step, c.attempt FROM checkpoints c JOIN lineage l ON c.attempt = l.member
WHERE c.trial_id = ?1 AND (l.upto IS NULL OR c.step <= l.upto)
ORDER BY c.step DESC, c.id DESC LIMIT 1
)sql"));
  if (!st.ok()) return st.status();
  st->Bind(1, trial_id).Bind(2, attempt);
  absl::StatusOr<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Checkpoint>();
  return std::optional<Checkpoint>(Checkpoint{st->Text(0), st->Int(1), static_cast<int>(st->Int(2))});
}

// metric_summary of a new attempt that continues an earlier one: folded from the rows of its curve,
// so "last" and "best" cover the whole curve.
absl::Status SummarizeCurve(Db& db, int64_t trial_id, int attempt) {
  absl::StatusOr<Stmt> st = db.Prepare(absl::StrCat(kLineage, R"sql(
SELECT m.key, m.step, m.epoch, m.value,
       (SELECT goal FROM metric_summary s
        WHERE s.trial_id = m.trial_id AND s.attempt = m.attempt AND s.key = m.key)
FROM metrics m JOIN lineage l ON m.attempt = l.member
WHERE m.trial_id = ?1 AND (l.upto IS NULL OR m.step <= l.upto) AND m.attempt <> ?2
ORDER BY m.step, m.rowid
)sql"));
  if (!st.ok()) return st.status();
  st->Bind(1, trial_id).Bind(2, attempt);
  struct Row {
    std::string key, goal;
    int64_t step;
    std::optional<int64_t> epoch;
    double value;
  };
  std::vector<Row> rows;
  while (true) {
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Row r{st->Text(0), st->IsNull(4) ? DefaultGoal(st->Text(0)) : st->Text(4), st->Int(1),
          std::nullopt, st->Real(3)};
    if (!st->IsNull(2)) r.epoch = st->Int(2);
    rows.push_back(std::move(r));
  }
  for (const Row& r : rows) {
    absl::Status s = UpdateMetricSummary(db, trial_id, attempt, r.key, r.step, r.epoch, r.value, r.goal);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// The sweep's trials as the scheduler sees them.
absl::StatusOr<std::vector<ScheduledTrial>> LoadScheduled(Db& db, int64_t sweep_id, int retries) {
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows = db.QueryAll(
      "SELECT id, ordinal, status, failures, target_rung, rung FROM trials WHERE sweep_id = ? "
      "ORDER BY ordinal",
      {sweep_id});
  if (!rows.ok()) return rows.status();
  std::vector<ScheduledTrial> trials;
  std::map<int64_t, size_t> index;
  for (const std::vector<SqlValue>& r : *rows) {
    ScheduledTrial t;
    t.id = std::get<int64_t>(r[0]);
    t.ordinal = std::get<int64_t>(r[1]);
    t.status = std::get<std::string>(r[2]);
    const int64_t failures = std::get<int64_t>(r[3]);
    t.target_rung = static_cast<int>(std::get<int64_t>(r[4]));
    const int reached =
        std::holds_alternative<int64_t>(r[5]) ? static_cast<int>(std::get<int64_t>(r[5])) : -1;
    t.can_run = t.status == kQueued || t.status == kKilled ||
                (t.status == kFailed && failures <= retries) ||
                (t.status == kPaused && t.target_rung > reached);
    index[t.id] = trials.size();
    trials.push_back(std::move(t));
  }
  absl::StatusOr<std::vector<std::vector<SqlValue>>> results = db.QueryAll(
      "SELECT r.trial_id, r.rung, r.value, r.decision FROM rung_results r JOIN trials t "
      "ON t.id = r.trial_id WHERE t.sweep_id = ?",
      {sweep_id});
  if (!results.ok()) return results.status();
  for (const std::vector<SqlValue>& r : *results) {
    ScheduledTrial& t = trials[index.at(std::get<int64_t>(r[0]))];
    const int rung = static_cast<int>(std::get<int64_t>(r[1]));
    t.results[rung] = std::holds_alternative<double>(r[2]) ? std::get<double>(r[2])
                                                           : static_cast<double>(std::get<int64_t>(r[2]));
    if (std::holds_alternative<std::string>(r[3])) t.decisions[rung] = std::get<std::string>(r[3]);
  }
  return trials;
}

absl::Status Decide(Db& db, int64_t trial_id, int rung, const std::string& decision) {
  absl::StatusOr<Stmt> st = db.Prepare(
      "UPDATE rung_results SET decision = ?, decided_at = ? WHERE trial_id = ? AND rung = ?");
  if (!st.ok()) return st.status();
  st->Bind(1, decision).Bind(2, NowSeconds()).Bind(3, trial_id).Bind(4, rung);
  return st->Run();
}

absl::Status SetTrialState(Db& db, int64_t trial_id, const std::string& status, int target_rung) {
  absl::StatusOr<Stmt> st = db.Prepare("UPDATE trials SET status = ?, target_rung = ? WHERE id = ?");
  if (!st.ok()) return st.status();
  st->Bind(1, status).Bind(2, target_rung).Bind(3, trial_id);
  return st->Run();
}

std::string RungText(const SchedulerSpec& spec, const ScheduledTrial& t, int rung) {
  return absl::StrCat("rung ", rung, " (epoch ", spec.Rungs(BracketOf(spec, t.ordinal))[rung], ")");
}

// Prunes the trials of closed rungs, then picks the trial to run next (see ClaimNext).
absl::StatusOr<std::optional<int64_t>> PickScheduled(Db& db, int64_t sweep_id, const ClaimPolicy& policy,
                                                     std::vector<std::string>* events) {
  const SchedulerSpec& spec = *policy.scheduler;
  absl::StatusOr<std::vector<ScheduledTrial>> trials = LoadScheduled(db, sweep_id, policy.retries);
  if (!trials.ok()) return trials.status();
  std::map<int64_t, ScheduledTrial*> by_id;
  for (ScheduledTrial& t : *trials) by_id[t.id] = &t;
  for (const Promotion& p : ClosedRungPrunes(spec, *trials)) {
    ScheduledTrial& t = *by_id.at(p.trial_id);
    absl::Status s = Decide(db, t.id, p.from_rung, "pruned");
    if (s.ok()) s = SetTrialState(db, t.id, kPruned, t.target_rung);
    if (!s.ok()) return s;
    t.status = kPruned;
    t.decisions[p.from_rung] = "pruned";
    events->push_back(absl::StrCat("trial #", t.id, " PRUNED at ", RungText(spec, t, p.from_rung), ": ",
                                   spec.metric, " ", t.results.at(p.from_rung),
                                   " is outside its closed rung's top 1/", spec.eta));
  }
  // 1. Trials that continue from a checkpoint: promoted, interrupted or failed past their first rung.
  const ScheduledTrial* pick = nullptr;
  for (const ScheduledTrial& t : *trials) {
    if (!t.can_run || t.target_rung == 0) continue;
    if (pick == nullptr || t.target_rung > pick->target_rung) pick = &t;
  }
  if (pick != nullptr) return std::optional<int64_t>(pick->id);
  // 2. The scheduler's promotion.
  if (std::optional<Promotion> p = PickPromotion(spec, *trials)) {
    const ScheduledTrial& t = *by_id.at(p->trial_id);
    absl::Status s = Decide(db, t.id, p->from_rung, "promoted");
    if (s.ok()) s = SetTrialState(db, t.id, kPaused, p->from_rung + 1);
    if (!s.ok()) return s;
    events->push_back(absl::StrCat("trial #", t.id, " promoted from ", RungText(spec, t, p->from_rung),
                                   " to ", RungText(spec, t, p->from_rung + 1), ": ", spec.metric, " ",
                                   t.results.at(p->from_rung)));
    return std::optional<int64_t>(t.id);
  }
  // 3. New trials and retries at their first rung, in sweep order.
  for (const ScheduledTrial& t : *trials) {
    if (t.can_run) return std::optional<int64_t>(t.id);
  }
  return std::optional<int64_t>();
}

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
      // The spec's "slurm" resources may change between runs of a sweep (another partition, more
      // time); everything else identifies it.
      const auto identity = [](nlohmann::json j) {
        if (j.is_object()) j.erase("slurm");
        return j.dump();
      };
      const nlohmann::json stored = nlohmann::json::parse(st->Text(1), nullptr, false);
      if (identity(stored) != identity(plan.spec)) {
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

namespace {
// "KEY=value KEY=value" of the trial's swept keys.
absl::StatusOr<std::string> PointText(Db& db, int64_t trial_id) {
  absl::StatusOr<Stmt> ps = db.Prepare("SELECT key, value FROM params WHERE trial_id = ? AND swept = 1 ORDER BY key");
  if (!ps.ok()) return ps.status();
  ps->Bind(1, trial_id);
  std::vector<std::string> parts;
  while (true) {
    absl::StatusOr<bool> r = ps->Step();
    if (!r.ok()) return r.status();
    if (!*r) break;
    parts.push_back(absl::StrCat(ps->Text(0), "=", SqlValueText(ps->Column(1))));
  }
  return absl::StrJoin(parts, " ");
}
}  // namespace

absl::StatusOr<int> ReapLost(Db& db, int64_t sweep_id, const ClaimPolicy& policy) {
  // Attempts running as Slurm tasks outlive their coordinator: only a Slurm coordinator decides them
  // (AdoptSlurmAttempts), from what Slurm says.
  absl::StatusOr<Stmt> st = db.Prepare(
      "SELECT t.id, t.attempts, t.heartbeat_at, t.host, t.coordinator_pid FROM trials t "
      "JOIN attempts a ON a.trial_id = t.id AND a.attempt = t.attempts "
      "WHERE t.sweep_id = ? AND t.status = 'RUNNING' AND IFNULL(a.launcher, 'local') <> 'slurm'");
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

absl::StatusOr<std::optional<Claim>> ClaimNext(Db& db, int64_t sweep_id, const ClaimPolicy& policy,
                                               std::vector<std::string>* events_out) {
  std::optional<Claim> claim;
  std::vector<std::string> events;
  absl::Status s = db.Write([&](Db& d) -> absl::Status {
    events.clear();
    absl::StatusOr<int> reaped = ReapLost(d, sweep_id, policy);
    if (!reaped.ok()) return reaped.status();
    std::optional<int64_t> id;
    if (policy.scheduler) {
      absl::StatusOr<std::optional<int64_t>> picked = PickScheduled(d, sweep_id, policy, &events);
      if (!picked.ok()) return picked.status();
      id = *picked;
    } else {
      absl::StatusOr<std::vector<std::vector<SqlValue>>> first = d.QueryAll(
          "SELECT id FROM trials WHERE sweep_id = ?1 AND (status IN ('QUEUED', 'KILLED') OR "
          "(status = 'FAILED' AND failures <= ?2)) ORDER BY ordinal LIMIT 1",
          {sweep_id, static_cast<int64_t>(policy.retries)});
      if (!first.ok()) return first.status();
      if (!first->empty()) id = std::get<int64_t>(first->at(0)[0]);
    }
    if (!id) return absl::OkStatus();
    const double now = NowSeconds();
    absl::StatusOr<Stmt> st = d.Prepare(R"sql(
UPDATE trials SET status = 'RUNNING', attempts = attempts + 1, heartbeat_at = ?2, host = ?3,
    coordinator_pid = ?4, pid = NULL, started_at = ?2, finished_at = NULL, exit_code = NULL,
    error = NULL, git_commit = ?5, git_dirty = ?6
WHERE id = ?1
RETURNING id, attempts, seed, ordinal, config_json, target_rung
)sql");
    if (!st.ok()) return st.status();
    st->Bind(1, *id).Bind(2, now).Bind(3, policy.host).Bind(4, policy.coordinator_pid);
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
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::InternalError(absl::StrCat("trial ", *id, " vanished while being claimed"));
    Claim c;
    c.trial_id = st->Int(0);
    c.attempt = static_cast<int>(st->Int(1));
    c.seed = st->Int(2);
    c.ordinal = st->Int(3);
    c.config_json = st->Text(4);
    c.target_rung = static_cast<int>(st->Int(5));
    absl::Status rs = st->Run();  // finish the statement before the next one
    if (!rs.ok()) return rs;
    std::optional<Checkpoint> resume;
    if (policy.scheduler) {
      const SchedulerSpec& spec = *policy.scheduler;
      c.stop_at_epoch = spec.Rungs(BracketOf(spec, c.ordinal)).at(c.target_rung);
    }
    // Under a scheduler (and with resume_retries), every attempt after the first continues from the
    // newest checkpoint of the one before.
    if (c.attempt > 1 && (policy.scheduler || policy.resume_retries)) {
      absl::StatusOr<std::optional<Checkpoint>> latest = LatestCheckpoint(d, c.trial_id, c.attempt - 1);
      if (!latest.ok()) return latest.status();
      resume = *latest;
    }
    if (resume) {
      c.resume_path = resume->path;
      c.resume_step = resume->step;
    }
    absl::StatusOr<Stmt> at = d.Prepare(
        "INSERT INTO attempts (trial_id, attempt, status, host, coordinator_pid, started_at, "
        "resumed_from, resume_step, stop_at_epoch, launcher) VALUES (?, ?, 'RUNNING', ?, ?, ?, ?, ?, ?, ?)");
    if (!at.ok()) return at.status();
    at->Bind(1, c.trial_id).Bind(2, c.attempt).Bind(3, policy.host).Bind(4, policy.coordinator_pid);
    at->Bind(5, now);
    if (resume) {
      at->Bind(6, c.attempt - 1);
      at->Bind(7, resume->step);
    } else {
      at->BindNull(6);
      at->BindNull(7);
    }
    if (policy.scheduler) {
      at->Bind(8, c.stop_at_epoch);
    } else {
      at->BindNull(8);
    }
    at->Bind(9, policy.launcher);
    rs = at->Run();
    if (!rs.ok()) return rs;
    if (resume) {
      rs = SummarizeCurve(d, c.trial_id, c.attempt);
      if (!rs.ok()) return rs;
    }
    absl::StatusOr<std::string> point = PointText(d, c.trial_id);
    if (!point.ok()) return point.status();
    c.point = *point;
    claim = c;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (events_out != nullptr) *events_out = std::move(events);
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

absl::Status SetSlurmJob(Db& db, int64_t trial_id, int attempt, const std::string& job_id, int array_index,
                         const std::string& report_path, const std::string& trial_dir) {
  return db.Write([&](Db& d) -> absl::Status {
    absl::StatusOr<Stmt> st = d.Prepare("UPDATE trials SET pid = NULL, trial_dir = ? WHERE id = ? AND attempts = ?");
    if (!st.ok()) return st.status();
    st->Bind(1, trial_dir).Bind(2, trial_id).Bind(3, attempt);
    absl::Status s = st->Run();
    if (!s.ok()) return s;
    absl::StatusOr<Stmt> at = d.Prepare(
        "UPDATE attempts SET slurm_job_id = ?, slurm_array_index = ?, report_path = ? "
        "WHERE trial_id = ? AND attempt = ?");
    if (!at.ok()) return at.status();
    at->Bind(1, job_id).Bind(2, array_index).Bind(3, report_path).Bind(4, trial_id).Bind(5, attempt);
    return at->Run();
  });
}

absl::StatusOr<std::vector<SlurmAttempt>> AdoptSlurmAttempts(Db& db, int64_t sweep_id, const ClaimPolicy& policy,
                                                             std::vector<std::string>* events) {
  std::vector<SlurmAttempt> adopted;
  absl::Status s = db.Write([&](Db& d) -> absl::Status {
    adopted.clear();
    absl::StatusOr<std::vector<std::vector<SqlValue>>> rows = d.QueryAll(R"sql(
SELECT t.id, t.attempts, t.seed, t.trial_dir, a.slurm_job_id, a.slurm_array_index, a.report_path
FROM trials t JOIN attempts a ON a.trial_id = t.id AND a.attempt = t.attempts
WHERE t.sweep_id = ?1 AND t.status = 'RUNNING' AND a.launcher = 'slurm'
ORDER BY t.ordinal
)sql", {sweep_id});
    if (!rows.ok()) return rows.status();
    const double now = NowSeconds();
    for (const std::vector<SqlValue>& r : *rows) {
      const int64_t id = std::get<int64_t>(r[0]);
      const int attempt = static_cast<int>(std::get<int64_t>(r[1]));
      if (!std::holds_alternative<std::string>(r[4]) || !std::holds_alternative<std::string>(r[6])) {
        // Claimed, but the coordinator stopped before sbatch answered: no job runs it.
        absl::Status f = FinishAttempt(d, id, attempt, kKilled, std::nullopt,
                                       "lost: claimed but never submitted (the coordinator stopped before sbatch answered)");
        if (!f.ok()) return f;
        if (events) events->push_back(absl::StrCat("trial #", id, " attempt ", attempt, " was never submitted: KILLED"));
        continue;
      }
      SlurmAttempt a;
      a.trial_id = id;
      a.attempt = attempt;
      a.seed = std::get<int64_t>(r[2]);
      a.trial_dir = std::holds_alternative<std::string>(r[3]) ? std::get<std::string>(r[3]) : "";
      a.job_id = std::get<std::string>(r[4]);
      a.array_index = static_cast<int>(std::get<int64_t>(r[5]));
      a.report_path = std::get<std::string>(r[6]);
      absl::StatusOr<std::string> point = PointText(d, id);
      if (!point.ok()) return point.status();
      a.point = *point;
      absl::StatusOr<Stmt> up = d.Prepare(
          "UPDATE trials SET host = ?, coordinator_pid = ?, heartbeat_at = ? WHERE id = ?");
      if (!up.ok()) return up.status();
      up->Bind(1, policy.host).Bind(2, policy.coordinator_pid).Bind(3, now).Bind(4, id);
      absl::Status us = up->Run();
      if (!us.ok()) return us;
      adopted.push_back(std::move(a));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return adopted;
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

absl::StatusOr<std::optional<double>> CurveValueAtEpoch(Db& db, int64_t trial_id, int attempt,
                                                       const std::string& key, int64_t epoch) {
  absl::StatusOr<Stmt> st = db.Prepare(absl::StrCat(kLineage, R"sql(
SELECT m.value FROM metrics m JOIN lineage l ON m.attempt = l.member
WHERE m.trial_id = ?1 AND m.key = ?3 AND m.epoch = ?4 AND (l.upto IS NULL OR m.step <= l.upto)
  AND m.value IS NOT NULL
ORDER BY m.step DESC, m.rowid DESC LIMIT 1
)sql"));
  if (!st.ok()) return st.status();
  st->Bind(1, trial_id).Bind(2, attempt).Bind(3, key).Bind(4, epoch);
  absl::StatusOr<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<double>();
  return std::optional<double>(st->Real(0));
}

absl::StatusOr<std::vector<std::pair<int64_t, double>>> Curve(Db& db, int64_t trial_id, int attempt,
                                                              const std::string& key) {
  absl::StatusOr<Stmt> st = db.Prepare(absl::StrCat(kLineage, R"sql(
SELECT m.step, m.value FROM metrics m JOIN lineage l ON m.attempt = l.member
WHERE m.trial_id = ?1 AND m.key = ?3 AND (l.upto IS NULL OR m.step <= l.upto) AND m.value IS NOT NULL
ORDER BY m.step, m.rowid
)sql"));
  if (!st.ok()) return st.status();
  st->Bind(1, trial_id).Bind(2, attempt).Bind(3, key);
  std::vector<std::pair<int64_t, double>> out;
  while (true) {
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.emplace_back(st->Int(0), st->Real(1));
  }
  return out;
}

absl::StatusOr<std::string> FinishRung(Db& db, int64_t trial_id, int attempt,
                                       const SchedulerSpec& spec, std::string* event) {
  std::string status;
  absl::Status s = db.Write([&](Db& d) -> absl::Status {
    absl::StatusOr<std::vector<std::vector<SqlValue>>> rows = d.QueryAll(
        "SELECT status, attempts, ordinal, target_rung, sweep_id FROM trials WHERE id = ?", {trial_id});
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return absl::NotFoundError(absl::StrCat("no trial with id ", trial_id));
    const std::vector<SqlValue>& r = rows->at(0);
    if (std::get<std::string>(r[0]) != kRunning || std::get<int64_t>(r[1]) != attempt) {
      status = std::get<std::string>(r[0]);  // finished by another coordinator: leave it as it is
      return absl::OkStatus();
    }
    const int64_t ordinal = std::get<int64_t>(r[2]);
    const int rung = static_cast<int>(std::get<int64_t>(r[3]));
    const int64_t sweep_id = std::get<int64_t>(r[4]);
    const std::vector<int> rungs = spec.Rungs(BracketOf(spec, ordinal));
    const int epoch = rungs.at(rung);
    absl::StatusOr<std::optional<double>> value = CurveValueAtEpoch(d, trial_id, attempt, spec.metric, epoch);
    if (!value.ok()) return value.status();
    if (!value->has_value()) {
      status = kFailed;
      const std::string why = absl::StrCat("exited 0 but reported no ", spec.metric, " at epoch ", epoch,
                                           " (the scheduler's metric at rung ", rung, ")");
      *event = why;
      return FinishAttempt(d, trial_id, attempt, kFailed, 0, why);
    }
    absl::StatusOr<Stmt> ins = d.Prepare(
        "INSERT INTO rung_results (trial_id, rung, epoch, attempt, metric, value, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!ins.ok()) return ins.status();
    ins->Bind(1, trial_id).Bind(2, rung).Bind(3, epoch).Bind(4, attempt).Bind(5, spec.metric);
    ins->Bind(6, **value).Bind(7, NowSeconds());
    absl::Status w = ins->Run();
    if (!w.ok()) return w;
    int target = rung;
    *event = absl::StrCat(spec.metric, " ", **value, " at rung ", rung, " (epoch ", epoch, ")");
    if (rung + 1 == static_cast<int>(rungs.size())) {
      status = kFinished;
      w = Decide(d, trial_id, rung, "final");
    } else if (spec.type == SchedulerSpec::Type::kMedian) {
      absl::StatusOr<std::vector<ScheduledTrial>> trials = LoadScheduled(d, sweep_id, 0);
      if (!trials.ok()) return trials.status();
      const bool go_on = MedianContinues(spec, *trials, trial_id, rung);
      status = go_on ? kPaused : kPruned;
      if (go_on) target = rung + 1;
      absl::StrAppend(event, go_on ? "; at least the rung's median: promoted"
                                   : "; below the rung's median: pruned");
      w = Decide(d, trial_id, rung, go_on ? "promoted" : "pruned");
    } else {
      status = kPaused;
    }
    if (!w.ok()) return w;
    w = FinishAttempt(d, trial_id, attempt, status, 0, "");
    if (!w.ok()) return w;
    absl::StatusOr<Stmt> up =
        d.Prepare("UPDATE trials SET rung = ?, target_rung = ?, epochs_trained = ? WHERE id = ?");
    if (!up.ok()) return up.status();
    up->Bind(1, rung).Bind(2, target).Bind(3, epoch).Bind(4, trial_id);
    return up->Run();
  });
  if (!s.ok()) return s;
  return status;
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
    if (s == kPaused) c.paused = n;
    if (s == kPruned) c.pruned = n;
  }
  return c;
}

}  // namespace experiments
