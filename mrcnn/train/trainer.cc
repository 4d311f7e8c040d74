#include "mrcnn/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <utility>

#include <torch/types.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/utils.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"
#include "datasets/loader.h"
#include "datasets/random.h"
#include "mrcnn/ops/sampler.h"
#include "mrcnn/train/layers.h"
#include "mrcnn/weights/weights.h"

namespace mrcnn {
namespace fs = std::filesystem;
namespace {

constexpr char kEpochKey[] = "trainer.epoch";
constexpr char kStepKey[] = "trainer.step";
// Seconds spent training (without validation and COCO evaluation) up to the checkpoint; optional, as
// checkpoints written before it lack it.
constexpr char kTrainSecondsKey[] = "trainer.train_seconds";
// Loader passes of one epoch are numbered epoch * kPassesPerEpoch + k, so the data of an epoch depends
// only on (seed, epoch) even when an epoch needs several passes over a small dataset.
constexpr int kPassesPerEpoch = 1000;
// The losses a step reports, in the order data-parallel ranks exchange them.
const char* const kLossNames[] = {"loss", "mrcnn_bbox_loss", "mrcnn_class_loss", "mrcnn_mask_loss",
                                  "rpn_bbox_loss", "rpn_class_loss"};
constexpr int kNumLosses = sizeof(kLossNames) / sizeof(kLossNames[0]);

// ROI and anchor sampling of epoch `epoch` on rank `rank`; rank 0's is the one-process generator.
at::Generator SamplingGenerator(const Config& c, int epoch, int rank) {
  uint64_t seed = datasets::DeriveSeed(c.SEED, "sampling", epoch);
  if (rank > 0) seed = datasets::DeriveSeed(seed, "rank", static_cast<uint64_t>(rank));
  return ops::MakeGenerator(seed);
}

}  // namespace

void BatchToModelInputs(const datasets::Batch& b, std::vector<torch::Tensor>* images,
                        std::vector<InstanceTargets>* targets) {
  for (int i = 0; i < b.size(); ++i) {
    if (b.boxes[i].size(0) == 0) continue;
    // The prepared image without the loader's batch padding: the model pads its own batch.
    images->push_back(b.images[i].slice(1, 0, b.meta[i].height).slice(2, 0, b.meta[i].width).contiguous());
    targets->push_back({b.boxes[i], b.class_ids[i], b.masks[i]});
  }
}

namespace {

std::map<std::string, double> ToDoubles(const LossMap& losses, const torch::Tensor& total) {
  std::map<std::string, double> out;
  for (const auto& [k, v] : losses) out[k] = v.item<double>();
  out["loss"] = total.item<double>();
  return out;
}

void Accumulate(const std::map<std::string, double>& x, std::map<std::string, double>* sum) {
  for (const auto& [k, v] : x) (*sum)[k] += v;
}

void Divide(std::map<std::string, double>* m, int n) {
  for (auto& [k, v] : *m) v /= std::max(1, n);
}

absl::Status WriteConfig(const Config& c, const std::string& dir) {
  const std::string path = (fs::path(dir) / "config.json").string();
  std::ofstream out(path);
  out << c.ToJson().dump(2) << "\n";
  if (!out) return absl::InternalError(absl::StrCat(path, ": cannot write the config"));
  return absl::OkStatus();
}

}  // namespace

double LearningRateAt(const Config& c, double base, int64_t step, int64_t total_steps) {
  if (step < c.WARMUP_STEPS) return base * static_cast<double>(step + 1) / c.WARMUP_STEPS;
  if (c.LEARNING_RATE_SCHEDULE == LearningRateSchedule::kStep) {
    double lr = base;
    for (int s : c.LEARNING_RATE_STEPS) {
      if (step >= s) lr *= c.LEARNING_RATE_DECAY;
    }
    return lr;
  }
  if (c.LEARNING_RATE_SCHEDULE == LearningRateSchedule::kCosine) {
    const double span = std::max<int64_t>(1, total_steps - c.WARMUP_STEPS);
    const double t = std::min(1.0, static_cast<double>(step - c.WARMUP_STEPS) / span);
    return base * 0.5 * (1.0 + std::cos(M_PI * t));
  }
  return base;
}

absl::StatusOr<Trainer> Trainer::Create(MaskRCNN model, const Config& config,
                                        std::shared_ptr<DataParallelGroup> group) {
  const int ranks = group ? group->world_size() : 1;
  if (config.GPU_COUNT > 1 && config.GPU_COUNT != ranks) {
    return absl::InvalidArgumentError(absl::StrCat(
        "GPU_COUNT: ", config.GPU_COUNT, " is not supported with ", ranks,
        " rank(s): GPU_COUNT is the number of data-parallel ranks (train --ranks=N, srun -n N); set GPU_COUNT=1 "
        "and put the global batch in IMAGES_PER_GPU, or run GPU_COUNT ranks"));
  }
  if (config.BATCH_SIZE() % ranks != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "BATCH_SIZE (IMAGES_PER_GPU x GPU_COUNT = ", config.BATCH_SIZE(), ") is the global batch and must divide "
        "evenly over the ", ranks, " ranks"));
  }
  absl::Status s = config.Validate();
  if (!s.ok()) return s;
  return Trainer(std::move(model), config, std::move(group));
}

absl::Status Trainer::BroadcastModel() {
  std::vector<torch::Tensor> tensors;
  for (auto& p : model_->named_parameters(true)) tensors.push_back(p.value());
  for (auto& b : model_->named_buffers(true)) tensors.push_back(b.value());
  return group_->BroadcastFromRoot(tensors, "the initial weights");
}

datasets::LoaderOptions Trainer::ShardLoaderOptions(datasets::LoaderOptions o) const {
  if (group_) {
    o.shard = group_->rank();
    o.num_shards = group_->world_size();
  }
  return o;
}

absl::StatusOr<std::optional<ModelEvaluation>> Trainer::EvaluateCoco(const ModelEvaluator& evaluator) {
  if (!group_) {
    absl::StatusOr<ModelEvaluation> r = evaluator.Evaluate(model_, config_.BATCH_SIZE());
    if (!r.ok()) return r.status();
    return std::optional<ModelEvaluation>(std::move(*r));
  }
  // Contiguous slices in rank order, so the gathered detections are in the one-process order.
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int>& all = evaluator.indices();
  const int n = static_cast<int>(all.size()), r = group_->rank(), ranks = group_->world_size();
  const std::vector<int> mine(all.begin() + n * r / ranks, all.begin() + n * (r + 1) / ranks);
  absl::StatusOr<std::vector<eval::Detection>> found =
      DetectInDataset(model_, evaluator.dataset(), mine, std::max(1, config_.BATCH_SIZE() / ranks));
  if (!found.ok()) return found.status();
  absl::StatusOr<std::vector<std::string>> parts =
      group_->GatherToRoot(absl::StrCat("coco/", epoch_), SerializeDetections(*found));
  if (!parts.ok()) return parts.status();
  if (!group_->is_root()) return std::optional<ModelEvaluation>();
  std::vector<eval::Detection> dets;
  for (int k = 0; k < ranks; ++k) {
    absl::StatusOr<std::vector<eval::Detection>> d =
        ParseDetections((*parts)[k], absl::StrCat("detections of rank ", k));
    if (!d.ok()) return d.status();
    dets.insert(dets.end(), d->begin(), d->end());
  }
  absl::StatusOr<ModelEvaluation> result = evaluator.Score(dets);
  if (!result.ok()) return result.status();
  result->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return std::optional<ModelEvaluation>(std::move(*result));
}

absl::Status Trainer::SetRunDir(const std::string& model_dir) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M", &tm);
  const std::string dir = (fs::path(model_dir) / (absl::AsciiStrToLower(config_.NAME) + stamp)).string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(dir, ": cannot create the run folder: ", ec.message()));
  run_dir_ = dir;
  return WriteConfig(config_, dir);
}

absl::Status Trainer::UseRunDir(const std::string& run_dir) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(run_dir, ": cannot create the run folder: ", ec.message()));
  run_dir_ = run_dir;
  if (fs::exists(fs::path(run_dir) / "config.json")) return absl::OkStatus();
  return WriteConfig(config_, run_dir);
}

std::string Trainer::CheckpointPath(int epoch) const {
  return (fs::path(run_dir_) /
          absl::StrFormat("mask_rcnn_%s_%04d.pt", absl::AsciiStrToLower(config_.NAME), epoch))
      .string();
}

void Trainer::OptimizerStep(double lr) {
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (auto& item : model_->named_parameters(true)) {
    if (item.value().requires_grad()) params.emplace_back(item.key(), item.value());
  }
  optimizer_.Step(params, lr);
}

absl::StatusOr<std::map<std::string, double>> Trainer::ValidationLosses(const datasets::Dataset& val) {
  datasets::LoaderOptions lo;
  lo.shuffle = true;
  lo.augment = false;
  lo.seed = datasets::DeriveSeed(config_.SEED, "val-loader");
  lo.num_workers = 1;
  lo.drop_last = false;
  datasets::BatchLoader loader(std::make_shared<const datasets::Dataset>(val), config_, ShardLoaderOptions(lo));
  loader.StartEpoch(epoch_);
  uint64_t sampling_seed = datasets::DeriveSeed(config_.SEED, "val-sampling", epoch_);
  if (group_ && group_->rank() > 0) sampling_seed = datasets::DeriveSeed(sampling_seed, "rank", group_->rank());
  at::Generator gen = ops::MakeGenerator(sampling_seed);
  const bool was_training = model_->is_training();
  model_->train();
  // Validation must not change the model: BatchNorm uses (and keeps) its running statistics.
  for (const auto& m : model_->modules(true)) {
    if (dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.get()) != nullptr) m->eval();
  }
  std::map<std::string, double> sum;
  int n = 0;
  torch::NoGradGuard no_grad;
  for (int s = 0; s < config_.VALIDATION_STEPS; ++s) {
    absl::StatusOr<datasets::Batch> b = loader.Next();
    if (absl::IsOutOfRange(b.status())) break;
    if (!b.ok()) return b.status();
    std::vector<torch::Tensor> images;
    std::vector<InstanceTargets> targets;
    BatchToModelInputs(*b, &images, &targets);
    if (images.empty()) continue;
    LossMap losses = model_->Losses(images, targets, &gen);
    Accumulate(ToDoubles(losses, MaskRCNNImpl::TotalLoss(losses)), &sum);
    ++n;
  }
  if (group_) {
    // Each rank saw its slices of the batches: the mean over every (batch, rank) that had images.
    torch::Tensor v = torch::zeros({kNumLosses + 1}, torch::kFloat64);
    for (int k = 0; k < kNumLosses; ++k) v[k] = sum.count(kLossNames[k]) ? sum[kLossNames[k]] : 0.0;
    v[kNumLosses] = n;
    absl::Status s = group_->AllReduceSum(v, "the validation losses' exchange");
    if (!s.ok()) return s;
    sum.clear();
    for (int k = 0; k < kNumLosses; ++k) sum[kLossNames[k]] = v[k].item<double>();
    n = static_cast<int>(v[kNumLosses].item<double>());
  }
  Divide(&sum, n);
  if (was_training) {
    model_->train();
  } else {
    model_->eval();
  }
  return sum;
}

absl::Status Trainer::Train(const datasets::Dataset& train, const datasets::Dataset& val,
                            const TrainOptions& o) {
  absl::StatusOr<LayerSelection> sel = SelectLayers(*model_, o.layers);
  if (!sel.ok()) return sel.status();
  for (const std::string& name : sel->frozen) optimizer_.Forget(name);
  const double base_lr = o.learning_rate >= 0 ? o.learning_rate : config_.LEARNING_RATE;
  const int64_t total_steps = static_cast<int64_t>(o.epochs) * config_.STEPS_PER_EPOCH;

  if (group_ && !broadcast_done_) {
    absl::Status s = BroadcastModel();
    if (!s.ok()) return s;
    broadcast_done_ = true;
  }
  std::unique_ptr<GradientAverager> averager;
  if (group_) {
    std::vector<std::pair<std::string, torch::Tensor>> trainable;
    for (auto& item : model_->named_parameters(true)) {
      if (item.value().requires_grad()) trainable.emplace_back(item.key(), item.value());
    }
    absl::StatusOr<std::unique_ptr<GradientAverager>> a = GradientAverager::Create(group_, std::move(trainable));
    if (!a.ok()) return a.status();
    averager = std::move(*a);
  }
  std::optional<ModelEvaluator> evaluator;
  if (o.coco_eval && o.epochs > epoch_ && (o.stop_at_epoch <= 0 || o.stop_at_epoch > epoch_)) {
    absl::StatusOr<ModelEvaluator> ev = ModelEvaluator::Create(val, o.coco_max_images);
    if (!ev.ok()) return ev.status();
    evaluator.emplace(std::move(*ev));
  }

  datasets::LoaderOptions lo;
  lo.shuffle = true;
  lo.augment = o.augment;
  lo.seed = datasets::DeriveSeed(config_.SEED, "train-loader");
  lo.num_workers = std::max(1, o.num_workers);
  lo.drop_last = train.num_images() >= config_.BATCH_SIZE();
  datasets::BatchLoader loader(std::make_shared<const datasets::Dataset>(train), config_, ShardLoaderOptions(lo));
  if (loader.batches_per_epoch() == 0) {
    return absl::InvalidArgumentError("training dataset has no images");
  }

  const int last_epoch = o.stop_at_epoch > 0 ? std::min(o.epochs, o.stop_at_epoch) : o.epochs;
  while (epoch_ < last_epoch) {
    const int epoch = epoch_ + 1;
    at::Generator gen = SamplingGenerator(config_, epoch, group_ ? group_->rank() : 0);
    int pass = 0;
    loader.StartEpoch(epoch * kPassesPerEpoch);
    model_->train();
    SetFrozenBatchNormEval(*model_);
    EpochReport report;
    report.epoch = epoch;
    const auto epoch_start = std::chrono::steady_clock::now();
    const double exposed_at_start = averager ? averager->exposed_seconds() : 0;
    const int64_t early_at_start = averager ? averager->buckets_started_in_backward() : 0;
    const int64_t buckets_at_start = averager ? averager->buckets_started() : 0;
    int done = 0, empty_batches = 0;
    while (done < config_.STEPS_PER_EPOCH) {
      const auto t0 = std::chrono::steady_clock::now();
      absl::StatusOr<datasets::Batch> b = loader.Next();
      if (absl::IsOutOfRange(b.status())) {
        loader.StartEpoch(epoch * kPassesPerEpoch + (++pass));
        continue;
      }
      if (!b.ok()) return b.status();
      std::vector<torch::Tensor> images;
      std::vector<InstanceTargets> targets;
      BatchToModelInputs(*b, &images, &targets);
      if (images.empty() && !group_) {
        if (++empty_batches > 1000) return absl::InvalidArgumentError("training dataset: no image has instances");
        continue;
      }
      const double lr = LearningRateAt(config_, base_lr, step_, total_steps);
      model_->zero_grad();
      if (averager) averager->StartStep();
      StepReport sr;
      sr.images = static_cast<int>(images.size());
      // A rank whose slice has no image with instances computes nothing: its gradients count as zero.
      if (!images.empty()) {
        try {
          LossMap losses = model_->Losses(images, targets, &gen);
          torch::Tensor total = MaskRCNNImpl::TotalLoss(losses);
          total.backward();
          sr.losses = ToDoubles(losses, total);
        } catch (const c10::Error& e) {
          return absl::InternalError(absl::StrCat("training step ", step_ + 1, " (epoch ", epoch,
                                                  "): ", e.what_without_backtrace()));
        }
      }
      if (averager) {
        const double before = averager->exposed_seconds();
        absl::Status s = averager->Finish();
        if (!s.ok()) return s;
        sr.allreduce_seconds = averager->exposed_seconds() - before;
        // The step's losses: the mean over ranks that had images (the one-process batch loss when the
        // losses are means over images); the global image count.
        torch::Tensor v = torch::zeros({kNumLosses + 2}, torch::kFloat64);
        if (!images.empty()) {
          for (int k = 0; k < kNumLosses; ++k) v[k] = sr.losses.at(kLossNames[k]);
          v[kNumLosses] = 1;
        }
        v[kNumLosses + 1] = sr.images;
        s = group_->AllReduceSum(v, "the step's loss exchange");
        if (!s.ok()) return s;
        const double ranks_with_images = v[kNumLosses].item<double>();
        sr.images = static_cast<int>(v[kNumLosses + 1].item<double>());
        if (ranks_with_images == 0) {
          if (++empty_batches > 1000) return absl::InvalidArgumentError("training dataset: no image has instances");
          continue;
        }
        sr.losses.clear();
        for (int k = 0; k < kNumLosses; ++k) sr.losses[kLossNames[k]] = v[k].item<double>() / ranks_with_images;
      }
      if (!std::isfinite(sr.losses["loss"])) {
        return absl::InternalError(absl::StrCat("training diverged at step ", step_ + 1, " (epoch ", epoch,
                                                "): loss is ", sr.losses["loss"],
                                                "; lower LEARNING_RATE or raise WARMUP_STEPS"));
      }
      OptimizerStep(lr);
      ++step_;
      ++done;
      Accumulate(sr.losses, &report.train_losses);
      sr.epoch = epoch;
      sr.step_in_epoch = done;
      sr.global_step = step_;
      sr.learning_rate = lr;
      sr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (o.on_step && is_root()) o.on_step(sr);
    }
    report.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    if (averager) {
      report.allreduce_seconds = averager->exposed_seconds() - exposed_at_start;
      report.buckets_started_in_backward = averager->buckets_started_in_backward() - early_at_start;
      report.buckets = averager->buckets_started() - buckets_at_start;
    }
    train_seconds_ += report.train_seconds;
    report.total_train_seconds = train_seconds_;
    Divide(&report.train_losses, done);
    epoch_ = epoch;
    report.global_step = step_;
    if (config_.VALIDATION_STEPS > 0 && val.num_images() > 0) {
      absl::StatusOr<std::map<std::string, double>> vl = ValidationLosses(val);
      if (!vl.ok()) return vl.status();
      report.val_losses = std::move(*vl);
    }
    if (evaluator) {
      absl::StatusOr<std::optional<ModelEvaluation>> r = EvaluateCoco(*evaluator);
      if (!r.ok()) return r.status();
      report.coco = std::move(*r);
    }
    if (!is_root()) continue;  // rank 0 writes and reports
    if (!run_dir_.empty()) {
      report.checkpoint = CheckpointPath(epoch);
      absl::Status s = SaveCheckpoint(report.checkpoint);
      if (!s.ok()) return s;
    }
    if (o.on_epoch) {
      absl::Status s = o.on_epoch(report);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Trainer::SaveCheckpoint(const std::string& path) const {
  TensorMap t = StateDict(*model_);
  for (auto& [key, value] : optimizer_.State()) t[key] = value;
  t[kEpochKey] = torch::tensor(static_cast<int64_t>(epoch_));
  t[kStepKey] = torch::tensor(step_);
  t[kTrainSecondsKey] = torch::tensor(train_seconds_, torch::kFloat64);
  // Write then rename, so an interrupted save never leaves a half-written checkpoint behind.
  const std::string tmp = path + ".tmp";
  absl::Status s = WriteTensorFile(tmp, t);
  if (!s.ok()) return s;
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat(path, ": cannot write the checkpoint: ", ec.message()));
  return absl::OkStatus();
}

absl::Status Trainer::Resume(const std::string& path) {
  absl::StatusOr<TensorMap> t = ReadTensorFile(path);
  if (!t.ok()) return t.status();
  if (!t->count(kEpochKey) || !t->count(kStepKey)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not a training checkpoint (no ", kEpochKey, " / ", kStepKey,
        "); to start from its weights use --weights=", path, " instead of resuming"));
  }
  TensorMap model_tensors;
  for (auto& [k, v] : *t) {
    if (!Optimizer::IsStateKey(k) && k != kEpochKey && k != kStepKey && k != kTrainSecondsKey) {
      model_tensors[k] = v;
    }
  }
  LoadReport r = LoadStateDict(*model_, model_tensors, {});
  if (!r.complete() || !r.unused.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": does not match the model (was it written with another config?): ", r.Summary()));
  }
  std::map<std::string, torch::Tensor> params;
  for (auto& item : model_->named_parameters(true)) params[item.key()] = item.value();
  absl::Status restored = optimizer_.Restore(*t, params, path);
  if (!restored.ok()) return restored;
  epoch_ = static_cast<int>((*t)[kEpochKey].item<int64_t>());
  step_ = (*t)[kStepKey].item<int64_t>();
  train_seconds_ = t->count(kTrainSecondsKey) ? (*t)[kTrainSecondsKey].item<double>() : 0.0;
  return UseRunDir(fs::path(path).parent_path().string());
}

absl::StatusOr<Config> ResumeConfig(const std::string& checkpoint, const std::optional<Config>& given) {
  const std::string path = (fs::path(checkpoint).parent_path() / "config.json").string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat(
        path, ": missing, so the config ", checkpoint, " was trained with is unknown; to continue from its "
        "weights in a new run, pass --weights=", checkpoint, " with --preset/--config instead of resuming"));
  }
  absl::StatusOr<Config> stored = BuildConfig("", path, {});
  if (!stored.ok()) return stored.status();
  if (!given) return stored;
  const nlohmann::json a = stored->ToJson(), b = given->ToJson();
  std::vector<std::string> differ;
  for (auto it = a.begin(); it != a.end(); ++it) {
    const nlohmann::json other = b.contains(it.key()) ? b[it.key()] : nlohmann::json();
    if (other != it.value()) {
      differ.push_back(absl::StrCat(it.key(), " (run: ", it.value().dump(), ", given: ", other.dump(), ")"));
    }
  }
  if (differ.empty()) return stored;
  return absl::FailedPreconditionError(absl::StrCat(
      "resuming ", checkpoint, ": the config given on the command line differs from the run's ", path, " in ",
      absl::StrJoin(differ, ", "),
      "; a resumed run continues with the config it started with: drop those flags, or start a new run from "
      "its weights (--weights=", checkpoint, " without --init_with=last)"));
}

absl::StatusOr<std::string> FindLast(const std::string& model_dir, const std::string& name) {
  std::error_code ec;
  if (!fs::is_directory(model_dir, ec)) {
    return absl::NotFoundError(absl::StrCat(model_dir, ": model folder does not exist"));
  }
  const std::string prefix = absl::AsciiStrToLower(name);
  std::vector<std::string> runs;
  for (const auto& e : fs::directory_iterator(model_dir, ec)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && absl::StartsWith(n, prefix)) runs.push_back(e.path().string());
  }
  if (runs.empty()) {
    return absl::NotFoundError(absl::StrCat("no run folder starting with '", prefix, "' in ", model_dir));
  }
  std::sort(runs.begin(), runs.end());
  std::vector<std::string> ckpts;
  for (const auto& e : fs::directory_iterator(runs.back(), ec)) {
    const std::string n = e.path().filename().string();
    if (e.is_regular_file() && absl::StartsWith(n, "mask_rcnn") && absl::EndsWith(n, ".pt")) {
      ckpts.push_back(e.path().string());
    }
  }
  if (ckpts.empty()) return absl::NotFoundError(absl::StrCat("no checkpoint (mask_rcnn*.pt) in ", runs.back()));
  std::sort(ckpts.begin(), ckpts.end());
  return ckpts.back();
}

int EpochFromCheckpointName(const std::string& path) {
  static const std::regex re(R"(mask_rcnn_.*_(\d+)\.pt)");
  std::smatch m;
  const std::string name = fs::path(path).filename().string();
  if (!std::regex_match(name, m, re)) return -1;
  return std::stoi(m[1].str());
}

}  // namespace mrcnn
