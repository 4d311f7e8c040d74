#include "experiments/trial.h"

#include <filesystem>
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
      absl::StrCat("--trial_dir=", trial_dir), absl::StrCat("--db=", db_path),
      absl::StrCat("--trial_id=", trial_id),   absl::StrCat("--attempt=", attempt),
      absl::StrCat("--threads=", threads)};
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
  if (s = take("db"); !s.ok()) return s.status();
  t.db_path = *s;
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

absl::StatusOr<TrialLog> TrialLog::Open(const TrialArgs& args) {
  return Open(args.db_path, args.trial_id, args.attempt);
}

absl::StatusOr<TrialLog> TrialLog::Open(const std::string& db_path, int64_t trial_id, int attempt) {
  absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(db_path);
  if (!log.ok()) return log.status();
  TrialLog t(std::move(*log), trial_id, attempt);
  absl::Status s = t.CheckCurrent(t.log_.db());
  if (!s.ok()) return s;
  return t;
}

absl::Status TrialLog::CheckCurrent(Db& db) {
  absl::StatusOr<Stmt> st = db.Prepare("SELECT status, attempts FROM trials WHERE id = ?");
  if (!st.ok()) return st.status();
  st->Bind(1, trial_id_);
  absl::StatusOr<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) {
    return absl::NotFoundError(absl::StrCat(db.path(), ": no trial with id ", trial_id_));
  }
  if (st->Text(0) != kRunning || st->Int(1) != attempt_) {
    return absl::FailedPreconditionError(absl::StrCat(
        db.path(), ": trial ", trial_id_, " attempt ", attempt_,
        " is not the running attempt (status ", st->Text(0), ", current attempt ", st->Int(1),
        "); not logging"));
  }
  return absl::OkStatus();
}

absl::Status TrialLog::UpdateTrial(const std::string& assignments,
                                   const std::vector<SqlValue>& values) {
  return log_.db().Write([&](Db& db) -> absl::Status {
    absl::Status s = CheckCurrent(db);
    if (!s.ok()) return s;
    absl::StatusOr<Stmt> st = db.Prepare(absl::StrCat("UPDATE trials SET ", assignments,
                                                      " WHERE id = ?"));
    if (!st.ok()) return st.status();
    int i = 1;
    for (const SqlValue& v : values) st->Bind(i++, v);
    st->Bind(i, trial_id_);
    return st->Run();
  });
}

absl::Status TrialLog::SetTotalSteps(int64_t steps) {
  return UpdateTrial("total_steps = ?", {steps});
}

absl::Status TrialLog::SetBuild(const BuildInfo& b) {
  return UpdateTrial("compilation_mode = ?, libtorch_version = ?, cuda_version = ?",
                     {b.compilation_mode, b.libtorch_version, b.cuda_version});
}

absl::Status TrialLog::SetDataset(const std::string& name, const std::string& content_hash) {
  return UpdateTrial("dataset_name = ?, dataset_hash = ?", {name, content_hash});
}

namespace {
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
}  // namespace

absl::Status TrialLog::LogMetric(const std::string& key, int64_t step, std::optional<int64_t> epoch,
                                 double value, const std::string& goal) {
  return LogMetrics(step, epoch, {{key, value, goal}});
}

absl::Status TrialLog::LogMetrics(int64_t step, std::optional<int64_t> epoch,
                                  const std::vector<MetricPoint>& points) {
  for (const MetricPoint& p : points) {
    if (p.key.empty()) return absl::InvalidArgumentError("metric key must not be empty");
    if (!p.goal.empty() && p.goal != "min" && p.goal != "max") {
      return absl::InvalidArgumentError(
          absl::StrCat("metric ", p.key, ": goal must be 'min' or 'max', got '", p.goal, "'"));
    }
  }
  const double now = NowSeconds();
  return log_.db().Write([&](Db& db) -> absl::Status {
    absl::Status s = CheckCurrent(db);
    if (!s.ok()) return s;
    for (const MetricPoint& p : points) {
      s = InsertMetric(db, trial_id_, attempt_, step, epoch, p, now);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> TrialLog::PerImageDir() {
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows =
      log_.db().QueryAll("SELECT trial_dir FROM trials WHERE id = ?", {trial_id_});
  if (!rows.ok()) return rows.status();
  std::string dir;
  if (!rows->empty() && std::holds_alternative<std::string>((*rows)[0][0])) {
    dir = std::get<std::string>((*rows)[0][0]);
  }
  const std::filesystem::path log_dir = std::filesystem::absolute(log_.path()).parent_path();
  std::filesystem::path out = dir.empty() ? log_dir / "per_image" / absl::StrCat("trial_", trial_id_)
                                          : std::filesystem::path(dir) / "coco_per_image";
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
  // Per-image results are written before the transaction, so the write lock is held briefly.
  struct PerImageFile {
    const char* type;
    std::string path;  // as stored: relative to the log's folder when inside it
    int64_t images, detections;
  };
  std::vector<PerImageFile> files;
  for (const auto& [type, stats] : {std::pair<const char*, const std::optional<CocoStats>*>{
                                        "bbox", &r.bbox},
                                    {"segm", &r.segm}}) {
    if (!stats->has_value() || (**stats).per_image == nullptr) continue;
    absl::StatusOr<std::string> dir = PerImageDir();
    if (!dir.ok()) return dir.status();
    const std::string path =
        absl::StrCat(*dir, "/attempt", attempt_, "_step", step, "_", type, ".pie");
    absl::Status ws = mrcnn::eval::SavePerImageEval(*(**stats).per_image, path);
    if (!ws.ok()) return ws;
    int64_t detections = 0;
    for (const auto& c : (**stats).per_image->cells) detections += static_cast<int64_t>(c.scores.size());
    const std::filesystem::path log_dir = std::filesystem::absolute(log_.path()).parent_path();
    const std::filesystem::path abs = std::filesystem::absolute(path).lexically_normal();
    std::string stored = abs.string();
    const std::filesystem::path rel = abs.lexically_relative(log_dir);
    if (!rel.empty() && rel.native().rfind("..", 0) != 0) stored = rel.string();
    files.push_back({type, stored, static_cast<int64_t>((**stats).per_image->img_ids.size()), detections});
  }
  const double now = NowSeconds();
  const std::vector<std::string>& names = CocoStatNames();
  return log_.db().Write([&](Db& db) -> absl::Status {
    absl::Status s = CheckCurrent(db);
    if (!s.ok()) return s;
    std::vector<std::string> cols = {"trial_id", "attempt", "step", "epoch", "split", "wall_time"};
    std::vector<double> stat_values;  // bound after the 6 fixed columns
    std::vector<MetricPoint> points;
    for (const auto& [type, stats] : {std::pair<const char*, const std::optional<CocoStats>*>{
                                          "bbox", &r.bbox},
                                      {"segm", &r.segm}}) {
      if (!stats->has_value()) continue;
      for (size_t i = 0; i < names.size(); ++i) {
        const std::string col = absl::StrCat(type, "_", names[i]);
        cols.push_back(col);
        stat_values.push_back((**stats).stats[i]);
        points.push_back({col, (**stats).stats[i], "max"});
      }
    }
    std::vector<std::string> marks(cols.size(), "?");
    absl::StatusOr<Stmt> st = db.Prepare(absl::StrCat("INSERT INTO coco_results (",
                                                      absl::StrJoin(cols, ", "), ") VALUES (",
                                                      absl::StrJoin(marks, ", "), ")"));
    if (!st.ok()) return st.status();
    st->Bind(1, trial_id_).Bind(2, attempt_).Bind(3, step);
    if (epoch) {
      st->Bind(4, *epoch);
    } else {
      st->BindNull(4);
    }
    st->Bind(5, r.split).Bind(6, now);
    for (size_t i = 0; i < stat_values.size(); ++i) st->Bind(static_cast<int>(i + 7), stat_values[i]);
    s = st->Run();
    if (!s.ok()) return s;
    const int64_t coco_id = db.LastInsertId();
    for (const auto& [type, stats] : {std::pair<const char*, const std::optional<CocoStats>*>{
                                          "bbox", &r.bbox},
                                      {"segm", &r.segm}}) {
      if (!stats->has_value()) continue;
      for (const CocoStats::ClassAp& c : (**stats).per_class) {
        absl::StatusOr<Stmt> cst = db.Prepare(
            "INSERT INTO coco_class_ap (coco_id, iou_type, class_id, class_name, ap) "
            "VALUES (?, ?, ?, ?, ?)");
        if (!cst.ok()) return cst.status();
        cst->Bind(1, coco_id).Bind(2, type).Bind(3, c.class_id).Bind(4, c.class_name).Bind(5, c.ap);
        s = cst->Run();
        if (!s.ok()) return s;
      }
    }
    for (const PerImageFile& f : files) {
      absl::StatusOr<Stmt> pst = db.Prepare(
          "INSERT INTO coco_per_image (coco_id, iou_type, path, images, detections) "
          "VALUES (?, ?, ?, ?, ?)");
      if (!pst.ok()) return pst.status();
      pst->Bind(1, coco_id).Bind(2, f.type).Bind(3, f.path).Bind(4, f.images).Bind(5, f.detections);
      s = pst->Run();
      if (!s.ok()) return s;
    }
    for (const MetricPoint& p : points) {
      s = InsertMetric(db, trial_id_, attempt_, step, epoch, p, now);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  });
}

absl::Status TrialLog::LogCheckpoint(int64_t step, const std::string& tag, const std::string& path) {
  if (tag.empty() || path.empty()) {
    return absl::InvalidArgumentError("checkpoint tag and path must not be empty");
  }
  return log_.db().Write([&](Db& db) -> absl::Status {
    absl::Status s = CheckCurrent(db);
    if (!s.ok()) return s;
    absl::StatusOr<Stmt> st = db.Prepare(
        "INSERT INTO checkpoints (trial_id, attempt, step, tag, path, wall_time) "
        "VALUES (?, ?, ?, ?, ?, ?)");
    if (!st.ok()) return st.status();
    st->Bind(1, trial_id_).Bind(2, attempt_).Bind(3, step).Bind(4, tag).Bind(5, path).Bind(6,
                                                                                  NowSeconds());
    return st->Run();
  });
}

}  // namespace experiments
