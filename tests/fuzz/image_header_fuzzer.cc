// Image headers (datasets/image_io.h ReadImageHeaderFromBytes): JPEG markers with EXIF orientation,
// and PNG's IHDR, read without decoding. These are the project's own parsers of image files (and of
// labelme's embedded imageData); other formats go to OpenCV's decoders, which are not fuzzed here, so
// inputs that are neither JPEG nor PNG are skipped.
#include <cstddef>
#include <cstdint>
#include <string>

#include "datasets/image_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const bool jpeg = size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
  const bool png = bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
  if (!jpeg && !png) return 0;
  absl::StatusOr<mrcnn::datasets::ImageHeader> h =
      mrcnn::datasets::ReadImageHeaderFromBytes(bytes, "image");
  if (h.ok() && (h->width <= 0 || h->height <= 0)) __builtin_trap();  // sizes are checked positive
  return 0;
}
