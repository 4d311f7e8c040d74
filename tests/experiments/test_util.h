// Helpers for the experiments tests: fresh temporary folders, binaries named on the test's command
// line (--fake_trial=PATH ...), and running child processes with a timeout.
#ifndef TESTS_EXPERIMENTS_TEST_UTIL_H_
#define TESTS_EXPERIMENTS_TEST_UTIL_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "experiments/sqlite.h"

namespace experiments_test {

// Keeps "--name=value" arguments left after gtest took its own; call from main.
void SetArgs(int argc, char** argv);
// The value of --name=value from the test's arguments (made absolute); fails the test when missing.
std::string Arg(const std::string& name);

// A new empty folder under TEST_TMPDIR.
std::string NewTempDir(const std::string& name);

struct ProcResult {
  int wait_status = 0;  // as from waitpid
  std::string output;   // stdout and stderr
  bool timed_out = false;
};
// Runs argv[0] with args, stdout+stderr captured; kills it after timeout_s.
ProcResult RunProcess(const std::vector<std::string>& argv, double timeout_s = 120);
// Starts argv with stdout+stderr to out_path; returns its pid.
pid_t StartProcess(const std::vector<std::string>& argv, const std::string& out_path);

std::string ReadFile(const std::string& path);

// A query's rows as text: columns joined by '|', each row ended by ';' (NULL as empty). A failed query
// fails the test and gives "<error>".
std::string QueryText(experiments::Db& db, const std::string& sql,
                      const std::vector<experiments::SqlValue>& params = {});

// Polls the log at `db_path` until `sql` answers `want` (as SqlValueText); false after timeout_s.
bool WaitForValue(const std::string& db_path, const std::string& sql, const std::string& want,
                  double timeout_s = 60);

}  // namespace experiments_test

#endif  // TESTS_EXPERIMENTS_TEST_UTIL_H_
