// The rules for untrusted input (label files, annotation and result files, specs, configs, flags),
// in one place: JSON is parsed without exceptions escaping, and an error names the file and where in
// it (line and column, or the JSON path of an overflowing number); text that must become JSON is
// checked for valid UTF-8 first.
//
//   absl::StatusOr<nlohmann::json> j = ParseUntrustedJson(text, "dt.json");
//   // "dt.json: [15].score: the number 1e999 overflows a double"
//   absl::Status s = CheckUtf8(flag_value, "--name");
//   // "--name: not valid UTF-8 (byte 0xff at offset 3)"
#ifndef MRCNN_CONFIG_UNTRUSTED_H_
#define MRCNN_CONFIG_UNTRUSTED_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace mrcnn {

// Parses JSON; never throws. Errors: "<source>: malformed JSON: <reason at line L, column C>", and for a
// number too large for a double "<source>: <path>: the number 1e999 overflows a double", where <path>
// is like `annotations[3].bbox[2]` (`[15].score` inside a top-level array).
absl::StatusOr<nlohmann::json> ParseUntrustedJson(const std::string& text, const std::string& source);

// The JSON path (`images[2].width`) of the value that starts at byte `offset` of `text`; "" at the top.
std::string JsonPathAt(std::string_view text, size_t offset);

// Well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF).
bool IsValidUtf8(std::string_view s);

// OK, or InvalidArgument "<what>: not valid UTF-8 (byte 0xff at offset 3)".
absl::Status CheckUtf8(std::string_view s, const std::string& what);

// Runs a program's main body so that no library exception escapes as an abort: one that slipped past
// the checks above is printed as "<program>: internal error: <what>" and the program exits 70
// (EX_SOFTWARE), having written nothing more.
//   int main(int argc, char** argv) { return mrcnn::GuardedMain("sweep", Main, argc, argv); }
int GuardedMain(const char* program, int (*body)(int, char**), int argc, char** argv);

}  // namespace mrcnn

#endif  // MRCNN_CONFIG_UNTRUSTED_H_
