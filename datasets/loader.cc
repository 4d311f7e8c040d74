#include "datasets/loader.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "datasets/random.h"

namespace mrcnn::datasets {

int SizeDivisible(const mrcnn::Config& config) { return config.IMAGE_RESIZE_MODE == mrcnn::ResizeMode::kTorchvision ? 32 : 64; }

at::Tensor ImageTensor(const cv::Mat& input) {
  cv::Mat image = input;
  if (image.depth() != CV_32F) input.convertTo(image, CV_32F);
  CV_Assert(image.channels() == 3);
  at::Tensor out = at::empty({3, image.rows, image.cols}, at::kFloat);
  float* dst = out.data_ptr<float>();
  const int64_t plane = static_cast<int64_t>(image.rows) * image.cols;
  for (int y = 0; y < image.rows; ++y) {
    const float* row = image.ptr<float>(y);
    for (int c = 0; c < 3; ++c) {
      float* d = dst + c * plane + static_cast<int64_t>(y) * image.cols;
      for (int x = 0; x < image.cols; ++x) d[x] = row[x * 3 + c];
    }
  }
  return out;
}

// Tensors are filled through raw pointers: at:: ops would start OpenMP teams on every worker thread,
// which compete for the cores the training step needs (and slowed a one-worker loader 15x).
Batch MakeBatch(const std::vector<PreparedImage>& images, int size_divisible) {
  Batch batch;
  int h = 0, w = 0;
  for (const PreparedImage& p : images) {
    h = std::max(h, p.image.rows);
    w = std::max(w, p.image.cols);
  }
  h = (h + size_divisible - 1) / size_divisible * size_divisible;
  w = (w + size_divisible - 1) / size_divisible * size_divisible;
  const int64_t b = static_cast<int64_t>(images.size());
  batch.images = at::empty({b, 3, h, w}, at::kFloat);
  float* out = batch.images.data_ptr<float>();
  std::fill(out, out + b * 3 * h * w, 0.0f);
  for (int64_t i = 0; i < b; ++i) {
    const PreparedImage& p = images[i];
    for (int y = 0; y < p.image.rows; ++y) {
      const float* row = p.image.ptr<float>(y);
      for (int c = 0; c < 3; ++c) {
        float* dst = out + ((i * 3 + c) * h + y) * w;
        for (int x = 0; x < p.image.cols; ++x) dst[x] = row[x * 3 + c];
      }
    }
    const int64_t n = static_cast<int64_t>(p.boxes.size());
    at::Tensor boxes = at::empty({n, 4}, at::kFloat);
    at::Tensor ids = at::empty({n}, at::kLong);
    at::Tensor crowd = at::empty({n}, at::kBool);
    const int mh = n ? p.masks[0].rows : p.mask_height, mw = n ? p.masks[0].cols : p.mask_width;
    at::Tensor masks = at::empty({n, mh, mw}, at::kByte);
    float* box_ptr = boxes.data_ptr<float>();
    int64_t* id_ptr = ids.data_ptr<int64_t>();
    bool* crowd_ptr = crowd.data_ptr<bool>();
    uint8_t* mask_ptr = masks.data_ptr<uint8_t>();
    for (int64_t k = 0; k < n; ++k) {
      std::copy(p.boxes[k].begin(), p.boxes[k].end(), box_ptr + 4 * k);
      id_ptr[k] = p.class_ids[k];
      crowd_ptr[k] = p.crowd[k];
      for (int y = 0; y < mh; ++y) {
        const uint8_t* row = p.masks[k].ptr<uint8_t>(y);
        std::copy(row, row + mw, mask_ptr + (k * mh + y) * mw);
      }
    }
    batch.boxes.push_back(boxes);
    batch.class_ids.push_back(ids);
    batch.crowd.push_back(crowd);
    batch.masks.push_back(masks);
    batch.meta.push_back(p.meta);
  }
  return batch;
}

BatchLoader::BatchLoader(std::shared_ptr<const Dataset> dataset, const mrcnn::Config& config,
                         const LoaderOptions& options)
    : dataset_(std::move(dataset)), config_(config), options_(options), batch_size_(std::max(1, config.BATCH_SIZE())) {}

BatchLoader::~BatchLoader() { Stop(); }

int BatchLoader::batches_per_epoch() const {
  const int n = dataset_->num_images();
  return options_.drop_last ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

std::vector<int> BatchLoader::EpochOrder(int epoch) const {
  std::vector<int> order(dataset_->num_images());
  std::iota(order.begin(), order.end(), 0);
  if (options_.shuffle) {
    Rng rng(DeriveSeed(options_.seed, "epoch_order", static_cast<uint64_t>(epoch)));
    rng.Shuffle(&order);
  }
  return order;
}

void BatchLoader::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
  stopping_ = false;
}

void BatchLoader::StartEpoch(int epoch) {
  Stop();
  order_ = EpochOrder(epoch);
  epoch_ = epoch;
  num_batches_ = batches_per_epoch();
  next_task_ = 0;
  consumed_ = 0;
  slots_.assign(num_batches_, std::nullopt);
  const int workers = std::max(1, options_.num_workers);
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { Work(); });
}

void BatchLoader::Work() {
  while (true) {
    int b;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        return stopping_ || next_task_ >= num_batches_ || next_task_ < consumed_ + std::max(1, options_.prefetch_batches);
      });
      if (stopping_ || next_task_ >= num_batches_) return;
      b = next_task_++;
    }
    const int batch_begin = b * batch_size_;
    const int batch_end = std::min<int>(batch_begin + batch_size_, static_cast<int>(order_.size()));
    // This process's slice of the batch (all of it unless sharded).
    const int shards = std::max(1, options_.num_shards), n = batch_end - batch_begin;
    const int begin = batch_begin + n * options_.shard / shards;
    const int end = batch_begin + n * (options_.shard + 1) / shards;
    std::vector<PreparedImage> prepared;
    absl::Status status;
    for (int pos = begin; pos < end && status.ok(); ++pos) {
      Rng rng(DeriveSeed(options_.seed, "augment",
                         static_cast<uint64_t>(epoch_) * order_.size() + static_cast<uint64_t>(pos)));
      absl::StatusOr<PreparedImage> p = PrepareImage(*dataset_, order_[pos], config_, options_.augment, &rng);
      if (p.ok()) prepared.push_back(*std::move(p));
      else status = p.status();
    }
    std::optional<absl::StatusOr<Batch>> result;
    if (status.ok()) result = MakeBatch(prepared, SizeDivisible(config_));
    else result = absl::StatusOr<Batch>(status);
    {
      std::lock_guard<std::mutex> lock(mu_);
      slots_[b] = std::move(result);
    }
    cv_.notify_all();
  }
}

absl::StatusOr<Batch> BatchLoader::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  if (consumed_ >= num_batches_) {
    return absl::OutOfRangeError(absl::StrCat("epoch ", epoch_, " has no more batches"));
  }
  const int b = consumed_;
  cv_.wait(lock, [&] { return slots_[b].has_value(); });
  absl::StatusOr<Batch> out = std::move(*slots_[b]);
  slots_[b].reset();
  ++consumed_;
  lock.unlock();
  cv_.notify_all();
  return out;
}

}  // namespace mrcnn::datasets
