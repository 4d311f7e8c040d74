// bazel run //mrcnn:train -- --format=shapes --layers=heads --epochs=N [--set KEY=VALUE ...]
// The tutorial's training workflow; see --help and README "Training".
#include <ATen/Parallel.h>
#include <torch/version.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "experiments/trial.h"
#include "gflags/gflags.h"
#include "mrcnn/config/flags.h"
#include "mrcnn/model/mask_rcnn.h"
#include "mrcnn/train/data.h"
#include "mrcnn/train/data_flags.h"
#include "mrcnn/train/init_weights.h"
#include "mrcnn/train/progress.h"
#include "mrcnn/train/trainer.h"
#include "mrcnn/config/untrusted.h"

DEFINE_int32(shapes_train, 500, "shapes: training images");
DEFINE_string(layers, "heads", "heads | all | 3+ | 4+ | 5+ (matterport's presets) or a regex over parameter names");
DEFINE_int32(epochs, 1, "train until this epoch (counting resumed epochs, as matterport)");
DEFINE_string(stages, "", "several stages LAYERS:EPOCHS[:LR_FACTOR],... e.g. heads:2,all:4:0.1 "
              "(LR_FACTOR times LEARNING_RATE); overrides --layers/--epochs");
DEFINE_string(init_with, "none", "imagenet | coco | last | none (imagenet/coco need --weights; last resumes)");
DEFINE_string(weights, "", "weight file to start from (our checkpoints or converted torchvision files)");
DEFINE_string(exclude, "", "comma list of names not to load; matterport's mrcnn_class_logits, "
              "mrcnn_bbox_fc, mrcnn_bbox, mrcnn_mask or our names/prefixes");
DEFINE_string(model_dir, "logs", "run folders <model_dir>/<NAME><timestamp>/ with checkpoints and config.json");
DEFINE_int32(threads, 0, "intra-op threads (at::set_num_threads); 0: LibTorch's default");
DEFINE_int32(workers, 2, "image preparation threads");
DEFINE_bool(augment, true, "random horizontal flips");
DEFINE_bool(coco_eval, true, "COCO bbox/segm evaluation on the validation set after every epoch");
DEFINE_int32(coco_images, 0, "validation images for COCO evaluation (0: all)");
DEFINE_int32(log_every, 10, "plain log lines (non-terminal output) every N steps");
// Experiment-log trial protocol (experiments/trial.h): given --db, the run logs there.
DEFINE_string(db, "", "trial mode: experiment log database (local launcher)");
DEFINE_string(report, "", "trial mode: JSON-lines report file instead of the log (Slurm launcher)");
DEFINE_string(trial_dir, "", "trial mode: folder for checkpoints (replaces --model_dir)");
DEFINE_int64(trial_id, 0, "trial mode: trial id");
DEFINE_int32(attempt, 0, "trial mode: attempt number");
DEFINE_int64(seed, -1, "SEED override (trial mode passes it); -1: the config's SEED");
DEFINE_bool(check_args, false, "check the flags other than the config's (data, layers, stages, initial "
            "weights) without training, and exit 0 when they are usable; the sweep does this with a spec's "
            "\"trainer\" flags before it creates the sweep");
DEFINE_int32(stop_at_epoch, 0, "stop after this epoch, its checkpoint written, while the learning-rate "
             "schedule still spans --epochs (a sweep scheduler's rung); 0: train to --epochs");
DEFINE_string(resume, "", "continue from this checkpoint (model, optimizer, epoch and step), in its run "
              "folder; the sweep scheduler passes it when it promotes or retries a trial");

namespace mrcnn {
namespace {

struct Stage {
  std::string layers;
  int epochs;
  double lr_factor = 1.0;
};

absl::StatusOr<std::vector<Stage>> ParseStages() {
  std::vector<Stage> stages;
  if (FLAGS_stages.empty()) return std::vector<Stage>{{FLAGS_layers, FLAGS_epochs, 1.0}};
  for (absl::string_view part : absl::StrSplit(FLAGS_stages, ',', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(part, ':');
    Stage s;
    if (f.size() < 2 || f.size() > 3 || !absl::SimpleAtoi(f[1], &s.epochs) ||
        (f.size() == 3 && !absl::SimpleAtod(f[2], &s.lr_factor))) {
      return absl::InvalidArgumentError(absl::StrCat("--stages: '", part, "' is not LAYERS:EPOCHS[:LR_FACTOR]"));
    }
    s.layers = f[0];
    stages.push_back(s);
  }
  if (stages.empty()) return absl::InvalidArgumentError("--stages: empty");
  return stages;
}

experiments::CocoStats ToStats(const eval::CocoEvalResult& r, const datasets::Dataset& ds) {
  experiments::CocoStats s;
  s.stats = r.stats;
  s.per_image = r.per_image;
  for (const auto& [id, ap] : r.per_category_ap) {
    s.per_class.push_back({id, id < ds.num_classes() ? ds.classes()[id].name : "", ap});
  }
  return s;
}

// What --check_args checks: every flag that is not the config's or the trial protocol's.
absl::Status CheckArgs() {
  absl::StatusOr<std::vector<Stage>> stages = ParseStages();
  if (!stages.ok()) return stages.status();
  for (const Stage& s : *stages) {
    if (s.epochs < 1) return absl::InvalidArgumentError(absl::StrCat("epochs must be >= 1, got ", s.epochs));
    if (s.layers.empty()) return absl::InvalidArgumentError("--layers must not be empty");
  }
  if (FLAGS_init_with != "none" && FLAGS_init_with != "last" && FLAGS_init_with != "imagenet" &&
      FLAGS_init_with != "coco") {
    return absl::InvalidArgumentError(
        absl::StrCat("--init_with=", FLAGS_init_with, ": expected imagenet, coco, last or none"));
  }
  std::error_code ec;
  if (!FLAGS_weights.empty() && !std::filesystem::is_regular_file(FLAGS_weights, ec)) {
    return absl::NotFoundError(absl::StrCat("--weights=", FLAGS_weights, ": no such file"));
  }
  if ((FLAGS_init_with == "imagenet" || FLAGS_init_with == "coco") && FLAGS_weights.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--init_with=", FLAGS_init_with, " needs --weights"));
  }
  if (FLAGS_workers < 1) return absl::InvalidArgumentError("--workers must be >= 1");
  if (FLAGS_coco_images < 0) return absl::InvalidArgumentError("--coco_images must be >= 0");
  if (FLAGS_log_every < 1) return absl::InvalidArgumentError("--log_every must be >= 1");
  if (FLAGS_stop_at_epoch < 0) return absl::InvalidArgumentError("--stop_at_epoch must be >= 0");
  DataOptions d = DataOptionsFromFlags(Config());
  d.shapes_train = FLAGS_shapes_train;
  return CheckDataOptions(d);
}

int Fail(const absl::Status& s) {
  std::cerr << "train: " << s.message() << "\n";
  return 1;
}

int Main(int argc, char** argv) {
  std::vector<std::string> sets = ExtractRepeatedFlag("set", &argc, &argv);
  gflags::SetUsageMessage(
      "Trains Mask R-CNN (matterport's model.train) on a dataset folder or the synthetic shapes.\n"
      "  train --format=tutorial --dataset_dir=DIR --class_map=40=sign,51=sign_back --preset=matterport \\\n"
      "        --set NUM_CLASSES=3 --init_with=coco --weights=coco.pt --exclude=mrcnn_class_logits,mrcnn_bbox_fc,"
      "mrcnn_bbox,mrcnn_mask --stages=heads:2,all:4:0.1\n"
      "  train --format=shapes --preset=shapes --layers=all --epochs=10 --threads=2\n"
      "Config: --preset, --config=FILE.json, repeatable --set KEY=VALUE (" +
      SetFlagHelp() + ").\nCheckpoints go to <model_dir>/<NAME><YYYYMMDDTHHMM>/mask_rcnn_<name>_<epoch>.pt with "
      "config.json; --init_with=last resumes the newest one. Trial mode (experiments): --config --seed "
      "--trial_dir --db --trial_id --attempt --threads.");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  ResolvePathFlags({"dataset_dir", "val_dir", "weights", "model_dir", "trial_dir", "db", "resume"});
  if (FLAGS_threads > 0) at::set_num_threads(FLAGS_threads);

  if (FLAGS_check_args) {
    absl::Status s = CheckArgs();
    if (!s.ok()) return Fail(s);
    std::cout << "train: the arguments are usable\n";
    return 0;
  }
  absl::StatusOr<Config> config = ConfigFromFlags(sets);
  if (!config.ok()) return Fail(config.status());
  if (FLAGS_seed >= 0) config->SEED = static_cast<int>(FLAGS_seed);
  const bool trial = !FLAGS_db.empty() || !FLAGS_report.empty();
  const std::string model_dir = trial ? FLAGS_trial_dir : FLAGS_model_dir;
  if (FLAGS_stop_at_epoch < 0) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("--stop_at_epoch must be >= 0, got ", FLAGS_stop_at_epoch)));
  }
  // Resuming (matterport's find_last): the run continues with the config it started with, its folder's
  // config.json; config flags, when given, must describe the same config.
  std::string resume_from = FLAGS_resume;
  if (resume_from.empty() && FLAGS_init_with == "last") {
    absl::StatusOr<std::string> found = FindLast(model_dir, config->NAME);
    if (!found.ok()) return Fail(found.status());
    resume_from = *found;
  }
  if (!resume_from.empty()) {
    const bool described = !sets.empty() || !FLAGS_preset.empty() || !FLAGS_config.empty() || FLAGS_seed >= 0;
    absl::StatusOr<Config> stored = ResumeConfig(resume_from, described ? std::optional<Config>(*config) : std::nullopt);
    if (!stored.ok()) return Fail(stored.status());
    config = std::move(stored);
  }
  absl::StatusOr<std::vector<Stage>> stages = ParseStages();
  if (!stages.ok()) return Fail(stages.status());

  std::optional<experiments::TrialLog> tlog;
  if (trial) {
    experiments::TrialArgs a;
    a.config_path = FLAGS_config;
    a.seed = FLAGS_seed;
    a.trial_dir = FLAGS_trial_dir;
    a.db_path = FLAGS_db;
    a.report_path = FLAGS_report;
    a.trial_id = FLAGS_trial_id;
    a.attempt = FLAGS_attempt;
    a.threads = FLAGS_threads;
    if (a.trial_dir.empty()) return Fail(absl::InvalidArgumentError("trial mode (--db or --report) needs --trial_dir"));
    if (!a.db_path.empty() && !a.report_path.empty()) {
      return Fail(absl::InvalidArgumentError("trial mode takes --db or --report, not both"));
    }
    absl::StatusOr<experiments::TrialLog> l = experiments::TrialLog::Open(a);
    if (!l.ok()) return Fail(l.status());
    tlog.emplace(std::move(*l));
  }

  DataOptions d = DataOptionsFromFlags(*config);
  d.shapes_train = FLAGS_shapes_train;
  absl::StatusOr<TrainValData> data = LoadTrainVal(d);
  if (!data.ok()) return Fail(data.status());
  if (!data->problems.empty()) std::cerr << data->problems << "\n";
  if (!data->split_note.empty()) std::cerr << data->split_note << "\n";
  absl::Status cs = CheckClasses(data->train, *config, "training data");
  if (!cs.ok()) return Fail(cs);
  std::cerr << absl::StrFormat("data: %d training and %d validation images, %d classes\n",
                               data->train.num_images(), data->val.num_images(), data->train.num_classes());

  absl::StatusOr<MaskRCNN> model = CreateMaskRCNN(*config);
  if (!model.ok()) return Fail(model.status());
  absl::StatusOr<Trainer> trainer = Trainer::Create(*model, *config);
  if (!trainer.ok()) return Fail(trainer.status());

  if (!resume_from.empty()) {
    absl::Status s = trainer->Resume(resume_from);
    if (!s.ok()) return Fail(s);
    std::cerr << "resumed " << resume_from << " at epoch " << trainer->epoch() << "\n";
  } else {
    if (FLAGS_init_with != "none" || !FLAGS_weights.empty()) {
      const std::string kind = FLAGS_init_with == "none" ? "file" : FLAGS_init_with;
      absl::StatusOr<LoadReport> r = LoadInitialWeights(
          *trainer->model(), kind, FLAGS_weights, absl::StrSplit(FLAGS_exclude, ',', absl::SkipEmpty()));
      if (!r.ok()) return Fail(r.status());
      std::cerr << "weights " << FLAGS_weights << ": " << r->Summary() << "\n";
    }
    absl::Status s = trainer->SetRunDir(model_dir);
    if (!s.ok()) return Fail(s);
  }
  std::cerr << "run folder " << trainer->run_dir() << "\n";

  const int final_epochs = FLAGS_stop_at_epoch > 0 ? std::min(FLAGS_stop_at_epoch, stages->back().epochs)
                                                 : stages->back().epochs;
  if (tlog) {
    absl::Status s = tlog->SetTotalSteps(static_cast<int64_t>(final_epochs) * config->STEPS_PER_EPOCH);
    if (s.ok()) s = tlog->SetBuild({"opt", TORCH_VERSION, "none"});
    if (s.ok()) s = tlog->SetDataset(data->name, data->content_hash);
    if (!s.ok()) return Fail(s);
  }

  Progress progress(stderr, final_epochs, config->STEPS_PER_EPOCH, FLAGS_log_every);
  for (const Stage& stage : *stages) {
    TrainOptions o;
    o.layers = stage.layers;
    o.epochs = stage.epochs;
    o.learning_rate = config->LEARNING_RATE * stage.lr_factor;
    o.augment = FLAGS_augment;
    o.num_workers = FLAGS_workers;
    o.coco_eval = FLAGS_coco_eval;
    o.coco_max_images = FLAGS_coco_images;
    o.stop_at_epoch = FLAGS_stop_at_epoch;
    absl::Status step_error;
    o.on_step = [&](const StepReport& r) {
      progress.Step(r.epoch, r.step_in_epoch, r.losses.at("loss"), r.images, r.seconds);
      if (tlog && (r.global_step % FLAGS_log_every == 0 || r.step_in_epoch == config->STEPS_PER_EPOCH)) {
        std::vector<experiments::MetricPoint> pts;
        for (const auto& [k, v] : r.losses) pts.push_back({k, v, "min"});
        pts.push_back({"learning_rate", r.learning_rate, "max"});
        absl::Status s = tlog->LogMetrics(r.global_step, r.epoch, pts);
        if (!s.ok() && step_error.ok()) step_error = s;
      }
    };
    o.on_epoch = [&](const EpochReport& r) -> absl::Status {
      if (!step_error.ok()) return step_error;
      const double train_seconds = r.total_train_seconds;
      std::string line = absl::StrFormat("epoch %d: loss %.4f", r.epoch, r.train_losses.at("loss"));
      if (!r.val_losses.empty()) absl::StrAppendFormat(&line, "  val_loss %.4f", r.val_losses.at("loss"));
      absl::StrAppend(&line, "\n  ");
      for (const auto& [k, v] : r.train_losses) {
        if (k != "loss") absl::StrAppendFormat(&line, " %s %.4f", k, v);
      }
      if (r.coco) {
        absl::StrAppendFormat(&line, "  bbox AP %.3f AP50 %.3f  segm AP %.3f AP50 %.3f (%d images, %.1f s)",
                              r.coco->bbox.stats[0], r.coco->bbox.stats[1], r.coco->segm.stats[0],
                              r.coco->segm.stats[1], r.coco->images, r.coco->seconds);
      }
      absl::StrAppendFormat(&line, "  train time %.1f s", train_seconds);
      if (!r.checkpoint.empty()) absl::StrAppend(&line, "\n  checkpoint ", r.checkpoint);
      progress.EndEpoch(line);
      if (tlog) {
        std::vector<experiments::MetricPoint> pts;
        for (const auto& [k, v] : r.train_losses) pts.push_back({"epoch_" + k, v, "min"});
        for (const auto& [k, v] : r.val_losses) pts.push_back({"val_" + k, v, "min"});
        pts.push_back({"train_seconds", train_seconds, "min"});
        absl::Status s = tlog->LogMetrics(r.global_step, r.epoch, pts);
        if (s.ok() && r.coco) {
          experiments::CocoResult c;
          c.bbox = ToStats(r.coco->bbox, data->val);
          c.segm = ToStats(r.coco->segm, data->val);
          s = tlog->LogCoco(r.global_step, r.epoch, c);
        }
        if (s.ok() && !r.checkpoint.empty()) s = tlog->LogCheckpoint(r.global_step, "last", r.checkpoint);
        if (!s.ok()) return s;
      }
      return absl::OkStatus();
    };
    absl::Status s = trainer->Train(data->train, data->val, o);
    if (!s.ok()) return Fail(s);
  }
  if (tlog) {
    absl::Status s = tlog->Finish();
    if (!s.ok()) return Fail(s);
  }
  return 0;
}

}  // namespace
}  // namespace mrcnn

int main(int argc, char** argv) { return mrcnn::GuardedMain("train", mrcnn::Main, argc, argv); }
