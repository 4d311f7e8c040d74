#include "experiments/compare.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "eval/bootstrap.h"
#include "eval/per_image.h"
#include "experiments/coco_stats.h"
#include "experiments/store.h"

namespace experiments {
namespace {

using Json = nlohmann::json;

const SqlValue& Param(const std::map<std::string, SqlValue>& params, const std::string& key) {
  static const SqlValue* null = new SqlValue();
  auto it = params.find(key);
  return it == params.end() ? *null : it->second;
}

struct TrialInfo {
  int64_t id = 0;
  std::string sweep;
  std::string status;
  int64_t seed = 0;
  std::string point_hash;
  std::map<std::string, SqlValue> params;
  std::set<std::string> swept;
  std::map<std::string, std::string> provenance;  // dataset and build fields compared by ablations
  int attempts = 0;
  SqlValue rung, epochs;  // scheduler: highest rung reached and epochs trained (NULL otherwise)
  SqlValue error;
};

const std::vector<std::string>& ProvenanceColumns() {
  static const std::vector<std::string>* c = new std::vector<std::string>{
      "dataset_name", "dataset_hash", "compilation_mode", "libtorch_version", "cuda_version",
      "git_commit",   "git_dirty"};
  return *c;
}

absl::Status CheckValue(const std::string& value) {
  if (value != "last" && value != "best") {
    return absl::InvalidArgumentError(absl::StrCat("--value must be last or best, got '", value, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TrialInfo>> LoadTrials(Db& db, const std::vector<std::string>& sweeps,
                                                  bool finished_only) {
  std::string sql = absl::StrCat(
      "SELECT t.id, s.name, t.status, t.seed, t.point_hash, t.attempts, t.rung, t.epochs_trained, "
      "t.error, ",
      absl::StrJoin(ProvenanceColumns(), ", ",
                    [](std::string* out, const std::string& c) { absl::StrAppend(out, "t.", c); }),
      " FROM trials t JOIN sweeps s ON s.id = t.sweep_id");
  std::vector<SqlValue> params;
  std::vector<std::string> where;
  if (finished_only) where.push_back("t.status = 'FINISHED'");
  if (!sweeps.empty()) {
    std::vector<std::string> marks;
    for (const std::string& s : sweeps) {
      marks.push_back("?");
      params.push_back(s);
    }
    where.push_back(absl::StrCat("s.name IN (", absl::StrJoin(marks, ", "), ")"));
  }
  if (!where.empty()) absl::StrAppend(&sql, " WHERE ", absl::StrJoin(where, " AND "));
  absl::StrAppend(&sql, " ORDER BY t.id");
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows = db.QueryAll(sql, params);
  if (!rows.ok()) return rows.status();
  std::vector<TrialInfo> out;
  for (const auto& r : *rows) {
    TrialInfo t;
    t.id = std::get<int64_t>(r[0]);
    t.sweep = std::get<std::string>(r[1]);
    t.status = std::get<std::string>(r[2]);
    t.seed = std::get<int64_t>(r[3]);
    t.point_hash = std::get<std::string>(r[4]);
    t.attempts = static_cast<int>(std::get<int64_t>(r[5]));
    t.rung = r[6];
    t.epochs = r[7];
    t.error = r[8];
    for (size_t i = 0; i < ProvenanceColumns().size(); ++i) {
      t.provenance[ProvenanceColumns()[i]] = SqlValueText(r[9 + i]);
    }
    absl::StatusOr<std::vector<std::vector<SqlValue>>> ps =
        db.QueryAll("SELECT key, value, swept FROM params WHERE trial_id = ?", {t.id});
    if (!ps.ok()) return ps.status();
    for (const auto& p : *ps) {
      const std::string key = std::get<std::string>(p[0]);
      t.params[key] = p[1];
      if (std::get<int64_t>(p[2]) != 0) t.swept.insert(key);
    }
    out.push_back(std::move(t));
  }
  return out;
}

// The metric's value for a trial's current attempt, if it logged one.
absl::StatusOr<std::optional<double>> MetricOf(Db& db, int64_t trial_id, const std::string& metric,
                                               const std::string& value) {
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows = db.QueryAll(
      absl::StrCat("SELECT ", value == "best" ? "best_value" : "last_value",
                   " FROM metric_last WHERE trial_id = ? AND key = ?"),
      {trial_id, metric});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<double>();
  const SqlValue& v = (*rows)[0][0];
  if (std::holds_alternative<double>(v)) return std::optional<double>(std::get<double>(v));
  if (std::holds_alternative<int64_t>(v)) {
    return std::optional<double>(static_cast<double>(std::get<int64_t>(v)));
  }
  return std::optional<double>();
}

absl::StatusOr<std::string> GoalOf(Db& db, const std::string& metric) {
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows =
      db.QueryAll("SELECT goal FROM metric_summary WHERE key = ? LIMIT 1", {metric});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) {
    return absl::NotFoundError(absl::StrCat(db.path(), ": no run logged the metric '", metric, "'"));
  }
  return std::get<std::string>((*rows)[0][0]);
}

// Orders axis values numerically when both are numbers, else as text.
bool ValueLess(const SqlValue& a, const SqlValue& b) {
  const auto num = [](const SqlValue& v, double* out) {
    if (std::holds_alternative<int64_t>(v)) *out = static_cast<double>(std::get<int64_t>(v));
    else if (std::holds_alternative<double>(v)) *out = std::get<double>(v);
    else return false;
    return true;
  };
  double x, y;
  if (num(a, &x) && num(b, &y)) return x < y;
  return SqlValueText(a) < SqlValueText(b);
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Json ToJson(const SqlValue& v) {
  if (std::holds_alternative<int64_t>(v)) return std::get<int64_t>(v);
  if (std::holds_alternative<double>(v)) return std::get<double>(v);
  if (std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
  return nullptr;
}

std::vector<std::string> SweptKeys(const std::vector<TrialInfo>& trials) {
  std::set<std::string> keys;
  for (const TrialInfo& t : trials) keys.insert(t.swept.begin(), t.swept.end());
  return {keys.begin(), keys.end()};
}

}  // namespace

std::pair<double, double> MeanStd(const std::vector<double>& v) {
  if (v.empty()) return {NAN, NAN};
  double sum = 0;
  for (double x : v) sum += x;
  const double mean = sum / static_cast<double>(v.size());
  if (v.size() < 2) return {mean, 0.0};
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return {mean, std::sqrt(ss / static_cast<double>(v.size() - 1))};
}

absl::StatusOr<std::string> FormatTable(const Table& t, const std::string& format) {
  std::ostringstream out;
  if (format == "csv") {
    std::vector<std::string> head;
    for (const std::string& c : t.columns) head.push_back(CsvField(c));
    out << absl::StrJoin(head, ",") << "\n";
    for (const auto& r : t.rows) {
      std::vector<std::string> f;
      for (const SqlValue& v : r) {
        f.push_back(CsvField(std::holds_alternative<double>(v)
                                 ? absl::StrFormat("%.17g", std::get<double>(v))
                                 : SqlValueText(v)));
      }
      out << absl::StrJoin(f, ",") << "\n";
    }
    return out.str();
  }
  if (format == "json") {
    Json rows = Json::array();
    for (const auto& r : t.rows) {
      Json o = Json::object();
      for (size_t i = 0; i < t.columns.size() && i < r.size(); ++i) o[t.columns[i]] = ToJson(r[i]);
      rows.push_back(o);
    }
    Json doc = {{"columns", t.columns}, {"rows", rows}};
    if (!t.notes.empty()) doc["notes"] = t.notes;
    return doc.dump(2) + "\n";
  }
  if (format != "table") {
    return absl::InvalidArgumentError(
        absl::StrCat("--format must be table, csv or json, got '", format, "'"));
  }
  std::vector<size_t> width(t.columns.size());
  std::vector<std::vector<std::string>> cells;
  for (size_t i = 0; i < t.columns.size(); ++i) width[i] = t.columns[i].size();
  for (const auto& r : t.rows) {
    std::vector<std::string> c;
    for (size_t i = 0; i < r.size(); ++i) {
      std::string s = SqlValueText(r[i]);
      if (s.size() > 60) s = s.substr(0, 57) + "...";
      const size_t nl = s.find('\n');
      if (nl != std::string::npos) s = s.substr(0, nl) + " ...";
      if (i < width.size()) width[i] = std::max(width[i], s.size());
      c.push_back(s);
    }
    cells.push_back(c);
  }
  const auto line = [&](const std::vector<std::string>& c) {
    std::string s;
    for (size_t i = 0; i < c.size() && i < width.size(); ++i) {
      absl::StrAppend(&s, i ? "  " : "", c[i], std::string(width[i] - c[i].size(), ' '));
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << "\n";
  };
  line(t.columns);
  std::vector<std::string> rule;
  for (size_t w : width) rule.push_back(std::string(w, '-'));
  line(rule);
  for (const auto& c : cells) line(c);
  for (const std::string& n : t.notes) out << n << "\n";
  return out.str();
}

absl::StatusOr<Table> ListSweeps(Db& db) {
  Table t;
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows = db.QueryAll(
      "SELECT s.id, s.name, datetime(s.created_at, 'unixepoch') AS created, s.seeds, "
      "COUNT(t.id) AS trials, "
      "SUM(t.status = 'FINISHED') AS finished, SUM(t.status = 'FAILED') AS failed, "
      "SUM(t.status = 'KILLED') AS killed, SUM(t.status = 'RUNNING') AS running, "
      "SUM(t.status = 'QUEUED') AS queued, SUM(t.status = 'PAUSED') AS paused, "
      "SUM(t.status = 'PRUNED') AS pruned "
      "FROM sweeps s LEFT JOIN trials t ON t.sweep_id = s.id GROUP BY s.id ORDER BY s.id",
      {}, &t.columns);
  if (!rows.ok()) return rows.status();
  t.rows = *rows;
  return t;
}

absl::StatusOr<Table> ListRuns(Db& db, const std::string& sweep,
                               const std::vector<std::string>& metrics, const std::string& value) {
  absl::Status vs = CheckValue(value);
  if (!vs.ok()) return vs;
  absl::StatusOr<std::vector<TrialInfo>> trials =
      LoadTrials(db, sweep.empty() ? std::vector<std::string>{} : std::vector<std::string>{sweep},
                 false);
  if (!trials.ok()) return trials.status();
  if (!sweep.empty() && trials->empty()) {
    return absl::NotFoundError(absl::StrCat(db.path(), ": no sweep named '", sweep, "'"));
  }
  const std::vector<std::string> keys = SweptKeys(*trials);
  const bool scheduled = std::any_of(trials->begin(), trials->end(), [](const TrialInfo& tr) {
    return !std::holds_alternative<std::monostate>(tr.epochs);
  });
  Table t;
  t.columns = {"trial_id", "sweep", "status", "attempts"};
  if (scheduled) t.columns.insert(t.columns.end(), {"rung", "epochs"});
  t.columns.push_back("SEED");
  t.columns.insert(t.columns.end(), keys.begin(), keys.end());
  t.columns.insert(t.columns.end(), metrics.begin(), metrics.end());
  t.columns.push_back("error");
  for (const TrialInfo& tr : *trials) {
    std::vector<SqlValue> row = {tr.id, tr.sweep, tr.status, static_cast<int64_t>(tr.attempts)};
    if (scheduled) row.insert(row.end(), {tr.rung, tr.epochs});
    row.push_back(tr.seed);
    for (const std::string& k : keys) {
      auto it = tr.params.find(k);
      row.push_back(it == tr.params.end() ? SqlValue() : it->second);
    }
    for (const std::string& m : metrics) {
      absl::StatusOr<std::optional<double>> v = MetricOf(db, tr.id, m, value);
      if (!v.ok()) return v.status();
      row.push_back(*v ? SqlValue(**v) : SqlValue());
    }
    row.push_back(tr.error);
    t.rows.push_back(row);
  }
  if (!sweep.empty()) {
    absl::StatusOr<std::optional<SweepBudget>> b = BudgetOf(db, sweep);
    if (!b.ok()) return b.status();
    if (*b) t.notes.push_back((*b)->Text());
  }
  return t;
}

absl::StatusOr<std::optional<SchedulerSpec>> SchedulerOf(Db& db, const std::string& sweep) {
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows =
      db.QueryAll("SELECT spec FROM sweeps WHERE name = ?", {sweep});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return absl::NotFoundError(absl::StrCat(db.path(), ": no sweep named '", sweep, "'"));
  const Json spec = Json::parse(SqlValueText(rows->at(0)[0]), nullptr, false);
  if (spec.is_discarded() || !spec.is_object() || !spec.contains("scheduler")) {
    return std::optional<SchedulerSpec>();
  }
  absl::StatusOr<SchedulerSpec> s =
      ParseScheduler(spec["scheduler"], absl::StrCat(db.path(), ": sweep '", sweep, "'"), {});
  if (!s.ok()) return s.status();
  return std::optional<SchedulerSpec>(*s);
}

std::string SweepBudget::Text() const {
  return absl::StrFormat(
      "budget: %d of %d epochs (%.1f%%), %d of %d training steps, if every trial had trained all %d "
      "epochs (%s)",
      epochs, full_epochs, full_epochs > 0 ? 100.0 * epochs / full_epochs : 0.0, steps, full_steps,
      max_epochs, scheduler);
}

absl::StatusOr<std::optional<SweepBudget>> BudgetOf(Db& db, const std::string& sweep) {
  absl::StatusOr<std::optional<SchedulerSpec>> sched = SchedulerOf(db, sweep);
  if (!sched.ok()) return sched.status();
  if (!sched->has_value()) return std::optional<SweepBudget>();
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows = db.QueryAll(
      "SELECT COUNT(*), TOTAL(t.epochs_trained), TOTAL(t.epochs_trained * p.value), TOTAL(p.value) "
      "FROM trials t JOIN sweeps s ON s.id = t.sweep_id LEFT JOIN params p ON p.trial_id = t.id "
      "AND p.key = 'STEPS_PER_EPOCH' WHERE s.name = ?",
      {sweep});
  if (!rows.ok()) return rows.status();
  const std::vector<SqlValue>& r = rows->at(0);
  SweepBudget b;
  b.scheduler = absl::StrCat((*sched)->TypeName(), " on ", (*sched)->metric, ", eta ", (*sched)->eta);
  b.max_epochs = (*sched)->max_epochs;
  b.trials = std::get<int64_t>(r[0]);
  b.epochs = static_cast<int64_t>(std::get<double>(r[1]));
  b.steps = static_cast<int64_t>(std::get<double>(r[2]));
  b.full_epochs = b.trials * b.max_epochs;
  b.full_steps = static_cast<int64_t>(std::get<double>(r[3])) * b.max_epochs;
  return std::optional<SweepBudget>(b);
}

absl::StatusOr<Table> RungRanking(Db& db, const std::string& sweep, const std::string& metric,
                                  const std::vector<std::string>& metrics, int top) {
  absl::StatusOr<std::optional<SchedulerSpec>> sched = SchedulerOf(db, sweep);
  if (!sched.ok()) return sched.status();
  if (!sched->has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("sweep '", sweep, "' has no scheduler"));
  }
  absl::StatusOr<std::vector<TrialInfo>> trials = LoadTrials(db, {sweep}, false);
  if (!trials.ok()) return trials.status();
  absl::StatusOr<std::string> goal = GoalOf(db, metric);
  if (!goal.ok()) return goal.status();
  struct Ranked {
    const TrialInfo* trial;
    int64_t epochs;
    std::optional<double> value;
  };
  std::vector<Ranked> ranked;
  for (const TrialInfo& t : *trials) {
    Ranked r{&t, 0, std::nullopt};
    if (std::holds_alternative<int64_t>(t.epochs)) {
      r.epochs = std::get<int64_t>(t.epochs);
      absl::StatusOr<std::optional<double>> v = CurveValueAtEpoch(db, t.id, t.attempts, metric, r.epochs);
      if (!v.ok()) return v.status();
      r.value = *v;
    }
    ranked.push_back(r);
  }
  // More epochs first; then the better value; trials without a value last; then by id.
  std::stable_sort(ranked.begin(), ranked.end(), [&](const Ranked& a, const Ranked& b) {
    if (a.epochs != b.epochs) return a.epochs > b.epochs;
    if (a.value.has_value() != b.value.has_value()) return a.value.has_value();
    if (a.value && *a.value != *b.value) return *goal == "min" ? *a.value < *b.value : *a.value > *b.value;
    return false;
  });
  const std::vector<std::string> keys = SweptKeys(*trials);
  const std::string at_rung = absl::StrCat(metric, "@rung");
  Table table;
  table.columns = {"rank", "trial_id", "status", "rung", "epochs", "SEED"};
  table.columns.insert(table.columns.end(), keys.begin(), keys.end());
  table.columns.push_back(at_rung);
  table.columns.insert(table.columns.end(), metrics.begin(), metrics.end());
  table.columns.push_back("error");
  for (size_t i = 0; i < ranked.size() && (top <= 0 || static_cast<int>(i) < top); ++i) {
    const TrialInfo& t = *ranked[i].trial;
    std::vector<SqlValue> row = {static_cast<int64_t>(i + 1), t.id, t.status, t.rung, t.epochs, t.seed};
    for (const std::string& k : keys) row.push_back(Param(t.params, k));
    row.push_back(ranked[i].value ? SqlValue(*ranked[i].value) : SqlValue());
    for (const std::string& m : metrics) {
      absl::StatusOr<std::optional<double>> v = MetricOf(db, t.id, m, "last");
      if (!v.ok()) return v.status();
      row.push_back(*v ? SqlValue(**v) : SqlValue());
    }
    row.push_back(t.error);
    table.rows.push_back(row);
  }
  table.notes.push_back(absl::StrCat(
      "ranked by ", metric, " (", *goal, ") at the highest rung each trial reached (", at_rung,
      "); trials that reached more epochs rank first. The other metrics are each trial's last values."));
  absl::StatusOr<std::optional<SweepBudget>> b = BudgetOf(db, sweep);
  if (!b.ok()) return b.status();
  if (*b) table.notes.push_back((*b)->Text());
  return table;
}

absl::StatusOr<Table> ExportRuns(Db& db, const std::string& sweep) {
  Table t;
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows =
      sweep.empty() ? db.QueryAll("SELECT * FROM runs ORDER BY trial_id", {}, &t.columns)
                    : db.QueryAll("SELECT * FROM runs WHERE sweep = ? ORDER BY trial_id", {sweep},
                                  &t.columns);
  if (!rows.ok()) return rows.status();
  t.rows = *rows;
  return t;
}

Json DerivedValues(const mrcnn::Config& c) {
  Json d = Json::object();
  const std::vector<int> shape = c.IMAGE_SHAPE();
  const auto ceil_div = [](int64_t a, int64_t b) { return (a + b - 1) / b; };
  int64_t total = 0;
  std::vector<int64_t> per_level;
  Json maps = Json::array();
  for (int stride : c.BACKBONE_STRIDES) {
    const int64_t fh = ceil_div(shape[0], stride), fw = ceil_div(shape[1], stride);
    maps.push_back({fh, fw});
    const int64_t n = ceil_div(fh, c.RPN_ANCHOR_STRIDE) * ceil_div(fw, c.RPN_ANCHOR_STRIDE) *
                      static_cast<int64_t>(c.RPN_ANCHOR_RATIOS.size());
    per_level.push_back(n);
    total += n;
  }
  d["BACKBONE_SHAPES"] = maps;
  d["ANCHORS_PER_LEVEL"] = per_level;
  d["ANCHORS_TOTAL"] = total;
  const auto kept = [&](int64_t limit) {
    if (c.PROPOSAL_SELECTION == mrcnn::ProposalSelection::kPerLevel) {
      int64_t k = 0;
      for (int64_t n : per_level) k += std::min(limit, n);
      return k;
    }
    return std::min(limit, total);
  };
  const int64_t pre_train = kept(c.PRE_NMS_LIMIT), pre_infer = kept(c.PRE_NMS_LIMIT_INFERENCE);
  d["PRE_NMS_KEPT_TRAINING"] = pre_train;
  d["PRE_NMS_KEPT_INFERENCE"] = pre_infer;
  d["POST_NMS_ROIS_TRAINING_AT_MOST"] = std::min<int64_t>(c.POST_NMS_ROIS_TRAINING, pre_train);
  d["POST_NMS_ROIS_INFERENCE_AT_MOST"] = std::min<int64_t>(c.POST_NMS_ROIS_INFERENCE, pre_infer);
  d["POSITIVE_ROIS_PER_IMAGE_AT_MOST"] =
      static_cast<int64_t>(c.TRAIN_ROIS_PER_IMAGE * c.ROI_POSITIVE_RATIO);
  d["BATCH_SIZE"] = c.BATCH_SIZE();
  d["IMAGE_SHAPE"] = shape;
  return d;
}

absl::StatusOr<Table> DiffRuns(Db& db, int64_t a, int64_t b, bool all) {
  Json cfg[2];
  const int64_t ids[2] = {a, b};
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<std::vector<std::vector<SqlValue>>> rows =
        db.QueryAll("SELECT config_json FROM trials WHERE id = ?", {ids[i]});
    if (!rows.ok()) return rows.status();
    if (rows->empty()) {
      return absl::NotFoundError(absl::StrCat(db.path(), ": no run with trial_id ", ids[i]));
    }
    const Json j = Json::parse(std::get<std::string>((*rows)[0][0]), nullptr, false);
    absl::StatusOr<mrcnn::Config> c =
        mrcnn::Config::FromJson(j, absl::StrCat("trial ", ids[i], " config"));
    if (!c.ok()) return c.status();
    cfg[i] = c->ToJson();
    const Json derived = DerivedValues(*c);
    for (auto it = derived.begin(); it != derived.end(); ++it) cfg[i]["(derived) " + it.key()] = it.value();
  }
  Table t;
  t.columns = {"key", absl::StrCat("trial ", a), absl::StrCat("trial ", b)};
  std::set<std::string> keys;
  for (const Json& j : cfg) {
    for (auto it = j.begin(); it != j.end(); ++it) keys.insert(it.key());
  }
  for (const std::string& k : keys) {
    const Json va = cfg[0].value(k, Json()), vb = cfg[1].value(k, Json());
    if (!all && va == vb) continue;
    const auto text = [](const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
    t.rows.push_back({k, text(va), text(vb)});
  }
  if (t.rows.empty()) t.notes.push_back("the two configs are identical");
  return t;
}

namespace {

// The FINISHED runs an ablation compares (after --fix) and the axis values they have, sorted.
struct AblationRuns {
  std::vector<TrialInfo> trials;
  std::vector<SqlValue> axis_values;
};

absl::StatusOr<AblationRuns> SelectAblationRuns(Db& db, const AblationOptions& o) {
  absl::Status vs = CheckValue(o.value);
  if (!vs.ok()) return vs;
  const std::vector<std::string> fields = mrcnn::Config::FieldNames();
  if (!std::binary_search(fields.begin(), fields.end(), o.axis)) {
    return absl::InvalidArgumentError(absl::StrCat("--axis: unknown config key '", o.axis, "'"));
  }
  for (const auto& [k, v] : o.fix) {
    if (!std::binary_search(fields.begin(), fields.end(), k)) {
      return absl::InvalidArgumentError(absl::StrCat("--fix: unknown config key '", k, "'"));
    }
  }
  absl::StatusOr<std::vector<TrialInfo>> all = LoadTrials(db, o.sweeps, true);
  if (!all.ok()) return all.status();
  // Filter by --fix; "true"/"false" match booleans stored as 1/0.
  AblationRuns out;
  std::vector<TrialInfo>& trials = out.trials;
  for (TrialInfo& t : *all) {
    bool keep = true;
    for (const auto& [k, v] : o.fix) {
      std::string want = v == "true" ? "1" : v == "false" ? "0" : v;
      const SqlValue& have = t.params[k];
      double x;
      if (!std::holds_alternative<std::string>(have) && absl::SimpleAtod(want, &x)) {
        const double h = std::holds_alternative<int64_t>(have)
                             ? static_cast<double>(std::get<int64_t>(have))
                             : std::holds_alternative<double>(have) ? std::get<double>(have) : NAN;
        keep = keep && h == x;
      } else {
        keep = keep && SqlValueText(have) == want;
      }
    }
    if (keep) trials.push_back(std::move(t));
  }
  if (trials.empty()) {
    return absl::NotFoundError(absl::StrCat(db.path(), ": no FINISHED runs match (sweeps: ",
                                            o.sweeps.empty() ? "all" : absl::StrJoin(o.sweeps, ","),
                                            ")"));
  }
  std::vector<SqlValue>& axis_values = out.axis_values;
  for (const TrialInfo& t : trials) {
    const SqlValue& v = Param(t.params, o.axis);
    if (std::none_of(axis_values.begin(), axis_values.end(),
                     [&](const SqlValue& a) { return a == v; })) {
      axis_values.push_back(v);
    }
  }
  std::sort(axis_values.begin(), axis_values.end(), ValueLess);
  return out;
}

}  // namespace

absl::StatusOr<Table> Ablation(Db& db, const AblationOptions& o) {
  absl::StatusOr<AblationRuns> selected = SelectAblationRuns(db, o);
  if (!selected.ok()) return selected.status();
  const std::vector<TrialInfo>& trials = selected->trials;
  const std::vector<SqlValue>& axis_values = selected->axis_values;
  const TrialInfo* reference = nullptr;
  for (const TrialInfo& t : trials) {
    if (Param(t.params, o.axis) == axis_values[0]) {
      reference = &t;
      break;
    }
  }
  Table table;
  table.columns = {o.axis, "runs", "seeds", absl::StrCat(o.metric, " mean"),
                   absl::StrCat(o.metric, " std"), "min", "max", "check"};
  int flagged = 0;
  for (const SqlValue& av : axis_values) {
    std::vector<double> values;
    std::set<int64_t> seeds;
    std::set<std::string> differs;
    int missing = 0;
    for (const TrialInfo& t : trials) {
      if (Param(t.params, o.axis) != av) continue;
      absl::StatusOr<std::optional<double>> v = MetricOf(db, t.id, o.metric, o.value);
      if (!v.ok()) return v.status();
      if (*v) {
        values.push_back(**v);
      } else {
        ++missing;
      }
      seeds.insert(t.seed);
      for (const auto& [k, pv] : t.params) {
        if (k == o.axis || k == "SEED") continue;
        auto rit = reference->params.find(k);
        if (rit == reference->params.end() || rit->second != pv) differs.insert(k);
      }
      for (const auto& [k, pv] : t.provenance) {
        if (reference->provenance.at(k) != pv) differs.insert(k);
      }
    }
    std::string check = "ok";
    if (!differs.empty()) {
      check = absl::StrCat("DIFFERS: ", absl::StrJoin(differs, ", "));
      ++flagged;
    }
    if (missing > 0) {
      absl::StrAppend(&check, check == "ok" ? "" : "; ", missing, " run(s) without ", o.metric);
    }
    const auto [mean, sd] = MeanStd(values);
    const auto mm = std::minmax_element(values.begin(), values.end());
    table.rows.push_back({av, static_cast<int64_t>(values.size()), static_cast<int64_t>(seeds.size()),
                          values.empty() ? SqlValue() : SqlValue(mean),
                          values.empty() ? SqlValue() : SqlValue(sd),
                          values.empty() ? SqlValue() : SqlValue(*mm.first),
                          values.empty() ? SqlValue() : SqlValue(*mm.second), check});
  }
  table.notes.push_back(absl::StrCat("reference for the check: trial ", reference->id, "; std is the ",
                                     "sample standard deviation over runs (seeds)"));
  if (flagged > 0) {
    table.notes.push_back(absl::StrCat(
        flagged, " row(s) differ from the reference in more than ", o.axis,
        ": not a clean ablation (fix the other keys with --fix KEY=VALUE)"));
  }
  return table;
}

absl::StatusOr<Table> SeedStats(Db& db, const std::string& sweep, const std::string& metric,
                                const std::string& value) {
  absl::Status vs = CheckValue(value);
  if (!vs.ok()) return vs;
  absl::StatusOr<std::vector<TrialInfo>> trials = LoadTrials(db, {sweep}, true);
  if (!trials.ok()) return trials.status();
  if (trials->empty()) {
    return absl::NotFoundError(absl::StrCat(db.path(), ": no FINISHED runs in sweep '", sweep, "'"));
  }
  const std::vector<std::string> keys = SweptKeys(*trials);
  std::vector<std::string> order;
  std::map<std::string, std::vector<const TrialInfo*>> points;
  for (const TrialInfo& t : *trials) {
    if (!points.count(t.point_hash)) order.push_back(t.point_hash);
    points[t.point_hash].push_back(&t);
  }
  Table table;
  table.columns = keys;
  for (const char* c : {"seeds", "mean", "std", "point_hash"}) table.columns.push_back(c);
  table.columns[keys.size() + 1] = absl::StrCat(metric, " mean");
  table.columns[keys.size() + 2] = absl::StrCat(metric, " std");
  for (const std::string& h : order) {
    std::vector<double> values;
    for (const TrialInfo* t : points[h]) {
      absl::StatusOr<std::optional<double>> v = MetricOf(db, t->id, metric, value);
      if (!v.ok()) return v.status();
      if (*v) values.push_back(**v);
    }
    std::vector<SqlValue> row;
    for (const std::string& k : keys) row.push_back(Param(points[h][0]->params, k));
    const auto [mean, sd] = MeanStd(values);
    row.push_back(static_cast<int64_t>(values.size()));
    row.push_back(values.empty() ? SqlValue() : SqlValue(mean));
    row.push_back(values.empty() ? SqlValue() : SqlValue(sd));
    row.push_back(h);
    table.rows.push_back(row);
  }
  return table;
}

absl::StatusOr<Table> BestRuns(Db& db, const std::string& sweep, const std::string& metric,
                               const std::string& value, int top) {
  absl::Status vs = CheckValue(value);
  if (!vs.ok()) return vs;
  if (!sweep.empty()) {
    absl::StatusOr<std::optional<SchedulerSpec>> sched = SchedulerOf(db, sweep);
    if (!sched.ok()) return sched.status();
    if (sched->has_value()) {
      if (value != "last") {
        return absl::InvalidArgumentError(absl::StrCat(
            "sweep '", sweep, "' ran under a scheduler: its runs are ranked by the metric at the "
            "highest rung each reached; --value=best does not apply"));
      }
      return RungRanking(db, sweep, metric, {}, top);
    }
  }
  absl::StatusOr<std::string> goal = GoalOf(db, metric);
  if (!goal.ok()) return goal.status();
  absl::StatusOr<std::vector<TrialInfo>> trials =
      LoadTrials(db, sweep.empty() ? std::vector<std::string>{} : std::vector<std::string>{sweep},
                 true);
  if (!trials.ok()) return trials.status();
  std::vector<std::pair<double, const TrialInfo*>> scored;
  for (const TrialInfo& t : *trials) {
    absl::StatusOr<std::optional<double>> v = MetricOf(db, t.id, metric, value);
    if (!v.ok()) return v.status();
    if (*v) scored.emplace_back(**v, &t);
  }
  if (scored.empty()) {
    return absl::NotFoundError(absl::StrCat(db.path(), ": no FINISHED run logged '", metric, "'"));
  }
  std::stable_sort(scored.begin(), scored.end(), [&](const auto& x, const auto& y) {
    return *goal == "min" ? x.first < y.first : x.first > y.first;
  });
  const std::vector<std::string> keys = SweptKeys(*trials);
  Table table;
  table.columns = {"rank", "trial_id", "sweep", "SEED"};
  table.columns.insert(table.columns.end(), keys.begin(), keys.end());
  table.columns.push_back(metric);
  for (int i = 0; i < top && i < static_cast<int>(scored.size()); ++i) {
    const TrialInfo& t = *scored[i].second;
    std::vector<SqlValue> row = {static_cast<int64_t>(i + 1), t.id, t.sweep, t.seed};
    for (const std::string& k : keys) row.push_back(Param(t.params, k));
    row.push_back(scored[i].first);
    table.rows.push_back(row);
  }
  table.notes.push_back(absl::StrCat("goal for ", metric, ": ", *goal, " (", value, " value)"));
  return table;
}


namespace {

// The per-image results a run logged with its current attempt's last COCO evaluation.
absl::StatusOr<std::optional<std::string>> PerImagePathOf(Db& db, int64_t trial_id,
                                                         const std::string& iou_type) {
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows = db.QueryAll(
      "SELECT p.path FROM coco_last c JOIN coco_per_image p ON p.coco_id = c.id "
      "WHERE c.trial_id = ? AND p.iou_type = ?",
      {trial_id, iou_type});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<std::string>();
  std::string path = SqlValueText((*rows)[0][0]);
  if (!path.empty() && path[0] != '/') {
    path = (std::filesystem::absolute(db.path()).parent_path() / path).string();
  }
  return std::optional<std::string>(path);
}

std::string RunName(const TrialInfo& t, const std::string& axis) {
  return absl::StrCat("run ", t.id, " (", axis, "=", SqlValueText(Param(t.params, axis)), ", seed ",
                      t.seed, ")");
}

}  // namespace

absl::StatusOr<Table> AblationCi(Db& db, const AblationOptions& o, const AblationCiOptions& ci) {
  // Which stats of which IoU type.
  struct Metric {
    std::string name, type;
    int stat;
  };
  std::vector<Metric> metrics;
  for (const std::string& m : ci.metrics) {
    const size_t us = m.find('_');
    const std::string type = m.substr(0, us);
    const std::string stat = us == std::string::npos ? "" : m.substr(us + 1);
    const auto it = std::find(CocoStatNames().begin(), CocoStatNames().end(), stat);
    if ((type != "bbox" && type != "segm") || it == CocoStatNames().end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--ci_metrics: '", m, "' is not <bbox|segm>_<", absl::StrJoin(CocoStatNames(), "|"), ">"));
    }
    metrics.push_back({m, type, static_cast<int>(it - CocoStatNames().begin())});
  }
  if (metrics.empty()) return absl::InvalidArgumentError("--ci_metrics: no metric given");
  if (o.value != "last") {
    return absl::InvalidArgumentError(
        "--ci compares each run's last COCO evaluation (its per-image results); --value=best does "
        "not apply");
  }
  absl::StatusOr<Table> plain = Ablation(db, o);  // validates the options; its check column is reused
  if (!plain.ok()) return plain.status();
  absl::StatusOr<AblationRuns> selected = SelectAblationRuns(db, o);
  if (!selected.ok()) return selected.status();
  const std::vector<SqlValue>& arms = selected->axis_values;
  if (arms.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--ci: every selected run has ", o.axis, "=", SqlValueText(arms[0]),
        "; there is no other arm to compare with"));
  }

  // runs[arm] by seed; one run per (arm, seed), the same seeds in every arm.
  std::vector<std::map<int64_t, const TrialInfo*>> by_seed(arms.size());
  for (const TrialInfo& t : selected->trials) {
    const size_t a = std::find(arms.begin(), arms.end(), Param(t.params, o.axis)) - arms.begin();
    auto [it, inserted] = by_seed[a].emplace(t.seed, &t);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--ci: ", RunName(*it->second, o.axis), " and run ", t.id, " have the same ", o.axis,
          " and seed, so the pairing is ambiguous; select one with --sweep or --fix KEY=VALUE"));
    }
  }
  std::vector<int64_t> seeds;
  for (const auto& [seed, t] : by_seed[0]) seeds.push_back(seed);
  for (size_t a = 0; a < arms.size(); ++a) {
    std::vector<std::string> unpaired;
    for (const auto& [seed, t] : by_seed[a]) {
      if (!by_seed[0].count(seed)) unpaired.push_back(RunName(*t, o.axis));
    }
    for (int64_t seed : seeds) {
      if (!by_seed[a].count(seed)) {
        unpaired.push_back(absl::StrCat(RunName(*by_seed[0].at(seed), o.axis), " (no ", o.axis, "=",
                                        SqlValueText(arms[a]), " run with that seed)"));
      }
    }
    if (!unpaired.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--ci pairs runs by seed, and these have no partner: ", absl::StrJoin(unpaired, "; ")));
    }
  }
  // Every run of the comparison comes from the same dataset.
  const TrialInfo& ref0 = *by_seed[0].at(seeds[0]);
  for (const TrialInfo& t : selected->trials) {
    if (t.provenance.at("dataset_hash") != ref0.provenance.at("dataset_hash")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--ci: ", RunName(t, o.axis), " used dataset hash '", t.provenance.at("dataset_hash"),
          "' but ", RunName(ref0, o.axis), " used '", ref0.provenance.at("dataset_hash"),
          "'; a paired comparison needs the same validation images"));
    }
  }

  Table table;
  table.columns = {o.axis, "reference", "metric", "seeds", "reference mean", "arm mean",
                   "difference", "ci95 low", "ci95 high", "P(diff<=0)", "verdict",
                   "noise floor (ref seed std)", "check"};
  std::map<std::string, std::string> check_of;  // axis value text -> the ablation's check
  for (const auto& row : plain->rows) check_of[SqlValueText(row[0])] = SqlValueText(row.back());
  std::vector<std::string> types;
  for (const Metric& m : metrics) {
    if (std::find(types.begin(), types.end(), m.type) == types.end()) types.push_back(m.type);
  }
  // Results per (type): PairedBootstrap over every arm.
  std::map<std::string, mrcnn::eval::PairedBootstrapResult> results;
  std::map<std::string, std::vector<int>> stats_of_type;
  for (const std::string& type : types) {
    std::vector<std::string> missing;
    std::vector<std::vector<std::unique_ptr<mrcnn::eval::ResampleAccumulator>>> owned(arms.size());
    std::vector<std::vector<const mrcnn::eval::ResampleAccumulator*>> runs(arms.size());
    const mrcnn::eval::PerImageEval* first = nullptr;
    const TrialInfo* first_run = nullptr;
    for (size_t a = 0; a < arms.size(); ++a) {
      for (int64_t seed : seeds) {
        const TrialInfo& t = *by_seed[a].at(seed);
        absl::StatusOr<std::optional<std::string>> path = PerImagePathOf(db, t.id, type);
        if (!path.ok()) return path.status();
        if (!path->has_value()) {
          missing.push_back(absl::StrCat(t.id));
          continue;
        }
        absl::StatusOr<std::shared_ptr<const mrcnn::eval::PerImageEval>> loaded =
            mrcnn::eval::LoadPerImageEval(**path);
        if (!loaded.ok()) {
          return absl::Status(loaded.status().code(), absl::StrCat(RunName(t, o.axis), ": ",
                                                                   loaded.status().message()));
        }
        if (first == nullptr) {
          first = loaded->get();
          first_run = &t;
        } else if ((*loaded)->img_ids != first->img_ids) {
          return absl::InvalidArgumentError(absl::StrCat(
              "--ci: ", RunName(t, o.axis), " was evaluated (", type, ") on ", (*loaded)->img_ids.size(),
              " validation images, ", RunName(*first_run, o.axis), " on ", first->img_ids.size(),
              (*loaded)->img_ids.size() == first->img_ids.size() ? " with other image ids" : "",
              "; a paired comparison needs the same validation images"));
        }
        absl::StatusOr<mrcnn::eval::ResampleAccumulator> acc =
            mrcnn::eval::ResampleAccumulator::Create(*loaded);
        if (!acc.ok()) {
          return absl::Status(acc.status().code(),
                              absl::StrCat(RunName(t, o.axis), ": ", acc.status().message()));
        }
        owned[a].push_back(std::make_unique<mrcnn::eval::ResampleAccumulator>(*std::move(acc)));
        runs[a].push_back(owned[a].back().get());
      }
    }
    if (!missing.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          db.path(), ": runs ", absl::StrJoin(missing, ", "), " have no per-image ", type,
          " results with their last COCO evaluation (logged before schema version 4, or by a trial "
          "that does not keep them); --ci needs them for every run and guesses nothing"));
    }
    std::vector<int>& stat_indices = stats_of_type[type];
    for (const Metric& m : metrics) {
      if (m.type == type) stat_indices.push_back(m.stat);
    }
    mrcnn::eval::PairedBootstrapOptions bo;
    bo.resamples = ci.resamples;
    bo.seed = ci.seed;
    bo.num_threads = ci.threads;
    bo.resample_seeds = ci.resample_seeds;
    absl::StatusOr<mrcnn::eval::PairedBootstrapResult> r = mrcnn::eval::PairedBootstrap(runs, stat_indices, bo);
    if (!r.ok()) return r.status();
    results[type] = *std::move(r);
  }
  for (size_t a = 1; a < arms.size(); ++a) {
    for (const Metric& m : metrics) {
      const mrcnn::eval::PairedBootstrapResult& r = results.at(m.type);
      const std::vector<int>& idx = stats_of_type.at(m.type);
      const size_t j = std::find(idx.begin(), idx.end(), m.stat) - idx.begin();
      std::vector<double> ref_values, arm_values;
      for (size_t s = 0; s < seeds.size(); ++s) {
        ref_values.push_back(r.full[0][s][j]);
        arm_values.push_back(r.full[a][s][j]);
      }
      const mrcnn::eval::BootstrapDifference& d = r.differences[a][j];
      const auto [ref_mean, ref_std] = MeanStd(ref_values);
      const double arm_mean = MeanStd(arm_values).first;
      const auto num = [](double v) { return std::isnan(v) ? SqlValue() : SqlValue(v); };
      table.rows.push_back({arms[a], arms[0], m.name, static_cast<int64_t>(seeds.size()),
                            num(ref_mean), num(arm_mean), num(d.estimate), num(d.low), num(d.high),
                            num(d.share_at_most_zero), d.verdict,
                            seeds.size() > 1 ? SqlValue(ref_std) : SqlValue(),
                            check_of[SqlValueText(arms[a])]});
    }
  }
  table.notes.push_back(absl::StrCat(
      "paired bootstrap, B = ", ci.resamples, ", seed ", ci.seed, ": each replicate draws the ",
      "validation images (n of n, with replacement; the same draw for every arm)",
      ci.resample_seeds && seeds.size() > 1
          ? absl::StrCat(" and the ", seeds.size(), " seeds (", seeds.size(), " of ", seeds.size(),
                         ", with replacement); its difference is the mean over the drawn seeds of "
                         "arm - reference on the same seed")
          : seeds.size() > 1 ? "; its difference is the mean over every seed of arm - reference"
                             : "; one seed per arm, so seed-to-seed noise is not in the interval",
      ". ci95: the 2.5 and 97.5 percentiles of the replicates' differences; verdict at 95%: better "
      "(interval above 0), worse (below 0), else indistinguishable."));
  table.notes.push_back(absl::StrCat(
      "difference = arm - reference, the mean over seeds on every image once; noise floor = the "
      "sample std over seeds of the reference arm (", o.axis, "=", SqlValueText(arms[0]), ")",
      seeds.size() > 1 ? "" : ", empty with one seed"));
  for (const std::string& n : plain->notes) {
    if (absl::StrContains(n, "not a clean ablation")) table.notes.push_back(n);
  }
  return table;
}


absl::StatusOr<std::vector<SweepCi>> SweepCiTables(Db& db, const std::string& sweep,
                                                   const std::vector<std::string>& swept_keys,
                                                   const AblationCiOptions& ci) {
  absl::StatusOr<std::vector<TrialInfo>> trials = LoadTrials(db, {sweep}, true);
  if (!trials.ok()) return trials.status();
  const auto fix_text = [](const SqlValue& v) {
    return std::holds_alternative<double>(v) ? absl::StrFormat("%.17g", std::get<double>(v))
                                             : SqlValueText(v);
  };
  std::vector<SweepCi> out;
  for (const std::string& axis : swept_keys) {
    // Distinct combinations of the other swept keys, in trial order.
    std::vector<std::vector<std::pair<std::string, std::string>>> slices;
    for (const TrialInfo& t : *trials) {
      std::vector<std::pair<std::string, std::string>> fix;
      for (const std::string& k : swept_keys) {
        if (k != axis) fix.emplace_back(k, fix_text(Param(t.params, k)));
      }
      if (std::find(slices.begin(), slices.end(), fix) == slices.end()) slices.push_back(fix);
    }
    for (const auto& fix : slices) {
      AblationOptions o;
      o.axis = axis;
      o.sweeps = {sweep};
      o.fix = fix;
      std::vector<std::string> fixed;
      for (const auto& [k, v] : fix) fixed.push_back(absl::StrCat(k, "=", v));
      out.push_back({absl::StrCat(axis, fixed.empty() ? "" : " at ", absl::StrJoin(fixed, ", ")),
                     AblationCi(db, o, ci)});
    }
  }
  return out;
}

}  // namespace experiments
