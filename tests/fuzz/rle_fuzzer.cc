// COCO compressed RLE strings (eval/rle.h RleFromCompressedString): the first two bytes give the mask
// size (height 0..63, width 0..63), the rest is the "counts" string. A string the parser accepts must
// survive RleToCompressedString and back unchanged, and measure like its decoded pixels. The dataset
// loaders' own decoder (datasets/raster.h DecodeCompressedRleCounts) reads the same string and must
// agree on every string both accept.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "datasets/raster.h"
#include "eval/rle.h"

namespace {

[[noreturn]] void Fail(const char* what, std::string_view counts) {
  std::fprintf(stderr, "rle_fuzzer: %s for counts \"%.*s\"\n", what, static_cast<int>(counts.size()),
               counts.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mrcnn;
  if (size < 2) return 0;
  const int64_t height = data[0] & 63, width = data[1] & 63;
  const std::string_view counts(reinterpret_cast<const char*>(data + 2), size - 2);

  absl::StatusOr<eval::Rle> rle = eval::RleFromCompressedString(counts, height, width);
  absl::StatusOr<std::vector<uint32_t>> runs = datasets::DecodeCompressedRleCounts(std::string(counts));
  if (rle.ok() && runs.ok() && rle->counts != *runs) Fail("the two decoders disagree", counts);
  if (!rle.ok()) return 0;

  const std::string again = eval::RleToCompressedString(*rle);
  absl::StatusOr<eval::Rle> round_trip = eval::RleFromCompressedString(again, height, width);
  if (!round_trip.ok() || round_trip->counts != rle->counts) Fail("encode/decode round trip differs", counts);

  const std::vector<uint8_t> pixels = eval::RleToColumnMajor(*rle);
  uint64_t set = 0;
  for (uint8_t p : pixels) set += p;
  if (set != eval::RleArea(*rle)) Fail("RleArea differs from the decoded pixels", counts);
  const eval::Rle reencoded = eval::RleFromColumnMajor(pixels.data(), height, width);
  if (eval::RleToColumnMajor(reencoded) != pixels) Fail("pixels do not survive re-encoding", counts);
  (void)eval::RleToBox(*rle);
  (void)eval::MaskIou(*rle, reencoded, /*gt_is_crowd=*/false);
  return 0;
}
