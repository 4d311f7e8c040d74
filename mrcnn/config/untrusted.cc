#include "mrcnn/config/untrusted.h"

#include <exception>
#include <iostream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mrcnn {
namespace {

// Length of the UTF-8 sequence starting at s[i] when well formed, else 0.
size_t Utf8Length(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// Offset of the first number token in `text` spelled exactly `token`, or npos.
size_t FindNumberToken(const std::string& text, const std::string& token) {
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (text.compare(i, token.size(), token) == 0) {
      const size_t end = i + token.size();
      const bool delimited = end == text.size() || std::string_view(",]} \t\r\n").find(text[end]) !=
                                                       std::string_view::npos;
      if (delimited) return i;
    }
  }
  return std::string::npos;
}

std::string LineColumn(std::string_view text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return absl::StrCat("line ", line, ", column ", column);
}

}  // namespace

std::string JsonPathAt(std::string_view text, size_t offset) {
  struct Level {
    bool array;
    int64_t index = 0;
    std::string key;
  };
  std::vector<Level> stack;
  bool in_string = false, string_is_key = false;
  std::string current;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        if (i + 1 < text.size()) current += text[++i];
      } else if (c == '"') {
        in_string = false;
        if (string_is_key && !stack.empty()) stack.back().key = current;
      } else {
        current += c;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        current.clear();
        // A string is a key when it opens an object member: after '{' or ',' inside an object.
        string_is_key = !stack.empty() && !stack.back().array && stack.back().key.empty();
        break;
      case '{':
        stack.push_back({false});
        break;
      case '[':
        stack.push_back({true});
        break;
      case '}':
      case ']':
        if (!stack.empty()) stack.pop_back();
        break;
      case ',':
        if (!stack.empty()) {
          if (stack.back().array) {
            ++stack.back().index;
          } else {
            stack.back().key.clear();
          }
        }
        break;
      default:
        break;
    }
  }
  std::string path;
  for (const Level& l : stack) {
    if (l.array) {
      absl::StrAppend(&path, "[", l.index, "]");
    } else {
      absl::StrAppend(&path, path.empty() ? "" : ".", l.key);
    }
  }
  return path;
}

absl::StatusOr<nlohmann::json> ParseUntrustedJson(const std::string& text, const std::string& source) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() says "parse error at line L, column C: ...".
    return absl::InvalidArgumentError(absl::StrCat(source, ": malformed JSON: ", e.what()));
  } catch (const nlohmann::json::out_of_range& e) {
    // 406: "number overflow parsing '1e999'"; name where the number stands.
    const std::string what = e.what();
    const size_t open = what.find('\''), close = what.rfind('\'');
    if (e.id == 406 && open != std::string::npos && close > open) {
      const std::string token = what.substr(open + 1, close - open - 1);
      const size_t at = FindNumberToken(text, token);
      if (at != std::string::npos) {
        const std::string path = JsonPathAt(text, at);
        return absl::InvalidArgumentError(absl::StrCat(source, ": ", path.empty() ? "" : path + ": ",
                                                       "the number ", token, " overflows a double (",
                                                       LineColumn(text, at), ")"));
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(source, ": malformed JSON: ", what));
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": malformed JSON: ", e.what()));
  }
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8Length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

absl::Status CheckUtf8(std::string_view s, const std::string& what) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8Length(s, i);
    if (n == 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: not valid UTF-8 (byte 0x%02x at offset %d)", what, static_cast<unsigned char>(s[i]), i));
    }
    i += n;
  }
  return absl::OkStatus();
}

int GuardedMain(const char* program, int (*body)(int, char**), int argc, char** argv) {
  try {
    return body(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << program << ": internal error: " << e.what()
              << "\n(an input reached a library check the program does not make itself; please report it "
                 "with the input)\n";
  } catch (...) {
    std::cerr << program << ": internal error: an unknown exception\n";
  }
  return 70;
}

}  // namespace mrcnn
