#include "datasets/problems.h"

#include "absl/strings/str_cat.h"

namespace mrcnn::datasets {

std::string Problem::ToString() const {
  if (instance >= 0) return absl::StrCat(file, ": instance ", instance, ": ", reason);
  return absl::StrCat(file, ": ", reason);
}

absl::Status ProblemLog::Error(const std::string& file, int instance, const std::string& reason) {
  problems_.push_back({Severity::kError, file, instance, reason});
  if (strict_) return absl::InvalidArgumentError(problems_.back().ToString());
  return absl::OkStatus();
}

void ProblemLog::Warning(const std::string& file, int instance, const std::string& reason) {
  problems_.push_back({Severity::kWarning, file, instance, reason});
}

int ProblemLog::num_errors() const {
  int n = 0;
  for (const Problem& p : problems_) n += p.severity == Severity::kError;
  return n;
}

int ProblemLog::num_warnings() const { return static_cast<int>(problems_.size()) - num_errors(); }

bool ProblemLog::Has(const std::string& file, const std::string& reason_part) const {
  for (const Problem& p : problems_) {
    const std::string text = p.ToString();
    if (text.find(file) != std::string::npos && text.find(reason_part) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string ProblemLog::Report() const {
  std::string out;
  for (const Problem& p : problems_) {
    absl::StrAppend(&out, p.severity == Severity::kError ? "error: " : "warning: ", p.ToString(), "\n");
  }
  for (const auto& [what, n] : counters_) absl::StrAppend(&out, what, ": ", n, "\n");
  absl::StrAppend(&out, num_errors(), " error(s) (items skipped), ", num_warnings(),
                  " warning(s) (items repaired and kept)\n");
  return out;
}

}  // namespace mrcnn::datasets
