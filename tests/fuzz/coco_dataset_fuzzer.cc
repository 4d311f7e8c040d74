// COCO instances JSON as a training dataset (datasets/coco.h, not eval/): the input is
// annotations.json in a folder with img.png (16x12). Polygons, uncompressed and compressed RLE
// segmentations (datasets/raster.cc DecodeCompressedRleCounts) go through the annotation checks and
// rasterisation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "datasets/coco.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mrcnn::datasets;
  static const std::string dir = [] {
    const std::string d = mrcnn::fuzz::ScratchDir("coco");
    mrcnn::fuzz::WritePngOrDie(d + "/img.png", 16, 12);
    return d;
  }();
  mrcnn::fuzz::WriteFileOrDie(dir + "/annotations.json", data, size);
  CocoOptions options;
  options.annotation_file = dir + "/annotations.json";
  options.image_dir = dir;
  ProblemLog log;
  absl::StatusOr<Dataset> ds = LoadCoco(options, &log);
  if (ds.ok()) {
    for (int i = 0; i < ds->num_images(); ++i) (void)ds->LoadMask(i);
  }
  (void)log.Report();
  return 0;
}
