// Class maps (datasets/class_map.h): the input is both a --class_map flag value
// (ParseClassMapFlag: "40=sign,51=sign_back") and a class-map file (LoadClassMapFile: JSON object,
// JSON list of pairs, or "code name" lines). Accepted maps must name each code once.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "datasets/class_map.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

void Check(const mrcnn::datasets::ClassMap& m) {
  if (m.codes.size() != m.names.size()) __builtin_trap();
  std::set<std::string> seen;
  for (int i = 0; i < m.size(); ++i) {
    if (m.codes[i].empty() || m.names[i].empty() || !seen.insert(m.codes[i]).second) __builtin_trap();
    if (m.IdOf(m.codes[i]) != i + 1) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mrcnn::datasets;
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ClassMap> flag = ParseClassMapFlag(text);
  if (flag.ok()) Check(*flag);

  static const std::string path = mrcnn::fuzz::ScratchDir("class_map") + "/classes.txt";
  mrcnn::fuzz::WriteFileOrDie(path, data, size);
  absl::StatusOr<ClassMap> file = LoadClassMapFile(path);
  if (file.ok()) Check(*file);
  return 0;
}
