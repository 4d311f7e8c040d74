// Trial reports (experiments/trial.h IngestReport, ReadResult): the input is the JSON-lines report of a
// Slurm trial (a file on a shared filesystem, written by another host) and, as a second reading, its
// result file. Ingestion applies the lines to a scratch experiment log whose trial 1 is running in
// attempt 1, from offset 0 each time.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "experiments/log.h"
#include "experiments/spec.h"
#include "experiments/store.h"
#include "experiments/trial.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

struct Scratch {
  std::string dir;
  std::optional<experiments::ExperimentLog> log;
  int64_t trial_id = 0;
  int attempt = 0;
};

Scratch& Get() {
  static Scratch* s = [] {
    auto* s = new Scratch;
    s->dir = mrcnn::fuzz::ScratchDir("report");
    absl::StatusOr<experiments::ExperimentLog> log = experiments::ExperimentLog::Open(s->dir + "/log.sqlite");
    if (!log.ok()) std::abort();
    s->log.emplace(std::move(*log));
    // A scratch log: no fsync per transaction, so the fuzzer spends its time in the parser.
    if (!s->log->db().Exec("PRAGMA synchronous = OFF").ok()) std::abort();
    absl::StatusOr<experiments::SweepPlan> plan =
        experiments::PlanSweep({{"name", "fuzz"}, {"params", {{"RPN_ANCHOR_STRIDE", {1}}}}}, "fuzz spec");
    if (!plan.ok()) std::abort();
    absl::StatusOr<int64_t> sweep = experiments::MaterializeSweep(s->log->db(), *plan);
    if (!sweep.ok()) std::abort();
    experiments::ClaimPolicy p;
    p.host = "fuzz";
    p.stale_after_s = 1e12;
    absl::StatusOr<std::optional<experiments::Claim>> c = experiments::ClaimNext(s->log->db(), *sweep, p);
    if (!c.ok() || !c->has_value()) std::abort();
    s->trial_id = (*c)->trial_id;
    s->attempt = (*c)->attempt;
    return s;
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Scratch& s = Get();
  const std::string report = s.dir + "/attempt_1.report.jsonl";
  mrcnn::fuzz::WriteFileOrDie(report, data, size);
  if (!s.log->db().Exec("DELETE FROM report_ingest").ok()) std::abort();
  (void)experiments::IngestReport(s.log->db(), s.trial_id, s.attempt, report);
  mrcnn::fuzz::WriteFileOrDie(experiments::ResultPath(report), data, size);
  (void)experiments::ReadResult(report, s.trial_id, s.attempt);
  return 0;
}
