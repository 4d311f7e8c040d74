// Sweep specs (experiments/spec.h PlanSweepFile): the input is a spec file; planning expands it into
// trials (grid or seeded random search), validates every trial's config and parses the scheduler.
#include <cstddef>
#include <cstdint>
#include <string>

#include "experiments/spec.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = mrcnn::fuzz::ScratchDir("spec") + "/spec.json";
  mrcnn::fuzz::WriteFileOrDie(path, data, size);
  absl::StatusOr<experiments::SweepPlan> plan = experiments::PlanSweepFile(path);
  if (plan.ok()) {
    for (const experiments::PlannedTrial& t : plan->trials) (void)experiments::PointHash(t.config);
  }
  return 0;
}
