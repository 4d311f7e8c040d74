#include "mrcnn/train/train_program.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gflags/gflags.h"
#include "mrcnn/config/flags.h"
#include "mrcnn/config/help.h"
#include "mrcnn/model/mask_rcnn.h"
#include "mrcnn/precision/denormal.h"
#include "mrcnn/precision/cpu_isa.h"
#include "mrcnn/train/data.h"
#include "mrcnn/train/data_flags.h"
#include "mrcnn/train/distributed.h"
#include "mrcnn/train/initial_weights.h"
#include "mrcnn/train/launcher.h"
#include "mrcnn/train/progress.h"
#include "mrcnn/train/trainer.h"

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
DEFINE_bool(flush_denormal, false,
            "flush denormal floats to zero: fp32 gradients of a model trained from scratch reach that range, "
            "which some CPUs compute many times slower (README: Mixed precision)");
DEFINE_int32(workers, 2, "image preparation threads");
DEFINE_string(device, "cpu", "cpu | cuda | cuda:N: where the model trains (CUDA needs a binary built with "
              "--config=cuda against a CUDA LibTorch; checkpoints stay device-independent)");
DEFINE_bool(augment, true, "random horizontal flips");
DEFINE_bool(coco_eval, true, "COCO bbox/segm evaluation on the validation set after every epoch");
DEFINE_int32(coco_images, 0, "validation images for COCO evaluation (0: all)");
DEFINE_int32(log_every, 10, "plain log lines (non-terminal output) every N steps");
DEFINE_int64(seed, -1, "SEED override (a sweep's trials pass it); -1: the config's SEED");
DEFINE_bool(check_args, false, "check the flags other than the config's (data, layers, stages, initial "
            "weights) without training, and exit 0 when they are usable; the sweep does this with a spec's "
            "\"trainer\" flags before it creates the sweep");
DEFINE_int32(stop_at_epoch, 0, "stop after this epoch, its checkpoint written, while the learning-rate "
             "schedule still spans --epochs (a sweep scheduler's rung); 0: train to --epochs");
DEFINE_string(resume, "", "continue from this checkpoint (model, optimizer, epoch and step), in its run "
              "folder; the sweep scheduler passes it when it promotes or retries a trial");
DEFINE_int32(ranks, 0, "data-parallel training on this machine: start N ranks (processes), each with "
             "cores / N threads (--threads sets it) and BATCH_SIZE / N images of every global batch; 0 or 1: "
             "one process, unless the environment describes a job (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT "
             "as torchrun sets them, or srun's SLURM_PROCID, SLURM_NTASKS, SLURM_JOB_NODELIST)");
DEFINE_int32(dist_timeout_s, 300, "data-parallel: seconds any rendezvous or collective may wait for the other "
             "ranks before the job ends with an error");

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

// Set when this process is a rank of a data-parallel job: errors name the rank, and the process ends at
// once (c10d's destructors could wait for collectives that will never complete).
int g_rank = -1;
std::string g_program = "train";

int Fail(const absl::Status& s) {
  if (g_rank < 0) {
    std::cerr << g_program << ": " << s.message() << "\n";
    return 1;
  }
  std::cerr << g_program << ": rank " << g_rank << ": " << s.message() << "\n";
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(1);
}

// xxHash64 of this executable: ranks built from different code refuse to train together.
absl::StatusOr<std::string> BinaryHash() {
  std::ifstream in("/proc/self/exe", std::ios::binary);
  if (!in) return absl::InternalError("cannot read /proc/self/exe to fingerprint the binary");
  XXH64_state_t* state = XXH64_createState();
  XXH64_reset(state, 0);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    XXH64_update(state, buf.data(), static_cast<size_t>(in.gcount()));
  }
  const XXH64_hash_t h = XXH64_digest(state);
  XXH64_freeState(state);
  return absl::StrFormat("%016x", h);
}

// What must be equal on every rank: the binary, the config, and the trainer's flags except those that
// may differ per rank (threads, loader workers, logging, the rendezvous itself).
absl::StatusOr<std::string> Fingerprint(const Config& config) {
  absl::StatusOr<std::string> binary = BinaryHash();
  if (!binary.ok()) return binary.status();
  nlohmann::json j;
  j["binary"] = *binary;
  const nlohmann::json c = config.ToJson();
  for (auto it = c.begin(); it != c.end(); ++it) j["config." + it.key()] = it.value();
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);
  const std::set<std::string> per_rank = {"threads", "workers", "log_every", "ranks", "dist_timeout_s"};
  for (const auto& f : flags) {
    const bool ours = absl::StrContains(f.filename, "mrcnn/") || absl::StrContains(f.filename, "experiments/");
    if (ours && !per_rank.count(f.name)) j["flag." + f.name] = f.current_value;
  }
  return j.dump();
}

// Threads per rank when --threads is not given: the cores shared by the ranks on this machine.
int DefaultThreadsPerRank(int local_ranks) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, local_ranks));
}

// The path flags: taken relative to where `bazel run` started, and passed on absolute to the ranks.
std::vector<std::string> PathFlags(const TrainProgramHooks& hooks) {
  std::vector<std::string> names = {"dataset_dir", "val_dir", "weights", "model_dir", "resume"};
  names.insert(names.end(), hooks.path_flags.begin(), hooks.path_flags.end());
  return names;
}

// --ranks=N: this process starts the N ranks with its own arguments (path flags made absolute) and
// waits for them.
int LaunchRanks(const std::vector<std::string>& original_args, const std::vector<std::string>& path_flags) {
  if (FLAGS_check_args) return Fail(absl::InvalidArgumentError("--check_args and --ranks: check without --ranks"));
  if (FLAGS_dist_timeout_s < 1) return Fail(absl::InvalidArgumentError("--dist_timeout_s must be >= 1"));
  LaunchOptions lo;
  lo.ranks = FLAGS_ranks;
  lo.threads_per_rank = FLAGS_threads > 0 ? FLAGS_threads : DefaultThreadsPerRank(FLAGS_ranks);
  lo.grace = std::chrono::seconds(FLAGS_dist_timeout_s + 30);
  // Path flags were resolved against the caller's folder; the ranks get them absolute.
  std::vector<std::string> args;
  for (const std::string& a : original_args) {
    bool path_flag = false;
    for (const std::string& name : path_flags) {
      if (absl::StartsWith(a, absl::StrCat("--", name, "=")) || absl::StartsWith(a, absl::StrCat("-", name, "="))) {
        path_flag = true;
      }
    }
    if (!path_flag) args.push_back(a);
  }
  for (const std::string& name : path_flags) {
    gflags::CommandLineFlagInfo info;
    if (gflags::GetCommandLineFlagInfo(name.c_str(), &info) && !info.is_default) {
      args.push_back(absl::StrCat("--", name, "=", info.current_value));
    }
  }
  absl::StatusOr<int> rc = LaunchLocalRanks("/proc/self/exe", args, lo);
  if (!rc.ok()) return Fail(rc.status());
  return *rc;
}

// The data-parallel job the environment describes (torchrun's or srun's variables), if any; this
// process's threads default to the cores shared by the job's ranks on this machine.
absl::StatusOr<std::optional<RankOptions>> JobFromEnvironment() {
  absl::StatusOr<std::optional<RankOptions>> job = RankOptionsFromEnvironment(ProcessEnvironment());
  if (!job.ok() || !*job) return job;
  if (FLAGS_dist_timeout_s < 1) return absl::InvalidArgumentError("--dist_timeout_s must be >= 1");
  (*job)->timeout = std::chrono::seconds(FLAGS_dist_timeout_s);
  g_rank = (*job)->rank;
  if (FLAGS_threads <= 0) {
    // Ranks on this machine: torchrun's LOCAL_WORLD_SIZE, else Slurm's tasks on this node.
    int local = 1;
    for (const char* v : {"LOCAL_WORLD_SIZE", "SLURM_NTASKS_PER_NODE"}) {
      const char* s = std::getenv(v);
      if (s != nullptr && absl::SimpleAtoi(s, &local) && local >= 1) break;
      local = 1;
    }
    FLAGS_threads = DefaultThreadsPerRank(local);
  }
  return job;
}

// Resuming (matterport's find_last): the checkpoint to continue from (--resume, or the newest under
// `model_dir` with --init_with=last; empty: a new run). The run continues with the config it started
// with, its folder's config.json, which replaces *config; config flags, when given, must describe the
// same config.
absl::StatusOr<std::string> ResolveResume(const std::string& model_dir, const std::vector<std::string>& sets,
                                          Config* config) {
  std::string resume_from = FLAGS_resume;
  if (resume_from.empty() && FLAGS_init_with == "last") {
    absl::StatusOr<std::string> found = FindLast(model_dir, config->NAME);
    if (!found.ok()) return found.status();
    resume_from = *found;
  }
  if (!resume_from.empty()) {
    const bool described = !sets.empty() || !FLAGS_preset.empty() || !FLAGS_config.empty() || FLAGS_seed >= 0;
    absl::StatusOr<Config> stored = ResumeConfig(resume_from, described ? std::optional<Config>(*config) : std::nullopt);
    if (!stored.ok()) return stored.status();
    *config = std::move(*stored);
  }
  return resume_from;
}

// The device of --device. Data-parallel on GPUs (`job` given): NCCL, one device per rank (torchrun's
// LOCAL_RANK, Slurm's SLURM_LOCALID) unless --device names one.
absl::StatusOr<torch::Device> TrainingDevice(RankOptions* job) {
  absl::StatusOr<torch::Device> device = ParseDevice(FLAGS_device);
  if (!device.ok() || job == nullptr || !device->is_cuda()) return device;
  job->backend = "nccl";
  if (!device->has_index()) {
    int local = 0;
    for (const char* v : {"LOCAL_RANK", "SLURM_LOCALID"}) {
      const char* s = std::getenv(v);
      if (s != nullptr && absl::SimpleAtoi(s, &local) && local >= 0) break;
      local = 0;
    }
    const int64_t count = std::max<int64_t>(1, torch::cuda::device_count());
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local % count));
  }
  job->cuda_device = device->index();
  return device;
}

// Connects this rank to the others; every rank must run the same binary, config and flags.
absl::StatusOr<std::shared_ptr<DataParallelGroup>> ConnectGroup(const RankOptions& job, const Config& config) {
  absl::StatusOr<std::string> fingerprint = Fingerprint(config);
  if (!fingerprint.ok()) return fingerprint.status();
  absl::StatusOr<std::shared_ptr<DataParallelGroup>> group = DataParallelGroup::Connect(job, *fingerprint);
  if (!group.ok()) return group.status();
  if ((*group)->is_root()) {
    std::cerr << absl::StrFormat("data-parallel: %d ranks (%s), rendezvous at %s:%d, %d threads per rank, "
                                 "%d of the %d images of each batch per rank\n",
                                 (*group)->world_size(), job.source, job.master_addr, job.master_port,
                                 at::get_num_threads(), config.BATCH_SIZE() / (*group)->world_size(),
                                 config.BATCH_SIZE());
  }
  return group;
}

// The trainer's starting point: the checkpoint resumed, or on the root the initial weights
// (--init_with, --weights) and a new run folder under `model_dir`. Rank 0's weights reach the other
// ranks when training starts (Trainer broadcasts them).
absl::Status StartRun(Trainer& trainer, const std::string& resume_from, const std::string& model_dir, bool root) {
  if (!resume_from.empty()) {
    absl::Status s = trainer.Resume(resume_from);
    if (!s.ok()) return s;
    if (root) std::cerr << "resumed " << resume_from << " at epoch " << trainer.epoch() << "\n";
    return absl::OkStatus();
  }
  if (!root) return absl::OkStatus();
  if (FLAGS_init_with != "none" || !FLAGS_weights.empty()) {
    const std::string kind = FLAGS_init_with == "none" ? "file" : FLAGS_init_with;
    absl::StatusOr<LoadReport> r = LoadInitialWeights(*trainer.model(), kind, FLAGS_weights,
                                                      absl::StrSplit(FLAGS_exclude, ',', absl::SkipEmpty()));
    if (!r.ok()) return r.status();
    std::cerr << "weights " << FLAGS_weights << ": " << r->Summary() << "\n";
  }
  return trainer.SetRunDir(model_dir);
}

// The lines the progress output ends an epoch with.
std::string EpochSummary(const EpochReport& r, bool data_parallel) {
  std::string line = absl::StrFormat("epoch %d: loss %.4f", r.epoch, r.train_losses.at("loss"));
  if (!r.val_losses.empty()) absl::StrAppendFormat(&line, "  val_loss %.4f", r.val_losses.at("loss"));
  absl::StrAppend(&line, "\n  ");
  for (const auto& [k, v] : r.train_losses) {
    if (k != "loss") absl::StrAppendFormat(&line, " %s %.4f", k, v);
  }
  if (r.coco) {
    absl::StrAppendFormat(&line, "  bbox AP %.3f AP50 %.3f  segm AP %.3f AP50 %.3f (%d images, %d detections, %.1f s)",
                          r.coco->bbox.stats[0], r.coco->bbox.stats[1], r.coco->segm.stats[0],
                          r.coco->segm.stats[1], r.coco->images, r.coco->detections, r.coco->seconds);
  }
  absl::StrAppendFormat(&line, "  train time %.1f s", r.total_train_seconds);
  if (data_parallel) {
    absl::StrAppendFormat(&line,
                          "\n  data-parallel: epoch %.3f s, waiting for the gradient allreduce %.3f s (%.1f%%); "
                          "%d of %d buckets started during backward",
                          r.train_seconds, r.allreduce_seconds,
                          100.0 * r.allreduce_seconds / std::max(1e-9, r.train_seconds),
                          r.buckets_started_in_backward, r.buckets);
  } else {
    absl::StrAppendFormat(&line, " (epoch %.3f s)", r.train_seconds);
  }
  if (!r.checkpoint.empty()) absl::StrAppend(&line, "\n  checkpoint ", r.checkpoint);
  return line;
}

// Trains every stage in turn, reporting to the progress output and the observer (may be null).
absl::Status TrainStages(Trainer& trainer, const TrainValData& data, const std::vector<Stage>& stages,
                         const Config& config, bool data_parallel, Progress& progress,
                         TrainingObserver* observer) {
  for (const Stage& stage : stages) {
    TrainOptions o;
    o.layers = stage.layers;
    o.epochs = stage.epochs;
    o.learning_rate = config.LEARNING_RATE * stage.lr_factor;
    o.augment = FLAGS_augment;
    o.num_workers = FLAGS_workers;
    o.coco_eval = FLAGS_coco_eval;
    o.coco_max_images = FLAGS_coco_images;
    o.stop_at_epoch = FLAGS_stop_at_epoch;
    absl::Status step_error;
    o.on_step = [&](const StepReport& r) {
      progress.Step(r.epoch, r.step_in_epoch, r.losses.at("loss"), r.images, r.seconds);
      if (observer != nullptr) {
        absl::Status s = observer->OnStep(r);
        if (!s.ok() && step_error.ok()) step_error = s;
      }
    };
    o.on_epoch = [&](const EpochReport& r) -> absl::Status {
      if (!step_error.ok()) return step_error;
      progress.EndEpoch(EpochSummary(r, data_parallel));
      return observer != nullptr ? observer->OnEpoch(r) : absl::OkStatus();
    };
    absl::Status s = trainer.Train(data.train, data.val, o);
    if (!s.ok()) return s;
  }
  return observer != nullptr ? observer->OnFinish() : absl::OkStatus();
}

int Main(int argc, char** argv, const TrainProgramHooks& hooks) {
  std::vector<std::string> sets = ExtractRepeatedFlag("set", &argc, &argv);
  gflags::SetUsageMessage(
      "Trains Mask R-CNN (matterport's model.train) on a dataset folder or the synthetic shapes.\n"
      "Usage: train --format=tutorial --dataset_dir=DIR --class_map=40=sign,51=sign_back --preset=matterport \\\n"
      "             --set NUM_CLASSES=3 --init_with=coco --weights=coco.pt --exclude=mrcnn_class_logits,mrcnn_bbox_fc,"
      "mrcnn_bbox,mrcnn_mask --stages=heads:2,all:4:0.1\n"
      "       train --format=shapes --preset=shapes --layers=all --epochs=10 --threads=2\n"
      "Config: --preset, --config=FILE.json, repeatable --set KEY=VALUE (" +
      SetFlagHelp() + ").\nCheckpoints go to <model_dir>/<NAME><YYYYMMDDTHHMM>/mask_rcnn_<name>_<epoch>.pt with "
      "config.json; --init_with=last resumes the newest one." + hooks.usage_note);
  // The original arguments, for the ranks the local launcher starts (--set included).
  std::vector<std::string> original_args(argv + 1, argv + argc);
  for (const std::string& kv : sets) original_args.push_back("--set=" + kv);
  mrcnn::ParseFlags(&argc, &argv);
  const std::vector<std::string> path_flags = PathFlags(hooks);
  ResolvePathFlags(path_flags);

  if (FLAGS_ranks > 1) return LaunchRanks(original_args, path_flags);
  absl::StatusOr<std::optional<RankOptions>> job = JobFromEnvironment();
  if (!job.ok()) return Fail(job.status());
  if (FLAGS_threads > 0) at::set_num_threads(FLAGS_threads);
  if (absl::Status s = SetFlushDenormal(FLAGS_flush_denormal); !s.ok()) return Fail(s);
  const bool root = !*job || (*job)->rank == 0;

  if (FLAGS_check_args) {
    absl::Status s = CheckArgs();
    if (!s.ok()) return Fail(s);
    std::cout << g_program << ": the arguments are usable\n";
    return 0;
  }
  absl::StatusOr<Config> config = ConfigFromFlags(sets);
  if (!config.ok()) return Fail(config.status());
  if (FLAGS_seed >= 0) config->SEED = static_cast<int>(FLAGS_seed);
  std::optional<std::string> model_dir_override;
  if (hooks.model_dir) model_dir_override = hooks.model_dir();
  const std::string model_dir = model_dir_override.value_or(FLAGS_model_dir);
  if (FLAGS_stop_at_epoch < 0) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("--stop_at_epoch must be >= 0, got ", FLAGS_stop_at_epoch)));
  }
  absl::StatusOr<std::string> resume_from = ResolveResume(model_dir, sets, &*config);
  if (!resume_from.ok()) return Fail(resume_from.status());
  absl::StatusOr<std::vector<Stage>> stages = ParseStages();
  if (!stages.ok()) return Fail(stages.status());

  absl::StatusOr<torch::Device> device = TrainingDevice(*job ? &**job : nullptr);
  if (!device.ok()) return Fail(device.status());

  std::shared_ptr<DataParallelGroup> group;
  if (*job) {
    absl::StatusOr<std::shared_ptr<DataParallelGroup>> g = ConnectGroup(**job, *config);
    if (!g.ok()) return Fail(g.status());
    group = *g;
  }
  std::unique_ptr<TrainingObserver> observer;
  if (root && hooks.make_observer) {
    absl::StatusOr<std::unique_ptr<TrainingObserver>> o = hooks.make_observer();
    if (!o.ok()) return Fail(o.status());
    observer = std::move(*o);
  }

  DataOptions d = DataOptionsFromFlags(*config);
  d.shapes_train = FLAGS_shapes_train;
  absl::StatusOr<TrainValData> data = LoadTrainVal(d);
  if (!data.ok()) return Fail(data.status());
  if (root && !data->problems.empty()) std::cerr << data->problems << "\n";
  if (root && !data->split_note.empty()) std::cerr << data->split_note << "\n";
  absl::Status cs = CheckClasses(data->train, *config, "training data");
  if (!cs.ok()) return Fail(cs);
  if (root) std::cerr << absl::StrFormat("data: %d training and %d validation images, %d classes\n",
                               data->train.num_images(), data->val.num_images(), data->train.num_classes());

  absl::StatusOr<MaskRCNN> model = CreateMaskRCNN(*config);
  if (!model.ok()) return Fail(model.status());
  (*model)->to(*device);
  absl::StatusOr<Trainer> trainer = Trainer::Create(*model, *config, group);
  if (!trainer.ok()) return Fail(trainer.status());
  absl::Status started = StartRun(*trainer, *resume_from, model_dir, root);
  if (!started.ok()) return Fail(started);
  if (root) std::cerr << "run folder " << trainer->run_dir() << "\n";
  // Once per run: bf16 is only fast where the CPU has AMX or AVX512-BF16.
  if (root && config->PRECISION == Precision::kBf16) std::cerr << "PRECISION=bf16: " << CpuIsaSummary() << "\n";

  const int final_epochs = FLAGS_stop_at_epoch > 0 ? std::min(FLAGS_stop_at_epoch, stages->back().epochs)
                                                 : stages->back().epochs;
  if (observer) {
    TrainingStart start;
    start.total_steps = static_cast<int64_t>(final_epochs) * config->STEPS_PER_EPOCH;
    start.steps_per_epoch = config->STEPS_PER_EPOCH;
    start.log_every = FLAGS_log_every;
    start.build = ThisBuild();
    start.dataset_name = data->name;
    start.dataset_hash = data->content_hash;
    for (int id = 0; id < data->val.num_classes(); ++id) start.val_class_names.push_back(data->val.classes()[id].name);
    absl::Status s = observer->OnStart(start);
    if (!s.ok()) return Fail(s);
  }

  Progress progress(stderr, final_epochs, config->STEPS_PER_EPOCH, FLAGS_log_every);
  absl::Status trained = TrainStages(*trainer, *data, *stages, *config, group != nullptr, progress, observer.get());
  if (!trained.ok()) return Fail(trained);
  return 0;
}

}  // namespace

int RunTrainProgram(int argc, char** argv, const TrainProgramHooks& hooks) {
  g_program = hooks.program;
  return Main(argc, argv, hooks);
}

}  // namespace mrcnn
