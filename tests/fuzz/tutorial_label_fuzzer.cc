// Tutorial label files (datasets/tutorial.h): the input is one label file's text. ParseTutorialLabel
// reads it in memory; LoadTutorial then reads it from a tutorial layout beside a 16x12 PNG, which takes
// the instances on through class discovery, the annotation checks and rasterisation, as users' files go.
#include <cstddef>
#include <cstdint>
#include <string>

#include "datasets/tutorial.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mrcnn::datasets;
  static const std::string root = [] {
    const std::string dir = mrcnn::fuzz::ScratchDir("tutorial");
    mrcnn::fuzz::WritePngOrDie(dir + "/JPEGImages/img.png", 16, 12);
    return dir;
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  ProblemLog parse_log;
  (void)ParseTutorialLabel(text, "img.txt", &parse_log);

  mrcnn::fuzz::WriteFileOrDie(root + "/Segmentations/img.txt", data, size);
  TutorialOptions options;
  options.root = root;
  ProblemLog log;
  absl::StatusOr<Dataset> ds = LoadTutorial(options, &log);
  if (ds.ok()) {
    for (int i = 0; i < ds->num_images(); ++i) (void)ds->LoadMask(i);
  }
  (void)log.Report();
  return 0;
}
