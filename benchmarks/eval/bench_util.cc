#include "benchmarks/eval/bench_util.h"

#include <cstdio>

namespace mrcnn::bench {

void RecordingReporter::ReportRuns(const std::vector<Run>& runs) {
  for (const Run& run : runs) {
    if (run.error_occurred) continue;
    const double s = run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit);
    if (run.run_type == Run::RT_Iteration) {
      last_[run.run_name.str()] = s;
    } else if (run.aggregate_name == "median") {
      median_[run.run_name.str()] = s;
    }
  }
  ConsoleReporter::ReportRuns(runs);
}

double RecordingReporter::Seconds(const std::string& name) const {
  if (auto it = median_.find(name); it != median_.end()) return it->second;
  if (auto it = last_.find(name); it != last_.end()) return it->second;
  return 0;
}

bool TakeFlag(const std::string& arg, const std::string& name, std::string* value) {
  const std::string prefix = "--" + name + "=";
  if (arg.rfind(prefix, 0) != 0) return false;
  *value = arg.substr(prefix.size());
  return true;
}

std::string RunCommand(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  if (pclose(p) != 0) return "";
  return out;
}

}  // namespace mrcnn::bench
