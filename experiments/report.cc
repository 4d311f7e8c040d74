#include "experiments/report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "experiments/coco_stats.h"
#include "experiments/compare.h"
#include "experiments/store.h"
#include "nlohmann/json.hpp"

namespace experiments {
namespace {

struct Run {
  int64_t id = 0;
  std::string status;
  int64_t seed = 0;
  std::map<std::string, SqlValue> params;  // swept keys only
  std::optional<double> metric;
  std::vector<std::pair<double, double>> curve;  // (step, value)
  std::vector<std::pair<double, double>> metric_curve;  // (step, value) of the report's metric
  SqlValue rung, epochs;                         // scheduler: highest rung reached, epochs trained
  std::string config;                            // the effective config, pretty-printed JSON
  std::string point;                             // point_hash: equal across seeds
};

std::optional<double> AsNumber(const SqlValue& v) {
  if (std::holds_alternative<int64_t>(v)) return static_cast<double>(std::get<int64_t>(v));
  if (std::holds_alternative<double>(v)) return std::get<double>(v);
  return std::nullopt;
}

// A value axis: numeric when every value is a number, else categorical (values in first-seen order).
struct Axis {
  std::string name;
  bool numeric = true;
  double lo = 0, hi = 1;
  std::vector<std::string> categories;

  // A discrete parameter (a grid's or a random search's list of choices) gets a categorical axis,
  // its values in ascending order, whether numbers or not.
  void FitDiscrete(const std::vector<SqlValue>& values) {
    numeric = false;
    std::vector<SqlValue> distinct;
    for (const SqlValue& v : values) {
      if (std::holds_alternative<std::monostate>(v)) continue;
      if (std::find(distinct.begin(), distinct.end(), v) == distinct.end()) distinct.push_back(v);
    }
    std::sort(distinct.begin(), distinct.end(), [](const SqlValue& a, const SqlValue& b) {
      const std::optional<double> x = AsNumber(a), y = AsNumber(b);
      if (x && y) return *x < *y;
      return SqlValueText(a) < SqlValueText(b);
    });
    for (const SqlValue& v : distinct) categories.push_back(SqlValueText(v));
  }
  void Fit(const std::vector<SqlValue>& values) {
    std::vector<double> nums;
    for (const SqlValue& v : values) {
      std::optional<double> n = AsNumber(v);
      if (n) {
        nums.push_back(*n);
      } else if (!std::holds_alternative<std::monostate>(v)) {
        numeric = false;
      }
    }
    if (numeric && !nums.empty()) {
      lo = *std::min_element(nums.begin(), nums.end());
      hi = *std::max_element(nums.begin(), nums.end());
    }
    if (!numeric) {
      for (const SqlValue& v : values) {
        const std::string t = SqlValueText(v);
        if (std::find(categories.begin(), categories.end(), t) == categories.end()) {
          categories.push_back(t);
        }
      }
    }
  }
  // Position in [0, 1]; a single value (or a constant axis) sits in the middle.
  std::optional<double> Unit(const SqlValue& v) const {
    if (numeric) {
      std::optional<double> n = AsNumber(v);
      if (!n) return std::nullopt;
      return hi > lo ? (*n - lo) / (hi - lo) : 0.5;
    }
    const auto it = std::find(categories.begin(), categories.end(), SqlValueText(v));
    if (it == categories.end()) return std::nullopt;
    return categories.size() > 1
               ? static_cast<double>(it - categories.begin()) / (categories.size() - 1)
               : 0.5;
  }
  std::vector<std::pair<double, std::string>> Ticks() const {
    std::vector<std::pair<double, std::string>> t;
    if (!numeric) {
      for (const std::string& c : categories) t.emplace_back(*Unit(SqlValue(c)), c);
      return t;
    }
    if (hi <= lo) return {{0.5, absl::StrFormat("%.4g", lo)}};
    for (int i = 0; i <= 4; ++i) t.emplace_back(i / 4.0, absl::StrFormat("%.4g", lo + (hi - lo) * i / 4.0));
    return t;
  }
};

std::string Color(size_t i) {
  return absl::StrFormat("hsl(%d,65%%,45%%)", static_cast<int>((i * 137) % 360));
}

constexpr int kW = 640, kH = 320, kLeft = 70, kRight = 20, kTop = 20, kBottom = 50;
double Px(double u) { return kLeft + u * (kW - kLeft - kRight); }
double Py(double u) { return kH - kBottom - u * (kH - kTop - kBottom); }

void AxesSvg(std::ostringstream& out, const Axis& x, const Axis& y) {
  out << absl::StrFormat(R"(<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>)", kLeft,
                         kH - kBottom, kW - kRight, kH - kBottom)
      << absl::StrFormat(R"(<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>)", kLeft, kTop,
                         kLeft, kH - kBottom);
  for (const auto& [u, label] : x.Ticks()) {
    out << absl::StrFormat(R"(<text class="tick" x="%.1f" y="%d" text-anchor="middle">%s</text>)",
                           Px(u), kH - kBottom + 16, HtmlEscape(label));
  }
  for (const auto& [u, label] : y.Ticks()) {
    out << absl::StrFormat(R"(<text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>)",
                           kLeft - 6, Py(u) + 4, HtmlEscape(label));
  }
  out << absl::StrFormat(R"(<text class="label" x="%d" y="%d" text-anchor="middle">%s</text>)",
                         (kLeft + kW - kRight) / 2, kH - 12, HtmlEscape(x.name))
      << absl::StrFormat(
             R"svg(<text class="label" x="14" y="%d" text-anchor="middle" transform="rotate(-90 14 %d)">%s</text>)svg",
             (kTop + kH - kBottom) / 2, (kTop + kH - kBottom) / 2, HtmlEscape(y.name));
}

std::string Label(const Run& r) {
  std::vector<std::string> parts = {absl::StrCat("trial ", r.id)};
  for (const auto& [k, v] : r.params) parts.push_back(absl::StrCat(k, "=", SqlValueText(v)));
  parts.push_back(absl::StrCat("seed=", r.seed));
  return absl::StrJoin(parts, " ");
}

// A tooltip: the label, then the run's whole config.
std::string Tooltip(const Run& r) { return absl::StrCat(Label(r), "\n", r.config); }

// TensorBoard's smoothing: s_t = w s_(t-1) + (1 - w) x_t from s_0 = 0, divided by 1 - w^t (debiased).
std::vector<std::pair<double, double>> Smoothed(const std::vector<std::pair<double, double>>& c, double w) {
  std::vector<std::pair<double, double>> out;
  double s = 0, weight = 1;
  for (const auto& [x, v] : c) {
    s = w * s + (1 - w) * v;
    weight *= w;
    out.emplace_back(x, w > 0 ? s / (1 - weight) : v);
  }
  return out;
}

// A sequential colour for a value in [0, 1]: dark blue (low) to yellow (high).
std::string ScaleColor(double u) {
  u = std::clamp(u, 0.0, 1.0);
  return absl::StrFormat("hsl(%d,80%%,%d%%)", static_cast<int>(240 - 180 * u),
                         static_cast<int>(30 + 25 * u));
}

// Ranks with ties averaged (for Spearman's correlation).
std::vector<double> Ranks(const std::vector<double>& v) {
  std::vector<size_t> idx(v.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    for (size_t k = i; k <= j; ++k) r[idx[k]] = (i + j) / 2.0 + 1;
    i = j + 1;
  }
  return r;
}

double Pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0;
}

// Correlation ratio: the share of the metric's spread between the parameter's values, as a
// correlation (sqrt of between-group over total sum of squares).
double CorrelationRatio(const std::vector<std::string>& groups, const std::vector<double>& y) {
  std::map<std::string, std::pair<double, int>> sums;
  double mean = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    sums[groups[i]].first += y[i];
    ++sums[groups[i]].second;
    mean += y[i] / static_cast<double>(y.size());
  }
  double between = 0, total = 0;
  for (const auto& [g, sc] : sums) {
    const double m = sc.first / sc.second;
    between += sc.second * (m - mean) * (m - mean);
  }
  for (double v : y) total += (v - mean) * (v - mean);
  return total > 0 ? std::sqrt(between / total) : 0;
}


// The forest plot: one row per (swept key, fixed values of the others, arm), the difference from the
// reference arm as a dot, its 95% interval as a line, the reference's seed-to-seed std as a grey band
// around 0. Grid sweeps only; without per-image results or a COCO metric it says why.
absl::Status ForestPlot(std::ostringstream& out, Db& db, const std::string& sweep,
                        const nlohmann::json& spec, const std::vector<std::string>& keys,
                        const ReportOptions& o) {
  out << "<h2>" << HtmlEscape(o.metric) << ": each arm against the reference, 95% intervals</h2>\n";
  const bool random = spec.is_object() && spec.value("search", "grid") == "random";
  if (random || keys.empty()) {
    out << "<p class=\"no-ci\">"
        << (random ? "A random search has no arms to compare (see the parameter importance below)."
                   : "The sweep varies no key.")
        << "</p>\n";
    return absl::OkStatus();
  }
  AblationCiOptions ci;
  ci.metrics = {o.metric};
  ci.resamples = o.resamples;
  ci.seed = o.ci_seed;
  ci.threads = o.threads;
  absl::StatusOr<std::vector<SweepCi>> tables = SweepCiTables(db, sweep, keys, ci);
  if (!tables.ok()) return tables.status();
  struct Row {
    std::string label, tip;
    double diff, low, high, floor;
    std::string verdict;
  };
  std::vector<Row> rows;
  std::vector<std::string> reasons;
  for (const SweepCi& t : *tables) {
    if (!t.table.ok()) {
      reasons.push_back(absl::StrCat(t.title, ": ", t.table.status().message()));
      continue;
    }
    for (const auto& r : t.table->rows) {
      const auto num = [](const SqlValue& v) { return AsNumber(v).value_or(NAN); };
      Row row;
      row.label = absl::StrCat(t.title.substr(0, t.title.find(' ')), "=", SqlValueText(r[0]), " vs ",
                               SqlValueText(r[1]),
                               t.title.find(" at ") == std::string::npos
                                   ? ""
                                   : absl::StrCat(" (", t.title.substr(t.title.find(" at ") + 4), ")"));
      row.diff = num(r[6]);
      row.low = num(r[7]);
      row.high = num(r[8]);
      row.floor = std::holds_alternative<std::monostate>(r[11]) ? 0 : num(r[11]);
      row.verdict = SqlValueText(r[10]);
      row.tip = absl::StrFormat("%s: difference %.4g, 95%% interval [%.4g, %.4g], P(diff<=0) %.3g, %s; "
                                "%d seed(s), noise floor (reference seed std) %.4g",
                                row.label, row.diff, row.low, row.high, num(r[9]), row.verdict,
                                static_cast<int>(num(r[3])), row.floor);
      rows.push_back(row);
    }
  }
  if (rows.empty()) {
    out << "<p class=\"no-ci\">No intervals: " << HtmlEscape(absl::StrJoin(reasons, "; ")) << "</p>\n";
    return absl::OkStatus();
  }
  double lo = 0, hi = 0;
  for (const Row& r : rows) {
    if (std::isfinite(r.low)) lo = std::min({lo, r.low, -r.floor});
    if (std::isfinite(r.high)) hi = std::max({hi, r.high, r.floor});
  }
  if (hi <= lo) hi = lo + 1;
  const int row_h = 28, left = 300, right = 30, top = 20, h = top + row_h * static_cast<int>(rows.size()) + 40;
  const auto fx = [&](double v) { return left + (v - lo) / (hi - lo) * (kW + 200 - left - right); };
  const int w = kW + 200;
  out << absl::StrFormat(R"(<svg id="forest" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">)",
                         w, h, w, h);
  out << absl::StrFormat(R"(<line class="zero" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>)", fx(0), top - 10, fx(0),
                         h - 30);
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const int y = top + row_h * static_cast<int>(i) + row_h / 2;
    out << absl::StrFormat(R"(<rect class="floor" x="%.1f" y="%d" width="%.1f" height="%d"/>)", fx(-r.floor),
                           y - 9, fx(r.floor) - fx(-r.floor), 18);
    const char* color = r.verdict == "better" ? "#1a7f37" : r.verdict == "worse" ? "#c0392b" : "#555";
    out << absl::StrFormat(R"(<text class="tick" x="%d" y="%d" text-anchor="end">%s</text>)", left - 8, y + 4,
                           HtmlEscape(r.label));
    if (std::isfinite(r.low) && std::isfinite(r.high)) {
      out << absl::StrFormat(R"(<line class="ci" stroke="%s" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>)", color,
                             fx(r.low), y, fx(r.high), y);
    }
    out << absl::StrFormat(R"(<circle class="diff" cx="%.1f" cy="%d" r="5" fill="%s"><title>%s</title></circle>)",
                           fx(r.diff), y, color, HtmlEscape(r.tip));
  }
  for (int i = 0; i <= 4; ++i) {
    const double v = lo + (hi - lo) * i / 4.0;
    out << absl::StrFormat(R"(<text class="tick" x="%.1f" y="%d" text-anchor="middle">%.3g</text>)", fx(v), h - 14,
                           v);
  }
  out << "</svg>\n<p class=\"note\">Dot: arm - reference (mean over seeds, every validation image once); "
         "line: paired bootstrap 95% interval over images and seeds (B = "
      << o.resamples << ", seed " << o.ci_seed
      << "; as <code>compare ablate --ci</code>); grey: the reference's seed-to-seed std around 0. Green: "
         "better, red: worse, grey: indistinguishable.</p>\n";
  if (!reasons.empty()) {
    out << "<p class=\"no-ci\">Not compared: " << HtmlEscape(absl::StrJoin(reasons, "; ")) << "</p>\n";
  }
  return absl::OkStatus();
}

}  // namespace

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

// Grid keys and a random search's lists of choices are discrete; its ranges are not.
bool IsDiscrete(const nlohmann::json& spec, const std::string& key) {
  if (!spec.is_object() || spec.value("search", "grid") != "random") return true;
  return spec.contains("params") && spec["params"].is_object() && spec["params"].contains(key) &&
         spec["params"][key].is_array();
}

// The sweep's trials with their swept values, last metric and curves (across the attempts a
// promoted or resumed trial continued from).
absl::StatusOr<std::vector<Run>> ReadRuns(Db& db, int64_t sweep_id, const std::vector<std::string>& keys,
                                          const ReportOptions& o) {
  absl::StatusOr<std::vector<std::vector<SqlValue>>> trial_rows = db.QueryAll(
      "SELECT id, status, seed, attempts, rung, epochs_trained, config_json, point_hash FROM trials "
      "WHERE sweep_id = ? ORDER BY id",
      {sweep_id});
  if (!trial_rows.ok()) return trial_rows.status();
  std::vector<Run> runs;
  for (const auto& tr : *trial_rows) {
    Run r;
    r.id = std::get<int64_t>(tr[0]);
    r.status = std::get<std::string>(tr[1]);
    r.seed = std::get<int64_t>(tr[2]);
    r.rung = tr[4];
    r.epochs = tr[5];
    const nlohmann::json config = nlohmann::json::parse(SqlValueText(tr[6]), nullptr, false);
    r.config = config.is_discarded() ? SqlValueText(tr[6]) : config.dump(2);
    r.point = SqlValueText(tr[7]);
    for (const std::string& k : keys) {
      absl::StatusOr<std::vector<std::vector<SqlValue>>> v =
          db.QueryAll("SELECT value FROM params WHERE trial_id = ? AND key = ?", {r.id, k});
      if (!v.ok()) return v.status();
      r.params[k] = v->empty() ? SqlValue() : (*v)[0][0];
    }
    absl::StatusOr<std::vector<std::vector<SqlValue>>> m = db.QueryAll(
        "SELECT last_value FROM metric_last WHERE trial_id = ? AND key = ?", {r.id, o.metric});
    if (!m.ok()) return m.status();
    if (!m->empty()) r.metric = AsNumber((*m)[0][0]);
    // The curve across the attempts a promoted or resumed trial continued from.
    absl::StatusOr<std::vector<std::pair<int64_t, double>>> c =
        Curve(db, r.id, static_cast<int>(std::get<int64_t>(tr[3])), o.curve);
    if (!c.ok()) return c.status();
    for (const auto& [step, value] : *c) {
      if (std::isfinite(value)) r.curve.emplace_back(static_cast<double>(step), value);
    }
    absl::StatusOr<std::vector<std::pair<int64_t, double>>> mc =
        Curve(db, r.id, static_cast<int>(std::get<int64_t>(tr[3])), o.metric);
    if (!mc.ok()) return mc.status();
    for (const auto& [step, value] : *mc) {
      if (std::isfinite(value)) r.metric_curve.emplace_back(static_cast<double>(step), value);
    }
    runs.push_back(std::move(r));
  }
  return runs;
}

void WriteHead(std::ostringstream& out, const std::string& sweep) {
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>Sweep "
      << HtmlEscape(sweep) << "</title><style>"
      << "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
         "svg{border:1px solid #ddd;margin:4px}.axis{stroke:#444}.tick{font-size:11px}"
         ".label{font-size:13px}.curve,.pc,.mean{fill:none;stroke-width:1.5}.raw{fill:none;"
         "stroke-width:1;stroke-opacity:0.25}.band{fill-opacity:0.2;stroke:none}.zero{stroke:#888;"
         "stroke-dasharray:4 3}.floor{fill:#ddd}.bandbar{stroke-width:6;stroke-opacity:0.3}.ci{stroke-width:2.5}.bar{fill:#4a6fa5}"
         ".note{color:#555;font-size:13px}pre{background:#f6f6f6;"
         "padding:8px;white-space:pre-wrap;word-break:break-all}</style></head><body>\n";
}

// One row per trial: status, (scheduler) rung and epochs, seed, swept values, the metric.
void RunsTable(std::ostringstream& out, const std::vector<Run>& runs, const std::vector<std::string>& keys,
               const std::optional<SweepBudget>& budget, const ReportOptions& o) {
  out << "<h2>Runs</h2>\n";
  if (budget) out << "<p id=\"budget\">" << HtmlEscape(budget->Text()) << "</p>\n";
  out << "<table><tr><th>trial</th><th>status</th>";
  if (budget) out << "<th>rung</th><th>epochs</th>";
  out << "<th>SEED</th>";
  for (const std::string& k : keys) out << "<th>" << HtmlEscape(k) << "</th>";
  out << "<th>" << HtmlEscape(o.metric) << "</th></tr>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const Run& r = runs[i];
    out << "<tr title=\"" << HtmlEscape(Tooltip(r)) << "\"><td style=\"color:" << Color(i) << "\">"
        << r.id << "</td><td>" << r.status << "</td>";
    if (budget) out << "<td>" << SqlValueText(r.rung) << "</td><td>" << SqlValueText(r.epochs) << "</td>";
    out << "<td>" << r.seed << "</td>";
    for (const std::string& k : keys) out << "<td>" << HtmlEscape(SqlValueText(r.params.at(k))) << "</td>";
    out << "<td>" << (r.metric ? absl::StrFormat("%.4g", *r.metric) : "") << "</td></tr>\n";
  }
  out << "</table>\n<p class=\"note\">Hover a row (or any line or mark below) for the run's config.</p>\n";
}

// The curve metric over steps, one smoothed line per trial over its raw values.
void CurvesSection(std::ostringstream& out, const std::vector<Run>& runs, const ReportOptions& o) {
  out << "<h2>" << HtmlEscape(o.curve) << " over steps</h2>\n";
  std::vector<SqlValue> steps, values;
  for (const Run& r : runs) {
    for (const auto& [s, v] : r.curve) {
      steps.push_back(s);
      values.push_back(v);
    }
  }
  if (steps.empty()) {
    out << "<p>No run logged " << HtmlEscape(o.curve) << ".</p>\n";
  } else {
    Axis x, y;
    x.name = "step";
    y.name = o.curve;
    x.Fit(steps);
    y.Fit(values);
    out << absl::StrFormat(R"(<svg id="curves" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">)",
                           kW, kH, kW, kH);
    AxesSvg(out, x, y);
    const auto points = [&](const std::vector<std::pair<double, double>>& c) {
      std::vector<std::string> pts;
      for (const auto& [s, v] : c) {
        pts.push_back(absl::StrFormat("%.1f,%.1f", Px(*x.Unit(s)), Py(*y.Unit(v))));
      }
      return absl::StrJoin(pts, " ");
    };
    for (size_t i = 0; i < runs.size(); ++i) {
      if (runs[i].curve.empty()) continue;
      out << "<polyline class=\"raw\" stroke=\"" << Color(i) << "\" points=\"" << points(runs[i].curve)
          << "\"/>";
    }
    for (size_t i = 0; i < runs.size(); ++i) {
      if (runs[i].curve.empty()) continue;
      out << "<polyline class=\"curve\" stroke=\"" << Color(i) << "\" points=\""
          << points(Smoothed(runs[i].curve, o.smoothing)) << "\"><title>" << HtmlEscape(Tooltip(runs[i]))
          << "</title></polyline>";
    }
    out << "</svg>\n";
    out << "<p class=\"note\">Lines: smoothed (debiased exponential moving average, weight "
        << absl::StrFormat("%g", o.smoothing) << ", as TensorBoard); faint: the raw values.</p>\n";
  }
}

// The report's metric over steps per config point: the mean over seeds, the band from the lowest to
// the highest seed.
void MetricBandSection(std::ostringstream& out, const std::vector<Run>& runs, const ReportOptions& o) {
  out << "<h2>" << HtmlEscape(o.metric) << " over steps, band over seeds</h2>\n";
  std::vector<std::string> point_order;
  std::map<std::string, std::vector<const Run*>> by_point;
  std::vector<SqlValue> msteps, mvalues;
  for (const Run& r : runs) {
    if (r.metric_curve.empty()) continue;
    if (!by_point.count(r.point)) point_order.push_back(r.point);
    by_point[r.point].push_back(&r);
    for (const auto& [st, v] : r.metric_curve) {
      msteps.push_back(st);
      mvalues.push_back(v);
    }
  }
  if (point_order.empty()) {
    out << "<p>No run logged " << HtmlEscape(o.metric) << ".</p>\n";
  } else {
    Axis x, y;
    x.name = "step";
    y.name = o.metric;
    x.Fit(msteps);
    y.Fit(mvalues);
    out << absl::StrFormat(R"(<svg id="metric_band" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">)",
                           kW, kH, kW, kH);
    AxesSvg(out, x, y);
    for (size_t p = 0; p < point_order.size(); ++p) {
      const std::vector<const Run*>& seeds = by_point[point_order[p]];
      std::map<double, std::vector<double>> at;  // step -> values over seeds
      for (const Run* r : seeds) {
        for (const auto& [st, v] : r->metric_curve) at[st].push_back(v);
      }
      std::vector<std::string> mean, upper, lower;
      for (const auto& [st, vs] : at) {
        const double px = Px(*x.Unit(st));
        const double m = MeanStd(vs).first;
        mean.push_back(absl::StrFormat("%.1f,%.1f", px, Py(*y.Unit(m))));
        upper.push_back(absl::StrFormat("%.1f,%.1f", px,
                                        Py(*y.Unit(*std::max_element(vs.begin(), vs.end())))));
        lower.push_back(absl::StrFormat("%.1f,%.1f", px,
                                        Py(*y.Unit(*std::min_element(vs.begin(), vs.end())))));
      }
      std::reverse(lower.begin(), lower.end());
      std::vector<std::string> label = {absl::StrCat(seeds.size(), " seed(s)")};
      for (const auto& [k, v] : seeds[0]->params) label.push_back(absl::StrCat(k, "=", SqlValueText(v)));
      const std::string title = HtmlEscape(absl::StrJoin(label, " "));
      const std::string color = ScaleColor(p / std::max<double>(1, point_order.size() - 1));
      if (at.size() == 1) {  // one evaluation: a dot for the mean, a bar for the band
        const auto& [st, vs] = *at.begin();
        const double px = Px(*x.Unit(st));
        out << absl::StrFormat(R"(<line class="bandbar" stroke="%s" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>)",
                               color, px, Py(*y.Unit(*std::min_element(vs.begin(), vs.end()))), px,
                               Py(*y.Unit(*std::max_element(vs.begin(), vs.end()))))
            << absl::StrFormat(R"(<circle class="meanpt" cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s</title></circle>)",
                               px, Py(*y.Unit(MeanStd(vs).first)), color, title);
        continue;
      }
      out << "<polygon class=\"band\" fill=\"" << ScaleColor(p / std::max<double>(1, point_order.size() - 1))
          << "\" points=\"" << absl::StrJoin(upper, " ") << " " << absl::StrJoin(lower, " ")
          << "\"><title>" << title << "</title></polygon>";
      out << "<polyline class=\"mean\" stroke=\""
          << ScaleColor(p / std::max<double>(1, point_order.size() - 1)) << "\" points=\""
          << absl::StrJoin(mean, " ") << "\"><title>" << title << "</title></polyline>";
    }
    out << "</svg>\n<p class=\"note\">One line per config point: the mean over its seeds; the band "
           "spans the lowest and highest seed.</p>\n";
  }
}

// The metric against each swept parameter, one scatter plot per key.
void ScatterPlots(std::ostringstream& out, const std::vector<Run>& runs, const std::vector<std::string>& keys,
                  const nlohmann::json& spec_json, const Axis& y) {
  for (const std::string& k : keys) {
    Axis x;
    x.name = k;
    std::vector<SqlValue> xs;
    for (const Run& r : runs) {
      if (r.metric) xs.push_back(r.params.at(k));
    }
    if (IsDiscrete(spec_json, k)) {
      x.FitDiscrete(xs);
    } else {
      x.Fit(xs);
    }
    out << absl::StrFormat(R"(<svg class="scatter" data-param="%s" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">)",
                           HtmlEscape(k), kW, kH, kW, kH);
    AxesSvg(out, x, y);
    for (size_t i = 0; i < runs.size(); ++i) {
      if (!runs[i].metric) continue;
      std::optional<double> u = x.Unit(runs[i].params.at(k));
      if (!u) continue;
      out << absl::StrFormat(R"(<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s</title></circle>)",
                             Px(*u), Py(*y.Unit(*runs[i].metric)), Color(i),
                             HtmlEscape(absl::StrCat(absl::StrFormat("%.4g", *runs[i].metric), ": ",
                                                     Tooltip(runs[i]))));
    }
    out << "</svg>\n";
  }
}

// Parallel coordinates: one vertical axis per swept key and one for the metric.
void ParallelCoordinates(std::ostringstream& out, const std::vector<Run>& runs,
                         const std::vector<std::string>& keys, const nlohmann::json& spec_json, const Axis& y,
                         const ReportOptions& o) {
  out << "<h2>Parallel coordinates</h2>\n";
  std::vector<Axis> axes;
  for (const std::string& k : keys) {
    Axis a;
    a.name = k;
    std::vector<SqlValue> vs;
    for (const Run& r : runs) {
      if (r.metric) vs.push_back(r.params.at(k));
    }
    if (IsDiscrete(spec_json, k)) {
      a.FitDiscrete(vs);
    } else {
      a.Fit(vs);
    }
    axes.push_back(a);
  }
  axes.push_back(y);
  const int w = std::max(kW, static_cast<int>(axes.size()) * 160);
  const auto ax_x = [&](size_t j) {
    return axes.size() > 1 ? 60.0 + j * (w - 120.0) / (axes.size() - 1) : w / 2.0;
  };
  out << absl::StrFormat(R"(<svg id="parallel" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">)",
                         w, kH, w, kH);
  for (size_t j = 0; j < axes.size(); ++j) {
    // The outer axes' names run inwards so that long config keys stay inside the plot.
    const bool first = j == 0 && axes.size() > 1, last = j > 0 && j + 1 == axes.size();
    const double label_x = first ? 4.0 : last ? w - 4.0 : ax_x(j);
    const char* anchor = first ? "start" : last ? "end" : "middle";
    out << absl::StrFormat(R"(<line class="axis" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>)",
                           ax_x(j), Py(0), ax_x(j), Py(1))
        << absl::StrFormat(R"(<text class="label" x="%.1f" y="%d" text-anchor="%s">%s</text>)", label_x,
                           kH - 12, anchor, HtmlEscape(axes[j].name));
    for (const auto& [u, label] : axes[j].Ticks()) {
      out << absl::StrFormat(R"(<text class="tick" x="%.1f" y="%.1f">%s</text>)", ax_x(j) + 4,
                             Py(u) + 4, HtmlEscape(label));
    }
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!runs[i].metric) continue;
    std::vector<std::string> pts;
    for (size_t j = 0; j < axes.size(); ++j) {
      const SqlValue v = j + 1 < axes.size() ? runs[i].params.at(keys[j]) : SqlValue(*runs[i].metric);
      std::optional<double> u = axes[j].Unit(v);
      if (u) pts.push_back(absl::StrFormat("%.1f,%.1f", ax_x(j), Py(*u)));
    }
    out << "<polyline class=\"pc\" stroke=\"" << ScaleColor(*y.Unit(*runs[i].metric)) << "\" points=\""
        << absl::StrJoin(pts, " ") << "\"><title>"
        << HtmlEscape(absl::StrCat(absl::StrFormat("%.4g", *runs[i].metric), ": ", Tooltip(runs[i])))
        << "</title></polyline>";
  }
  out << "</svg>\n<p class=\"note\">Coloured by " << HtmlEscape(o.metric)
      << ": dark blue lowest, yellow highest.</p>\n";
}

// Random searches: how strongly each parameter goes with the metric.
void ParameterImportance(std::ostringstream& out, const std::vector<Run>& runs,
                         const std::vector<std::string>& keys, const nlohmann::json& spec_json,
                         const ReportOptions& o) {
  if (spec_json.is_object() && spec_json.value("search", "grid") == "random") {
    out << "<h2>Parameter importance for " << HtmlEscape(o.metric) << "</h2>\n";
    struct Importance {
      std::string key, how;
      double value;
    };
    std::vector<Importance> imp;
    for (const std::string& k : keys) {
      std::vector<double> xs, ys;
      std::vector<std::string> groups;
      bool numeric = true;
      for (const Run& r : runs) {
        if (!r.metric) continue;
        const std::optional<double> n = AsNumber(r.params.at(k));
        if (!n) numeric = false;
        xs.push_back(n.value_or(0));
        groups.push_back(SqlValueText(r.params.at(k)));
        ys.push_back(*r.metric);
      }
      if (numeric) {
        imp.push_back({k, "|Spearman rank correlation|", std::abs(Pearson(Ranks(xs), Ranks(ys)))});
      } else {
        imp.push_back({k, "correlation ratio", CorrelationRatio(groups, ys)});
      }
    }
    std::stable_sort(imp.begin(), imp.end(),
                     [](const Importance& a, const Importance& b) { return a.value > b.value; });
    const int h = 30 + 26 * static_cast<int>(imp.size());
    out << absl::StrFormat(R"(<svg id="importance" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">)",
                           kW, h, kW, h);
    for (size_t j = 0; j < imp.size(); ++j) {
      const int yb = 10 + 26 * static_cast<int>(j);
      out << absl::StrFormat(R"(<text class="tick" x="%d" y="%d" text-anchor="end">%s</text>)", 230, yb + 14,
                             HtmlEscape(imp[j].key))
          << absl::StrFormat(R"(<rect class="bar" x="240" y="%d" width="%.1f" height="18"><title>%s</title></rect>)",
                             yb, imp[j].value * (kW - 320),
                             HtmlEscape(absl::StrFormat("%s: %s %.3f", imp[j].key, imp[j].how, imp[j].value)))
          << absl::StrFormat(R"(<text class="tick" x="%.1f" y="%d">%.2f</text>)",
                             246 + imp[j].value * (kW - 320), yb + 14, imp[j].value);
    }
    out << "</svg>\n<p class=\"note\">Numeric parameters: the absolute Spearman rank correlation "
           "with "
        << HtmlEscape(o.metric)
        << " over the runs; others: the correlation ratio (the square root of the share of the "
           "metric's variance between the parameter's values). One parameter at a time; it says "
           "nothing about interactions.</p>\n";
  }
}

// The metric against the swept parameters: scatter plots, parallel coordinates, importance.
void ParameterSections(std::ostringstream& out, const std::vector<Run>& runs,
                       const std::vector<std::string>& keys, const nlohmann::json& spec_json,
                       const ReportOptions& o) {
  out << "<h2>" << HtmlEscape(o.metric) << " against each swept parameter</h2>\n";
  std::vector<SqlValue> metric_values;
  for (const Run& r : runs) {
    if (r.metric) metric_values.push_back(*r.metric);
  }
  if (metric_values.empty()) {
    out << "<p>No run logged " << HtmlEscape(o.metric) << ".</p>\n";
    return;
  }
  Axis y;
  y.name = o.metric;
  y.Fit(metric_values);
  ScatterPlots(out, runs, keys, spec_json, y);
  ParallelCoordinates(out, runs, keys, spec_json, y, o);
  ParameterImportance(out, runs, keys, spec_json, o);
}

// Per-class AP of each run's last COCO evaluation.
absl::Status PerClassTable(std::ostringstream& out, Db& db, int64_t sweep_id, const std::vector<Run>& runs) {
  out << "<h2>Per-class AP (last evaluation)</h2>\n";
  absl::StatusOr<std::vector<std::vector<SqlValue>>> classes = db.QueryAll(
      "SELECT c.trial_id, a.iou_type, a.class_id, a.class_name, a.ap FROM coco_last c "
      "JOIN coco_class_ap a ON a.coco_id = c.id JOIN trials t ON t.id = c.trial_id "
      "WHERE t.sweep_id = ? ORDER BY a.iou_type DESC, a.class_id",
      {sweep_id});
  if (!classes.ok()) return classes.status();
  if (classes->empty()) {
    out << "<p>No run logged per-class AP.</p>\n";
  } else {
    std::vector<std::pair<std::string, int64_t>> columns;  // (iou type, class id)
    std::map<std::pair<std::string, int64_t>, std::string> names;
    std::map<int64_t, std::map<std::pair<std::string, int64_t>, SqlValue>> ap;
    for (const auto& r : *classes) {
      const std::pair<std::string, int64_t> col = {SqlValueText(r[1]), std::get<int64_t>(r[2])};
      if (std::find(columns.begin(), columns.end(), col) == columns.end()) columns.push_back(col);
      names[col] = SqlValueText(r[3]);
      ap[std::get<int64_t>(r[0])][col] = r[4];
    }
    out << "<table id=\"per_class\"><tr><th>trial</th>";
    for (const auto& col : columns) {
      out << "<th>" << HtmlEscape(col.first) << " " << HtmlEscape(names[col].empty() ? absl::StrCat(col.second) : names[col])
          << "</th>";
    }
    out << "</tr>\n";
    for (size_t i = 0; i < runs.size(); ++i) {
      if (!ap.count(runs[i].id)) continue;
      out << "<tr title=\"" << HtmlEscape(Tooltip(runs[i])) << "\"><td style=\"color:" << Color(i) << "\">"
          << runs[i].id << "</td>";
      for (const auto& col : columns) {
        const auto it = ap[runs[i].id].find(col);
        const std::optional<double> v = it == ap[runs[i].id].end() ? std::nullopt : AsNumber(it->second);
        out << "<td>" << (v ? absl::StrFormat("%.4g", *v) : "") << "</td>";
      }
      out << "</tr>\n";
    }
    out << "</table>\n";
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> HtmlReport(Db& db, const std::string& sweep, const ReportOptions& o) {
  absl::StatusOr<std::vector<std::vector<SqlValue>>> spec =
      db.QueryAll("SELECT id, spec FROM sweeps WHERE name = ?", {sweep});
  if (!spec.ok()) return spec.status();
  if (spec->empty()) return absl::NotFoundError(absl::StrCat(db.path(), ": no sweep named '", sweep, "'"));
  const int64_t sweep_id = std::get<int64_t>((*spec)[0][0]);
  absl::StatusOr<std::vector<std::vector<SqlValue>>> keys_rows = db.QueryAll(
      "SELECT DISTINCT p.key FROM params p JOIN trials t ON t.id = p.trial_id "
      "WHERE t.sweep_id = ? AND p.swept = 1 ORDER BY p.key",
      {sweep_id});
  if (!keys_rows.ok()) return keys_rows.status();
  std::vector<std::string> keys;
  for (const auto& r : *keys_rows) keys.push_back(std::get<std::string>(r[0]));
  absl::StatusOr<std::optional<SweepBudget>> budget = BudgetOf(db, sweep);
  if (!budget.ok()) return budget.status();
  absl::StatusOr<std::vector<Run>> runs = ReadRuns(db, sweep_id, keys, o);
  if (!runs.ok()) return runs.status();

  std::ostringstream out;
  WriteHead(out, sweep);
  const std::string spec_text = std::get<std::string>((*spec)[0][1]);
  const nlohmann::json spec_json = nlohmann::json::parse(spec_text, nullptr, false);
  out << "<h1>Sweep " << HtmlEscape(sweep) << "</h1>\n<pre id=\"spec\">"
      << HtmlEscape(spec_json.is_discarded() ? spec_text : spec_json.dump(2)) << "</pre>\n";
  RunsTable(out, *runs, keys, *budget, o);
  CurvesSection(out, *runs, o);
  MetricBandSection(out, *runs, o);
  // Forest plot: each arm's difference from the reference with its paired bootstrap interval.
  absl::Status forest = ForestPlot(out, db, sweep, spec_json, keys, o);
  if (!forest.ok()) return forest;
  ParameterSections(out, *runs, keys, spec_json, o);
  absl::Status per_class = PerClassTable(out, db, sweep_id, *runs);
  if (!per_class.ok()) return per_class;
  out << "</body></html>\n";
  return out.str();
}

}  // namespace experiments
