// A thin RAII layer over the SQLite C API for the experiment log: a connection, prepared statements
// with bound parameters only, and write transactions that always start with BEGIN IMMEDIATE.
//
//   absl::StatusOr<Db> db = Db::Open("experiments.sqlite", Db::kReadWrite);
//   absl::Status s = db->Write([&](Db& d) -> absl::Status {
//     Stmt st = d.Prepare("INSERT INTO t(a, b) VALUES (?, ?)").value();
//     st.Bind(1, int64_t{3}); st.Bind(2, "x");
//     return st.Run();
//   });
//
// Every error names the database file and the SQLite message. Values go in through Bind only; SQL text
// is never built from user data.
#ifndef EXPERIMENTS_SQLITE_H_
#define EXPERIMENTS_SQLITE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace experiments {

// A value as SQLite stores it: NULL, integer, real or text (SQLite's dynamic typing kept as is).
using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;

// Renders a value for tables and CSV: NULL as "", reals with up to 6 significant digits.
std::string SqlValueText(const SqlValue& v);

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3_stmt* st, std::string where) : st_(st), where_(std::move(where)) {}
  Stmt(Stmt&& o) noexcept;
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Parameters are 1-based, like SQLite's.
  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
  Stmt& Bind(int i, double v);
  Stmt& Bind(int i, const std::string& v);
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string(v)); }
  Stmt& Bind(int i, const SqlValue& v);
  Stmt& BindNull(int i);

  // Steps once: true when a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Steps to completion (for statements that return no rows).
  absl::Status Run();

  int ColumnCount() const;
  std::string ColumnName(int i) const;
  SqlValue Column(int i) const;
  int64_t Int(int i) const;
  double Real(int i) const;
  std::string Text(int i) const;
  bool IsNull(int i) const;

 private:
  sqlite3_stmt* st_ = nullptr;
  std::string where_;  // database path, for error messages
  absl::Status bind_error_;
};

class Db {
 public:
  enum Mode { kReadWrite, kReadOnly };

  // Opens (creating in read-write mode) the database file, sets busy_timeout and foreign keys. A file
  // that the OS does not let us write is an error in read-write mode.
  static absl::StatusOr<Db> Open(const std::string& path, Mode mode, int busy_timeout_ms = 30000);

  Db() = default;
  Db(Db&& o) noexcept;
  Db& operator=(Db&& o) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  const std::string& path() const { return path_; }
  sqlite3* raw() const { return db_; }

  absl::StatusOr<Stmt> Prepare(const std::string& sql);
  // Runs SQL text with no parameters (schema statements, pragmas).
  absl::Status Exec(const std::string& sql);
  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back when body fails. Not reentrant.
  absl::Status Write(const std::function<absl::Status(Db&)>& body);
  // Runs a one-row query and returns its first column (NULL when there is no row).
  absl::StatusOr<SqlValue> QueryValue(const std::string& sql);
  // Runs a query and returns all rows (for reports); column names in *columns when not null.
  absl::StatusOr<std::vector<std::vector<SqlValue>>> QueryAll(
      const std::string& sql, const std::vector<SqlValue>& params = {},
      std::vector<std::string>* columns = nullptr);

  bool InTransaction() const;
  int64_t LastInsertId() const;
  int Changes() const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// An error that names the database and the failing step with SQLite's message.
absl::Status SqlError(sqlite3* db, const std::string& path, const std::string& what);

}  // namespace experiments

#endif  // EXPERIMENTS_SQLITE_H_
