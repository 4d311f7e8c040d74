#include "experiments/sqlite.h"

#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace experiments {

std::string SqlValueText(const SqlValue& v) {
  if (std::holds_alternative<int64_t>(v)) return std::to_string(std::get<int64_t>(v));
  if (std::holds_alternative<double>(v)) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6g", std::get<double>(v));
    return buf;
  }
  if (std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
  return "";
}

absl::Status SqlError(sqlite3* db, const std::string& path, const std::string& what) {
  const int code = db ? sqlite3_extended_errcode(db) : SQLITE_ERROR;
  const std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
  const std::string text = absl::StrCat(path, ": ", what, ": ", msg);
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(text);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
      return absl::PermissionDeniedError(text);
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return absl::FailedPreconditionError(text);
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(text);
    default:
      return absl::InternalError(text);
  }
}

// ---------------------------------------------------------------------------------------------------
// Stmt

Stmt::Stmt(Stmt&& o) noexcept
    : st_(std::exchange(o.st_, nullptr)), where_(std::move(o.where_)), bind_error_(o.bind_error_) {}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    if (st_) sqlite3_finalize(st_);
    st_ = std::exchange(o.st_, nullptr);
    where_ = std::move(o.where_);
    bind_error_ = o.bind_error_;
  }
  return *this;
}

Stmt::~Stmt() {
  if (st_) sqlite3_finalize(st_);
}

namespace {

absl::Status ReadOnlyFile(const std::string& path) {
  return absl::PermissionDeniedError(absl::StrCat(
      path, ": the database file is read-only (check its permissions); the experiment log needs write "
            "access"));
}

// Percent-escapes what a SQLite URI filename cannot hold literally ('%', '?', '#').
std::string UriEscape(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      absl::StrAppendFormat(&out, "%%%02X", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}
absl::Status BindStatus(sqlite3_stmt* st, int rc, int i, const std::string& where) {
  if (rc == SQLITE_OK) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(where, ": binding parameter ", i, ": ",
                                          sqlite3_errmsg(sqlite3_db_handle(st))));
}
}  // namespace

Stmt& Stmt::Bind(int i, int64_t v) {
  if (bind_error_.ok()) bind_error_ = BindStatus(st_, sqlite3_bind_int64(st_, i, v), i, where_);
  return *this;
}
Stmt& Stmt::Bind(int i, double v) {
  if (bind_error_.ok()) bind_error_ = BindStatus(st_, sqlite3_bind_double(st_, i, v), i, where_);
  return *this;
}
Stmt& Stmt::Bind(int i, const std::string& v) {
  if (bind_error_.ok()) {
    bind_error_ = BindStatus(
        st_, sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT), i,
        where_);
  }
  return *this;
}
Stmt& Stmt::BindNull(int i) {
  if (bind_error_.ok()) bind_error_ = BindStatus(st_, sqlite3_bind_null(st_, i), i, where_);
  return *this;
}
Stmt& Stmt::Bind(int i, const SqlValue& v) {
  if (std::holds_alternative<int64_t>(v)) return Bind(i, std::get<int64_t>(v));
  if (std::holds_alternative<double>(v)) return Bind(i, std::get<double>(v));
  if (std::holds_alternative<std::string>(v)) return Bind(i, std::get<std::string>(v));
  return BindNull(i);
}

absl::StatusOr<bool> Stmt::Step() {
  if (!bind_error_.ok()) return bind_error_;
  const int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(st_);
  return SqlError(db, where_, absl::StrCat("running \"", sqlite3_sql(st_), "\""));
}

absl::Status Stmt::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

int Stmt::ColumnCount() const { return sqlite3_column_count(st_); }
std::string Stmt::ColumnName(int i) const { return sqlite3_column_name(st_, i); }
bool Stmt::IsNull(int i) const { return sqlite3_column_type(st_, i) == SQLITE_NULL; }
int64_t Stmt::Int(int i) const { return sqlite3_column_int64(st_, i); }
double Stmt::Real(int i) const { return sqlite3_column_double(st_, i); }
std::string Stmt::Text(int i) const {
  const unsigned char* t = sqlite3_column_text(st_, i);
  return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(st_, i)) : "";
}
SqlValue Stmt::Column(int i) const {
  switch (sqlite3_column_type(st_, i)) {
    case SQLITE_INTEGER:
      return Int(i);
    case SQLITE_FLOAT:
      return Real(i);
    case SQLITE_NULL:
      return std::monostate{};
    default:
      return Text(i);
  }
}

// ---------------------------------------------------------------------------------------------------
// Db

absl::StatusOr<Db> Db::Open(const std::string& path, Mode mode, int busy_timeout_ms) {
  Db db;
  db.path_ = path;
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": is a folder; give the log's file path, e.g. ", (fs::path(path) / "experiments.sqlite").string()));
  }
  // A WAL-mode log needs its -wal and -shm files beside it: writers (and readers, unless the files
  // exist) must be able to create them in the log's folder.
  const fs::path folder = fs::absolute(fs::path(path), ec).parent_path();
  const bool folder_writable = access(folder.c_str(), W_OK) == 0;
  const bool side_files = fs::exists(path + "-wal", ec) && fs::exists(path + "-shm", ec);
  if (mode == kReadWrite && fs::exists(path, ec) && access(path.c_str(), W_OK) != 0) {
    return ReadOnlyFile(path);
  }
  if (mode == kReadWrite && !folder_writable && !side_files) {
    return absl::PermissionDeniedError(absl::StrCat(
        path, ": its folder ", folder.string(), " cannot be written, and the experiment log (SQLite in WAL "
        "mode) keeps its -wal and -shm files beside it; make the folder writable or use another --db"));
  }
  int flags = mode == kReadWrite ? (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) : SQLITE_OPEN_READONLY;
  std::string name = path;
  if (mode == kReadOnly && !folder_writable && !side_files) {
    // Nobody can be writing it (a writer would need those files), so read it as it stands.
    flags |= SQLITE_OPEN_URI;
    name = absl::StrCat("file:", UriEscape(fs::absolute(fs::path(path), ec).string()), "?immutable=1");
  }
  const int rc = sqlite3_open_v2(name.c_str(), &db.db_, flags | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status s = SqlError(db.db_, path, "cannot open database");
    return s;
  }
  sqlite3_extended_result_codes(db.db_, 1);
  // SQLite silently falls back to read-only when the OS refuses writes; the log must say so up front
  // instead of failing at the first write.
  if (mode == kReadWrite && sqlite3_db_readonly(db.db_, "main") == 1) return ReadOnlyFile(path);
  sqlite3_busy_timeout(db.db_, busy_timeout_ms);
  absl::Status s = db.Exec("PRAGMA foreign_keys = ON");
  if (!s.ok()) return s;
  return db;
}

Db::Db(Db&& o) noexcept : db_(std::exchange(o.db_, nullptr)), path_(std::move(o.path_)) {}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    if (db_) sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
    path_ = std::move(o.path_);
  }
  return *this;
}

Db::~Db() {
  if (db_) sqlite3_close_v2(db_);
}

absl::StatusOr<Stmt> Db::Prepare(const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &st, nullptr) !=
      SQLITE_OK) {
    return SqlError(db_, path_, absl::StrCat("preparing \"", sql, "\""));
  }
  return Stmt(st, path_);
}

absl::Status Db::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    sqlite3_free(err);
    return SqlError(db_, path_, absl::StrCat("running \"", sql.substr(0, 200), "\""));
  }
  return absl::OkStatus();
}

absl::Status Db::Write(const std::function<absl::Status(Db&)>& body) {
  absl::Status s = Exec("BEGIN IMMEDIATE");
  if (!s.ok()) return s;
  s = body(*this);
  if (!s.ok()) {
    Exec("ROLLBACK").IgnoreError();
    return s;
  }
  s = Exec("COMMIT");
  if (!s.ok()) Exec("ROLLBACK").IgnoreError();
  return s;
}

absl::StatusOr<SqlValue> Db::QueryValue(const std::string& sql) {
  absl::StatusOr<Stmt> st = Prepare(sql);
  if (!st.ok()) return st.status();
  absl::StatusOr<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return SqlValue{};
  return st->Column(0);
}

absl::StatusOr<std::vector<std::vector<SqlValue>>> Db::QueryAll(
    const std::string& sql, const std::vector<SqlValue>& params, std::vector<std::string>* columns) {
  absl::StatusOr<Stmt> st = Prepare(sql);
  if (!st.ok()) return st.status();
  for (size_t i = 0; i < params.size(); ++i) st->Bind(static_cast<int>(i + 1), params[i]);
  if (columns) {
    columns->clear();
    for (int i = 0; i < st->ColumnCount(); ++i) columns->push_back(st->ColumnName(i));
  }
  std::vector<std::vector<SqlValue>> rows;
  while (true) {
    absl::StatusOr<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    std::vector<SqlValue> r;
    for (int i = 0; i < st->ColumnCount(); ++i) r.push_back(st->Column(i));
    rows.push_back(std::move(r));
  }
  return rows;
}

bool Db::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }
int64_t Db::LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
int Db::Changes() const { return sqlite3_changes(db_); }

}  // namespace experiments
