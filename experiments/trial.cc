#include "experiments/trial.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "eval/per_image.h"
#include "experiments/coco_stats.h"

namespace experiments {

std::vector<std::string> TrialArgs::ToArgs() const {
  std::vector<std::string> args = {
      absl::StrCat("--config=", config_path), absl::StrCat("--seed=", seed),
      absl::StrCat("--trial_dir=", trial_dir), absl::StrCat("--trial_id=", trial_id),
      absl::StrCat("--attempt=", attempt),     absl::StrCat("--threads=", threads)};
  if (!db_path.empty()) args.push_back(absl::StrCat("--db=", db_path));
  if (!report_path.empty()) args.push_back(absl::StrCat("--report=", report_path));
  if (stop_at_epoch > 0) args.push_back(absl::StrCat("--stop_at_epoch=", stop_at_epoch));
  if (!resume.empty()) args.push_back(absl::StrCat("--resume=", resume));
  return args;
}

std::set<std::string> EpochMetricNames(bool coco_eval, bool validation) {
  const std::vector<std::string> losses = {"loss",           "rpn_class_loss",  "rpn_bbox_loss",
                                           "mrcnn_class_loss", "mrcnn_bbox_loss", "mrcnn_mask_loss"};
  std::set<std::string> names = {"learning_rate", "train_seconds"};
  for (const std::string& l : losses) {
    names.insert(l);
    names.insert("epoch_" + l);
    if (validation) names.insert("val_" + l);
  }
  if (coco_eval) {
    for (const char* type : {"bbox_", "segm_"}) {
      for (const std::string& s : CocoStatNames()) names.insert(type + s);
    }
  }
  return names;
}

absl::StatusOr<TrialArgs> ParseTrialArgs(const std::vector<std::string>& args) {
  std::map<std::string, std::string> values;
  for (const std::string& a : args) {
    const size_t eq = a.find('=');
    if (!absl::StartsWith(a, "--") || eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("trial argument '", a, "': expected --name=value"));
    }
    values[a.substr(2, eq - 2)] = a.substr(eq + 1);
  }
  TrialArgs t;
  const auto take = [&values](const char* name) -> absl::StatusOr<std::string> {
    auto it = values.find(name);
    if (it == values.end() || it->second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("trial argument --", name, " is missing"));
    }
    std::string v = it->second;
    values.erase(it);
    return v;
  };
  const auto take_int = [&take](const char* name, int64_t* out) -> absl::Status {
    absl::StatusOr<std::string> v = take(name);
    if (!v.ok()) return v.status();
    if (!absl::SimpleAtoi(*v, out)) {
      return absl::InvalidArgumentError(
          absl::StrCat("trial argument --", name, "='", *v, "': not an integer"));
    }
    return absl::OkStatus();
  };
  absl::StatusOr<std::string> s = take("config");
  if (!s.ok()) return s.status();
  t.config_path = *s;
  if (s = take("trial_dir"); !s.ok()) return s.status();
  t.trial_dir = *s;
  for (auto [name, out] : {std::pair<const char*, std::string*>{"db", &t.db_path}, {"report", &t.report_path}}) {
    if (auto it = values.find(name); it != values.end()) {
      *out = it->second;
      values.erase(it);
    }
  }
  if (t.db_path.empty() == t.report_path.empty()) {
    return absl::InvalidArgumentError(
        "trial arguments need exactly one of --db (the experiment log) and --report (a report file)");
  }
  int64_t attempt = 0, threads = 0;
  for (auto [name, out] : {std::pair<const char*, int64_t*>{"seed", &t.seed},
                           {"trial_id", &t.trial_id},
                           {"attempt", &attempt},
                           {"threads", &threads}}) {
    absl::Status st = take_int(name, out);
    if (!st.ok()) return st;
  }
  t.attempt = static_cast<int>(attempt);
  t.threads = static_cast<int>(threads);
  if (auto it = values.find("stop_at_epoch"); it != values.end()) {
    int64_t e = 0;
    if (!absl::SimpleAtoi(it->second, &e) || e < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("trial argument --stop_at_epoch='", it->second, "': not an integer >= 1"));
    }
    t.stop_at_epoch = static_cast<int>(e);
    values.erase(it);
  }
  if (auto it = values.find("resume"); it != values.end()) {
    if (it->second.empty()) return absl::InvalidArgumentError("trial argument --resume is empty");
    t.resume = it->second;
    values.erase(it);
  }
  if (t.threads < 1) return absl::InvalidArgumentError("trial argument --threads must be >= 1");
  if (!values.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown trial argument --", values.begin()->first));
  }
  return t;
}

absl::StatusOr<TrialArgs> ParseTrialArgs(int argc, char** argv) {
  return ParseTrialArgs(std::vector<std::string>(argv + 1, argv + argc));
}


namespace {

// JSON has no NaN or infinity (a diverged loss is NaN): those travel as strings.
nlohmann::json Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

// Reads the record fields ApplyRecord needs, with an error naming the field.
class Fields {
 public:
  explicit Fields(const nlohmann::json& j) : j_(j) {}
  const nlohmann::json* Find(const char* name) const {
    auto it = j_.find(name);
    return it == j_.end() ? nullptr : &*it;
  }
  absl::StatusOr<int64_t> Int(const char* name) const {
    const nlohmann::json* v = Find(name);
    if (v == nullptr || !v->is_number_integer()) return Missing(name, "an integer");
    return v->get<int64_t>();
  }
  absl::StatusOr<std::optional<int64_t>> OptInt(const char* name) const {
    const nlohmann::json* v = Find(name);
    if (v == nullptr || v->is_null()) return std::optional<int64_t>();
    if (!v->is_number_integer()) return Missing(name, "an integer or null");
    return std::optional<int64_t>(v->get<int64_t>());
  }
  absl::StatusOr<std::string> Text(const char* name) const {
    const nlohmann::json* v = Find(name);
    if (v == nullptr || !v->is_string()) return Missing(name, "a string");
    return v->get<std::string>();
  }
  static absl::StatusOr<double> Real(const nlohmann::json& v, const std::string& what) {
    if (v.is_number()) return v.get<double>();
    if (v.is_string()) {
      const std::string t = v.get<std::string>();
      if (t == "NaN") return std::nan("");
      if (t == "Infinity") return HUGE_VAL;
      if (t == "-Infinity") return -HUGE_VAL;
    }
    return absl::InvalidArgumentError(absl::StrCat(what, ": expected a number, got ", v.dump()));
  }

 private:
  static absl::Status Missing(const char* name, const char* what) {
    return absl::InvalidArgumentError(absl::StrCat("field \"", name, "\": expected ", what));
  }
  const nlohmann::json& j_;
};

absl::Status UpdateTrial(Db& db, int64_t trial_id, const std::string& assignments,
                         const std::vector<SqlValue>& values) {
  absl::StatusOr<Stmt> st = db.Prepare(absl::StrCat("UPDATE trials SET ", assignments, " WHERE id = ?"));
  if (!st.ok()) return st.status();
  int i = 1;
  for (const SqlValue& v : values) st->Bind(i++, v);
  st->Bind(i, trial_id);
  return st->Run();
}

absl::Status InsertMetric(Db& db, int64_t trial_id, int attempt, int64_t step,
                          std::optional<int64_t> epoch, const MetricPoint& p, double now) {
  absl::StatusOr<Stmt> st = db.Prepare(
      "INSERT INTO metrics (trial_id, attempt, key, step, epoch, value, wall_time) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!st.ok()) return st.status();
  st->Bind(1, trial_id).Bind(2, attempt).Bind(3, p.key).Bind(4, step);
  if (epoch) {
    st->Bind(5, *epoch);
  } else {
    st->BindNull(5);
  }
  st->Bind(6, p.value).Bind(7, now);
  absl::Status s = st->Run();
  if (!s.ok()) return s;
  return UpdateMetricSummary(db, trial_id, attempt, p.key, step, epoch, p.value,
                             p.goal.empty() ? DefaultGoal(p.key) : p.goal);
}

absl::StatusOr<std::vector<MetricPoint>> ReadPoints(const nlohmann::json& points) {
  if (!points.is_array()) return absl::InvalidArgumentError("field \"points\": expected a list");
  std::vector<MetricPoint> out;
  for (const nlohmann::json& p : points) {
    if (!p.is_array() || p.size() != 3 || !p[0].is_string() || !p[2].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("field \"points\": expected [key, value, goal], got ", p.dump()));
    }
    absl::StatusOr<double> v = Fields::Real(p[1], absl::StrCat("metric ", p[0].get<std::string>()));
    if (!v.ok()) return v.status();
    out.push_back({p[0].get<std::string>(), *v, p[2].get<std::string>()});
  }
  return out;
}

absl::Status CheckPoints(const std::vector<MetricPoint>& points) {
  for (const MetricPoint& p : points) {
    if (p.key.empty()) return absl::InvalidArgumentError("metric key must not be empty");
    if (!p.goal.empty() && p.goal != "min" && p.goal != "max") {
      return absl::InvalidArgumentError(
          absl::StrCat("metric ", p.key, ": goal must be 'min' or 'max', got '", p.goal, "'"));
    }
  }
  return absl::OkStatus();
}

nlohmann::json CocoStatsJson(const CocoStats& s) {
  nlohmann::json j = {{"stats", nlohmann::json::array()}, {"per_class", nlohmann::json::array()}};
  for (double v : s.stats) j["stats"].push_back(Number(v));
  for (const CocoStats::ClassAp& c : s.per_class) j["per_class"].push_back({c.class_id, c.class_name, Number(c.ap)});
  return j;
}

absl::StatusOr<CocoStats> CocoStatsFromJson(const nlohmann::json& j, const char* type) {
  CocoStats s;
  if (!j.is_object() || !j.contains("stats") || !j["stats"].is_array() || j["stats"].size() != s.stats.size() ||
      !j.contains("per_class") || !j["per_class"].is_array()) {
    return absl::InvalidArgumentError(absl::StrCat("field \"", type, "\": expected {stats: [12 numbers], per_class: [...]}"));
  }
  for (size_t i = 0; i < s.stats.size(); ++i) {
    absl::StatusOr<double> v = Fields::Real(j["stats"][i], absl::StrCat(type, " stat ", i));
    if (!v.ok()) return v.status();
    s.stats[i] = *v;
  }
  for (const nlohmann::json& c : j["per_class"]) {
    if (!c.is_array() || c.size() != 3 || !c[0].is_number_integer() || !c[1].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("field \"", type, ".per_class\": expected [id, name, ap], got ", c.dump()));
    }
    absl::StatusOr<double> ap = Fields::Real(c[2], absl::StrCat(type, " class AP"));
    if (!ap.ok()) return ap.status();
    s.per_class.push_back({c[0].get<int64_t>(), c[1].get<std::string>(), *ap});
  }
  return s;
}

absl::Status ApplyCoco(Db& db, int64_t trial_id, int attempt, int64_t step, std::optional<int64_t> epoch,
                       const CocoResult& r, const nlohmann::json& per_image, double now) {
  const std::vector<std::string>& names = CocoStatNames();
  std::vector<std::string> cols = {"trial_id", "attempt", "step", "epoch", "split", "wall_time"};
  std::vector<double> stat_values;  // bound after the 6 fixed columns
  std::vector<MetricPoint> points;
  const std::pair<const char*, const std::optional<CocoStats>*> types[] = {{"bbox", &r.bbox}, {"segm", &r.segm}};
  for (const auto& [type, stats] : types) {
    if (!stats->has_value()) continue;
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string col = absl::StrCat(type, "_", names[i]);
      cols.push_back(col);
      stat_values.push_back((**stats).stats[i]);
      points.push_back({col, (**stats).stats[i], "max"});
    }
  }
  std::vector<std::string> marks(cols.size(), "?");
  absl::StatusOr<Stmt> st = db.Prepare(absl::StrCat("INSERT INTO coco_results (", absl::StrJoin(cols, ", "),
                                                    ") VALUES (", absl::StrJoin(marks, ", "), ")"));
  if (!st.ok()) return st.status();
  st->Bind(1, trial_id).Bind(2, attempt).Bind(3, step);
  if (epoch) {
    st->Bind(4, *epoch);
  } else {
    st->BindNull(4);
  }
  st->Bind(5, r.split).Bind(6, now);
  for (size_t i = 0; i < stat_values.size(); ++i) st->Bind(static_cast<int>(i + 7), stat_values[i]);
  absl::Status s = st->Run();
  if (!s.ok()) return s;
  const int64_t coco_id = db.LastInsertId();
  for (const auto& [type, stats] : types) {
    if (!stats->has_value()) continue;
    for (const CocoStats::ClassAp& c : (**stats).per_class) {
      absl::StatusOr<Stmt> cst = db.Prepare(
          "INSERT INTO coco_class_ap (coco_id, iou_type, class_id, class_name, ap) VALUES (?, ?, ?, ?, ?)");
      if (!cst.ok()) return cst.status();
      cst->Bind(1, coco_id).Bind(2, type).Bind(3, c.class_id).Bind(4, c.class_name).Bind(5, c.ap);
      s = cst->Run();
      if (!s.ok()) return s;
    }
  }
  // The per-image files: stored relative to the log's folder when inside it.
  const std::filesystem::path log_dir = std::filesystem::absolute(db.path()).parent_path();
  for (const nlohmann::json& f : per_image) {
    if (!f.is_object() || !f.contains("type") || !f["type"].is_string() || !f.contains("path") ||
        !f["path"].is_string() || !f.contains("images") || !f["images"].is_number_integer() ||
        !f.contains("detections") || !f["detections"].is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat("field \"per_image\": expected {type, path, images, detections}, got ",
                                                     f.dump()));
    }
    const std::string type = f["type"].get<std::string>();
    if (type != "bbox" && type != "segm") {
      return absl::InvalidArgumentError(absl::StrCat("field \"per_image\": type must be bbox or segm, got ", type));
    }
    const std::filesystem::path abs = std::filesystem::absolute(f["path"].get<std::string>()).lexically_normal();
    std::string stored = abs.string();
    const std::filesystem::path rel = abs.lexically_relative(log_dir);
    if (!rel.empty() && rel.native().rfind("..", 0) != 0) stored = rel.string();
    absl::StatusOr<Stmt> pst = db.Prepare(
        "INSERT INTO coco_per_image (coco_id, iou_type, path, images, detections) VALUES (?, ?, ?, ?, ?)");
    if (!pst.ok()) return pst.status();
    pst->Bind(1, coco_id).Bind(2, type).Bind(3, stored).Bind(4, f["images"].get<int64_t>()).Bind(5,
                                                                                           f["detections"].get<int64_t>());
    s = pst->Run();
    if (!s.ok()) return s;
  }
  for (const MetricPoint& p : points) {
    s = InsertMetric(db, trial_id, attempt, step, epoch, p, now);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status FsyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat(dir, ": cannot open folder: ", std::strerror(errno)));
  fsync(fd);
  close(fd);
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckCurrentAttempt(Db& db, int64_t trial_id, int attempt) {
  absl::StatusOr<Stmt> st = db.Prepare("SELECT status, attempts FROM trials WHERE id = ?");
  if (!st.ok()) return st.status();
  st->Bind(1, trial_id);
  absl::StatusOr<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(absl::StrCat(db.path(), ": no trial with id ", trial_id));
  if (st->Text(0) != kRunning || st->Int(1) != attempt) {
    return absl::FailedPreconditionError(absl::StrCat(
        db.path(), ": trial ", trial_id, " attempt ", attempt, " is not the running attempt (status ", st->Text(0),
        ", current attempt ", st->Int(1), "); not logging"));
  }
  return absl::OkStatus();
}

absl::Status ApplyRecord(Db& db, int64_t trial_id, int attempt, const nlohmann::json& record) {
  if (!record.is_object()) return absl::InvalidArgumentError("a record must be a JSON object");
  Fields f(record);
  absl::StatusOr<std::string> type = f.Text("type");
  if (!type.ok()) return type.status();
  const nlohmann::json* time = f.Find("time");
  if (time == nullptr || !time->is_number()) return absl::InvalidArgumentError("field \"time\": expected a number");
  const double now = time->get<double>();
  if (*type == "total_steps") {
    absl::StatusOr<int64_t> steps = f.Int("steps");
    if (!steps.ok()) return steps.status();
    return UpdateTrial(db, trial_id, "total_steps = ?", {*steps});
  }
  if (*type == "build") {
    absl::StatusOr<std::string> mode = f.Text("compilation_mode"), torch = f.Text("libtorch_version"),
                                cuda = f.Text("cuda_version");
    for (const auto* v : {&mode, &torch, &cuda}) {
      if (!v->ok()) return v->status();
    }
    return UpdateTrial(db, trial_id, "compilation_mode = ?, libtorch_version = ?, cuda_version = ?",
                       {*mode, *torch, *cuda});
  }
  if (*type == "dataset") {
    absl::StatusOr<std::string> name = f.Text("name"), hash = f.Text("hash");
    if (!name.ok()) return name.status();
    if (!hash.ok()) return hash.status();
    return UpdateTrial(db, trial_id, "dataset_name = ?, dataset_hash = ?", {*name, *hash});
  }
  if (*type == "checkpoint") {
    absl::StatusOr<int64_t> step = f.Int("step");
    absl::StatusOr<std::string> tag = f.Text("tag"), path = f.Text("path");
    if (!step.ok()) return step.status();
    if (!tag.ok()) return tag.status();
    if (!path.ok()) return path.status();
    absl::StatusOr<Stmt> st = db.Prepare(
        "INSERT INTO checkpoints (trial_id, attempt, step, tag, path, wall_time) VALUES (?, ?, ?, ?, ?, ?)");
    if (!st.ok()) return st.status();
    st->Bind(1, trial_id).Bind(2, attempt).Bind(3, *step).Bind(4, *tag).Bind(5, *path).Bind(6, now);
    return st->Run();
  }
  absl::StatusOr<int64_t> step = f.Int("step");
  absl::StatusOr<std::optional<int64_t>> epoch = f.OptInt("epoch");
  if (!step.ok()) return step.status();
  if (!epoch.ok()) return epoch.status();
  if (*type == "metrics") {
    const nlohmann::json* pts = f.Find("points");
    if (pts == nullptr) return absl::InvalidArgumentError("field \"points\": missing");
    absl::StatusOr<std::vector<MetricPoint>> points = ReadPoints(*pts);
    if (!points.ok()) return points.status();
    absl::Status s = CheckPoints(*points);
    if (!s.ok()) return s;
    for (const MetricPoint& p : *points) {
      s = InsertMetric(db, trial_id, attempt, *step, *epoch, p, now);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (*type == "coco") {
    CocoResult r;
    absl::StatusOr<std::string> split = f.Text("split");
    if (!split.ok()) return split.status();
    r.split = *split;
    for (const auto& [name, out] : {std::pair<const char*, std::optional<CocoStats>*>{"bbox", &r.bbox}, {"segm", &r.segm}}) {
      const nlohmann::json* v = f.Find(name);
      if (v == nullptr || v->is_null()) continue;
      absl::StatusOr<CocoStats> stats = CocoStatsFromJson(*v, name);
      if (!stats.ok()) return stats.status();
      *out = std::move(*stats);
    }
    if (!r.bbox && !r.segm) return absl::InvalidArgumentError("COCO result has neither bbox nor segm");
    const nlohmann::json* per_image = f.Find("per_image");
    if (per_image != nullptr && !per_image->is_array()) {
      return absl::InvalidArgumentError("field \"per_image\": expected a list");
    }
    return ApplyCoco(db, trial_id, attempt, *step, *epoch, r,
                     per_image != nullptr ? *per_image : nlohmann::json::array(), now);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown record type \"", *type, "\""));
}

struct TrialLog::ReportFile {
  std::string path;
  int fd = -1;
  int64_t bytes = 0;
  int64_t lines = 0;
  ~ReportFile() {
    if (fd >= 0) close(fd);
  }
};

std::string ResultPath(const std::string& report_path) { return report_path + ".result"; }

absl::StatusOr<TrialLog> TrialLog::Open(const TrialArgs& args) {
  absl::StatusOr<TrialLog> t = !args.report_path.empty() ? OpenReport(args.report_path, args.trial_id, args.attempt)
                                                         : Open(args.db_path, args.trial_id, args.attempt);
  if (t.ok()) t->trial_dir_ = args.trial_dir;
  return t;
}

absl::StatusOr<TrialLog> TrialLog::Open(const std::string& db_path, int64_t trial_id, int attempt) {
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(db_path);
  if (!log.ok()) return log.status();
  TrialLog t(trial_id, attempt);
  t.log_.emplace(std::move(*log));
  absl::Status s = CheckCurrentAttempt(t.log_->db(), trial_id, attempt);
  if (!s.ok()) return s;
  return t;
}

absl::StatusOr<TrialLog> TrialLog::OpenReport(const std::string& report_path, int64_t trial_id, int attempt) {
  auto file = std::make_shared<ReportFile>();
  file->path = report_path;
  // A report belongs to one attempt: an existing one means this attempt was started twice.
  file->fd = open(report_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (file->fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        report_path, ": cannot create the trial report (", std::strerror(errno),
        errno == EEXIST ? "; this attempt's report exists already, so it was started twice" : "", ")"));
  }
  TrialLog t(trial_id, attempt);
  t.report_ = std::move(file);
  return t;
}

absl::Status TrialLog::Record(nlohmann::json record) {
  record["time"] = NowSeconds();
  if (log_) {
    return log_->db().Write([&](Db& db) -> absl::Status {
      absl::Status s = CheckCurrentAttempt(db, trial_id_, attempt_);
      if (!s.ok()) return s;
      return ApplyRecord(db, trial_id_, attempt_, record);
    });
  }
  record["trial_id"] = trial_id_;
  record["attempt"] = attempt_;
  const std::string line = record.dump() + "\n";
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = write(report_->fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::InternalError(absl::StrCat(report_->path, ": cannot append to the trial report: ",
                                              std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(report_->fd) != 0) {
    return absl::InternalError(absl::StrCat(report_->path, ": fsync failed: ", std::strerror(errno)));
  }
  report_->bytes += static_cast<int64_t>(line.size());
  ++report_->lines;
  return absl::OkStatus();
}

absl::Status TrialLog::SetTotalSteps(int64_t steps) {
  return Record({{"type", "total_steps"}, {"steps", steps}});
}

absl::Status TrialLog::SetBuild(const BuildInfo& b) {
  return Record({{"type", "build"},
                 {"compilation_mode", b.compilation_mode},
                 {"libtorch_version", b.libtorch_version},
                 {"cuda_version", b.cuda_version},
                 {"cpu_isa", b.cpu_isa}});
}

absl::Status TrialLog::SetDataset(const std::string& name, const std::string& content_hash) {
  return Record({{"type", "dataset"}, {"name", name}, {"hash", content_hash}});
}

absl::Status TrialLog::LogMetric(const std::string& key, int64_t step, std::optional<int64_t> epoch,
                                 double value, const std::string& goal) {
  return LogMetrics(step, epoch, {{key, value, goal}});
}

absl::Status TrialLog::LogMetrics(int64_t step, std::optional<int64_t> epoch,
                                  const std::vector<MetricPoint>& points) {
  absl::Status s = CheckPoints(points);
  if (!s.ok()) return s;
  nlohmann::json pts = nlohmann::json::array();
  for (const MetricPoint& p : points) pts.push_back({p.key, Number(p.value), p.goal});
  return Record({{"type", "metrics"},
                 {"step", step},
                 {"epoch", epoch ? nlohmann::json(*epoch) : nlohmann::json()},
                 {"points", std::move(pts)}});
}

absl::StatusOr<std::string> TrialLog::PerImageDir() {
  std::string dir = trial_dir_;
  std::filesystem::path fallback;
  if (log_) {
    if (dir.empty()) {
      absl::StatusOr<std::vector<std::vector<SqlValue>>> rows =
          log_->db().QueryAll("SELECT trial_dir FROM trials WHERE id = ?", {trial_id_});
      if (!rows.ok()) return rows.status();
      if (!rows->empty() && std::holds_alternative<std::string>((*rows)[0][0])) {
        dir = std::get<std::string>((*rows)[0][0]);
      }
    }
    fallback = std::filesystem::absolute(log_->path()).parent_path() / "per_image" / absl::StrCat("trial_", trial_id_);
  } else {
    fallback = std::filesystem::absolute(report_->path).parent_path() / "coco_per_image";
  }
  std::filesystem::path out = dir.empty() ? fallback : std::filesystem::path(dir) / "coco_per_image";
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat(out.string(), ": cannot create the per-image results folder: ", ec.message()));
  }
  return out.string();
}

absl::Status TrialLog::LogCoco(int64_t step, std::optional<int64_t> epoch, const CocoResult& r) {
  if (!r.bbox && !r.segm) return absl::InvalidArgumentError("COCO result has neither bbox nor segm");
  // Per-image results go to side files first (eval/per_image.h); the record names them.
  nlohmann::json per_image = nlohmann::json::array();
  for (const auto& [type, stats] : {std::pair<const char*, const std::optional<CocoStats>*>{"bbox", &r.bbox},
                                    {"segm", &r.segm}}) {
    if (!stats->has_value() || (**stats).per_image == nullptr) continue;
    absl::StatusOr<std::string> dir = PerImageDir();
    if (!dir.ok()) return dir.status();
    const std::string path = std::filesystem::absolute(
        absl::StrCat(*dir, "/attempt", attempt_, "_step", step, "_", type, ".pie")).lexically_normal().string();
    absl::Status ws = mrcnn::eval::SavePerImageEval(*(**stats).per_image, path);
    if (!ws.ok()) return ws;
    int64_t detections = 0;
    for (const auto& c : (**stats).per_image->cells) detections += static_cast<int64_t>(c.scores.size());
    per_image.push_back({{"type", type},
                         {"path", path},
                         {"images", static_cast<int64_t>((**stats).per_image->img_ids.size())},
                         {"detections", detections}});
  }
  nlohmann::json rec = {{"type", "coco"},
                        {"step", step},
                        {"epoch", epoch ? nlohmann::json(*epoch) : nlohmann::json()},
                        {"split", r.split}};
  if (r.bbox) rec["bbox"] = CocoStatsJson(*r.bbox);
  if (r.segm) rec["segm"] = CocoStatsJson(*r.segm);
  if (!per_image.empty()) rec["per_image"] = std::move(per_image);
  return Record(std::move(rec));
}

absl::Status TrialLog::LogCheckpoint(int64_t step, const std::string& tag, const std::string& path) {
  if (tag.empty() || path.empty()) {
    return absl::InvalidArgumentError("checkpoint tag and path must not be empty");
  }
  return Record({{"type", "checkpoint"}, {"step", step}, {"tag", tag}, {"path", path}});
}

absl::Status TrialLog::Finish() {
  if (!report_) return absl::OkStatus();
  const std::string final_path = ResultPath(report_->path);
  const std::string tmp = final_path + ".tmp";
  const nlohmann::json result = {{"trial_id", trial_id_},         {"attempt", attempt_},
                                 {"report_bytes", report_->bytes}, {"report_lines", report_->lines},
                                 {"time", NowSeconds()}};
  const std::string text = result.dump() + "\n";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat(tmp, ": cannot write the trial result: ", std::strerror(errno)));
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  close(fd);
  if (!written || rename(tmp.c_str(), final_path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat(final_path, ": cannot write the trial result: ", std::strerror(errno)));
  }
  return FsyncDir(std::filesystem::path(final_path).parent_path().string());
}

absl::StatusOr<std::optional<ReportResult>> ReadResult(const std::string& report_path, int64_t trial_id,
                                                       int attempt) {
  const std::string path = ResultPath(report_path);
  std::ifstream in(path);
  if (!in) return std::optional<ReportResult>();
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(absl::StrCat(path, ": not a trial result (not a JSON object)"));
  }
  Fields f(j);
  absl::StatusOr<int64_t> t = f.Int("trial_id"), a = f.Int("attempt"), bytes = f.Int("report_bytes"),
                          lines = f.Int("report_lines");
  for (const auto* v : {&t, &a, &bytes, &lines}) {
    if (!v->ok()) return absl::DataLossError(absl::StrCat(path, ": ", v->status().message()));
  }
  if (*t != trial_id || *a != attempt) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": the result of trial ", *t, " attempt ", *a,
                                                      ", expected trial ", trial_id, " attempt ", attempt));
  }
  return std::optional<ReportResult>(ReportResult{*bytes, *lines});
}

absl::StatusOr<IngestResult> IngestReport(Db& db, int64_t trial_id, int attempt, const std::string& report_path) {
  IngestResult result;
  std::string error;
  absl::Status s = db.Write([&](Db& d) -> absl::Status {
    result = IngestResult();
    error.clear();
    absl::Status cs = CheckCurrentAttempt(d, trial_id, attempt);
    if (!cs.ok()) return cs;
    absl::StatusOr<std::vector<std::vector<SqlValue>>> rows =
        d.QueryAll("SELECT offset, lines FROM report_ingest WHERE trial_id = ? AND attempt = ?",
                   {trial_id, static_cast<int64_t>(attempt)});
    if (!rows.ok()) return rows.status();
    if (!rows->empty()) {
      result.offset = std::get<int64_t>(rows->at(0)[0]);
      result.lines = std::get<int64_t>(rows->at(0)[1]);
    }
    std::ifstream in(report_path, std::ios::binary);
    if (!in) return absl::OkStatus();  // not started yet
    in.seekg(0, std::ios::end);
    const int64_t size = static_cast<int64_t>(in.tellg());
    if (size < result.offset) {
      return absl::DataLossError(absl::StrCat(report_path, ": the report shrank to ", size,
                                              " bytes below the ", result.offset, " already ingested"));
    }
    in.seekg(result.offset);
    std::string chunk(static_cast<size_t>(size - result.offset), '\0');
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    size_t pos = 0;
    while (true) {
      const size_t nl = chunk.find('\n', pos);
      if (nl == std::string::npos) {
        result.partial_tail = pos < chunk.size();
        break;
      }
      const std::string line = chunk.substr(pos, nl - pos);
      const int64_t line_no = result.lines + 1;
      const nlohmann::json rec = nlohmann::json::parse(line, nullptr, false);
      absl::Status as;
      if (rec.is_discarded() || !rec.is_object()) {
        as = absl::InvalidArgumentError("not a JSON object");
      } else if (!rec.contains("trial_id") || !rec.contains("attempt") || rec["trial_id"] != trial_id ||
                 rec["attempt"] != attempt) {
        as = absl::InvalidArgumentError(absl::StrCat("a record of trial ", rec.value("trial_id", nlohmann::json()).dump(),
                                                     " attempt ", rec.value("attempt", nlohmann::json()).dump(),
                                                     ", expected trial ", trial_id, " attempt ", attempt));
      } else {
        as = ApplyRecord(d, trial_id, attempt, rec);
      }
      if (!as.ok()) {
        error = absl::StrCat(report_path, " line ", line_no, ": ", as.message());
        break;
      }
      pos = nl + 1;
      result.offset += static_cast<int64_t>(line.size()) + 1;
      ++result.lines;
      ++result.new_lines;
    }
    if (result.new_lines == 0) return absl::OkStatus();
    absl::StatusOr<Stmt> up = d.Prepare(
        "INSERT INTO report_ingest (trial_id, attempt, path, offset, lines) VALUES (?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT (trial_id, attempt) DO UPDATE SET offset = ?4, lines = ?5");
    if (!up.ok()) return up.status();
    up->Bind(1, trial_id).Bind(2, attempt).Bind(3, report_path).Bind(4, result.offset).Bind(5, result.lines);
    return up->Run();
  });
  if (!s.ok()) return s;
  if (!error.empty()) return absl::DataLossError(error);
  return result;
}

absl::StatusOr<int64_t> IngestRunningReports(Db& db, std::vector<std::string>* problems) {
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows = db.QueryAll(
      "SELECT a.trial_id, a.attempt, a.report_path FROM attempts a JOIN trials t ON t.id = a.trial_id "
      "AND t.attempts = a.attempt WHERE t.status = 'RUNNING' AND a.launcher = 'slurm' AND a.report_path IS NOT NULL",
      {});
  if (!rows.ok()) return rows.status();
  int64_t added = 0;
  for (const std::vector<SqlValue>& r : *rows) {
    absl::StatusOr<IngestResult> got = IngestReport(db, std::get<int64_t>(r[0]),
                                                    static_cast<int>(std::get<int64_t>(r[1])), std::get<std::string>(r[2]));
    if (got.ok()) {
      added += got->new_lines;
    } else if (problems != nullptr) {
      problems->push_back(std::string(got.status().message()));
    }
  }
  return added;
}

}  // namespace experiments
