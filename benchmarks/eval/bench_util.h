// Pieces both evaluation benchmarks use around Google Benchmark: a console reporter that keeps each
// benchmark's real time for the ratio tables printed after the run, `--name=value` flags taken out
// before Google Benchmark sees the command line, and a peer script's standard output.
//
//   RecordingReporter reporter;
//   benchmark::RunSpecifiedBenchmarks(&reporter);
//   double ours = reporter.Seconds("EvaluateAccumulate/segm:0/threads:2/real_time");
#ifndef BENCHMARKS_EVAL_BENCH_UTIL_H_
#define BENCHMARKS_EVAL_BENCH_UTIL_H_

#include <map>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"

namespace mrcnn::bench {

// Keeps each benchmark's real time in seconds (the median when --benchmark_repetitions is given).
class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override;
  // The run's seconds; 0 when it did not run.
  double Seconds(const std::string& name) const;

 private:
  std::map<std::string, double> last_, median_;
};

// True (and `value` set) when `arg` is --name=value.
bool TakeFlag(const std::string& arg, const std::string& name, std::string* value);

// The command's standard output; empty when it cannot start or exits non-zero.
std::string RunCommand(const std::string& cmd);

}  // namespace mrcnn::bench

#endif  // BENCHMARKS_EVAL_BENCH_UTIL_H_
