#include "experiments/slurm_launcher.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "experiments/log.h"
#include "experiments/store.h"
#include "experiments/trial.h"

namespace experiments {
namespace {

namespace fs = std::filesystem;

// An attempt submitted to Slurm and not yet ended in the log.
struct Flight {
  SlurmAttempt a;
  std::string log_path, exit_path;
  int64_t ingested = -1;    // report bytes ingested so far; -1: unknown
  std::string state;        // last Slurm state seen
  std::string task() const { return absl::StrCat(a.job_id, "_", a.array_index); }
};

std::string AttemptFile(const std::string& dir, int attempt, const std::string& suffix) {
  return (fs::path(dir) / absl::StrCat("attempt_", attempt, suffix)).string();
}

// The trial binary copied into the sweep's folder under a name that carries its content hash, so that
// nodes run the build this coordinator checked, however often the workspace rebuilds meanwhile.
absl::StatusOr<std::string> StageBinary(const std::string& binary, const fs::path& sweep_dir) {
  std::ifstream in(binary, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(binary, ": cannot read the trial binary"));
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  char buf[1 << 16];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      h = (h ^ static_cast<unsigned char>(buf[i])) * 1099511628211ull;
    }
  }
  const fs::path dest = sweep_dir / "bin" / absl::StrFormat("%s.%016x", fs::path(binary).filename().string(), h);
  std::error_code ec;
  if (fs::exists(dest, ec)) return dest.string();
  fs::create_directories(dest.parent_path(), ec);
  const fs::path tmp = dest.string() + ".tmp";
  fs::copy_file(binary, tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::permissions(tmp, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec, ec);
  if (!ec) fs::rename(tmp, dest, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat(dest.string(), ": cannot copy the trial binary: ", ec.message()));
  return dest.string();
}

// The runs folder must exist (or be creatable) and be writable: every trial writes its report there.
absl::Status CheckWritable(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat("--runs_dir ", dir.string(), ": cannot create: ", ec.message()));
  const fs::path probe = dir / absl::StrCat(".write_probe_", getpid());
  {
    std::ofstream out(probe);
    out << "probe\n";
    if (!out) {
      return absl::PermissionDeniedError(absl::StrCat(
          "--runs_dir ", dir.string(), ": not writable; the Slurm launcher writes trial folders there, on a "
          "filesystem every node can reach"));
    }
  }
  fs::remove(probe, ec);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SweepOutcome> RunSlurmSweep(const SweepPlan& plan, const SweepOptions& options,
                                           const SlurmLaunch& launch) {
  std::ostream& out = options.out ? *options.out : std::cout;
  const double interval = options.progress_interval_s > 0 ? options.progress_interval_s : 10.0;
  const SlurmSettings& settings = launch.settings;
  absl::Status valid = ValidateSlurmSettings(settings, "slurm settings");
  if (!valid.ok()) return valid;
  absl::Status binary_ok = CheckTrialBinary(plan, options);
  if (!binary_ok.ok()) return binary_ok;
  const fs::path runs_root = options.runs_dir.empty()
                                 ? fs::absolute(fs::path(options.db_path)).parent_path() / "experiments_runs"
                                 : fs::absolute(fs::path(options.runs_dir));
  const fs::path sweep_dir = runs_root / SafeName(plan.name);
  absl::Status writable = CheckWritable(sweep_dir);
  if (!writable.ok()) return writable;
  absl::StatusOr<std::string> binary = StageBinary(options.trial_binary, sweep_dir);
  if (!binary.ok()) return binary.status();
  const SlurmClient slurm(launch.bin_dir, launch.command_timeout_s);

  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(options.db_path);
  if (!log.ok()) return log.status();
  Db& db = log->db();
  absl::StatusOr<int64_t> sweep_id = MaterializeSweep(db, plan);
  if (!sweep_id.ok()) return sweep_id.status();
  SweepOutcome outcome;
  outcome.sweep_id = *sweep_id;

  ClaimPolicy policy = PolicyFor(plan, options);
  policy.launcher = "slurm";
  policy.resume_retries = true;

  out << "sweep '" << plan.name << "': " << plan.trials.size() << " trials (" << plan.trials.size() / plan.seeds
      << " points x " << plan.seeds << " seeds) on Slurm, " << settings.cpus_per_trial << " CPU(s)"
      << (settings.ntasks_per_trial > 1 ? absl::StrCat(" as ", settings.ntasks_per_trial, " data-parallel ranks") : "")
      << (settings.gpus_per_trial > 0 ? absl::StrCat(" + ", settings.gpus_per_trial, " GPU(s)") : "")
      << " per trial"
      << (settings.array_parallelism > 0 ? absl::StrCat(", at most ", settings.array_parallelism, " at once") : "")
      << ", log " << options.db_path << "\n  trial binary: " << *binary << "\n  trial folders: " << sweep_dir.string()
      << "\n";

  std::vector<Flight> flights;
  {
    std::vector<std::string> events;
    absl::StatusOr<std::vector<SlurmAttempt>> adopted = AdoptSlurmAttempts(db, outcome.sweep_id, policy, &events);
    if (!adopted.ok()) return adopted.status();
    for (const std::string& e : events) out << e << "\n";
    std::set<std::string> jobs;
    for (SlurmAttempt& a : *adopted) {
      Flight f;
      f.log_path = AttemptFile(a.trial_dir, a.attempt, ".log");
      f.exit_path = AttemptFile(a.trial_dir, a.attempt, ".exit");
      jobs.insert(a.job_id);
      f.a = std::move(a);
      flights.push_back(std::move(f));
    }
    if (!flights.empty()) {
      out << "re-attached to " << flights.size() << " trial(s) in job array(s) " << absl::StrJoin(jobs, ", ") << "\n";
    }
  }

  SignalScope signals;
  bool drained = false, stopping = false;
  double last_poll = 0, last_progress = NowSeconds(), last_heartbeat = 0;
  int poll_failures = 0;
  absl::Status fatal;
  // The coordinator's own cost, reported at the end: what bounds how many trials one coordinator follows.
  struct Cost {
    int polls = 0;
    double poll_s = 0;       // squeue (and sacct) calls
    int64_t lines = 0;
    double ingest_s = 0;     // report ingestion, transactions included
    int arrays = 0;
    double submit_s = 0;     // claims, configs, scripts and sbatch
  } cost;

  const auto ingest = [&](Flight& f) -> absl::Status {
    struct stat st;
    if (stat(f.a.report_path.c_str(), &st) != 0) return absl::OkStatus();  // not started yet
    if (st.st_size == f.ingested) return absl::OkStatus();
    const double t0 = NowSeconds();
    absl::StatusOr<IngestResult> r = IngestReport(db, f.a.trial_id, f.a.attempt, f.a.report_path);
    cost.ingest_s += NowSeconds() - t0;
    if (!r.ok()) return r.status();
    cost.lines += r->new_lines;
    f.ingested = st.st_size;  // a line still without its newline is read when the file grows
    return absl::OkStatus();
  };

  // Records how an attempt ended; `slurm_state` is what Slurm said (empty: it no longer knows the task).
  const auto finish = [&](Flight& f, const std::string& slurm_state) -> absl::Status {
    const std::optional<int> exit_code = ReadExitFile(f.exit_path);
    std::string status, error;
    f.ingested = -1;
    absl::Status ingested = ingest(f);
    SlurmOutcome o;
    std::string said = slurm_state;
    if (!slurm_state.empty()) {
      o = ClassifySlurmState(slurm_state);
    } else if (exit_code) {
      o = *exit_code == 0 ? SlurmOutcome::kCompleted : SlurmOutcome::kFailed;
      said = absl::StrCat("no longer in the queue, exit status ", *exit_code);
    } else {
      o = SlurmOutcome::kKilled;
      said = "no longer in the queue and no exit status (cancelled, preempted or its node lost)";
    }
    if (!ingested.ok() && ingested.code() != absl::StatusCode::kFailedPrecondition) {
      status = kFailed;
      error = absl::StrCat("its report could not be ingested: ", ingested.message());
    } else if (o == SlurmOutcome::kCompleted) {
      absl::StatusOr<std::optional<ReportResult>> result = ReadResult(f.a.report_path, f.a.trial_id, f.a.attempt);
      if (!result.ok()) {
        status = kFailed;
        error = std::string(result.status().message());
      } else if (!result->has_value()) {
        status = kFailed;
        error = absl::StrCat("job ", f.task(), " ", said, " without a result (", ResultPath(f.a.report_path), ")");
      } else {
        absl::StatusOr<std::vector<std::vector<SqlValue>>> got = db.QueryAll(
            "SELECT offset FROM report_ingest WHERE trial_id = ? AND attempt = ?",
            {f.a.trial_id, static_cast<int64_t>(f.a.attempt)});
        if (!got.ok()) return got.status();
        const int64_t have = got->empty() ? 0 : std::get<int64_t>(got->at(0)[0]);
        if (have < (**result).report_bytes) {
          status = kFailed;
          error = absl::StrCat(f.a.report_path, ": ", have, " bytes ingested, but the result says the trial wrote ",
                               (**result).report_bytes, " (the report was cut)");
        } else {
          status = kFinished;
        }
      }
    } else if (o == SlurmOutcome::kFailed) {
      status = kFailed;
      error = absl::StrCat("job ", f.task(), " ", said);
    } else {
      status = kKilled;
      error = absl::StrCat("job ", f.task(), " ", said);
    }
    if (status == kFailed) {
      const std::string tail = TailOfFile(f.log_path, 10);
      if (!tail.empty()) absl::StrAppend(&error, "; last lines of ", f.log_path, ":\n", tail);
    }
    std::string rung_note;
    if (status == kFinished && plan.scheduler) {
      absl::StatusOr<std::string> decided = FinishRung(db, f.a.trial_id, f.a.attempt, *plan.scheduler, &rung_note);
      if (!decided.ok()) return decided.status();
      status = *decided;
      if (status == kFailed) error = rung_note;
    } else {
      absl::Status s = FinishAttempt(db, f.a.trial_id, f.a.attempt, status, exit_code, error);
      if (!s.ok()) return s;
    }
    std::string metric;
    absl::StatusOr<TrialProgress> p = ReadTrialProgress(db, f.a.trial_id, f.a.attempt, options.progress_metric);
    if (p.ok() && p->metric) metric = absl::StrFormat(", %s %.4g", options.progress_metric, *p->metric);
    const std::string first_line = error.substr(0, error.find('\n'));
    out << "trial #" << f.a.trial_id << " (" << f.a.point << " seed=" << f.a.seed << ") attempt " << f.a.attempt
        << " " << status << " (job " << f.task() << ")" << metric << (first_line.empty() ? "" : ": ") << first_line
        << (rung_note.empty() || status == kFailed ? "" : "; ") << (status == kFailed ? "" : rung_note) << "\n";
    out.flush();
    return absl::OkStatus();
  };

  // Claims up to `room` trials and submits them as one job array.
  const auto submit = [&](int room) -> absl::Status {
    std::vector<Claim> claims;
    std::vector<std::string> events;
    while (static_cast<int>(claims.size()) < room) {
      absl::StatusOr<std::optional<Claim>> claim = ClaimNext(db, outcome.sweep_id, policy, &events);
      if (!claim.ok()) return claim.status();
      if (!claim->has_value()) {
        drained = true;
        break;
      }
      claims.push_back(std::move(**claim));
    }
    for (const std::string& e : events) out << e << "\n";
    if (claims.empty()) return absl::OkStatus();
    std::vector<ArrayTask> tasks;
    std::vector<Flight> batch;
    std::string problem;
    for (const Claim& c : claims) {
      Flight f;
      const fs::path dir = sweep_dir / absl::StrCat("trial_", c.trial_id);
      std::error_code ec;
      fs::create_directories(dir, ec);
      f.a.trial_id = c.trial_id;
      f.a.attempt = c.attempt;
      f.a.seed = c.seed;
      f.a.trial_dir = dir.string();
      f.a.report_path = AttemptFile(f.a.trial_dir, c.attempt, ".report.jsonl");
      f.a.point = c.point;
      f.log_path = AttemptFile(f.a.trial_dir, c.attempt, ".log");
      f.exit_path = AttemptFile(f.a.trial_dir, c.attempt, ".exit");
      TrialArgs args;
      args.config_path = (dir / "config.json").string();
      args.seed = c.seed;
      args.trial_dir = f.a.trial_dir;
      args.report_path = f.a.report_path;
      args.trial_id = c.trial_id;
      args.attempt = c.attempt;
      args.threads = settings.cpus_per_trial / settings.ntasks_per_trial;
      args.stop_at_epoch = c.stop_at_epoch;
      args.resume = c.resume_path;
      {
        std::ofstream cfg(args.config_path, std::ios::trunc);
        cfg << nlohmann::json::parse(c.config_json).dump(2) << "\n";
        if (!cfg && problem.empty()) problem = absl::StrCat(args.config_path, ": cannot write the trial config");
      }
      // Files of an earlier run of this same attempt number cannot exist (attempts only grow), but a
      // stale exit file would misreport this one.
      fs::remove(f.exit_path, ec);
      ArrayTask t;
      t.argv = {*binary};
      for (const std::string& a : args.ToArgs()) t.argv.push_back(a);
      t.argv.insert(t.argv.end(), plan.trainer_args.begin(), plan.trainer_args.end());
      t.log_path = f.log_path;
      t.exit_path = f.exit_path;
      t.threads = settings.cpus_per_trial / settings.ntasks_per_trial;
      t.ranks = settings.ntasks_per_trial;
      tasks.push_back(std::move(t));
      batch.push_back(std::move(f));
    }
    std::string job;
    if (problem.empty()) {
      const fs::path script = sweep_dir / "arrays" /
                              absl::StrCat("array_", absl::StrFormat("%.0f", NowSeconds() * 1000), "_trial_",
                                           claims.front().trial_id, ".sh");
      std::error_code ec;
      fs::create_directories(script.parent_path(), ec);
      std::ofstream s(script, std::ios::trunc);
      std::vector<std::string> ids;
      for (const Claim& c : claims) ids.push_back(absl::StrCat("#", c.trial_id, "/", c.attempt));
      s << BatchScript(absl::StrCat("sweep '", plan.name, "', trial/attempt ", absl::StrJoin(ids, " ")), tasks);
      s.close();
      if (!s) {
        problem = absl::StrCat(script.string(), ": cannot write the batch script");
      } else {
        absl::StatusOr<std::string> id =
            slurm.Submit(script.string(), settings, static_cast<int>(tasks.size()),
                         absl::StrCat("sweep-", SafeName(plan.name)), (sweep_dir / "arrays").string());
        if (id.ok()) {
          job = *id;
        } else {
          problem = std::string(id.status().message());
        }
      }
    }
    if (!problem.empty()) {
      // Nothing runs these attempts: they end KILLED (not their fault; the next run re-runs them).
      for (const Flight& f : batch) {
        absl::Status s = FinishAttempt(db, f.a.trial_id, f.a.attempt, kKilled, std::nullopt,
                                       absl::StrCat("not submitted: ", problem));
        if (!s.ok()) return s;
      }
      return absl::UnavailableError(absl::StrCat("could not submit ", batch.size(), " trial(s) to Slurm: ", problem));
    }
    std::vector<std::string> listed;
    for (size_t i = 0; i < batch.size(); ++i) {
      Flight& f = batch[i];
      f.a.job_id = job;
      f.a.array_index = static_cast<int>(i);
      absl::Status s = SetSlurmJob(db, f.a.trial_id, f.a.attempt, job, f.a.array_index, f.a.report_path, f.a.trial_dir);
      if (!s.ok()) return s;
      listed.push_back(absl::StrCat("#", f.a.trial_id, (f.a.attempt > 1 ? absl::StrCat("/", f.a.attempt) : "")));
      flights.push_back(std::move(f));
      ++outcome.trials_started;
    }
    out << "submitted job array " << job << " (" << batch.size() << " task(s)): trial(s) " << absl::StrJoin(listed, " ")
        << "\n";
    out.flush();
    return absl::OkStatus();
  };

  while (true) {
    const double now = NowSeconds();
    if (signals.Received() != 0 && !stopping) {
      stopping = true;
      outcome.interrupted = true;
      outcome.signal = signals.Received();
      std::set<std::string> jobs;
      for (const Flight& f : flights) jobs.insert(f.a.job_id);
      const std::vector<std::string> job_list(jobs.begin(), jobs.end());
      absl::Status c = slurm.Cancel(job_list);
      if (!c.ok()) out << "sweep: " << c.message() << "\n";
      for (Flight& f : flights) {
        absl::Status is = ingest(f);
        (void)is;  // what the trial wrote so far; the attempt ends KILLED either way
        absl::Status s = FinishAttempt(db, f.a.trial_id, f.a.attempt, kKilled, std::nullopt,
                                       absl::StrCat("interrupted: the coordinator received ", strsignal(outcome.signal),
                                                    " and cancelled job ", f.task()));
        if (!s.ok() && fatal.ok()) fatal = s;
      }
      // Wait (bounded) until the cancelled tasks have left the nodes, so that a re-run cannot meet them.
      const double until = NowSeconds() + launch.cancel_wait_s;
      while (c.ok() && !job_list.empty() && NowSeconds() < until) {
        absl::StatusOr<std::map<std::string, std::string>> st = slurm.States(job_list);
        if (!st.ok()) break;
        bool active = false;
        for (const auto& [task, state] : *st) active |= ClassifySlurmState(state) == SlurmOutcome::kInFlight;
        if (!active) break;
        usleep(200 * 1000);
      }
      out << "cancelled " << flights.size() << " trial(s) in job array(s) " << absl::StrJoin(job_list, ", ") << "\n";
      flights.clear();
      break;
    }
    if (now - last_poll >= launch.poll_s && !flights.empty()) {
      last_poll = now;
      std::set<std::string> jobs;
      for (const Flight& f : flights) jobs.insert(f.a.job_id);
      const double t0 = NowSeconds();
      absl::StatusOr<std::map<std::string, std::string>> states =
          slurm.States(std::vector<std::string>(jobs.begin(), jobs.end()));
      ++cost.polls;
      cost.poll_s += NowSeconds() - t0;
      if (!states.ok()) {
        // slurmctld may be briefly unreachable (a restart, a failover): keep following, give up after a while.
        ++poll_failures;
        out << "sweep: " << states.status().message() << " (attempt " << poll_failures << ")\n";
        if (poll_failures * launch.poll_s > std::max(120.0, launch.command_timeout_s * 2)) {
          fatal = absl::UnavailableError(absl::StrCat("Slurm has not answered for ", poll_failures,
                                                      " polls; the trials keep running: run the same command again "
                                                      "to re-attach. Last error: ", states.status().message()));
          break;
        }
      } else {
        poll_failures = 0;
        std::map<std::string, std::string> accounting;
        bool asked_accounting = false;
        for (size_t i = 0; i < flights.size();) {
          Flight& f = flights[i];
          absl::Status is = ingest(f);
          if (!is.ok() && is.code() != absl::StatusCode::kFailedPrecondition) {
            out << "sweep: trial #" << f.a.trial_id << ": " << is.message() << "\n";
          }
          auto it = states->find(f.task());
          std::string state = it == states->end() ? "" : it->second;
          if (state.empty()) {
            if (!asked_accounting) {
              asked_accounting = true;
              const double a0 = NowSeconds();
              absl::StatusOr<std::map<std::string, std::string>> acc =
                  slurm.AccountingStates(std::vector<std::string>(jobs.begin(), jobs.end()));
              cost.poll_s += NowSeconds() - a0;
              if (acc.ok()) accounting = *acc;
            }
            auto at = accounting.find(f.task());
            if (at != accounting.end()) state = at->second;
          }
          f.state = state;
          if (!state.empty() && ClassifySlurmState(state) == SlurmOutcome::kInFlight) {
            ++i;
            continue;
          }
          absl::Status s = finish(f, state);
          if (!s.ok() && fatal.ok()) fatal = s;
          flights.erase(flights.begin() + static_cast<std::ptrdiff_t>(i));
          drained = false;  // a failed or killed trial may be retried, a rung may have closed
        }
      }
    }
    if (!fatal.ok()) break;
    if (!stopping && !drained) {
      const int limit = settings.array_parallelism > 0 ? settings.array_parallelism : 1 << 30;
      const int room = limit - static_cast<int>(flights.size());
      if (room > 0) {
        const double t0 = NowSeconds();
        const int before = outcome.trials_started;
        absl::Status s = submit(room);
        if (outcome.trials_started > before) {
          ++cost.arrays;
          cost.submit_s += NowSeconds() - t0;
        }
        if (!s.ok()) {
          fatal = s;
          break;
        }
      }
    }
    if (launch.no_wait && (drained || settings.array_parallelism > 0)) {
      if (!flights.empty()) {
        out << "submitted; not waiting (--no_wait): " << flights.size()
            << " trial(s) are queued or running on Slurm. Run the same command again (or `compare`) to follow "
               "them and ingest their results.\n";
      }
      break;
    }
    if (flights.empty() && drained) break;
    if (now - last_heartbeat >= options.heartbeat_s) {
      std::vector<std::pair<int64_t, int>> ids;
      for (const Flight& f : flights) ids.emplace_back(f.a.trial_id, f.a.attempt);
      absl::Status s = Heartbeat(db, ids);
      if (!s.ok() && fatal.ok()) fatal = s;
      last_heartbeat = now;
    }
    if (now - last_progress >= interval && !flights.empty()) {
      last_progress = now;
      int running = 0, pending = 0;
      std::ostringstream block;
      for (const Flight& f : flights) {
        if (f.state == "RUNNING") {
          ++running;
          absl::StatusOr<TrialProgress> p = ReadTrialProgress(db, f.a.trial_id, f.a.attempt, options.progress_metric);
          block << "  #" << f.a.trial_id << " " << f.a.point << " seed=" << f.a.seed << " job " << f.task();
          if (p.ok() && p->total_steps && p->step) block << " " << std::min(*p->total_steps, *p->step + 1) << "/" << *p->total_steps;
          if (p.ok() && p->metric) block << " " << options.progress_metric << " " << absl::StrFormat("%.4g", *p->metric);
          block << "\n";
        } else {
          ++pending;
        }
      }
      absl::StatusOr<SweepCounts> counts = CountTrials(db, outcome.sweep_id);
      if (counts.ok()) {
        block << "sweep " << plan.name << ": " << counts->finished << "/" << counts->total() << " finished, "
              << counts->failed << " failed, "
              << (plan.scheduler ? absl::StrCat(counts->paused, " paused, ", counts->pruned, " pruned, ") : "")
              << running << " running and " << pending << " pending on Slurm\n";
      }
      out << block.str();
      out.flush();
    }
    usleep(100 * 1000);
  }
  if (cost.polls > 0 || cost.arrays > 0) {
    out << absl::StrFormat(
        "slurm launcher: %d array(s) submitted in %.2f s; %d poll(s), %.2f s in squeue/sacct (%.1f ms each); "
        "%d report line(s) ingested in %.2f s (%.3f ms each)\n",
        cost.arrays, cost.submit_s, cost.polls, cost.poll_s, cost.polls ? 1000 * cost.poll_s / cost.polls : 0.0,
        cost.lines, cost.ingest_s, cost.lines ? 1000 * cost.ingest_s / static_cast<double>(cost.lines) : 0.0);
  }
  if (!fatal.ok()) return fatal;
  absl::StatusOr<SweepCounts> counts = CountTrials(db, outcome.sweep_id);
  if (!counts.ok()) return counts.status();
  outcome.counts = *counts;
  return outcome;
}

}  // namespace experiments
