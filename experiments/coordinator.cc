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

namespace {

// One run of the local coordinator over a materialized sweep: trials claimed from the log, started as
// child processes, reaped, heartbeated and shown, until the sweep drains or a signal stops it.
class LocalSweep {
 public:
  LocalSweep(const SweepPlan& plan, const SweepOptions& options, Db& db, int64_t sweep_id, int threads)
      : plan_(plan),
        options_(options),
        db_(db),
        threads_(threads),
        out_(options.out ? *options.out : std::cout),
        tty_(options.out == nullptr && isatty(STDOUT_FILENO)),
        interval_(options.progress_interval_s > 0 ? options.progress_interval_s : (tty_ ? 0.5 : 10.0)),
        policy_(PolicyFor(plan, options)) {
    namespace fs = std::filesystem;
    runs_root_ = options.runs_dir.empty()
                     ? fs::absolute(fs::path(options.db_path)).parent_path() / "experiments_runs"
                     : fs::absolute(fs::path(options.runs_dir));
    db_abs_ = fs::absolute(fs::path(options.db_path)).string();
    outcome_.sweep_id = sweep_id;
  }

  absl::StatusOr<SweepOutcome> Run();

 private:
  void PrintHeader();
  // A signal arrived: every running trial is asked to stop (SIGTERM to its process group).
  void Interrupt(double now);
  // Reaps the trials that ended; stops the ones past their timeout, kills those past the grace.
  void CollectFinished(double now);
  // Records how a trial's attempt ended and prints its line.
  absl::Status FinishTrial(Running& r, int wstatus);
  // Claims and starts trials while workers are free.
  void StartTrials();
  void StartTrial(const Claim& claim);
  // Tells the log that the running trials are alive.
  void SendHeartbeats(double now);
  // The progress block: a bar per running trial, then the sweep's counts and ETA.
  void PrintProgress(double now);
  // On a terminal, erases the progress block before other lines are printed.
  void ClearProgress();

  const SweepPlan& plan_;
  const SweepOptions& options_;
  Db& db_;
  const int threads_;
  std::ostream& out_;
  const bool tty_;
  const double interval_;
  const ClaimPolicy policy_;
  std::filesystem::path runs_root_;
  std::string db_abs_;
  SweepOutcome outcome_;
  std::vector<Running> running_;
  bool drained_ = false, stopping_ = false;
  double last_heartbeat_ = 0, last_progress_ = 0;
  std::vector<double> durations_;  // of trials finished in this run, for the sweep ETA
  int progress_lines_ = 0;
  absl::Status fatal_;
};

void LocalSweep::PrintHeader() {
  out_ << "sweep '" << plan_.name << "': " << plan_.trials.size() << " trials (" << plan_.trials.size() / plan_.seeds
      << " points x " << plan_.seeds << " seeds), " << options_.workers << " worker(s) x "
      << (options_.ranks_per_trial > 1 ? absl::StrCat(options_.ranks_per_trial, " ranks x ") : "") << threads_
      << " thread(s), log " << options_.db_path << "\n  trial binary: " << options_.trial_binary
      << "\n";
  if (plan_.scheduler) {
    const SchedulerSpec& sc = *plan_.scheduler;
    out_ << "  scheduler: " << sc.TypeName() << " on " << sc.metric << " (" << sc.mode << "), eta "
        << sc.eta << ", rungs at epochs";
    for (int b = 0; b < sc.NumBrackets(); ++b) {
      out_ << (b > 0 ? " |" : "") << " " << absl::StrJoin(sc.Rungs(b), ", ");
    }
    out_ << "\n";
  }
}

void LocalSweep::Interrupt(double now) {
  stopping_ = true;
  outcome_.interrupted = true;
  outcome_.signal = g_signal;
  for (Running& r : running_) {
    if (r.stop == StopReason::kNone) r.stop = StopReason::kInterrupt;
    kill(-r.pid, SIGTERM);
    r.term_sent = now;
  }
}

void LocalSweep::CollectFinished(double now) {
  for (size_t i = 0; i < running_.size();) {
    int wstatus = 0;
    const pid_t w = waitpid(running_[i].pid, &wstatus, WNOHANG);
    if (w == running_[i].pid) {
      absl::Status s = FinishTrial(running_[i], wstatus);
      if (!s.ok() && fatal_.ok()) fatal_ = s;
      running_.erase(running_.begin() + i);
      drained_ = false;  // a failed trial may be retried
      continue;
    }
    Running& r = running_[i];
    if (r.stop == StopReason::kNone && options_.trial_timeout_s > 0 &&
        now - r.started > options_.trial_timeout_s) {
      r.stop = StopReason::kTimeout;
      kill(-r.pid, SIGTERM);
      r.term_sent = now;
    }
    if (r.term_sent > 0 && !r.kill_sent && now - r.term_sent > options_.kill_grace_s) {
      kill(-r.pid, SIGKILL);
      r.kill_sent = true;
    }
    ++i;
  }
}

absl::Status LocalSweep::FinishTrial(Running& r, int wstatus) {
  std::string status, error;
  std::optional<int> code;
  const double elapsed = NowSeconds() - r.started;
  if (WIFEXITED(wstatus)) code = WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) code = 128 + WTERMSIG(wstatus);
  if (r.stop == StopReason::kInterrupt) {
    status = kKilled;
    error = absl::StrCat("interrupted: the coordinator received ", strsignal(outcome_.signal),
                         " and stopped the trial");
  } else if (r.stop == StopReason::kTimeout) {
    status = kFailed;
    error = absl::StrCat("timed out after ", FormatDuration(elapsed), " (--trial_timeout_s=",
                         options_.trial_timeout_s, ")");
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
  if (status == kFinished && plan_.scheduler) {
    // The scheduler decides what a clean exit means: a rung result (PAUSED, PRUNED, FINISHED), or
    // FAILED when the trial did not report the metric.
    absl::StatusOr<std::string> decided =
        FinishRung(db_, r.claim.trial_id, r.claim.attempt, *plan_.scheduler, &rung_note);
    if (!decided.ok()) return decided.status();
    status = *decided;
    if (status == kFailed) error = rung_note;
  } else {
    absl::Status s = FinishAttempt(db_, r.claim.trial_id, r.claim.attempt, status, code, error);
    if (!s.ok()) return s;
  }
  if (status != kFailed && status != kKilled) durations_.push_back(elapsed);
  std::string metric;
  absl::StatusOr<TrialProgress> p = ReadTrialProgress(db_, r.claim.trial_id, r.claim.attempt, options_.progress_metric);
  if (p.ok() && p->metric) metric = absl::StrFormat(", %s %.4g", options_.progress_metric, *p->metric);
  const std::string first_line = error.substr(0, error.find('\n'));
  ClearProgress();
  out_ << "trial #" << r.claim.trial_id << " (" << r.claim.point << " seed=" << r.claim.seed
      << ") attempt " << r.claim.attempt << " " << status << " after " << FormatDuration(elapsed)
      << metric << (first_line.empty() ? "" : ": ") << first_line
      << (rung_note.empty() || status == kFailed ? "" : "; ") << (status == kFailed ? "" : rung_note)
      << "\n";
  out_.flush();
  return absl::OkStatus();
}

void LocalSweep::StartTrials() {
  while (!stopping_ && !drained_ && static_cast<int>(running_.size()) < options_.workers) {
    std::vector<std::string> events;
    absl::StatusOr<std::optional<Claim>> claim = ClaimNext(db_, outcome_.sweep_id, policy_, &events);
    if (!claim.ok()) {
      fatal_ = claim.status();
      g_signal = SIGTERM;
      break;
    }
    if (!events.empty()) {
      ClearProgress();
      for (const std::string& e : events) out_ << e << "\n";
      out_.flush();
    }
    if (!claim->has_value()) {
      drained_ = true;
      break;
    }
    StartTrial(**claim);
  }
}

void LocalSweep::StartTrial(const Claim& claim) {
  namespace fs = std::filesystem;
  Running r;
  r.claim = claim;
  const fs::path dir = runs_root_ / SafeName(plan_.name) / absl::StrCat("trial_", r.claim.trial_id);
  std::error_code ec;
  fs::create_directories(dir, ec);
  r.dir = dir.string();
  r.log_path = (dir / absl::StrCat("attempt_", r.claim.attempt, ".log")).string();
  TrialArgs args;
  args.config_path = (dir / "config.json").string();
  args.seed = r.claim.seed;
  args.trial_dir = r.dir;
  args.db_path = db_abs_;
  args.trial_id = r.claim.trial_id;
  args.attempt = r.claim.attempt;
  args.threads = threads_;
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
    argv.insert(argv.end(), plan_.trainer_args.begin(), plan_.trainer_args.end());
    if (options_.ranks_per_trial > 1) argv.push_back(absl::StrCat("--ranks=", options_.ranks_per_trial));
    absl::StatusOr<pid_t> pid = Spawn(options_.trial_binary, argv, r.log_path, threads_);
    if (pid.ok()) {
      r.pid = *pid;
    } else {
      spawn_error = std::string(pid.status().message());
    }
  }
  if (!spawn_error.empty()) {
    absl::Status s = FinishAttempt(db_, r.claim.trial_id, r.claim.attempt, kFailed, std::nullopt,
                                   absl::StrCat("could not start the trial: ", spawn_error));
    if (!s.ok()) fatal_ = s;
    out_ << "trial #" << r.claim.trial_id << " FAILED to start: " << spawn_error << "\n";
    return;
  }
  r.started = NowSeconds();
  absl::Status s = SetTrialProcess(db_, r.claim.trial_id, r.claim.attempt, r.pid, r.dir);
  if (!s.ok() && fatal_.ok()) fatal_ = s;
  running_.push_back(std::move(r));
  ++outcome_.trials_started;
}

void LocalSweep::SendHeartbeats(double now) {
  std::vector<std::pair<int64_t, int>> ids;
  for (const Running& r : running_) ids.emplace_back(r.claim.trial_id, r.claim.attempt);
  absl::Status s = Heartbeat(db_, ids);
  if (!s.ok() && fatal_.ok()) fatal_ = s;
  last_heartbeat_ = now;
}

void LocalSweep::PrintProgress(double now) {
  last_progress_ = now;
  std::ostringstream block;
  int lines = 0;
  std::vector<double> remaining;
  for (const Running& r : running_) {
    absl::StatusOr<TrialProgress> p = ReadTrialProgress(db_, r.claim.trial_id, r.claim.attempt, options_.progress_metric);
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
      block << " " << options_.progress_metric << " " << absl::StrFormat("%.4g", *p->metric);
    }
    block << " ETA " << FormatDuration(eta) << "\n";
    ++lines;
  }
  absl::StatusOr<SweepCounts> counts = CountTrials(db_, outcome_.sweep_id);
  if (counts.ok()) {
    // Expected time per trial: finished trials of this run, else the running trials' projection.
    double per_trial = NAN;
    if (!durations_.empty()) {
      double sum = 0;
      for (double d : durations_) sum += d;
      per_trial = sum / static_cast<double>(durations_.size());
    } else {
      for (size_t i = 0; i < running_.size(); ++i) {
        if (std::isfinite(remaining[i])) per_trial = now - running_[i].started + remaining[i];
      }
    }
    double work = 0;
    for (double rem : remaining) work += std::isfinite(rem) ? rem : per_trial;
    const int pending = counts->queued + counts->killed;
    work += pending * per_trial;
    block << "sweep " << plan_.name << ": " << counts->finished << "/" << counts->total()
          << " finished, " << counts->failed << " failed, "
          << (plan_.scheduler ? absl::StrCat(counts->paused, " paused, ", counts->pruned, " pruned, ")
                             : "")
          << running_.size()
          << " running, " << pending << " waiting; ETA "
          << FormatDuration(work / std::max<size_t>(1, running_.size())) << "\n";
    ++lines;
  }
  if (tty_ && progress_lines_ > 0) out_ << "\033[" << progress_lines_ << "F\033[J";
  out_ << block.str();
  out_.flush();
  progress_lines_ = tty_ ? lines : 0;
}

void LocalSweep::ClearProgress() {
  if (tty_ && progress_lines_ > 0) {
    out_ << "\033[" << progress_lines_ << "F\033[J";
    progress_lines_ = 0;
  }
}

absl::StatusOr<SweepOutcome> LocalSweep::Run() {
  PrintHeader();
  SignalScope signals;
  while (true) {
    const double now = NowSeconds();
    if (g_signal != 0 && !stopping_) Interrupt(now);
    CollectFinished(now);
    if (!fatal_.ok() && !stopping_) {
      // The log cannot be written: stop the trials rather than run them unrecorded.
      g_signal = SIGTERM;
      continue;
    }
    StartTrials();
    if (running_.empty() && (drained_ || stopping_)) break;
    if (now - last_heartbeat_ >= options_.heartbeat_s) SendHeartbeats(now);
    if (now - last_progress_ >= interval_ && !running_.empty()) PrintProgress(now);
    usleep(100 * 1000);
  }
  if (!fatal_.ok()) return fatal_;
  absl::StatusOr<SweepCounts> counts = CountTrials(db_, outcome_.sweep_id);
  if (!counts.ok()) return counts.status();
  outcome_.counts = *counts;
  return outcome_;
}

}  // namespace

absl::StatusOr<SweepOutcome> RunSweep(const SweepPlan& plan, const SweepOptions& options) {
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
  absl::StatusOr<int64_t> sweep_id = MaterializeSweep(log->db(), plan);
  if (!sweep_id.ok()) return sweep_id.status();
  LocalSweep sweep(plan, options, log->db(), *sweep_id, *threads);
  return sweep.Run();
}

}  // namespace experiments
