// A sweep spec: which config keys to vary, how (grid or seeded random search), from which preset and
// base overrides, and how many seeds per point. PlanSweep expands it into the full trial list, every
// config validated through mrcnn::Config.
//
//   {
//     "name": "stride_vs_minimask",            // the sweep's name in the log (--name overrides)
//     "preset": "shapes",                      // default "shapes"
//     "base": {"STEPS_PER_EPOCH": 100},        // overrides applied to every trial
//     "search": "grid",                        // "grid" (default) or "random"
//     "params": {"RPN_ANCHOR_STRIDE": [1, 2], "USE_MINI_MASK": [false, true]},
//     "seeds": 2,                              // repeats of every point (--seeds overrides); default 1
//     "seed": 0,                               // base seed: trial seeds are seed, seed+1, ...
//     "trainer": {"epochs": 3, "layers": "all"}, // flags for the trial binary, the same for every trial
//     "scheduler": {"type": "asha", "metric": "segm_AP", "min_epochs": 1, "max_epochs": 8, "eta": 2},
//     "slurm": {"partition": "gpu", "time": "4:00:00", "cpus_per_trial": 8}  // --launcher=slurm only
//   }
// Random search takes "trials": N and draws each param from its list, or from a range
// {"min": a, "max": b, "scale": "linear"|"log", "type": "real"|"int"}, with a generator seeded by
// "seed": the same spec always gives the same trial list.
// "trainer" holds the trial binary's own flags that are not config keys (budgets such as epochs, the
// dataset: format, dataset_dir, ...); each becomes --KEY=VALUE after the trial protocol's flags. They are
// part of the stored spec, so resuming a sweep always trains on the same data with the same budget.
// "scheduler" (optional; scheduler.h) runs the trials rung by rung and stops the worse ones early; its
// max_epochs is the trainer's "epochs" (filled in when absent, an error when different).
#ifndef EXPERIMENTS_SPEC_H_
#define EXPERIMENTS_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "experiments/scheduler.h"
#include "experiments/slurm.h"
#include "mrcnn/config/config.h"
#include "nlohmann/json.hpp"

namespace experiments {

// The most trials (points x seeds) one sweep may plan; a larger spec is refused before it is expanded.
inline constexpr int64_t kMaxTrials = 100000;

// A sweep name's longest form in bytes (it names the folder that holds its trial folders).
inline constexpr size_t kMaxSweepNameBytes = 200;

struct PlannedTrial {
  mrcnn::Config config;  // effective config; its SEED is `seed`
  int64_t seed = 0;
  nlohmann::json point;  // the swept keys and their values for this trial
};

struct SweepPlan {
  std::string name;
  nlohmann::json spec;  // as given, with "seeds" and "name" resolved; stored in the log
  int64_t seed = 0;
  int seeds = 1;
  std::vector<std::string> swept_keys;
  std::vector<PlannedTrial> trials;  // points in order, each repeated for seeds seed..seed+seeds-1
  std::vector<std::string> trainer_args;  // "--KEY=VALUE" from the spec's "trainer", sorted by KEY
  std::optional<SchedulerSpec> scheduler;
  SlurmSettings slurm;  // the spec's "slurm" (defaults without one); the sweep's flags override it
};

// `source` names the spec (its file) in errors. `seeds_override` (--seeds) and `name_override`
// (--name) replace the spec's values when given.
absl::StatusOr<SweepPlan> PlanSweep(const nlohmann::json& spec, const std::string& source,
                                    std::optional<int> seeds_override = std::nullopt,
                                    const std::string& name_override = "");

absl::StatusOr<SweepPlan> PlanSweepFile(const std::string& path,
                                        std::optional<int> seeds_override = std::nullopt,
                                        const std::string& name_override = "");

// Config::Hash of `c` with SEED = 0: identifies a config point across its seeds.
std::string PointHash(const mrcnn::Config& c);

}  // namespace experiments

#endif  // EXPERIMENTS_SPEC_H_
