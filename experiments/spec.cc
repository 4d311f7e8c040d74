#include "experiments/spec.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "experiments/trial.h"
#include "mrcnn/config/untrusted.h"

namespace experiments {
namespace {

using Json = nlohmann::json;

absl::Status Bad(const std::string& source, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", what));
}

// Uniform in [0, 1) from the generator's raw 64-bit output (std::mt19937_64's sequence is fixed by the
// standard; the std:: distributions are not, so they are avoided for reproducibility).
double Uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

absl::StatusOr<Json> DrawParam(const std::string& key, const Json& space, std::mt19937_64& rng,
                               const std::string& source) {
  if (space.is_array()) {
    const size_t i = std::min(space.size() - 1, static_cast<size_t>(Uniform01(rng) * space.size()));
    return space[i];
  }
  // A range {"min", "max", "scale", "type"}.
  for (auto it = space.begin(); it != space.end(); ++it) {
    if (it.key() != "min" && it.key() != "max" && it.key() != "scale" && it.key() != "type") {
      return Bad(source, absl::StrCat("params.", key, ": unknown range field \"", it.key(),
                                      "\" (expected min, max, scale, type)"));
    }
  }
  if (!space.contains("min") || !space.contains("max") || !space["min"].is_number() ||
      !space["max"].is_number()) {
    return Bad(source, absl::StrCat("params.", key, ": a range needs numeric \"min\" and \"max\""));
  }
  const double lo = space["min"].get<double>(), hi = space["max"].get<double>();
  if (!(lo <= hi)) return Bad(source, absl::StrCat("params.", key, ": range min > max"));
  const std::string scale = space.value("scale", "linear");
  const std::string type = space.value("type", "real");
  if (scale != "linear" && scale != "log") {
    return Bad(source, absl::StrCat("params.", key, ": scale must be linear or log, got ", scale));
  }
  if (type != "real" && type != "int") {
    return Bad(source, absl::StrCat("params.", key, ": type must be real or int, got ", type));
  }
  if (scale == "log" && !(lo > 0)) {
    return Bad(source, absl::StrCat("params.", key, ": a log range needs min > 0"));
  }
  // Integers beyond 2^53 are not exact in a double (and their difference can overflow int64).
  constexpr double kExact = 9007199254740992.0;
  if (type == "int" && !(lo >= -kExact && hi <= kExact)) {
    return Bad(source, absl::StrCat("params.", key, ": an int range must lie within +-2^53"));
  }
  if (!std::isfinite(hi - lo)) {
    return Bad(source, absl::StrCat("params.", key, ": the range is wider than a double can hold"));
  }
  const double u = Uniform01(rng);
  if (type == "int" && scale == "linear") {
    const int64_t a = static_cast<int64_t>(std::ceil(lo)), b = static_cast<int64_t>(std::floor(hi));
    if (a > b) return Bad(source, absl::StrCat("params.", key, ": no integer in the range"));
    return Json(a + std::min<int64_t>(b - a, static_cast<int64_t>(u * (b - a + 1))));
  }
  const double v = scale == "log" ? std::exp(std::log(lo) + u * (std::log(hi) - std::log(lo)))
                                  : lo + u * (hi - lo);
  if (type == "int") return Json(static_cast<int64_t>(std::llround(v)));
  return Json(v);
}

}  // namespace

std::string PointHash(const mrcnn::Config& c) {
  mrcnn::Config p = c;
  p.SEED = 0;
  return p.Hash();
}

namespace {

// The spec's top-level fields, all known.
absl::Status CheckFields(const Json& spec, const std::string& source) {
  if (!spec.is_object()) return Bad(source, "a sweep spec must be a JSON object");
  static const std::set<std::string> kKnown = {"name",   "description", "preset", "base",
                                               "search", "params",      "seeds",  "seed",
                                               "trials", "trainer", "scheduler", "slurm"};
  for (auto it = spec.begin(); it != spec.end(); ++it) {
    if (!kKnown.count(it.key())) {
      return Bad(source, absl::StrCat("unknown field \"", it.key(), "\" (expected one of ",
                                      absl::StrJoin(kKnown, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

// "name", "seeds" and "seed" (with the command line's overrides) into the plan; the resolved values
// are written back into `spec`, which the log stores.
absl::Status ResolveNameAndSeeds(Json& spec, const std::string& source, std::optional<int> seeds_override,
                                 const std::string& name_override, SweepPlan* plan) {
  if (!name_override.empty()) spec["name"] = name_override;
  if (!spec.contains("name") || !spec["name"].is_string() || spec["name"].get<std::string>().empty()) {
    return Bad(source, "the sweep needs a \"name\" (or pass --name)");
  }
  plan->name = spec["name"].get<std::string>();
  // The name is stored as JSON and names the sweep's folder of trial folders.
  absl::Status name_ok = mrcnn::CheckUtf8(plan->name, "the sweep's name");
  if (!name_ok.ok()) return Bad(source, std::string(name_ok.message()));
  if (plan->name.size() > kMaxSweepNameBytes) {
    return Bad(source, absl::StrCat("the sweep's name is ", plan->name.size(), " bytes long; at most ",
                                    kMaxSweepNameBytes, " (it names the folder of its trial folders)"));
  }
  if (seeds_override) spec["seeds"] = *seeds_override;
  if (!spec.contains("seeds")) spec["seeds"] = 1;
  if (!spec["seeds"].is_number_integer() || spec["seeds"].get<int64_t>() < 1) {
    return Bad(source, absl::StrCat("seeds must be an integer >= 1, got ", spec["seeds"].dump()));
  }
  if (spec["seeds"].get<int64_t>() > kMaxTrials) {
    return Bad(source, absl::StrCat("seeds: at most ", kMaxTrials, ", got ", spec["seeds"].dump()));
  }
  plan->seeds = spec["seeds"].get<int>();
  if (!spec.contains("seed")) spec["seed"] = 0;
  if (!spec["seed"].is_number_integer() || spec["seed"].get<int64_t>() < 0) {
    return Bad(source, absl::StrCat("seed must be an integer >= 0, got ", spec["seed"].dump()));
  }
  plan->seed = spec["seed"].get<int64_t>();
  return absl::OkStatus();
}

// The preset with the spec's "base" overrides applied (not validated: the points complete it).
absl::StatusOr<mrcnn::Config> BaseConfig(Json& spec, const std::string& source) {
  if (!spec.contains("preset")) spec["preset"] = "shapes";
  if (!spec["preset"].is_string()) return Bad(source, "preset must be a string");
  absl::StatusOr<mrcnn::Config> base = mrcnn::Config::Preset(spec["preset"].get<std::string>());
  if (!base.ok()) return Bad(source, std::string(base.status().message()));
  if (spec.contains("base")) {
    absl::Status s = base->Apply(spec["base"], absl::StrCat(source, ": base"));
    if (!s.ok()) return s;
  }
  return base;
}

// The keys of "params", each a settable config key other than SEED.
absl::StatusOr<std::vector<std::string>> SweptKeys(const Json& spec, const mrcnn::Config& base,
                                                   const std::string& source) {
  if (!spec.contains("params") || !spec["params"].is_object() || spec["params"].empty()) {
    return Bad(source, "\"params\" must be a non-empty object of KEY: [values] (an empty grid has "
                       "no trials)");
  }
  const Json& params = spec["params"];
  const std::vector<std::string> fields = mrcnn::Config::FieldNames();
  std::vector<std::string> keys;
  for (auto it = params.begin(); it != params.end(); ++it) {
    const std::string& key = it.key();
    if (key == "SEED") {
      return Bad(source, "params.SEED: trial seeds come from \"seed\" and \"seeds\" (--seeds), not "
                         "from params");
    }
    if (!std::binary_search(fields.begin(), fields.end(), key)) {
      // Let the Config phrase the error (it also explains derived keys).
      mrcnn::Config probe = base;
      absl::Status s = probe.SetJson(key, it.value().is_array() && !it.value().empty()
                                              ? it.value()[0]
                                              : Json());
      return Bad(source, absl::StrCat("params: ", s.ok() ? "unknown config key " + key
                                                         : std::string(s.message())));
    }
    keys.push_back(key);
  }
  return keys;
}

// Every combination of the params' lists, the first key outermost; bounded before it is expanded.
absl::StatusOr<std::vector<Json>> GridPoints(const Json& spec, const SweepPlan& plan,
                                             const std::string& source) {
  if (spec.contains("trials")) return Bad(source, "\"trials\" is only for \"search\": \"random\"");
  const Json& params = spec["params"];
  int64_t size = plan.seeds;
  for (const std::string& key : plan.swept_keys) {
    const Json& values = params[key];
    if (values.is_array() && !values.empty()) {
      size = std::min<int64_t>(size * static_cast<int64_t>(values.size()), kMaxTrials + 1);
    }
  }
  if (size > kMaxTrials) {
    return Bad(source, absl::StrCat("the grid times the seeds has more than ", kMaxTrials, " trials"));
  }
  std::vector<Json> points = {Json::object()};
  for (const std::string& key : plan.swept_keys) {
    const Json& values = params[key];
    if (!values.is_array()) {
      return Bad(source, absl::StrCat("params.", key, ": a grid needs a list of values, got ",
                                      values.dump()));
    }
    if (values.empty()) {
      return Bad(source, absl::StrCat("params.", key, ": empty list of values (an empty grid has "
                                      "no trials)"));
    }
    std::vector<Json> next;
    for (const Json& p : points) {
      for (const Json& v : values) {
        Json q = p;
        q[key] = v;
        next.push_back(q);
      }
    }
    points = std::move(next);
  }
  return points;
}

// "trials" draws of every param from its list or range, with a generator seeded by "seed".
absl::StatusOr<std::vector<Json>> RandomPoints(const Json& spec, const SweepPlan& plan,
                                               const std::string& source) {
  if (!spec.contains("trials") || !spec["trials"].is_number_integer() ||
      spec["trials"].get<int64_t>() < 1) {
    return Bad(source, "random search needs \"trials\": an integer >= 1");
  }
  const int64_t trials = spec["trials"].get<int64_t>();
  if (trials > kMaxTrials || trials * plan.seeds > kMaxTrials) {
    return Bad(source, absl::StrCat("\"trials\" times the seeds is more than ", kMaxTrials, " trials"));
  }
  const Json& params = spec["params"];
  for (const std::string& key : plan.swept_keys) {
    const Json& space = params[key];
    if (space.is_array() ? space.empty() : !space.is_object()) {
      return Bad(source, absl::StrCat("params.", key, ": expected a non-empty list of values or "
                                      "a range object, got ", space.dump()));
    }
  }
  std::mt19937_64 rng(static_cast<uint64_t>(plan.seed));
  std::vector<Json> points;
  for (int64_t i = 0; i < trials; ++i) {
    Json p = Json::object();
    for (const std::string& key : plan.swept_keys) {
      absl::StatusOr<Json> v = DrawParam(key, params[key], rng, source);
      if (!v.ok()) return v.status();
      p[key] = *v;
    }
    points.push_back(p);
  }
  return points;
}

// The most invalid points one error lists; it still says how many there are.
constexpr size_t kMaxListedPoints = 10;

// The config of every point, each set and validated (Config::Validate knows every constraint the data
// pipeline and the model enforce), before anything is written: the error names each invalid point by
// its index (0-based, in the order of the trial list) and values, and the key and value at fault.
// Duplicate points (the same config twice) are errors in a grid and dropped in a random search,
// where repeated draws are expected.
absl::StatusOr<std::vector<std::pair<mrcnn::Config, Json>>> PointConfigs(const std::vector<Json>& points,
                                                                         const mrcnn::Config& base,
                                                                         bool grid,
                                                                         const std::string& source) {
  std::vector<std::string> invalid;
  size_t invalid_count = 0;
  std::set<std::string> seen;
  std::vector<std::pair<mrcnn::Config, Json>> configs;
  for (size_t i = 0; i < points.size(); ++i) {
    const Json& p = points[i];
    const std::string where = absl::StrCat("point ", i, " ", p.dump());
    mrcnn::Config c = base;
    absl::Status s = c.Apply(p, where);
    if (s.ok()) {
      s = c.Validate();
      if (!s.ok()) s = absl::InvalidArgumentError(absl::StrCat(where, ": ", s.message()));
    }
    if (!s.ok()) {
      if (invalid_count++ < kMaxListedPoints) invalid.push_back(std::string(s.message()));
      continue;
    }
    if (!seen.insert(PointHash(c)).second) {
      if (grid) {
        return Bad(source, absl::StrCat(where, " repeats an earlier point (duplicate values in the grid)"));
      }
      continue;
    }
    configs.emplace_back(c, p);
  }
  if (invalid_count > 0) {
    std::string more = invalid_count > invalid.size()
                           ? absl::StrCat(" | and ", invalid_count - invalid.size(), " more")
                           : "";
    return Bad(source, absl::StrCat(invalid_count, " of ", points.size(),
                                    " points are not valid configs (nothing was run or logged): ",
                                    absl::StrJoin(invalid, " | "), more));
  }
  return configs;
}

// Each point once per seed: seeds seed..seed+seeds-1, the config's SEED set to the trial's.
std::vector<PlannedTrial> ExpandSeeds(const std::vector<std::pair<mrcnn::Config, Json>>& configs,
                                      const SweepPlan& plan) {
  std::vector<PlannedTrial> trials;
  for (const auto& [c, p] : configs) {
    for (int k = 0; k < plan.seeds; ++k) {
      PlannedTrial t;
      t.config = c;
      t.seed = plan.seed + k;
      t.config.SEED = static_cast<int>(t.seed);
      t.point = p;
      trials.push_back(std::move(t));
    }
  }
  return trials;
}

// The scheduler; its budget is the trainer's epochs, written into spec["trainer"]["epochs"].
absl::StatusOr<std::optional<SchedulerSpec>> ResolveScheduler(Json& spec, const mrcnn::Config& base,
                                                              const std::string& source) {
  if (!spec.contains("scheduler")) return std::optional<SchedulerSpec>();
  if (spec.contains("trainer") && !spec["trainer"].is_object()) {
    return Bad(source, "\"trainer\" must be an object of FLAG: value");
  }
  const Json trainer = spec.value("trainer", Json::object());
  const bool coco = !trainer.contains("coco_eval") ||
                    (trainer["coco_eval"] != false && trainer["coco_eval"] != "false");
  absl::StatusOr<SchedulerSpec> sched =
      ParseScheduler(spec["scheduler"], source, EpochMetricNames(coco, base.VALIDATION_STEPS > 0));
  if (!sched.ok()) return sched.status();
  if (trainer.contains("epochs") &&
      (!trainer["epochs"].is_number_integer() || trainer["epochs"].get<int64_t>() != sched->max_epochs)) {
    return Bad(source, absl::StrCat("trainer.epochs (", trainer["epochs"].dump(),
                                    ") differs from scheduler.max_epochs (", sched->max_epochs,
                                    "): the scheduler's max_epochs is the trials' budget"));
  }
  spec["trainer"]["epochs"] = sched->max_epochs;
  return std::optional<SchedulerSpec>(*sched);
}

// The spec's "trainer" as the trial binary's flags "--KEY=VALUE", sorted by KEY (JSON objects are).
absl::StatusOr<std::vector<std::string>> TrainerArgs(const Json& spec, const std::string& source) {
  std::vector<std::string> args;
  if (!spec.contains("trainer")) return args;
  const Json& t = spec["trainer"];
  if (!t.is_object()) return Bad(source, "\"trainer\" must be an object of FLAG: value");
  static const std::set<std::string> kProtocol = {"config",  "seed",    "trial_dir", "db", "report",
                                                  "trial_id", "attempt", "threads",   "resume",
                                                  "stop_at_epoch"};
  for (auto it = t.begin(); it != t.end(); ++it) {
    const std::string& flag = it.key();
    const bool identifier =
        !flag.empty() && std::all_of(flag.begin(), flag.end(), [](char c) {
          return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
                 c == '_';
        });
    if (!identifier) {
      return Bad(source, absl::StrCat("trainer: \"", flag, "\" is not a flag name (lower case, digits, _)"));
    }
    if (kProtocol.count(flag)) {
      return Bad(source, absl::StrCat("trainer.", flag, ": set by the coordinator (trial protocol), "
                                      "not by the spec"));
    }
    std::string value;
    if (it.value().is_string()) {
      value = it.value().get<std::string>();
    } else if (it.value().is_boolean()) {
      value = it.value().get<bool>() ? "true" : "false";
    } else if (it.value().is_number()) {
      value = it.value().dump();
    } else {
      return Bad(source, absl::StrCat("trainer.", flag, ": expected a string, number or boolean, got ",
                                      it.value().dump()));
    }
    args.push_back(absl::StrCat("--", flag, "=", value));
  }
  return args;
}

}  // namespace

absl::StatusOr<SweepPlan> PlanSweep(const Json& spec_in, const std::string& source,
                                    std::optional<int> seeds_override,
                                    const std::string& name_override) {
  if (absl::Status s = CheckFields(spec_in, source); !s.ok()) return s;
  Json spec = spec_in;
  SweepPlan plan;
  if (absl::Status s = ResolveNameAndSeeds(spec, source, seeds_override, name_override, &plan); !s.ok()) {
    return s;
  }
  absl::StatusOr<mrcnn::Config> base = BaseConfig(spec, source);
  if (!base.ok()) return base.status();
  absl::StatusOr<std::vector<std::string>> keys = SweptKeys(spec, *base, source);
  if (!keys.ok()) return keys.status();
  plan.swept_keys = *keys;

  if (!spec.contains("search")) spec["search"] = "grid";
  const std::string search = spec["search"].is_string() ? spec["search"].get<std::string>() : "";
  absl::StatusOr<std::vector<Json>> points;
  if (search == "grid") {
    points = GridPoints(spec, plan, source);
  } else if (search == "random") {
    points = RandomPoints(spec, plan, source);
  } else {
    return Bad(source, absl::StrCat("search must be \"grid\" or \"random\", got ",
                                    spec["search"].dump()));
  }
  if (!points.ok()) return points.status();
  absl::StatusOr<std::vector<std::pair<mrcnn::Config, Json>>> configs =
      PointConfigs(*points, *base, search == "grid", source);
  if (!configs.ok()) return configs.status();
  plan.trials = ExpandSeeds(*configs, plan);

  absl::StatusOr<std::optional<SchedulerSpec>> scheduler = ResolveScheduler(spec, *base, source);
  if (!scheduler.ok()) return scheduler.status();
  plan.scheduler = *scheduler;
  absl::StatusOr<std::vector<std::string>> args = TrainerArgs(spec, source);
  if (!args.ok()) return args.status();
  plan.trainer_args = *args;
  // Slurm resources (slurm.h), used by --launcher=slurm.
  if (spec.contains("slurm")) {
    absl::StatusOr<SlurmSettings> slurm = ParseSlurmSettings(spec["slurm"], source);
    if (!slurm.ok()) return slurm.status();
    plan.slurm = *slurm;
  }
  plan.spec = spec;
  return plan;
}

absl::StatusOr<SweepPlan> PlanSweepFile(const std::string& path, std::optional<int> seeds_override,
                                        const std::string& name_override) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open sweep spec"));
  Json spec = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (spec.is_discarded()) return Bad(path, "not valid JSON");
  return PlanSweep(spec, path, seeds_override, name_override);
}

}  // namespace experiments
