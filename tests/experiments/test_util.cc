#include "tests/experiments/test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "experiments/log.h"
#include "gtest/gtest.h"

namespace experiments_test {
namespace {
std::map<std::string, std::string>& Args() {
  static auto* m = new std::map<std::string, std::string>;
  return *m;
}
}  // namespace

void SetArgs(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const size_t eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      Args()[a.substr(2, eq - 2)] = std::filesystem::absolute(a.substr(eq + 1)).string();
    }
  }
}

std::string Arg(const std::string& name) {
  auto it = Args().find(name);
  EXPECT_TRUE(it != Args().end()) << "the test needs --" << name << "=PATH";
  return it == Args().end() ? "" : it->second;
}

std::string NewTempDir(const std::string& name) {
  static std::atomic<int> counter{0};
  const char* base = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(base ? base : "/tmp", "/", name, "_", getpid(), "_",
                                       counter++);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

pid_t StartProcess(const std::vector<std::string>& argv, const std::string& out_path) {
  std::vector<std::string> copy = argv;
  std::vector<char*> av;
  for (std::string& s : copy) av.push_back(s.data());
  av.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execv(av[0], av.data());
    _exit(127);
  }
  return pid;
}

ProcResult RunProcess(const std::vector<std::string>& argv, double timeout_s) {
  const std::string out = NewTempDir("proc") + "/out.txt";
  const pid_t pid = StartProcess(argv, out);
  ProcResult r;
  const double start = experiments::NowSeconds();
  while (true) {
    const pid_t w = waitpid(pid, &r.wait_status, WNOHANG);
    if (w == pid) break;
    if (experiments::NowSeconds() - start > timeout_s) {
      kill(pid, SIGKILL);
      waitpid(pid, &r.wait_status, 0);
      r.timed_out = true;
      break;
    }
    usleep(20 * 1000);
  }
  r.output = ReadFile(out);
  return r;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string QueryText(experiments::Db& db, const std::string& sql,
                      const std::vector<experiments::SqlValue>& params) {
  absl::StatusOr<std::vector<std::vector<experiments::SqlValue>>> rows = db.QueryAll(sql, params);
  EXPECT_TRUE(rows.ok()) << rows.status() << " in " << sql;
  if (!rows.ok()) return "<error>";
  std::string out;
  for (const auto& r : *rows) {
    for (size_t i = 0; i < r.size(); ++i) out += (i ? "|" : "") + experiments::SqlValueText(r[i]);
    out += ";";
  }
  return out;
}

bool WaitForValue(const std::string& db_path, const std::string& sql, const std::string& want,
                  double timeout_s) {
  const double start = experiments::NowSeconds();
  while (experiments::NowSeconds() - start < timeout_s) {
    absl::StatusOr<experiments::ExperimentLog> log =
        experiments::ExperimentLog::Open(db_path, {experiments::Db::kReadOnly});
    if (log.ok()) {
      absl::StatusOr<experiments::SqlValue> v = log->db().QueryValue(sql);
      if (v.ok() && experiments::SqlValueText(*v) == want) return true;
    }
    usleep(20 * 1000);
  }
  return false;
}

}  // namespace experiments_test
