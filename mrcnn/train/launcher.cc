#include "mrcnn/train/launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"

namespace mrcnn {
namespace {

std::atomic<int> g_forward_signal{0};

void RememberSignal(int sig) { g_forward_signal = sig; }

}  // namespace

absl::StatusOr<int> FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string e = std::strerror(errno);
    close(fd);
    return absl::InternalError(absl::StrCat("finding a free port on 127.0.0.1: ", e));
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

absl::StatusOr<int> LaunchLocalRanks(const std::string& binary, const std::vector<std::string>& args,
                                     const LaunchOptions& o) {
  if (o.ranks < 1) return absl::InvalidArgumentError(absl::StrCat("--ranks=", o.ranks, ": must be >= 1"));
  absl::StatusOr<int> port = FreeLoopbackPort();
  if (!port.ok()) return port.status();
  std::vector<std::string> argv_s = {binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  argv_s.push_back("--ranks=0");
  argv_s.push_back(absl::StrCat("--threads=", o.threads_per_rank));
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  struct sigaction sa {};
  sa.sa_handler = RememberSignal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  std::vector<pid_t> pids(o.ranks, -1);
  const pid_t launcher = getpid();
  for (int r = 0; r < o.ranks; ++r) {
    const pid_t pid = fork();
    if (pid < 0) {
      const std::string e = std::strerror(errno);
      for (pid_t p : pids) {
        if (p > 0) kill(p, SIGKILL);
      }
      for (pid_t p : pids) {
        if (p > 0) waitpid(p, nullptr, 0);
      }
      return absl::InternalError(absl::StrCat("starting rank ", r, ": fork: ", e));
    }
    if (pid == 0) {
      // A rank ends with the launcher, even when the launcher is SIGKILLed (a sweep's trial timeout).
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != launcher) _exit(1);  // it died before prctl
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      setenv("RANK", std::to_string(r).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(o.ranks).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", std::to_string(o.ranks).c_str(), 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(*port).c_str(), 1);
      setenv("OMP_NUM_THREADS", std::to_string(o.threads_per_rank).c_str(), 1);
      execv(binary.c_str(), argv.data());
      std::fprintf(stderr, "train: rank %d: cannot run %s: %s\n", r, binary.c_str(), std::strerror(errno));
      _exit(127);
    }
    pids[r] = pid;
  }

  int running = o.ranks, result = 0, first_failed = -1;
  std::chrono::steady_clock::time_point failed_at;
  bool killed = false;
  while (running > 0) {
    if (const int sig = g_forward_signal.exchange(0)) {
      for (pid_t p : pids) {
        if (p > 0) kill(p, sig == SIGINT ? SIGINT : SIGTERM);
      }
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      int r = 0;
      while (r < o.ranks && pids[r] != pid) ++r;
      if (r == o.ranks) continue;
      pids[r] = -1;
      --running;
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (code != 0) {
        std::cerr << "train: rank " << r << " of " << o.ranks << " "
                  << (WIFEXITED(status) ? absl::StrCat("exited with ", code)
                                        : absl::StrCat("was killed by signal ", WTERMSIG(status)))
                  << "\n";
        if (first_failed < 0) {
          first_failed = r;
          result = code;
          failed_at = std::chrono::steady_clock::now();
        }
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (first_failed >= 0 && !killed && std::chrono::steady_clock::now() - failed_at > o.grace) {
      std::cerr << "train: rank " << first_failed << " failed " << o.grace.count()
                << " s ago and the other ranks have not ended; killing them\n";
      for (pid_t p : pids) {
        if (p > 0) kill(p, SIGKILL);
      }
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  return result;
}

}  // namespace mrcnn
