#include "experiments/coordinator.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "experiments/log.h"
#include "experiments/trial.h"

extern char** environ;

namespace experiments {
namespace {

volatile sig_atomic_t g_signal = 0;
void OnSignal(int sig) { g_signal = sig; }

}  // namespace

SignalScope::SignalScope() {
  g_signal = 0;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int_);
  sigaction(SIGTERM, &sa, &old_term_);
}

SignalScope::~SignalScope() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
}

int SignalScope::Received() const { return g_signal; }

void SignalScope::Raise(int sig) { g_signal = sig; }

std::string Hostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

std::string SafeName(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out;
}

std::string TailOfFile(const std::string& path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string out = absl::StrJoin(last, "\n");
  if (out.size() > 2000) out = out.substr(out.size() - 2000);
  return out;
}

namespace {

enum class StopReason { kNone, kInterrupt, kTimeout };

struct Running {
  Claim claim;
  pid_t pid = -1;
  double started = 0;
  std::string dir;
  std::string log_path;
  StopReason stop = StopReason::kNone;
  double term_sent = 0;
  bool kill_sent = false;
};

// Forks and execs the trial binary in its own process group, with stdout and stderr appended to
// `log_path` and OMP_NUM_THREADS / MKL_NUM_THREADS set to `threads`. Everything the child needs is
// prepared before fork, so the child only calls async-signal-safe functions.
absl::StatusOr<pid_t> Spawn(const std::string& binary, const std::vector<std::string>& args,
                            const std::string& log_path, int threads) {
  std::vector<std::string> argv_s = {binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    if (kv.rfind("OMP_NUM_THREADS=", 0) == 0 || kv.rfind("MKL_NUM_THREADS=", 0) == 0) continue;
    env_s.push_back(kv);
  }
  env_s.push_back(absl::StrCat("OMP_NUM_THREADS=", threads));
  env_s.push_back(absl::StrCat("MKL_NUM_THREADS=", threads));
  std::vector<char*> envp;
  for (std::string& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(log_path, ": cannot open trial log: ", std::strerror(errno)));
  }
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    if (null_fd >= 0) close(null_fd);
    return absl::ResourceExhaustedError(absl::StrCat("fork failed: ", std::strerror(errno)));
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);  // the coordinator died between fork and prctl
    if (null_fd >= 0) dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execve(argv[0], argv.data(), envp.data());
    const char msg[] = "sweep: could not exec the trial binary\n";
    ssize_t ignored = write(2, msg, sizeof(msg) - 1);
    (void)ignored;
    _exit(127);
  }
  setpgid(pid, pid);  // also from the parent, so it holds before the first kill(-pid)
  close(log_fd);
  if (null_fd >= 0) close(null_fd);
  return pid;
}

std::string Bar(double fraction, int width) {
  const int filled = static_cast<int>(std::round(std::clamp(fraction, 0.0, 1.0) * width));
  return absl::StrCat("[", std::string(filled, '#'), std::string(width - filled, '-'), "]");
}

}  // namespace

absl::StatusOr<TrialProgress> ReadTrialProgress(Db& db, int64_t trial_id, int attempt, const std::string& metric) {
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows = db.QueryAll(
      "SELECT (SELECT total_steps FROM trials WHERE id = ?1), "
      "(SELECT MAX(last_step) FROM metric_summary WHERE trial_id = ?1 AND attempt = ?2), "
      "(SELECT last_value FROM metric_summary WHERE trial_id = ?1 AND attempt = ?2 AND key = ?3)",
      {trial_id, static_cast<int64_t>(attempt), metric});
  if (!rows.ok()) return rows.status();
  TrialProgress p;
  const std::vector<SqlValue>& row = rows->at(0);
  if (std::holds_alternative<int64_t>(row[0])) p.total_steps = std::get<int64_t>(row[0]);
  if (std::holds_alternative<int64_t>(row[1])) p.step = std::get<int64_t>(row[1]);
  if (std::holds_alternative<double>(row[2])) p.metric = std::get<double>(row[2]);
  if (std::holds_alternative<int64_t>(row[2])) p.metric = static_cast<double>(std::get<int64_t>(row[2]));
  return p;
}

std::string FormatDuration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

GitState ReadGitState(const std::string& dir) {
  GitState g;
  const auto run = [](const std::string& cmd, std::string* output) {
    FILE* f = popen(cmd.c_str(), "r");
    if (f == nullptr) return false;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) output->append(buf, n);
    return pclose(f) == 0;
  };
  std::string commit, status;
  const std::string q = absl::StrCat("'", dir, "'");
  if (dir.find('\'') != std::string::npos) return g;
  if (!run(absl::StrCat("git -C ", q, " rev-parse HEAD 2>/dev/null"), &commit)) return g;
  while (!commit.empty() && (commit.back() == '\n' || commit.back() == '\r')) commit.pop_back();
  g.commit = commit;
  if (run(absl::StrCat("git -C ", q, " status --porcelain --untracked-files=no 2>/dev/null"),
          &status)) {
    g.dirty = !status.empty();
  }
  return g;
}

absl::StatusOr<int> ThreadsPerTrial(int cores, int workers) {
  if (workers < 1) return absl::InvalidArgumentError(absl::StrCat("--workers must be >= 1, got ", workers));
  if (cores < 1) return absl::InvalidArgumentError(absl::StrCat("--cores must be >= 1, got ", cores));
  if (workers > cores) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--workers=", workers, " exceeds the ", cores, " cores: trials would oversubscribe the CPU "
        "(LibTorch slows 7x-40x per step when a core is shared); use --workers <= ", cores));
  }
  return cores / workers;
}

absl::Status CheckTrainerArgs(const std::string& binary, const std::vector<std::string>& trainer_args,
                              double timeout_s) {
  char tmpl[] = "/tmp/sweep_check_XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot create a temporary file: ", std::strerror(errno)));
  close(fd);
  const std::string out_path = tmpl;
  std::vector<std::string> args = {"--check_args"};
  args.insert(args.end(), trainer_args.begin(), trainer_args.end());
  absl::StatusOr<pid_t> pid = Spawn(binary, args, out_path, 1);
  if (!pid.ok()) {
    unlink(out_path.c_str());
    return pid.status();
  }
  int wstatus = 0;
  const double start = NowSeconds();
  while (waitpid(*pid, &wstatus, WNOHANG) == 0) {
    if (NowSeconds() - start > timeout_s) {
      kill(-*pid, SIGKILL);
      waitpid(*pid, &wstatus, 0);
      unlink(out_path.c_str());
      return absl::DeadlineExceededError(absl::StrCat(binary, " --check_args did not answer within ",
                                                      timeout_s, " s"));
    }
    usleep(10 * 1000);
  }
  const std::string said = TailOfFile(out_path, 5);
  unlink(out_path.c_str());
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "the spec's \"trainer\" flags (", absl::StrJoin(trainer_args, " "), ") were refused by the trial binary ",
      binary, ": ", said));
}

absl::Status CheckTrialBinary(const SweepPlan& plan, const SweepOptions& options) {
  if (options.trial_binary.empty()) {
    return absl::InvalidArgumentError("no trial binary given (--trial_binary)");
  }
  if (access(options.trial_binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("--trial_binary ", options.trial_binary,
                                            ": not an executable file (", std::strerror(errno), ")"));
  }
  // A typo in the spec's trainer flags fails every trial the same way: find it before the sweep exists.
  return CheckTrainerArgs(options.trial_binary, plan.trainer_args, 60);
}

ClaimPolicy PolicyFor(const SweepPlan& plan, const SweepOptions& options) {
  ClaimPolicy policy;
  policy.host = Hostname();
  policy.coordinator_pid = getpid();
  policy.scheduler = plan.scheduler;
  policy.retries = options.retries;
  policy.stale_after_s = options.stale_after_s;
  policy.git_commit = options.git_commit;
  policy.git_dirty = options.git_dirty;
  return policy;
}

absl::StatusOr<SweepOutcome> RunSweep(const SweepPlan& plan, const SweepOptions& options) {
  std::ostream& out = options.out ? *options.out : std::cout;
  const bool tty = options.out == nullptr && isatty(STDOUT_FILENO);
  const double interval =
      options.progress_interval_s > 0 ? options.progress_interval_s : (tty ? 0.5 : 10.0);
  const int cores = options.cores > 0 ? options.cores
                                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (options.ranks_per_trial < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--ranks_per_trial must be >= 1, got ", options.ranks_per_trial));
  }
  // Data-parallel trials: every rank is a process of its own, so the cores are split over them all.
  absl::StatusOr<int> threads = ThreadsPerTrial(cores, options.workers * options.ranks_per_trial);
  if (!threads.ok()) return threads.status();
  absl::Status binary_ok = CheckTrialBinary(plan, options);
  if (!binary_ok.ok()) return binary_ok;
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(options.db_path);
  if (!log.ok()) return log.status();
  Db& db = log->db();
  absl::StatusOr<int64_t> sweep_id = MaterializeSweep(db, plan);
  if (!sweep_id.ok()) return sweep_id.status();
  SweepOutcome outcome;
  outcome.sweep_id = *sweep_id;

  namespace fs = std::filesystem;
  const fs::path runs_root =
      options.runs_dir.empty()
          ? fs::absolute(fs::path(options.db_path)).parent_path() / "experiments_runs"
          : fs::absolute(fs::path(options.runs_dir));
  const std::string db_abs = fs::absolute(fs::path(options.db_path)).string();

  const ClaimPolicy policy = PolicyFor(plan, options);

  out << "sweep '" << plan.name << "': " << plan.trials.size() << " trials (" << plan.trials.size() / plan.seeds
      << " points x " << plan.seeds << " seeds), " << options.workers << " worker(s) x "
      << (options.ranks_per_trial > 1 ? absl::StrCat(options.ranks_per_trial, " ranks x ") : "") << *threads
      << " thread(s), log " << options.db_path << "\n  trial binary: " << options.trial_binary
      << "\n";
  if (plan.scheduler) {
    const SchedulerSpec& sc = *plan.scheduler;
    out << "  scheduler: " << sc.TypeName() << " on " << sc.metric << " (" << sc.mode << "), eta "
        << sc.eta << ", rungs at epochs";
    for (int b = 0; b < sc.NumBrackets(); ++b) {
      out << (b > 0 ? " |" : "") << " " << absl::StrJoin(sc.Rungs(b), ", ");
    }
    out << "\n";
  }

  SignalScope signals;
  std::vector<Running> running;
  bool drained = false, stopping = false;
  double last_heartbeat = 0, last_progress = 0;
  std::vector<double> durations;  // of trials finished in this run, for the sweep ETA
  int progress_lines = 0;
  absl::Status fatal;

  const auto finish = [&](Running& r, int wstatus) -> absl::Status {
    std::string status, error;
    std::optional<int> code;
    const double elapsed = NowSeconds() - r.started;
    if (WIFEXITED(wstatus)) code = WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus)) code = 128 + WTERMSIG(wstatus);
    if (r.stop == StopReason::kInterrupt) {
      status = kKilled;
      error = absl::StrCat("interrupted: the coordinator received ", strsignal(outcome.signal),
                           " and stopped the trial");
    } else if (r.stop == StopReason::kTimeout) {
      status = kFailed;
      error = absl::StrCat("timed out after ", FormatDuration(elapsed), " (--trial_timeout_s=",
                           options.trial_timeout_s, ")");
    } else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
      status = kFinished;
    } else if (WIFEXITED(wstatus)) {
      status = kFailed;
      error = absl::StrCat("exit code ", WEXITSTATUS(wstatus));
    } else {
      status = kFailed;
      error = absl::StrCat("killed by signal ", WTERMSIG(wstatus), " (", strsignal(WTERMSIG(wstatus)),
                           ")");
    }
    if (status == kFailed) {
      const std::string tail = TailOfFile(r.log_path, 10);
      if (!tail.empty()) absl::StrAppend(&error, "; last lines of ", r.log_path, ":\n", tail);
    }
    std::string rung_note;
    if (status == kFinished && plan.scheduler) {
      // The scheduler decides what a clean exit means: a rung result (PAUSED, PRUNED, FINISHED), or
      // FAILED when the trial did not report the metric.
      absl::StatusOr<std::string> decided =
          FinishRung(db, r.claim.trial_id, r.claim.attempt, *plan.scheduler, &rung_note);
      if (!decided.ok()) return decided.status();
      status = *decided;
      if (status == kFailed) error = rung_note;
    } else {
      absl::Status s = FinishAttempt(db, r.claim.trial_id, r.claim.attempt, status, code, error);
      if (!s.ok()) return s;
    }
    if (status != kFailed && status != kKilled) durations.push_back(elapsed);
    std::string metric;
    absl::StatusOr<TrialProgress> p = ReadTrialProgress(db, r.claim.trial_id, r.claim.attempt, options.progress_metric);
    if (p.ok() && p->metric) metric = absl::StrFormat(", %s %.4g", options.progress_metric, *p->metric);
    const std::string first_line = error.substr(0, error.find('\n'));
    if (tty && progress_lines > 0) {
      out << "\033[" << progress_lines << "F\033[J";
      progress_lines = 0;
    }
    out << "trial #" << r.claim.trial_id << " (" << r.claim.point << " seed=" << r.claim.seed
        << ") attempt " << r.claim.attempt << " " << status << " after " << FormatDuration(elapsed)
        << metric << (first_line.empty() ? "" : ": ") << first_line
        << (rung_note.empty() || status == kFailed ? "" : "; ") << (status == kFailed ? "" : rung_note)
        << "\n";
    out.flush();
    return absl::OkStatus();
  };

  while (true) {
    const double now = NowSeconds();
    if (g_signal != 0 && !stopping) {
      stopping = true;
      outcome.interrupted = true;
      outcome.signal = g_signal;
      for (Running& r : running) {
        if (r.stop == StopReason::kNone) r.stop = StopReason::kInterrupt;
        kill(-r.pid, SIGTERM);
        r.term_sent = now;
      }
    }
    // Collect finished children.
    for (size_t i = 0; i < running.size();) {
      int wstatus = 0;
      const pid_t w = waitpid(running[i].pid, &wstatus, WNOHANG);
      if (w == running[i].pid) {
        absl::Status s = finish(running[i], wstatus);
        if (!s.ok() && fatal.ok()) fatal = s;
        running.erase(running.begin() + i);
        drained = false;  // a failed trial may be retried
        continue;
      }
      Running& r = running[i];
      if (r.stop == StopReason::kNone && options.trial_timeout_s > 0 &&
          now - r.started > options.trial_timeout_s) {
        r.stop = StopReason::kTimeout;
        kill(-r.pid, SIGTERM);
        r.term_sent = now;
      }
      if (r.term_sent > 0 && !r.kill_sent && now - r.term_sent > options.kill_grace_s) {
        kill(-r.pid, SIGKILL);
        r.kill_sent = true;
      }
      ++i;
    }
    if (!fatal.ok() && !stopping) {
      // The log cannot be written: stop the trials rather than run them unrecorded.
      g_signal = SIGTERM;
      continue;
    }
    // Start trials.
    while (!stopping && !drained && static_cast<int>(running.size()) < options.workers) {
      std::vector<std::string> events;
      absl::StatusOr<std::optional<Claim>> claim = ClaimNext(db, outcome.sweep_id, policy, &events);
      if (!claim.ok()) {
        fatal = claim.status();
        g_signal = SIGTERM;
        break;
      }
      if (!events.empty()) {
        if (tty && progress_lines > 0) {
          out << "\033[" << progress_lines << "F\033[J";
          progress_lines = 0;
        }
        for (const std::string& e : events) out << e << "\n";
        out.flush();
      }
      if (!claim->has_value()) {
        drained = true;
        break;
      }
      Running r;
      r.claim = **claim;
      const fs::path dir = runs_root / SafeName(plan.name) / absl::StrCat("trial_", r.claim.trial_id);
      std::error_code ec;
      fs::create_directories(dir, ec);
      r.dir = dir.string();
      r.log_path = (dir / absl::StrCat("attempt_", r.claim.attempt, ".log")).string();
      TrialArgs args;
      args.config_path = (dir / "config.json").string();
      args.seed = r.claim.seed;
      args.trial_dir = r.dir;
      args.db_path = db_abs;
      args.trial_id = r.claim.trial_id;
      args.attempt = r.claim.attempt;
      args.threads = *threads;
      args.stop_at_epoch = r.claim.stop_at_epoch;
      args.resume = r.claim.resume_path;
      std::string spawn_error;
      {
        std::ofstream cfg(args.config_path, std::ios::trunc);
        cfg << nlohmann::json::parse(r.claim.config_json).dump(2) << "\n";
        if (!cfg) spawn_error = absl::StrCat(args.config_path, ": cannot write the trial config");
      }
      if (spawn_error.empty()) {
        std::vector<std::string> argv = args.ToArgs();
        argv.insert(argv.end(), plan.trainer_args.begin(), plan.trainer_args.end());
        if (options.ranks_per_trial > 1) argv.push_back(absl::StrCat("--ranks=", options.ranks_per_trial));
        absl::StatusOr<pid_t> pid = Spawn(options.trial_binary, argv, r.log_path, *threads);
        if (pid.ok()) {
          r.pid = *pid;
        } else {
          spawn_error = std::string(pid.status().message());
        }
      }
      if (!spawn_error.empty()) {
        absl::Status s = FinishAttempt(db, r.claim.trial_id, r.claim.attempt, kFailed, std::nullopt,
                                       absl::StrCat("could not start the trial: ", spawn_error));
        if (!s.ok()) fatal = s;
        out << "trial #" << r.claim.trial_id << " FAILED to start: " << spawn_error << "\n";
        continue;
      }
      r.started = NowSeconds();
      absl::Status s = SetTrialProcess(db, r.claim.trial_id, r.claim.attempt, r.pid, r.dir);
      if (!s.ok() && fatal.ok()) fatal = s;
      running.push_back(std::move(r));
      ++outcome.trials_started;
    }
    if (running.empty() && (drained || stopping)) break;
    if (now - last_heartbeat >= options.heartbeat_s) {
      std::vector<std::pair<int64_t, int>> ids;
      for (const Running& r : running) ids.emplace_back(r.claim.trial_id, r.claim.attempt);
      absl::Status s = Heartbeat(db, ids);
      if (!s.ok() && fatal.ok()) fatal = s;
      last_heartbeat = now;
    }
    if (now - last_progress >= interval && !running.empty()) {
      last_progress = now;
      std::ostringstream block;
      int lines = 0;
      std::vector<double> remaining;
      for (const Running& r : running) {
        absl::StatusOr<TrialProgress> p = ReadTrialProgress(db, r.claim.trial_id, r.claim.attempt, options.progress_metric);
        const double elapsed = now - r.started;
        double fraction = 0;
        std::string steps = "starting";
        if (p.ok() && p->total_steps && *p->total_steps > 0) {
          // A metric row at step s means s + 1 steps are done.
          const int64_t done = std::min(*p->total_steps, p->step ? *p->step + 1 : 0);
          fraction = static_cast<double>(done) / static_cast<double>(*p->total_steps);
          steps = absl::StrCat(done, "/", *p->total_steps);
        }
        const double eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : NAN;
        remaining.push_back(eta);
        block << "  #" << r.claim.trial_id << " " << r.claim.point << " seed=" << r.claim.seed << " "
              << Bar(fraction, 20) << " " << steps;
        if (p.ok() && p->metric) {
          block << " " << options.progress_metric << " " << absl::StrFormat("%.4g", *p->metric);
        }
        block << " ETA " << FormatDuration(eta) << "\n";
        ++lines;
      }
      absl::StatusOr<SweepCounts> counts = CountTrials(db, outcome.sweep_id);
      if (counts.ok()) {
        // Expected time per trial: finished trials of this run, else the running trials' projection.
        double per_trial = NAN;
        if (!durations.empty()) {
          double sum = 0;
          for (double d : durations) sum += d;
          per_trial = sum / static_cast<double>(durations.size());
        } else {
          for (size_t i = 0; i < running.size(); ++i) {
            if (std::isfinite(remaining[i])) per_trial = now - running[i].started + remaining[i];
          }
        }
        double work = 0;
        for (double rem : remaining) work += std::isfinite(rem) ? rem : per_trial;
        const int pending = counts->queued + counts->killed;
        work += pending * per_trial;
        block << "sweep " << plan.name << ": " << counts->finished << "/" << counts->total()
              << " finished, " << counts->failed << " failed, "
              << (plan.scheduler ? absl::StrCat(counts->paused, " paused, ", counts->pruned, " pruned, ")
                                 : "")
              << running.size()
              << " running, " << pending << " waiting; ETA "
              << FormatDuration(work / std::max<size_t>(1, running.size())) << "\n";
        ++lines;
      }
      if (tty && progress_lines > 0) out << "\033[" << progress_lines << "F\033[J";
      out << block.str();
      out.flush();
      progress_lines = tty ? lines : 0;
    }
    usleep(100 * 1000);
  }
  if (!fatal.ok()) return fatal;
  absl::StatusOr<SweepCounts> counts = CountTrials(db, outcome.sweep_id);
  if (!counts.ok()) return counts.status();
  outcome.counts = *counts;
  return outcome;
}

}  // namespace experiments
