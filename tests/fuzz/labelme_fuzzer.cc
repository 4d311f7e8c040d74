// labelme JSON (datasets/labelme.h): the input is one labelme file, a.json, in a folder that also holds
// img.png (16x12). An "imagePath" of img.png finds the image; anything else falls back to the embedded
// base64 "imageData", whose bytes go through DecodeBase64 and the image header reader. Shapes then go
// through grouping, class discovery, the annotation checks and rasterisation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "datasets/labelme.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mrcnn::datasets;
  static const std::string dir = [] {
    const std::string d = mrcnn::fuzz::ScratchDir("labelme");
    mrcnn::fuzz::WritePngOrDie(d + "/img.png", 16, 12);
    return d;
  }();
  mrcnn::fuzz::WriteFileOrDie(dir + "/a.json", data, size);
  LabelmeOptions options;
  options.dir = dir;
  ProblemLog log;
  absl::StatusOr<Dataset> ds = LoadLabelme(options, &log);
  if (ds.ok()) {
    for (int i = 0; i < ds->num_images(); ++i) (void)ds->LoadMask(i);
  }
  (void)log.Report();
  // The base64 decoder on its own, with the input as imageData text.
  (void)DecodeBase64(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
