#include "experiments/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "experiments/coco_stats.h"
#include "mrcnn/config/config.h"

namespace experiments {
namespace {

constexpr char kSchemaV1[] = R"sql(
CREATE TABLE sweeps (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  spec TEXT NOT NULL,                -- the sweep spec as JSON, with the effective seeds
  seed INTEGER NOT NULL,             -- base seed: trial seeds and random search derive from it
  seeds INTEGER NOT NULL,            -- repeats of every config point
  created_at REAL NOT NULL           -- Unix seconds
);
CREATE TABLE trials (
  id INTEGER PRIMARY KEY,
  sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
  ordinal INTEGER NOT NULL,          -- position in the sweep's trial list
  seed INTEGER NOT NULL,
  config_json TEXT NOT NULL,         -- the effective config (its SEED is the trial seed)
  config_hash TEXT NOT NULL,         -- mrcnn::Config::Hash of config_json
  point_hash TEXT NOT NULL,          -- Config::Hash with SEED = 0: equal across the seeds of a point
  status TEXT NOT NULL DEFAULT 'QUEUED'
      CHECK (status IN ('QUEUED', 'RUNNING', 'FINISHED', 'FAILED', 'KILLED')),
  attempts INTEGER NOT NULL DEFAULT 0,   -- claims so far; the current attempt's number
  failures INTEGER NOT NULL DEFAULT 0,   -- attempts that ended FAILED (the retry limit counts these)
  heartbeat_at REAL,
  host TEXT,
  pid INTEGER,                       -- the trial process
  coordinator_pid INTEGER,
  started_at REAL,
  finished_at REAL,
  exit_code INTEGER,
  error TEXT,
  trial_dir TEXT,
  total_steps INTEGER,               -- reported by the trial, for progress
  git_commit TEXT,
  git_dirty INTEGER,
  compilation_mode TEXT,
  libtorch_version TEXT,
  cuda_version TEXT,
  dataset_name TEXT,
  dataset_hash TEXT,
  UNIQUE (sweep_id, config_hash, seed)
);
CREATE TABLE attempts (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  host TEXT,
  pid INTEGER,
  coordinator_pid INTEGER,
  started_at REAL NOT NULL,
  finished_at REAL,
  exit_code INTEGER,
  error TEXT,
  PRIMARY KEY (trial_id, attempt)
);
CREATE TABLE params (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  key TEXT NOT NULL,
  value,                             -- no declared type: numbers stay numbers, text stays text
  swept INTEGER NOT NULL,            -- 1 when the sweep spec varies this key
  PRIMARY KEY (trial_id, key)
);
CREATE TABLE metrics (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  attempt INTEGER NOT NULL,
  key TEXT NOT NULL,
  step INTEGER NOT NULL,
  epoch INTEGER,
  value REAL,
  wall_time REAL NOT NULL
);
CREATE INDEX metrics_by_trial ON metrics (trial_id, attempt, key, step);
)sql";

std::string SchemaV2() {
  std::vector<std::string> cols;
  for (const char* type : {"bbox", "segm"}) {
    for (const std::string& s : CocoStatNames()) cols.push_back(absl::StrCat(type, "_", s, " REAL"));
  }
  return absl::StrCat(R"sql(
CREATE TABLE coco_results (
  id INTEGER PRIMARY KEY,
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  attempt INTEGER NOT NULL,
  step INTEGER NOT NULL,
  epoch INTEGER,
  split TEXT NOT NULL,
  wall_time REAL NOT NULL,
  )sql",
                      absl::StrJoin(cols, ",\n  "), R"sql(
);
CREATE INDEX coco_by_trial ON coco_results (trial_id, attempt, step);
CREATE TABLE coco_class_ap (
  coco_id INTEGER NOT NULL REFERENCES coco_results(id),
  iou_type TEXT NOT NULL CHECK (iou_type IN ('bbox', 'segm')),
  class_id INTEGER NOT NULL,
  class_name TEXT,
  ap REAL,
  PRIMARY KEY (coco_id, iou_type, class_id)
);
CREATE TABLE checkpoints (
  id INTEGER PRIMARY KEY,
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  attempt INTEGER NOT NULL,
  step INTEGER NOT NULL,
  tag TEXT NOT NULL,                 -- e.g. "last", "best"
  path TEXT NOT NULL,
  wall_time REAL NOT NULL
);
CREATE TABLE metric_summary (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  attempt INTEGER NOT NULL,
  key TEXT NOT NULL,
  goal TEXT NOT NULL CHECK (goal IN ('min', 'max')),
  n INTEGER NOT NULL,
  last_value REAL,
  last_step INTEGER,
  last_epoch INTEGER,
  best_value REAL,
  best_step INTEGER,
  PRIMARY KEY (trial_id, attempt, key)
);
)sql");
}

// Version 1 -> 2: the new tables, and metric_summary back-filled from every metric row already logged.
absl::Status MigrateToV2(Db& db) {
  absl::Status s = db.Exec(SchemaV2());
  if (!s.ok()) return s;
  absl::StatusOr<Stmt> st = db.Prepare(
      "SELECT trial_id, attempt, key, step, epoch, value FROM metrics ORDER BY rowid");
  if (!st.ok()) return st.status();
  while (true) {
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const std::string key = st->Text(2);
    std::optional<int64_t> epoch;
    if (!st->IsNull(4)) epoch = st->Int(4);
    s = UpdateMetricSummary(db, st->Int(0), static_cast<int>(st->Int(1)), key, st->Int(3), epoch,
                            st->Real(5), DefaultGoal(key));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// Version 2 -> 3: the scheduler's statuses and tables. SQLite cannot change a CHECK constraint in
// place, so `trials` is rebuilt (create, copy, drop, rename, as SQLite's documentation prescribes);
// the views that read it are dropped first and recreated by EnsureViews.
absl::Status MigrateToV3(Db& db) {
  for (const char* view : {"runs", "coco_last", "metric_last", "trial_params"}) {
    absl::Status s = db.Exec(absl::StrCat("DROP VIEW IF EXISTS ", view));
    if (!s.ok()) return s;
  }
  const std::string columns =
      "id, sweep_id, ordinal, seed, config_json, config_hash, point_hash, status, attempts, "
      "failures, heartbeat_at, host, pid, coordinator_pid, started_at, finished_at, exit_code, error, "
      "trial_dir, total_steps, git_commit, git_dirty, compilation_mode, libtorch_version, "
      "cuda_version, dataset_name, dataset_hash";
  return db.Exec(absl::StrCat(R"sql(
CREATE TABLE trials_v3 (
  id INTEGER PRIMARY KEY,
  sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
  ordinal INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  config_json TEXT NOT NULL,
  config_hash TEXT NOT NULL,
  point_hash TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'QUEUED'
      CHECK (status IN ('QUEUED', 'RUNNING', 'FINISHED', 'FAILED', 'KILLED', 'PAUSED', 'PRUNED')),
  attempts INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  heartbeat_at REAL,
  host TEXT,
  pid INTEGER,
  coordinator_pid INTEGER,
  started_at REAL,
  finished_at REAL,
  exit_code INTEGER,
  error TEXT,
  trial_dir TEXT,
  total_steps INTEGER,
  git_commit TEXT,
  git_dirty INTEGER,
  compilation_mode TEXT,
  libtorch_version TEXT,
  cuda_version TEXT,
  dataset_name TEXT,
  dataset_hash TEXT,
  target_rung INTEGER NOT NULL DEFAULT 0,  -- scheduler: the rung the trial runs, or will run, to
  rung INTEGER,                            -- scheduler: the highest rung it reported a result at
  epochs_trained INTEGER,                  -- scheduler: epochs of training its lineage holds
  UNIQUE (sweep_id, config_hash, seed)
);
INSERT INTO trials_v3 ()sql",
                              columns, ") SELECT ", columns, R"sql( FROM trials;
DROP TABLE trials;
ALTER TABLE trials_v3 RENAME TO trials;
-- An attempt that continues an earlier one from its checkpoint (promotions, retries under a
-- scheduler): the earlier attempt's rows up to resume_step belong to this attempt's curve.
ALTER TABLE attempts ADD COLUMN resumed_from INTEGER;
ALTER TABLE attempts ADD COLUMN resume_step INTEGER;
ALTER TABLE attempts ADD COLUMN stop_at_epoch INTEGER;
CREATE TABLE rung_results (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  rung INTEGER NOT NULL,             -- 0-based rung index of the trial's bracket
  epoch INTEGER NOT NULL,            -- the rung's epoch
  attempt INTEGER NOT NULL,          -- the attempt that reached it
  metric TEXT NOT NULL,
  value REAL NOT NULL,
  recorded_at REAL NOT NULL,
  decision TEXT CHECK (decision IN ('promoted', 'pruned', 'final')),  -- NULL: not decided yet
  decided_at REAL,
  PRIMARY KEY (trial_id, rung)
);
)sql"));
}

// Version 3 -> 4 (bootstrap intervals): where each COCO evaluation's per-image matching results are
// kept. The results themselves live in a side file (eval/per_image.h), so the log stays small. Only
// adds a table.
absl::Status MigrateToV4PerImageEval(Db& db) {
  return db.Exec(R"sql(
CREATE TABLE coco_per_image (
  coco_id INTEGER NOT NULL REFERENCES coco_results(id),
  iou_type TEXT NOT NULL CHECK (iou_type IN ('bbox', 'segm')),
  path TEXT NOT NULL,                -- the per-image file; a relative path is relative to the log's folder
  images INTEGER NOT NULL,           -- evaluated images
  detections INTEGER NOT NULL,       -- detections kept (top maxDets per image and category)
  PRIMARY KEY (coco_id, iou_type)
);
)sql");
}

// Version 4 -> 5: the Slurm launcher. An attempt records how it was launched and, under Slurm, its job
// and array index; report_ingest holds how much of each attempt's report (trial.h) is in the log.
absl::Status MigrateToV5(Db& db) {
  return db.Exec(R"sql(
ALTER TABLE attempts ADD COLUMN launcher TEXT;            -- 'local' or 'slurm'; NULL before version 5
ALTER TABLE attempts ADD COLUMN slurm_job_id TEXT;        -- the job array's id (sbatch --parsable)
ALTER TABLE attempts ADD COLUMN slurm_array_index INTEGER;  -- the attempt's task in that array
ALTER TABLE attempts ADD COLUMN report_path TEXT;         -- Slurm: the attempt's JSON-lines report
CREATE TABLE report_ingest (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  attempt INTEGER NOT NULL,
  path TEXT NOT NULL,
  offset INTEGER NOT NULL,           -- bytes of the report applied to the log
  lines INTEGER NOT NULL,            -- records applied
  PRIMARY KEY (trial_id, attempt)
);
)sql");
}

struct Migration {
  int to_version;
  std::function<absl::Status(Db&)> apply;
};

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration>* m = new std::vector<Migration>{
      {1, [](Db& db) { return db.Exec(kSchemaV1); }},
      {2, MigrateToV2},
      {3, MigrateToV3},
      {4, MigrateToV4PerImageEval},
      {5, MigrateToV5},
  };
  return *m;
}

std::string Quote(const std::string& ident) { return absl::StrCat("\"", ident, "\""); }

// The comparison views. `runs` has one column per config key, so it is generated from the Config's
// field list and recreated whenever that list changes.
std::vector<std::pair<std::string, std::string>> ViewDefinitions() {
  std::vector<std::string> pivot;
  for (const std::string& k : mrcnn::Config::FieldNames()) {
    pivot.push_back(absl::StrCat("MAX(CASE WHEN key = '", k, "' THEN value END) AS ", Quote(k)));
  }
  std::vector<std::string> coco;
  for (const char* type : {"bbox", "segm"}) {
    for (const std::string& s : CocoStatNames()) coco.push_back(absl::StrCat("c.", type, "_", s));
  }
  std::vector<std::string> config_cols;
  for (const std::string& k : mrcnn::Config::FieldNames()) config_cols.push_back("p." + Quote(k));
  return {
      {"trial_params",
       absl::StrCat("CREATE VIEW trial_params AS SELECT trial_id, ", absl::StrJoin(pivot, ", "),
                    " FROM params GROUP BY trial_id")},
      {"metric_last",
       "CREATE VIEW metric_last AS SELECT m.* FROM metric_summary m JOIN trials t "
       "ON t.id = m.trial_id AND m.attempt = t.attempts"},
      {"coco_last",
       "CREATE VIEW coco_last AS SELECT c.* FROM coco_results c JOIN trials t "
       "ON t.id = c.trial_id AND c.attempt = t.attempts WHERE c.id = (SELECT MAX(c2.id) FROM "
       "coco_results c2 WHERE c2.trial_id = c.trial_id AND c2.attempt = c.attempt)"},
      {"runs",
       absl::StrCat(
           "CREATE VIEW runs AS SELECT t.id AS trial_id, s.name AS sweep, t.status AS status, "
           "t.attempts AS attempts, t.failures AS failures, t.config_hash AS config_hash, "
           "t.point_hash AS point_hash, t.host AS host, "
           "datetime(t.started_at, 'unixepoch') AS started, "
           "datetime(t.finished_at, 'unixepoch') AS finished, "
           "t.finished_at - t.started_at AS duration_s, t.error AS error, "
           "t.git_commit AS git_commit, t.git_dirty AS git_dirty, "
           "t.compilation_mode AS compilation_mode, t.libtorch_version AS libtorch_version, "
           "t.cuda_version AS cuda_version, t.dataset_name AS dataset_name, "
           "t.dataset_hash AS dataset_hash, "
           "(SELECT last_value FROM metric_last ml WHERE ml.trial_id = t.id AND ml.key = 'loss') "
           "AS final_loss, ",
           absl::StrJoin(coco, ", "), ", ", absl::StrJoin(config_cols, ", "),
           " FROM trials t JOIN sweeps s ON s.id = t.sweep_id "
           "LEFT JOIN trial_params p ON p.trial_id = t.id "
           "LEFT JOIN coco_last c ON c.trial_id = t.id")},
  };
}

absl::Status EnsureViews(Db& db) {
  const auto views = ViewDefinitions();
  bool same = true;
  for (const auto& [name, sql] : views) {
    absl::StatusOr<Stmt> st = db.Prepare("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = ?");
    if (!st.ok()) return st.status();
    st->Bind(1, name);
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row || st->Text(0) != sql) same = false;
  }
  if (same) return absl::OkStatus();
  return db.Write([&](Db& d) -> absl::Status {
    // Dropped in reverse order of dependency, created in order.
    for (auto it = views.rbegin(); it != views.rend(); ++it) {
      absl::Status s = d.Exec(absl::StrCat("DROP VIEW IF EXISTS ", it->first));
      if (!s.ok()) return s;
    }
    for (const auto& [name, sql] : views) {
      absl::Status s = d.Exec(sql);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> PragmaInt(Db& db, const std::string& pragma) {
  absl::StatusOr<SqlValue> v = db.QueryValue(absl::StrCat("PRAGMA ", pragma));
  if (!v.ok()) return v.status();
  if (!std::holds_alternative<int64_t>(*v)) return int64_t{0};
  return std::get<int64_t>(*v);
}

}  // namespace

std::string ResolveDbPath(const std::string& db_flag) {
  if (!db_flag.empty()) return ResolveUserPath(db_flag);
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  if (ws != nullptr && ws[0] != '\0') return absl::StrCat(ws, "/experiments.sqlite");
  return "experiments.sqlite";
}

double NowSeconds() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<double>(tv.tv_sec) + tv.tv_usec * 1e-6;
}

absl::StatusOr<ExperimentLog> ExperimentLog::Open(const std::string& path, Options options) {
  if (options.target_version < 1 || options.target_version > kSchemaVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("schema target version ", options.target_version, " is not in [1, ",
                     kSchemaVersion, "]"));
  }
  if (options.mode == Db::kReadOnly && access(path.c_str(), F_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat(path, ": no experiment log here yet (run a sweep first, or pass --db)"));
  }
  absl::StatusOr<Db> db = Db::Open(path, options.mode);
  if (!db.ok()) return db.status();
  // The first read is where SQLite notices a file that is not a database at all.
  absl::StatusOr<int64_t> app_id = PragmaInt(*db, "application_id");
  if (!app_id.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": not an experiment log (", app_id.status().message(), ")"));
  }
  absl::StatusOr<int64_t> version = PragmaInt(*db, "user_version");
  if (!version.ok()) return version.status();
  absl::StatusOr<SqlValue> tables = db->QueryValue("SELECT COUNT(*) FROM sqlite_master");
  if (!tables.ok()) return tables.status();
  const bool empty = std::get<int64_t>(*tables) == 0 && *app_id == 0 && *version == 0;
  if (!empty && *app_id != kApplicationId) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: not an experiment log (SQLite application_id is 0x%08x, expected 0x%08x)%s", path,
        static_cast<uint32_t>(*app_id), static_cast<uint32_t>(kApplicationId),
        options.mode == Db::kReadWrite ? "; refusing to write to a database that is not ours" : ""));
  }
  if (*version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": the experiment log has schema version ", *version,
        ", newer than this build understands (", kSchemaVersion,
        "); update the workbench, or use another --db"));
  }
  ExperimentLog log(std::move(*db));
  if (options.mode == Db::kReadOnly) {
    if (empty) return absl::NotFoundError(absl::StrCat(path, ": no experiment log here yet"));
    if (*version < kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, ": schema version ", *version, " is older than this build's ", kSchemaVersion,
          "; open it once read-write (e.g. run a sweep) to migrate it"));
    }
    return log;
  }
  // WAL lets trials append metrics while the coordinator and readers work on the same file. The mode
  // is stored in the file, so only its first opener switches it; the switch needs an exclusive lock,
  // for which SQLite may answer "locked" at once, without waiting, while another process has the new
  // file open: retry every 50 ms for 30 s, as long as the busy timeout.
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<SqlValue> current = log.db_.QueryValue("PRAGMA journal_mode");
    if (!current.ok()) return current.status();
    const std::string* name = std::get_if<std::string>(&*current);
    if (name != nullptr && absl::AsciiStrToLower(*name) == "wal") break;
    absl::StatusOr<SqlValue> mode = log.db_.QueryValue("PRAGMA journal_mode = WAL");
    if (mode.ok()) {
      // A switch that could not happen answers with the mode the file stays in.
      const std::string* now = std::get_if<std::string>(&*mode);
      if (now != nullptr && absl::AsciiStrToLower(*now) == "wal") break;
    } else if (!absl::StrContains(mode.status().message(), "locked")) {
      return mode.status();
    }
    if (attempt >= 600) {
      return mode.ok() ? absl::UnavailableError(absl::StrCat(path, ": could not switch the log to WAL mode"))
                       : mode.status();
    }
    usleep(50 * 1000);
  }
  if (*version < options.target_version) {
    // Rebuilding a table (version 3) needs foreign keys off; the pragma is a no-op inside a
    // transaction, so it is switched around it, and the rebuilt schema is checked before commit.
    absl::Status fk = log.db_.Exec("PRAGMA foreign_keys = OFF");
    if (!fk.ok()) return fk;
    absl::Status s = log.db_.Write([&](Db& d) -> absl::Status {
      // Re-read inside the write lock: another process may have migrated meanwhile.
      absl::StatusOr<int64_t> v = PragmaInt(d, "user_version");
      if (!v.ok()) return v.status();
      if (*v >= options.target_version) return absl::OkStatus();
      for (const Migration& m : Migrations()) {
        if (m.to_version <= *v || m.to_version > options.target_version) continue;
        absl::Status ms = m.apply(d);
        if (!ms.ok()) {
          return absl::Status(ms.code(), absl::StrCat("migrating to schema version ", m.to_version,
                                                      ": ", ms.message()));
        }
      }
      absl::StatusOr<std::vector<std::vector<SqlValue>>> broken = d.QueryAll("PRAGMA foreign_key_check");
      if (!broken.ok()) return broken.status();
      if (!broken->empty()) {
        return absl::DataLossError(absl::StrCat(
            d.path(), ": migration left ", broken->size(), " rows whose trial or sweep is missing"));
      }
      absl::Status ps = d.Exec(absl::StrCat("PRAGMA application_id = ", kApplicationId));
      if (!ps.ok()) return ps;
      return d.Exec(absl::StrCat("PRAGMA user_version = ", options.target_version));
    });
    absl::Status fk_on = log.db_.Exec("PRAGMA foreign_keys = ON");
    if (!s.ok()) return s;
    if (!fk_on.ok()) return fk_on;
  }
  if (options.target_version == kSchemaVersion) {
    absl::Status s = EnsureViews(log.db_);
    if (!s.ok()) return s;
  }
  return log;
}

absl::StatusOr<int> ExperimentLog::SchemaVersion() {
  absl::StatusOr<int64_t> v = PragmaInt(db_, "user_version");
  if (!v.ok()) return v.status();
  return static_cast<int>(*v);
}

SqlValue ParamValue(const nlohmann::json& v) {
  if (v.is_boolean()) return static_cast<int64_t>(v.get<bool>() ? 1 : 0);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) return v.get<double>();
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return std::monostate{};
  return v.dump();
}

std::string DefaultGoal(const std::string& key) {
  return absl::AsciiStrToLower(key).find("loss") != std::string::npos ? "min" : "max";
}

absl::Status UpdateMetricSummary(Db& db, int64_t trial_id, int attempt, const std::string& key,
                                 int64_t step, std::optional<int64_t> epoch, double value,
                                 const std::string& goal) {
  // A later or equal step replaces "last"; a strictly better value replaces "best" (the first step
  // that reached the best value keeps it).
  absl::StatusOr<Stmt> st = db.Prepare(R"sql(
INSERT INTO metric_summary (trial_id, attempt, key, goal, n, last_value, last_step, last_epoch,
                            best_value, best_step)
VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?5, ?6)
ON CONFLICT (trial_id, attempt, key) DO UPDATE SET
  n = n + 1,
  last_value = CASE WHEN ?6 >= last_step THEN ?5 ELSE last_value END,
  last_epoch = CASE WHEN ?6 >= last_step THEN ?7 ELSE last_epoch END,
  last_step = MAX(last_step, ?6),
  best_step = CASE WHEN (goal = 'min' AND ?5 < best_value) OR (goal = 'max' AND ?5 > best_value)
                   OR best_value IS NULL THEN ?6 ELSE best_step END,
  best_value = CASE WHEN (goal = 'min' AND ?5 < best_value) OR (goal = 'max' AND ?5 > best_value)
                    OR best_value IS NULL THEN ?5 ELSE best_value END
)sql");
  if (!st.ok()) return st.status();
  st->Bind(1, trial_id).Bind(2, attempt).Bind(3, key).Bind(4, goal).Bind(5, value).Bind(6, step);
  if (epoch) {
    st->Bind(7, *epoch);
  } else {
    st->BindNull(7);
  }
  return st->Run();
}

std::vector<std::string> RunsViewFixedColumns() {
  std::vector<std::string> cols = {"trial_id", "sweep", "status", "attempts", "failures",
                                   "config_hash", "point_hash", "host", "started", "finished",
                                   "duration_s", "error", "git_commit", "git_dirty",
                                   "compilation_mode", "libtorch_version", "cuda_version",
                                   "dataset_name", "dataset_hash", "final_loss"};
  for (const char* type : {"bbox", "segm"}) {
    for (const std::string& s : CocoStatNames()) cols.push_back(absl::StrCat(type, "_", s));
  }
  return cols;
}

}  // namespace experiments
