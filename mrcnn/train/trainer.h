// Trainer: matterport's model.train(train_dataset, val_dataset, learning_rate, epochs, layers) for our
// MaskRCNN, with checkpoints, resume, find_last() and COCO evaluation after every epoch.
//
// Optimisation is OPTIMIZER (SGD with LEARNING_MOMENTUM, or AdamW; both with WEIGHT_DECAY and
// gradient clipping to a global L2 norm of GRADIENT_CLIP_NORM, see optimizer.h), a linear warmup over
// WARMUP_STEPS, then LEARNING_RATE_SCHEDULE (constant, step at LEARNING_RATE_STEPS times
// LEARNING_RATE_DECAY, or cosine to 0 at the last step). An epoch is
// STEPS_PER_EPOCH batches of BATCH_SIZE() images, then VALIDATION_STEPS batches of validation loss
// (BatchNorm in eval mode, no gradients), then COCO bbox/segm evaluation on the validation set.
// `epochs` is the epoch to train up to, as in matterport, so stages chain:
//
//   Trainer t(model, config);
//   t.SetRunDir(model_dir);                                    // MODEL_DIR/<name><YYYYMMDDTHHMM>/
//   t.Train(train, val, {.layers = "heads", .epochs = 2, .learning_rate = config.LEARNING_RATE});
//   t.Train(train, val, {.layers = "all", .epochs = 4, .learning_rate = config.LEARNING_RATE / 10});
//
// Randomness: the batch order and flips come from (SEED, epoch), ROI/anchor sampling from a generator
// reseeded from (SEED, epoch) at every epoch, so a run resumed from a checkpoint continues exactly as
// an uninterrupted one (same threads). Checkpoints hold the model's tensors under their own names (so
// LoadWeights reads them), the optimizer's state under "optimizer.<slot>.<name>" (optimizer.h) and
// the counters "trainer.epoch" / "trainer.step" and the run's training time "trainer.train_seconds".
#ifndef MRCNN_TRAIN_TRAINER_H_
#define MRCNN_TRAIN_TRAINER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datasets/dataset.h"
#include "datasets/loader.h"
#include "mrcnn/config/config.h"
#include "mrcnn/model/mask_rcnn.h"
#include "mrcnn/train/distributed.h"
#include "mrcnn/train/evaluation.h"
#include "mrcnn/train/optimizer.h"
#include "mrcnn/weights/weights.h"

namespace mrcnn {

// The model's inputs for one loader batch: each prepared image (normalised RGB [3, h, w] float,
// resized by the data side) without the loader's batch padding, and its targets as prepared (boxes and masks in
// the image's pixels; mini or full masks). Images without instances are left out, as matterport's
// data generator skips them.
void BatchToModelInputs(const datasets::Batch& batch, std::vector<torch::Tensor>* images,
                        std::vector<InstanceTargets>* targets);

// Learning rate at global step `step` (0-based) of a run of `total_steps`, for base rate `base`.
double LearningRateAt(const Config& config, double base, int64_t step, int64_t total_steps);

struct StepReport {
  int epoch = 0;            // 1-based epoch being trained
  int step_in_epoch = 0;    // 1-based
  int64_t global_step = 0;  // steps done so far, this one included
  double learning_rate = 0;
  std::map<std::string, double> losses;  // the five losses and "loss" (their sum)
  double seconds = 0;                    // this step
  int images = 0;                        // of the global batch (all ranks)
  double allreduce_seconds = 0;          // data-parallel: waiting for the gradient exchange after backward
};

struct EpochReport {
  int epoch = 0;
  int64_t global_step = 0;
  std::map<std::string, double> train_losses;  // means over the epoch
  std::map<std::string, double> val_losses;    // means over VALIDATION_STEPS ("val_" not prefixed)
  std::optional<ModelEvaluation> coco;
  std::string checkpoint;  // path written, or empty
  double train_seconds = 0;        // this epoch
  double total_train_seconds = 0;  // the whole run, resumed epochs included (kept in checkpoints)
  // Data-parallel: seconds of this epoch's training spent waiting for the gradient exchange after
  // backward, and of its buckets, how many were started while backward was still running.
  double allreduce_seconds = 0;
  int64_t buckets_started_in_backward = 0;
  int64_t buckets = 0;
};

struct TrainOptions {
  std::string layers = "heads";
  int epochs = 1;                // train until this epoch (matterport's semantics)
  // > 0: return after this epoch (checkpoint written, on_epoch called) although the learning-rate
  // schedule spans `epochs`: a scheduler's rung. Resuming later continues the same run exactly.
  int stop_at_epoch = 0;
  double learning_rate = -1;     // < 0: config.LEARNING_RATE
  bool augment = true;           // random horizontal flips
  int num_workers = 2;           // image preparation threads
  bool coco_eval = true;         // COCO bbox/segm on the validation set after each epoch
  int coco_max_images = 0;       // 0: the whole validation set
  std::function<void(const StepReport&)> on_step;
  // A non-OK status stops training and is returned.
  std::function<absl::Status(const EpochReport&)> on_epoch;
};

// Data-parallel training (`group` given, DistributedDataParallel's semantics): Train broadcasts rank 0's
// weights first; BATCH_SIZE (IMAGES_PER_GPU x GPU_COUNT) stays the global batch, and each rank loads
// and trains on its slice of every batch (the one-rank batches, in their order, with their flips);
// gradients are averaged over ranks (GradientAverager) before the optimizer step, so every rank takes
// the same step. Batch norm in train mode (TRAIN_BN) normalises with each rank's own statistics.
// ROI and anchor sampling draw from a generator per rank (rank 0's is the one-rank generator). Only
// rank 0 writes checkpoints and calls on_step / on_epoch; reported losses are means over ranks;
// validation losses and COCO evaluation are sharded over ranks and gathered on rank 0.
class Trainer {
 public:
  // Fails on a bad config, and on GPU_COUNT > 1 unless it equals the number of ranks.
  static absl::StatusOr<Trainer> Create(MaskRCNN model, const Config& config,
                                        std::shared_ptr<DataParallelGroup> group = nullptr);

  // Creates MODEL_DIR/<name lower-cased><YYYYMMDDTHHMM>/ and writes config.json there.
  absl::Status SetRunDir(const std::string& model_dir);
  // Uses an existing folder (resuming); writes config.json when absent.
  absl::Status UseRunDir(const std::string& run_dir);
  const std::string& run_dir() const { return run_dir_; }
  // Checkpoint of epoch `epoch` in the run folder: mask_rcnn_<name>_<epoch:04d>.pt.
  std::string CheckpointPath(int epoch) const;

  absl::Status Train(const datasets::Dataset& train, const datasets::Dataset& val, const TrainOptions& options);

  // Model, optimizer state, epoch and step.
  absl::Status SaveCheckpoint(const std::string& path) const;
  // Restores all of SaveCheckpoint's state (the model's tensors must all be present with the same
  // shapes); continues in the checkpoint's folder. Errors name the file and what is wrong with it.
  absl::Status Resume(const std::string& path);

  // Mean losses over VALIDATION_STEPS batches of `val` (BatchNorm in eval mode, no gradients).
  absl::StatusOr<std::map<std::string, double>> ValidationLosses(const datasets::Dataset& val);

  int epoch() const { return epoch_; }
  // Rank 0, or the only process: the one that writes checkpoints and reports.
  bool is_root() const { return group_ == nullptr || group_->is_root(); }
  int64_t global_step() const { return step_; }
  MaskRCNN& model() { return model_; }
  const Config& config() const { return config_; }
  // The optimizer's state as checkpoints store it (Optimizer::State()).
  TensorMap optimizer_state() const { return optimizer_.State(); }

 private:
  Trainer(MaskRCNN model, Config config, std::shared_ptr<DataParallelGroup> group)
      : model_(std::move(model)), config_(std::move(config)), optimizer_(config_), group_(std::move(group)) {}
  void OptimizerStep(double lr);
  // Data-parallel: rank 0's parameters and buffers on every rank.
  absl::Status BroadcastModel();
  datasets::LoaderOptions ShardLoaderOptions(datasets::LoaderOptions o) const;
  // COCO evaluation, each rank detecting on its share of the images, scored on rank 0.
  absl::StatusOr<std::optional<ModelEvaluation>> EvaluateCoco(const ModelEvaluator& evaluator);

  MaskRCNN model_;
  Config config_;
  Optimizer optimizer_;  // state for the trainable parameters only
  int epoch_ = 0;
  int64_t step_ = 0;
  double train_seconds_ = 0;  // training time of the whole run (saved in checkpoints)
  std::string run_dir_;
  std::shared_ptr<DataParallelGroup> group_;  // null: one process
  bool broadcast_done_ = false;
};

// The config a checkpoint was trained with: its run folder's config.json (a missing or malformed one is
// an error naming the file). When `given` holds the config the command line describes, it must equal
// the stored one; otherwise the error names every key that differs, with both values.
absl::StatusOr<Config> ResumeConfig(const std::string& checkpoint, const std::optional<Config>& given);

// matterport's find_last(): the newest run folder under `model_dir` whose name starts with `name`
// (lower-cased), and its last mask_rcnn_*.pt. NotFound names the folder searched.
absl::StatusOr<std::string> FindLast(const std::string& model_dir, const std::string& name);

// The epoch number in a checkpoint name "mask_rcnn_<name>_<epoch>.pt", or -1.
int EpochFromCheckpointName(const std::string& path);

}  // namespace mrcnn

#endif  // MRCNN_TRAIN_TRAINER_H_
