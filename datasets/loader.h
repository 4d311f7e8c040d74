// BatchLoader: prepares images on worker threads and yields batches of BATCH_SIZE as LibTorch tensors,
// in an order fixed by (seed, epoch), with a known number of batches per epoch.
//
//   BatchLoader loader(dataset, config, {.shuffle = true, .augment = true, .seed = 3, .num_workers = 2});
//   for (int epoch = 0; epoch < 10; ++epoch) {
//     loader.StartEpoch(epoch);
//     while (true) {
//       absl::StatusOr<Batch> b = loader.Next();
//       if (absl::IsOutOfRange(b.status())) break;   // epoch done
//       if (!b.ok()) return b.status();               // names the image file and the reason
//       ...  // b->images [B, 3, H, W]
//     }
//   }
//
// Each image's random choices (flip, crop, instance subset) come from a seed derived from (seed, epoch,
// position in the epoch), so batches are the same whatever the number of workers or their timing.
#ifndef DATASETS_LOADER_H_
#define DATASETS_LOADER_H_

#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "datasets/dataset.h"
#include "datasets/preprocess.h"
#include "mrcnn/config/config.h"

namespace mrcnn::datasets {

struct Batch {
  at::Tensor images;                  // [B, 3, H, W] float32, normalised; padded bottom/right with 0;
                                      // image i's own size is meta[i].height, width
  std::vector<at::Tensor> boxes;      // per image [N, 4] float32 (x1, y1, x2, y2), pixels of images
  std::vector<at::Tensor> class_ids;  // per image [N] int64, 1..NUM_CLASSES-1
  std::vector<at::Tensor> masks;      // per image [N, h, w] uint8 0/1; h, w = MINI_MASK_SHAPE or H, W
                                      // (N may be 0: matterport's trainer skips such images)
  std::vector<at::Tensor> crowd;      // per image [N] bool (COCO iscrowd)
  std::vector<ImageMeta> meta;
  int size() const { return static_cast<int>(meta.size()); }
};

// A prepared image (H x W CV_32FC3) as the model takes it: [3, H, W] float32.
at::Tensor ImageTensor(const cv::Mat& image);

// Stacks prepared images into a Batch, padding every image to the largest height and width rounded up
// to `size_divisible`.
Batch MakeBatch(const std::vector<PreparedImage>& images, int size_divisible);
// 32 for the torchvision resize (its size_divisible), else 64 (matterport's 2^6 requirement).
int SizeDivisible(const mrcnn::Config& config);

struct LoaderOptions {
  bool shuffle = true;
  bool augment = false;      // random horizontal flips
  uint64_t seed = 0;
  int num_workers = 2;
  int prefetch_batches = 4;  // batches prepared ahead of the consumer
  bool drop_last = false;    // drop a last partial batch
  // Data-parallel training: this process prepares only its part of every batch, the `shard`-th of
  // `num_shards` consecutive slices (BATCH_SIZE / num_shards images when that divides), so that the
  // shards of all ranks together are the one-process batch, in its order and with its augmentation.
  int shard = 0;
  int num_shards = 1;
};

class BatchLoader {
 public:
  BatchLoader(std::shared_ptr<const Dataset> dataset, const mrcnn::Config& config, const LoaderOptions& options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  int batch_size() const { return batch_size_; }
  int batches_per_epoch() const;
  // Image indices in the order epoch `epoch` visits them.
  std::vector<int> EpochOrder(int epoch) const;
  // Starts preparing epoch `epoch` (stopping an unfinished one).
  void StartEpoch(int epoch);
  // The next batch; OutOfRange when the epoch is over (or was never started).
  absl::StatusOr<Batch> Next();

 private:
  void Stop();
  void Work();

  std::shared_ptr<const Dataset> dataset_;
  mrcnn::Config config_;
  LoaderOptions options_;
  int batch_size_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> workers_;
  std::vector<int> order_;
  int epoch_ = 0;
  int num_batches_ = 0;
  int next_task_ = 0;  // next batch a worker takes
  int consumed_ = 0;   // batches handed to the caller
  bool stopping_ = false;
  std::vector<std::optional<absl::StatusOr<Batch>>> slots_;
};

}  // namespace mrcnn::datasets

#endif  // DATASETS_LOADER_H_
