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
#include "experiments/compare.h"
#include "experiments/store.h"

namespace experiments {
namespace {

struct Run {
  int64_t id = 0;
  std::string status;
  int64_t seed = 0;
  std::map<std::string, SqlValue> params;  // swept keys only
  std::optional<double> metric;
  std::vector<std::pair<double, double>> curve;  // (step, value)
  SqlValue rung, epochs;                         // scheduler: highest rung reached, epochs trained
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
  absl::StatusOr<std::vector<std::vector<SqlValue>>> trial_rows = db.QueryAll(
      "SELECT id, status, seed, attempts, rung, epochs_trained FROM trials WHERE sweep_id = ? "
      "ORDER BY id",
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
    runs.push_back(std::move(r));
  }

  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>Sweep "
      << HtmlEscape(sweep) << "</title><style>"
      << "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
         "svg{border:1px solid #ddd;margin:4px}.axis{stroke:#444}.tick{font-size:11px}"
         ".label{font-size:13px}.curve,.pc{fill:none;stroke-width:1.5}pre{background:#f6f6f6;"
         "padding:8px;white-space:pre-wrap;word-break:break-all}</style></head><body>\n";
  out << "<h1>Sweep " << HtmlEscape(sweep) << "</h1>\n<pre>" << HtmlEscape(std::get<std::string>((*spec)[0][1]))
      << "</pre>\n";
  // Runs table.
  out << "<h2>Runs</h2>\n";
  if (*budget) out << "<p id=\"budget\">" << HtmlEscape((*budget)->Text()) << "</p>\n";
  out << "<table><tr><th>trial</th><th>status</th>";
  if (*budget) out << "<th>rung</th><th>epochs</th>";
  out << "<th>SEED</th>";
  for (const std::string& k : keys) out << "<th>" << HtmlEscape(k) << "</th>";
  out << "<th>" << HtmlEscape(o.metric) << "</th></tr>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const Run& r = runs[i];
    out << "<tr><td style=\"color:" << Color(i) << "\">" << r.id << "</td><td>" << r.status << "</td>";
    if (*budget) out << "<td>" << SqlValueText(r.rung) << "</td><td>" << SqlValueText(r.epochs) << "</td>";
    out << "<td>" << r.seed << "</td>";
    for (const std::string& k : keys) out << "<td>" << HtmlEscape(SqlValueText(r.params.at(k))) << "</td>";
    out << "<td>" << (r.metric ? absl::StrFormat("%.4g", *r.metric) : "") << "</td></tr>\n";
  }
  out << "</table>\n";

  // Curves over steps.
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
    for (size_t i = 0; i < runs.size(); ++i) {
      if (runs[i].curve.empty()) continue;
      std::vector<std::string> pts;
      for (const auto& [s, v] : runs[i].curve) {
        pts.push_back(absl::StrFormat("%.1f,%.1f", Px(*x.Unit(s)), Py(*y.Unit(v))));
      }
      out << "<polyline class=\"curve\" stroke=\"" << Color(i) << "\" points=\""
          << absl::StrJoin(pts, " ") << "\"><title>" << HtmlEscape(Label(runs[i]))
          << "</title></polyline>";
    }
    out << "</svg>\n";
  }

  // The metric against each swept parameter.
  out << "<h2>" << HtmlEscape(o.metric) << " against each swept parameter</h2>\n";
  std::vector<SqlValue> metric_values;
  for (const Run& r : runs) {
    if (r.metric) metric_values.push_back(*r.metric);
  }
  if (metric_values.empty()) {
    out << "<p>No run logged " << HtmlEscape(o.metric) << ".</p>\n";
  } else {
    Axis y;
    y.name = o.metric;
    y.Fit(metric_values);
    for (const std::string& k : keys) {
      Axis x;
      x.name = k;
      std::vector<SqlValue> xs;
      for (const Run& r : runs) {
        if (r.metric) xs.push_back(r.params.at(k));
      }
      x.Fit(xs);
      out << absl::StrFormat(R"(<svg class="scatter" data-param="%s" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">)",
                             HtmlEscape(k), kW, kH, kW, kH);
      AxesSvg(out, x, y);
      for (size_t i = 0; i < runs.size(); ++i) {
        if (!runs[i].metric) continue;
        std::optional<double> u = x.Unit(runs[i].params.at(k));
        if (!u) continue;
        out << absl::StrFormat(R"(<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s</title></circle>)",
                               Px(*u), Py(*y.Unit(*runs[i].metric)), Color(i),
                               HtmlEscape(absl::StrCat(Label(runs[i]), ": ",
                                                       absl::StrFormat("%.4g", *runs[i].metric))));
      }
      out << "</svg>\n";
    }

    // Parallel coordinates: one vertical axis per swept key and one for the metric.
    out << "<h2>Parallel coordinates</h2>\n";
    std::vector<Axis> axes;
    for (const std::string& k : keys) {
      Axis a;
      a.name = k;
      std::vector<SqlValue> vs;
      for (const Run& r : runs) {
        if (r.metric) vs.push_back(r.params.at(k));
      }
      a.Fit(vs);
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
      out << "<polyline class=\"pc\" stroke=\"" << Color(i) << "\" points=\"" << absl::StrJoin(pts, " ")
          << "\"><title>" << HtmlEscape(Label(runs[i])) << "</title></polyline>";
    }
    out << "</svg>\n";
  }
  out << "</body></html>\n";
  return out.str();
}

}  // namespace experiments
