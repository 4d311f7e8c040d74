// Config files (mrcnn/config/config.h): the input is a --config JSON file. BuildConfig reads it as
// every binary does (its "preset", then the overrides, then Validate); LoadConfigFile reads it onto
// the shapes preset. Accepted configs are printed and hashed as the experiment log does.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "mrcnn/config/config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = mrcnn::fuzz::ScratchDir("config") + "/config.json";
  mrcnn::fuzz::WriteFileOrDie(path, data, size);
  absl::StatusOr<mrcnn::Config> built = mrcnn::BuildConfig("", path, {});
  if (built.ok()) {
    std::ostringstream out;
    built->Display(out);
    (void)built->Hash();
    absl::StatusOr<mrcnn::Config> again = mrcnn::Config::FromJson(built->ToJson(), "round trip");
    if (!again.ok() || *again != *built) __builtin_trap();  // ToJson/FromJson must round-trip
  }
  static const mrcnn::Config shapes = mrcnn::Config::Preset("shapes").value();
  (void)mrcnn::LoadConfigFile(path, shapes);
  return 0;
}
