#include "datasets/class_map.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "datasets/image_io.h"
#include "nlohmann/json.hpp"

namespace mrcnn::datasets {

int ClassMap::IdOf(const std::string& code) const {
  for (int i = 0; i < size(); ++i) {
    if (codes[i] == code) return i + 1;
  }
  return -1;
}

namespace {

absl::Status Add(ClassMap* m, const std::string& code, const std::string& name, const std::string& where) {
  if (code.empty() || name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": empty class code or name"));
  }
  if (m->IdOf(code) > 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": class code '", code, "' given twice"));
  }
  m->codes.push_back(code);
  m->names.push_back(name);
  return absl::OkStatus();
}

std::string JsonText(const nlohmann::ordered_json& j) {
  return j.is_string() ? j.get<std::string>() : j.dump();
}

}  // namespace

absl::StatusOr<ClassMap> ParseClassMapFlag(const std::string& text) {
  ClassMap m;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::vector<std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    const std::string code(absl::StripAsciiWhitespace(kv[0]));
    const std::string name(absl::StripAsciiWhitespace(kv.size() > 1 ? kv[1] : kv[0]));
    absl::Status s = Add(&m, code, name, absl::StrCat("class map '", text, "'"));
    if (!s.ok()) return s;
  }
  if (m.empty()) return absl::InvalidArgumentError(absl::StrCat("class map '", text, "' is empty"));
  return m;
}

absl::StatusOr<ClassMap> LoadClassMapFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileBytes(path);
  if (!text.ok()) return text.status();
  ClassMap m;
  const std::string trimmed(absl::StripAsciiWhitespace(*text));
  if (!trimmed.empty() && (trimmed[0] == '{' || trimmed[0] == '[')) {
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(trimmed, nullptr, false);
    if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, ": malformed JSON"));
    if (j.is_object()) {
      for (auto it = j.begin(); it != j.end(); ++it) {
        absl::Status s = Add(&m, it.key(), JsonText(it.value()), path);
        if (!s.ok()) return s;
      }
    } else {
      for (const auto& e : j) {
        if (!(e.is_array() && e.size() == 2)) {
          return absl::InvalidArgumentError(absl::StrCat(path, ": entries must be [code, name] pairs"));
        }
        absl::Status s = Add(&m, JsonText(e[0]), JsonText(e[1]), path);
        if (!s.ok()) return s;
      }
    }
  } else {
    int line_no = 0;
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      ++line_no;
      line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
      if (line.empty()) continue;
      std::vector<std::string> kv = absl::StrSplit(line, absl::MaxSplits(absl::ByAnyChar("= \t"), 1));
      const std::string code(absl::StripAsciiWhitespace(kv[0]));
      const std::string name(absl::StripAsciiWhitespace(kv.size() > 1 ? kv[1] : kv[0]));
      absl::Status s = Add(&m, code, name, absl::StrCat(path, ":", line_no));
      if (!s.ok()) return s;
    }
  }
  if (m.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": class map is empty"));
  return m;
}

ClassMap DiscoverClassMap(const std::set<std::string>& codes) {
  std::vector<std::string> sorted(codes.begin(), codes.end());
  bool all_int = true;
  for (const std::string& c : sorted) {
    long long v;
    all_int = all_int && absl::SimpleAtoi(c, &v);
  }
  if (all_int) {
    std::sort(sorted.begin(), sorted.end(), [](const std::string& a, const std::string& b) {
      long long x = 0, y = 0;
      (void)absl::SimpleAtoi(a, &x);
      (void)absl::SimpleAtoi(b, &y);
      return x < y;
    });
  }
  ClassMap m;
  m.codes = sorted;
  m.names = sorted;
  return m;
}

ClassMap TutorialClassMap() {
  return ParseClassMapFlag("40=sign,51=sign_back,59=side_sign,60=side_sign_back,61=led").value();
}

}  // namespace mrcnn::datasets
