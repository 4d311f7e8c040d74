#include "experiments/scheduler.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace experiments {
namespace {

using Json = nlohmann::json;

absl::Status Bad(const std::string& source, const std::string& key, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": scheduler.", key, ": ", what));
}

// The trials of `bracket` with a result at `rung`, best first (ties: lower ordinal).
std::vector<const ScheduledTrial*> Ranked(const SchedulerSpec& spec,
                                          const std::vector<ScheduledTrial>& trials, int bracket,
                                          int rung) {
  std::vector<const ScheduledTrial*> r;
  for (const ScheduledTrial& t : trials) {
    if (BracketOf(spec, t.ordinal) == bracket && t.results.count(rung)) r.push_back(&t);
  }
  std::sort(r.begin(), r.end(), [&](const ScheduledTrial* a, const ScheduledTrial* b) {
    const double va = a->results.at(rung), vb = b->results.at(rung);
    if (spec.Better(va, vb)) return true;
    if (spec.Better(vb, va)) return false;
    return a->ordinal < b->ordinal;
  });
  return r;
}

// Paused at `rung`, waiting there for a decision.
bool Undecided(const ScheduledTrial& t, int rung) {
  return t.status == "PAUSED" && t.results.count(rung) && !t.decisions.count(rung) &&
         t.target_rung == rung;
}

// Paused at `rung` and in the rung's top floor(n / eta).
std::vector<const ScheduledTrial*> Promotable(const SchedulerSpec& spec,
                                              const std::vector<ScheduledTrial>& trials,
                                              int bracket, int rung) {
  const std::vector<const ScheduledTrial*> ranked = Ranked(spec, trials, bracket, rung);
  const size_t top = ranked.size() / static_cast<size_t>(spec.eta);
  std::vector<const ScheduledTrial*> out;
  for (size_t i = 0; i < top; ++i) {
    if (Undecided(*ranked[i], rung)) out.push_back(ranked[i]);
  }
  return out;
}

// Whether some trial of `bracket` is still running, or waiting to run, to `rung`.
bool Heading(const SchedulerSpec& spec, const std::vector<ScheduledTrial>& trials, int bracket,
             int rung) {
  for (const ScheduledTrial& t : trials) {
    if (BracketOf(spec, t.ordinal) != bracket || t.target_rung != rung) continue;
    if (t.status == "RUNNING" || t.can_run) return true;
  }
  return false;
}

}  // namespace

std::string SchedulerSpec::TypeName() const {
  switch (type) {
    case Type::kAsha:
      return "asha";
    case Type::kHyperband:
      return "hyperband";
    case Type::kMedian:
      return "median";
  }
  return "?";
}

int SchedulerSpec::NumBrackets() const {
  if (type != Type::kHyperband) return 1;
  int s = 0;
  for (int64_t r = static_cast<int64_t>(min_epochs) * eta; r <= max_epochs; r *= eta) ++s;
  return s + 1;
}

std::vector<int> SchedulerSpec::Rungs(int bracket) const {
  std::vector<int> rungs;
  int64_t r = min_epochs;
  for (int s = 0; s < bracket; ++s) r *= eta;
  for (; r < max_epochs; r *= eta) rungs.push_back(static_cast<int>(r));
  rungs.push_back(max_epochs);
  return rungs;
}

bool SchedulerSpec::Better(double a, double b) const { return mode == "max" ? a > b : a < b; }

int BracketOf(const SchedulerSpec& spec, int64_t ordinal) {
  return static_cast<int>(ordinal % spec.NumBrackets());
}

absl::StatusOr<SchedulerSpec> ParseScheduler(const Json& j, const std::string& source,
                                             const std::set<std::string>& reported) {
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": \"scheduler\" must be an object such as {\"type\": \"asha\", "
                             "\"metric\": \"segm_AP\", \"min_epochs\": 1, \"max_epochs\": 8, "
                             "\"eta\": 2}"));
  }
  static const std::set<std::string> kKnown = {"type",       "metric", "mode",       "min_epochs",
                                               "max_epochs", "eta",    "min_samples"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!kKnown.count(it.key())) {
      return Bad(source, it.key(), absl::StrCat("unknown key (expected one of ",
                                                absl::StrJoin(kKnown, ", "), ")"));
    }
  }
  SchedulerSpec s;
  const std::string type = j.value("type", Json()).is_string() ? j["type"].get<std::string>() : "";
  if (type == "asha") {
    s.type = SchedulerSpec::Type::kAsha;
  } else if (type == "hyperband") {
    s.type = SchedulerSpec::Type::kHyperband;
  } else if (type == "median") {
    s.type = SchedulerSpec::Type::kMedian;
  } else {
    return Bad(source, "type", absl::StrCat("must be \"asha\", \"hyperband\" or \"median\", got ",
                                            j.contains("type") ? j["type"].dump() : "nothing"));
  }
  if (j.contains("metric")) {
    if (!j["metric"].is_string() || j["metric"].get<std::string>().empty()) {
      return Bad(source, "metric", absl::StrCat("must be a metric name, got ", j["metric"].dump()));
    }
    s.metric = j["metric"].get<std::string>();
  }
  if (!reported.empty() && !reported.count(s.metric)) {
    return Bad(source, "metric",
               absl::StrCat("no trial reports \"", s.metric, "\" at the end of an epoch; it reports ",
                            absl::StrJoin(reported, ", ")));
  }
  s.mode = s.metric.find("loss") != std::string::npos ? "min" : "max";
  if (j.contains("mode")) {
    if (!j["mode"].is_string() || (j["mode"] != "max" && j["mode"] != "min")) {
      return Bad(source, "mode", absl::StrCat("must be \"max\" or \"min\", got ", j["mode"].dump()));
    }
    s.mode = j["mode"].get<std::string>();
  }
  const auto read_int = [&](const char* key, int lowest, int* out) -> absl::Status {
    if (!j.contains(key)) return absl::OkStatus();
    const Json& v = j[key];
    if (!v.is_number_integer() || v.get<int64_t>() < lowest || v.get<int64_t>() > 1000000) {
      return Bad(source, key, absl::StrCat("must be an integer >= ", lowest, ", got ", v.dump()));
    }
    *out = v.get<int>();
    return absl::OkStatus();
  };
  for (auto [key, lowest, out] : {std::tuple<const char*, int, int*>{"min_epochs", 1, &s.min_epochs},
                                  {"max_epochs", 1, &s.max_epochs},
                                  {"eta", 2, &s.eta},
                                  {"min_samples", 1, &s.min_samples}}) {
    absl::Status st = read_int(key, lowest, out);
    if (!st.ok()) return st;
  }
  if (s.min_epochs > s.max_epochs) {
    return Bad(source, "min_epochs",
               absl::StrCat(s.min_epochs, " is above max_epochs ", s.max_epochs));
  }
  if (j.contains("min_samples") && s.type != SchedulerSpec::Type::kMedian) {
    return Bad(source, "min_samples", "applies to the median rule only");
  }
  return s;
}

std::optional<Promotion> PickPromotion(const SchedulerSpec& spec,
                                       const std::vector<ScheduledTrial>& trials) {
  if (spec.type == SchedulerSpec::Type::kMedian) return std::nullopt;
  // (epoch, bracket, rung index) of every rung that has a next one, highest epoch first.
  std::vector<std::tuple<int, int, int>> order;
  for (int b = 0; b < spec.NumBrackets(); ++b) {
    const std::vector<int> rungs = spec.Rungs(b);
    for (int k = 0; k + 1 < static_cast<int>(rungs.size()); ++k) order.emplace_back(rungs[k], b, k);
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) > std::get<0>(b);
    return std::get<1>(a) < std::get<1>(b);
  });
  for (const auto& [epoch, bracket, rung] : order) {
    const std::vector<const ScheduledTrial*> p = Promotable(spec, trials, bracket, rung);
    if (!p.empty()) return Promotion{p.front()->id, rung};
  }
  return std::nullopt;
}

std::vector<Promotion> ClosedRungPrunes(const SchedulerSpec& spec,
                                        const std::vector<ScheduledTrial>& trials) {
  std::vector<Promotion> out;
  if (spec.type == SchedulerSpec::Type::kMedian) return out;
  for (int b = 0; b < spec.NumBrackets(); ++b) {
    const int last = static_cast<int>(spec.Rungs(b).size()) - 1;
    for (int k = 0; k < last; ++k) {
      // Rung k is closed when nothing runs or waits to run to it, and the rung below is closed with
      // none of its trials still to be promoted into it.
      if (Heading(spec, trials, b, k)) break;
      if (k > 0 && !Promotable(spec, trials, b, k - 1).empty()) break;
      const std::vector<const ScheduledTrial*> ranked = Ranked(spec, trials, b, k);
      const size_t top = ranked.size() / static_cast<size_t>(spec.eta);
      for (size_t i = top; i < ranked.size(); ++i) {
        if (Undecided(*ranked[i], k)) out.push_back({ranked[i]->id, k});
      }
    }
  }
  return out;
}

bool MedianContinues(const SchedulerSpec& spec, const std::vector<ScheduledTrial>& trials,
                     int64_t trial_id, int rung) {
  int bracket = 0;
  double value = 0;
  for (const ScheduledTrial& t : trials) {
    if (t.id == trial_id) {
      bracket = BracketOf(spec, t.ordinal);
      value = t.results.at(rung);
    }
  }
  std::vector<double> values;
  for (const ScheduledTrial* t : Ranked(spec, trials, bracket, rung)) values.push_back(t->results.at(rung));
  if (static_cast<int>(values.size()) < spec.min_samples) return true;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  const double median = n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
  return !spec.Better(median, value);
}

}  // namespace experiments
