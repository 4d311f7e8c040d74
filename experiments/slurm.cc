#include "experiments/slurm.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

extern char** environ;

namespace experiments {
namespace {

absl::Status Bad(const std::string& source, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", what));
}

bool AllDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Slurm's --time forms: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S.
bool ValidTime(const std::string& t) {
  std::string rest = t;
  const size_t dash = t.find('-');
  if (dash != std::string::npos) {
    if (!AllDigits(t.substr(0, dash))) return false;
    rest = t.substr(dash + 1);
  }
  const std::vector<std::string> parts = absl::StrSplit(rest, ':');
  if (parts.size() > 3) return false;
  for (const std::string& p : parts) {
    if (!AllDigits(p)) return false;
  }
  return true;
}

// Slurm's --mem: a number with an optional K, M, G or T suffix.
bool ValidMem(const std::string& m) {
  if (m.empty()) return false;
  std::string digits = m;
  const char last = static_cast<char>(absl::ascii_toupper(m.back()));
  if (last == 'K' || last == 'M' || last == 'G' || last == 'T') digits.pop_back();
  return AllDigits(digits);
}

// 'text' for bash, with every ' written as '\''.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string Trim(const std::string& s) { return std::string(absl::StripAsciiWhitespace(s)); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

nlohmann::json SlurmSettings::ToJson() const {
  nlohmann::json j = nlohmann::json::object();
  if (!partition.empty()) j["partition"] = partition;
  if (!account.empty()) j["account"] = account;
  if (!time.empty()) j["time"] = time;
  if (!mem.empty()) j["mem"] = mem;
  if (cpus_per_trial != 1) j["cpus_per_trial"] = cpus_per_trial;
  if (ntasks_per_trial != 1) j["ntasks_per_trial"] = ntasks_per_trial;
  if (gpus_per_trial != 0) j["gpus_per_trial"] = gpus_per_trial;
  if (array_parallelism != 0) j["array_parallelism"] = array_parallelism;
  if (!sbatch_args.empty()) j["sbatch_args"] = sbatch_args;
  return j;
}

absl::Status ValidateSlurmSettings(const SlurmSettings& s, const std::string& source) {
  if (!s.time.empty() && !ValidTime(s.time)) {
    return Bad(source, absl::StrCat("slurm time \"", s.time,
                                    "\": expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS"));
  }
  if (!s.mem.empty() && !ValidMem(s.mem)) {
    return Bad(source, absl::StrCat("slurm mem \"", s.mem, "\": expected a number with an optional K, M, G or T"));
  }
  if (s.cpus_per_trial < 1) return Bad(source, absl::StrCat("slurm cpus_per_trial must be >= 1, got ", s.cpus_per_trial));
  if (s.ntasks_per_trial < 1) {
    return Bad(source, absl::StrCat("slurm ntasks_per_trial must be >= 1, got ", s.ntasks_per_trial));
  }
  if (s.cpus_per_trial % s.ntasks_per_trial != 0) {
    return Bad(source, absl::StrCat("slurm cpus_per_trial (", s.cpus_per_trial, ") must be a multiple of ntasks_per_trial (",
                                    s.ntasks_per_trial, "): each rank gets the same number of CPUs"));
  }
  if (s.gpus_per_trial < 0) return Bad(source, absl::StrCat("slurm gpus_per_trial must be >= 0, got ", s.gpus_per_trial));
  if (s.array_parallelism < 0) {
    return Bad(source, absl::StrCat("slurm array_parallelism must be >= 0, got ", s.array_parallelism));
  }
  for (const auto& [name, v] : {std::pair<const char*, const std::string*>{"partition", &s.partition},
                                 {"account", &s.account}}) {
    if (v->find_first_of(" \t\n\r") != std::string::npos) {
      return Bad(source, absl::StrCat("slurm ", name, " \"", *v, "\": no spaces"));
    }
  }
  for (const std::string& a : s.sbatch_args) {
    if (!absl::StartsWith(a, "-")) {
      return Bad(source, absl::StrCat("slurm sbatch argument \"", a, "\": expected an option (-x or --name=value)"));
    }
    for (const char* own : {"--array", "--parsable", "--job-name", "--output", "--chdir", "-a", "-J", "-o", "-D"}) {
      if (a == own || absl::StartsWith(a, absl::StrCat(own, "="))) {
        return Bad(source, absl::StrCat("slurm sbatch argument \"", a, "\": set by the launcher"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SlurmSettings> ParseSlurmSettings(const nlohmann::json& j, const std::string& source) {
  SlurmSettings s;
  if (j.is_null()) return s;
  if (!j.is_object()) return Bad(source, "\"slurm\" must be an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const nlohmann::json& v = it.value();
    const std::string where = absl::StrCat("slurm.", k);
    if (k == "partition" || k == "account" || k == "time" || k == "mem") {
      std::string text;
      if (v.is_string()) {
        text = v.get<std::string>();
      } else if (v.is_number_integer() && (k == "time" || k == "mem")) {
        text = v.dump();
      } else {
        return Bad(source, absl::StrCat(where, ": expected a string, got ", v.dump()));
      }
      (k == "partition" ? s.partition : k == "account" ? s.account : k == "time" ? s.time : s.mem) = text;
    } else if (k == "cpus_per_trial" || k == "gpus_per_trial" || k == "array_parallelism" || k == "ntasks_per_trial") {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 1000000) {
        return Bad(source, absl::StrCat(where, ": expected an integer in [0, 1000000], got ", v.dump()));
      }
      const int n = static_cast<int>(v.get<int64_t>());
      (k == "cpus_per_trial"     ? s.cpus_per_trial
       : k == "gpus_per_trial"   ? s.gpus_per_trial
       : k == "ntasks_per_trial" ? s.ntasks_per_trial
                                 : s.array_parallelism) = n;
    } else if (k == "sbatch_args") {
      if (!v.is_array()) return Bad(source, absl::StrCat(where, ": expected a list of strings"));
      for (const nlohmann::json& a : v) {
        if (!a.is_string()) return Bad(source, absl::StrCat(where, ": expected strings, got ", a.dump()));
        s.sbatch_args.push_back(a.get<std::string>());
      }
    } else {
      return Bad(source, absl::StrCat("unknown field \"", where,
                                      "\" (expected partition, account, time, mem, cpus_per_trial, ntasks_per_trial, "
                                      "gpus_per_trial, array_parallelism, sbatch_args)"));
    }
  }
  absl::Status ok = ValidateSlurmSettings(s, source);
  if (!ok.ok()) return ok;
  return s;
}

std::string BatchScript(const std::string& title, const std::vector<ArrayTask>& tasks) {
  std::string s = "#!/bin/bash\n";
  absl::StrAppend(&s, "# Written by the sweep coordinator (experiments/slurm.h): ", title, "\n",
                  "# Array task i runs trial command i; its exit status goes to the exit file by rename.\n",
                  "case \"${SLURM_ARRAY_TASK_ID:-}\" in\n");
  for (size_t i = 0; i < tasks.size(); ++i) {
    const ArrayTask& t = tasks[i];
    std::vector<std::string> quoted;
    for (const std::string& a : t.argv) quoted.push_back(ShellQuote(a));
    // A data-parallel trial: srun starts its ranks (SLURM_PROCID, SLURM_NTASKS), whose rendezvous port
    // comes from the task's own job id, so that co-located trials never meet on one port.
    const std::string launcher =
        t.ranks > 1 ? absl::StrCat("srun --ntasks=", t.ranks, " --cpus-per-task=", t.threads, " --kill-on-bad-exit=1 ")
                    : "";
    absl::StrAppend(&s, "  ", i, ")\n    log=", ShellQuote(t.log_path), "\n    exit_file=", ShellQuote(t.exit_path),
                    "\n    threads=", t.threads, "\n    cmd=(", launcher, absl::StrJoin(quoted, " "), ")\n    ;;\n");
  }
  absl::StrAppend(&s,
                  "  *)\n    echo \"no trial for array task ${SLURM_ARRAY_TASK_ID:-(unset)}\" >&2\n    exit 2\n    ;;\n"
                  "esac\n"
                  "export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads\n"
                  "export MASTER_PORT=${MASTER_PORT:-$((20000 + ${SLURM_JOB_ID:-0} % 20000))}\n"
                  "echo \"slurm job ${SLURM_ARRAY_JOB_ID:-?}_${SLURM_ARRAY_TASK_ID} on $(hostname)\" >>\"$log\"\n"
                  "\"${cmd[@]}\" </dev/null >>\"$log\" 2>&1\n"
                  "code=$?\n"
                  "echo \"$code\" >\"$exit_file.tmp\" && mv -f \"$exit_file.tmp\" \"$exit_file\"\n"
                  "exit \"$code\"\n");
  return s;
}

std::optional<int> ReadExitFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int code = 0;
  if (!absl::SimpleAtoi(Trim(text), &code)) return std::nullopt;
  return code;
}

absl::StatusOr<SlurmClient::Output> SlurmClient::Run(const std::string& command,
                                                    const std::vector<std::string>& args) const {
  const std::string path = bin_dir_.empty() ? command : absl::StrCat(bin_dir_, "/", command);
  char out_tmpl[] = "/tmp/slurm_out_XXXXXX";
  char err_tmpl[] = "/tmp/slurm_err_XXXXXX";
  const int out_fd = mkstemp(out_tmpl);
  const int err_fd = mkstemp(err_tmpl);
  if (out_fd < 0 || err_fd < 0) {
    if (out_fd >= 0) close(out_fd), unlink(out_tmpl);
    if (err_fd >= 0) close(err_fd), unlink(err_tmpl);
    return absl::InternalError(absl::StrCat("cannot create a temporary file: ", std::strerror(errno)));
  }
  std::vector<std::string> argv_s = {path};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(out_fd), close(err_fd), unlink(out_tmpl), unlink(err_tmpl);
    return absl::ResourceExhaustedError(absl::StrCat("fork failed: ", std::strerror(errno)));
  }
  if (pid == 0) {
    setpgid(0, 0);
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    if (bin_dir_.empty()) {
      execvp(argv[0], argv.data());
    } else {
      execv(argv[0], argv.data());
    }
    _exit(127);
  }
  close(out_fd);
  close(err_fd);
  int wstatus = 0;
  const auto start = std::chrono::steady_clock::now();
  bool timed_out = false;
  while (waitpid(pid, &wstatus, WNOHANG) == 0) {
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > timeout_s_) {
      kill(-pid, SIGKILL);
      waitpid(pid, &wstatus, 0);
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Output o;
  o.out = ReadFile(out_tmpl);
  o.err = Trim(ReadFile(err_tmpl));
  unlink(out_tmpl);
  unlink(err_tmpl);
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat(path, " did not answer within ", timeout_s_, " s"));
  }
  o.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  if (o.exit_code == 127 && o.out.empty() && o.err.empty()) {
    return absl::NotFoundError(absl::StrCat(
        path, ": not found", bin_dir_.empty() ? " on PATH" : "",
        " (the Slurm launcher needs Slurm's client commands: sbatch, squeue, sacct, scancel; on this machine "
        "./setup.sh installs them, on a cluster submit from a login node)"));
  }
  return o;
}

absl::StatusOr<std::string> SlurmClient::Submit(const std::string& script_path, const SlurmSettings& s, int tasks,
                                                const std::string& job_name, const std::string& chdir) const {
  if (tasks < 1) return absl::InvalidArgumentError("a job array needs at least one task");
  std::vector<std::string> args = {
      "--parsable",
      absl::StrCat("--array=0-", tasks - 1, s.array_parallelism > 0 ? absl::StrCat("%", s.array_parallelism) : ""),
      absl::StrCat("--job-name=", job_name),
      absl::StrCat("--chdir=", chdir),
      absl::StrCat("--output=", chdir, "/slurm-%A_%a.out"),
      absl::StrCat("--ntasks=", s.ntasks_per_trial),
      // Retries are the coordinator's (from the trial's checkpoint, as a new attempt with its own
      // report): Slurm must not silently rerun a task after a node failure or preemption.
      "--no-requeue",
      absl::StrCat("--cpus-per-task=", s.cpus_per_trial / s.ntasks_per_trial)};
  if (s.gpus_per_trial > 0) args.push_back(absl::StrCat("--gpus-per-task=", s.gpus_per_trial));
  if (!s.partition.empty()) args.push_back(absl::StrCat("--partition=", s.partition));
  if (!s.account.empty()) args.push_back(absl::StrCat("--account=", s.account));
  if (!s.time.empty()) args.push_back(absl::StrCat("--time=", s.time));
  if (!s.mem.empty()) args.push_back(absl::StrCat("--mem=", s.mem));
  args.insert(args.end(), s.sbatch_args.begin(), s.sbatch_args.end());
  args.push_back(script_path);
  absl::StatusOr<Output> o = Run("sbatch", args);
  if (!o.ok()) return o.status();
  // --parsable prints "JOBID" or "JOBID;CLUSTER".
  const std::string first = Trim(o->out.substr(0, o->out.find('\n')));
  const std::string id = first.substr(0, first.find(';'));
  if (o->exit_code != 0 || !AllDigits(id)) {
    return absl::UnavailableError(absl::StrCat("sbatch refused the job array (exit ", o->exit_code, "): ",
                                               o->err.empty() ? Trim(o->out) : o->err));
  }
  return id;
}

absl::StatusOr<std::map<std::string, std::string>> SlurmClient::States(const std::vector<std::string>& job_ids) const {
  std::map<std::string, std::string> states;
  if (job_ids.empty()) return states;
  // -r: one line per array task; -t all: ended tasks too, for as long as slurmctld keeps them (MinJobAge).
  absl::StatusOr<Output> o =
      Run("squeue", {"-h", "-r", "-t", "all", "-o", "%i|%T", "-j", absl::StrJoin(job_ids, ",")});
  if (!o.ok()) return o.status();
  if (o->exit_code != 0) {
    // squeue refuses a list whose every job has been purged; the caller then asks accounting.
    if (absl::StrContains(o->err, "Invalid job id")) return states;
    return absl::UnavailableError(absl::StrCat("squeue failed (exit ", o->exit_code, "): ", o->err));
  }
  for (absl::string_view line : absl::StrSplit(o->out, '\n', absl::SkipWhitespace())) {
    const std::vector<std::string> f = absl::StrSplit(absl::StripAsciiWhitespace(line), '|');
    if (f.size() == 2) states[f[0]] = f[1];
  }
  return states;
}

absl::StatusOr<std::map<std::string, std::string>> SlurmClient::AccountingStates(
    const std::vector<std::string>& job_ids) const {
  std::map<std::string, std::string> states;
  if (job_ids.empty()) return states;
  absl::StatusOr<Output> o = Run("sacct", {"-n", "-P", "-X", "-o", "JobID,State", "-j", absl::StrJoin(job_ids, ",")});
  if (!o.ok()) return o.status();
  if (o->exit_code != 0 || absl::StrContains(o->out + o->err, "accounting storage is disabled")) {
    return absl::UnavailableError(absl::StrCat("sacct: ", o->err.empty() ? Trim(o->out) : o->err));
  }
  for (absl::string_view line : absl::StrSplit(o->out, '\n', absl::SkipWhitespace())) {
    const std::vector<std::string> f = absl::StrSplit(absl::StripAsciiWhitespace(line), '|');
    // "CANCELLED by 0" -> "CANCELLED"
    if (f.size() == 2) states[f[0]] = f[1].substr(0, f[1].find(' '));
  }
  return states;
}

absl::Status SlurmClient::Cancel(const std::vector<std::string>& job_ids) const {
  if (job_ids.empty()) return absl::OkStatus();
  std::vector<std::string> args = job_ids;
  absl::StatusOr<Output> o = Run("scancel", args);
  if (!o.ok()) return o.status();
  if (o->exit_code != 0) {
    return absl::UnavailableError(absl::StrCat("scancel ", absl::StrJoin(job_ids, " "), " failed (exit ",
                                               o->exit_code, "): ", o->err));
  }
  return absl::OkStatus();
}

SlurmOutcome ClassifySlurmState(const std::string& state) {
  static const std::set<std::string> kFailed = {"FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL"};
  static const std::set<std::string> kKilled = {"TIMEOUT", "PREEMPTED", "CANCELLED", "DEADLINE", "REVOKED"};
  if (state == "COMPLETED") return SlurmOutcome::kCompleted;
  if (kFailed.count(state)) return SlurmOutcome::kFailed;
  if (kKilled.count(state)) return SlurmOutcome::kKilled;
  return SlurmOutcome::kInFlight;
}

}  // namespace experiments
