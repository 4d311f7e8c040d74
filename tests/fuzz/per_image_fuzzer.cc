// Per-image evaluation files (eval/per_image.h ParsePerImageEval), then a resample accumulated from
// them. The harness appends the file's FNV-1a checksum to the input, so that the fuzzer reaches the
// parser behind the checksum; the first byte picks the resample's counts (image i drawn
// (i + byte) % 3 times).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "eval/per_image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int salt = data[0];
  std::string file(reinterpret_cast<const char*>(data + 1), size - 1);
  uint64_t h = 1469598103934665603ull;  // FNV-1a, as the format's trailer
  for (unsigned char c : file) {
    h ^= c;
    h *= 1099511628211ull;
  }
  file.append(reinterpret_cast<const char*>(&h), sizeof(h));
  absl::StatusOr<std::shared_ptr<const mrcnn::eval::PerImageEval>> parsed =
      mrcnn::eval::ParsePerImageEval(file, "fuzz.pie");
  if (!parsed.ok()) return 0;
  absl::StatusOr<mrcnn::eval::ResampleAccumulator> acc = mrcnn::eval::ResampleAccumulator::Create(*parsed);
  if (!acc.ok()) return 0;
  // Bounded work: the parser accepts any size the bytes describe.
  if (acc->num_images() > 4096) return 0;
  std::vector<int> counts(acc->num_images());
  for (int i = 0; i < acc->num_images(); ++i) counts[i] = (i + salt) % 3;
  (void)acc->Accumulate(counts);
  return 0;
}
