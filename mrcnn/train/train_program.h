// The training program (matterport's model.train from a command line): its flags, the data, the
// stages, resuming, data-parallel ranks and progress output. //mrcnn:train is this program alone;
// a layer above adds its own reporting through TrainProgramHooks without the trainer knowing it
// (experiments/train_main.cc plugs the experiment log's trial protocol in that way):
//
//   class MyObserver : public mrcnn::TrainingObserver { ... };
//   mrcnn::TrainProgramHooks hooks;
//   hooks.make_observer = []() -> absl::StatusOr<std::unique_ptr<mrcnn::TrainingObserver>> {
//     return std::make_unique<MyObserver>();
//   };
//   int main(int argc, char** argv) { return mrcnn::RunTrainProgram(argc, argv, hooks); }
//
// Hooks are called on the process that reports (rank 0, or the only process) only.
#ifndef MRCNN_TRAIN_TRAIN_PROGRAM_H_
#define MRCNN_TRAIN_TRAIN_PROGRAM_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mrcnn/train/build_info.h"
#include "mrcnn/train/trainer.h"

namespace mrcnn {

// What a run is, known once the data is loaded and before the first step.
struct TrainingStart {
  int64_t total_steps = 0;  // of the whole run up to the last epoch trained (--stop_at_epoch included)
  int steps_per_epoch = 0;
  int log_every = 1;  // --log_every: how often plain log lines (and step metrics) are wanted
  BuildInfo build;    // how this binary was built (build_info.h)
  std::string dataset_name;
  std::string dataset_hash;
  // Class names of the validation set by class id (0 = BG), for per-class COCO results.
  std::vector<std::string> val_class_names;
};

// Receives the run's progress. A non-OK status from any call ends the run with that error (a step's
// error at the end of its epoch, as the trainer's on_epoch does).
class TrainingObserver {
 public:
  virtual ~TrainingObserver() = default;
  virtual absl::Status OnStart(const TrainingStart& start) = 0;
  virtual absl::Status OnStep(const StepReport& step) = 0;  // every step
  // After each epoch: losses, COCO results and the checkpoint written, if any.
  virtual absl::Status OnEpoch(const EpochReport& epoch) = 0;
  // After the last stage trained.
  virtual absl::Status OnFinish() = 0;
};

struct TrainProgramHooks {
  // The program's name in errors and the usage line.
  std::string program = "train";
  // Appended to the usage message (--help): what the hooks add to the command line.
  std::string usage_note;
  // Flags defined by the caller that are paths: taken relative to where `bazel run` started, and
  // passed on absolute to the ranks of --ranks.
  std::vector<std::string> path_flags;
  // Where run folders go instead of --model_dir (also for --init_with=last); nullopt: --model_dir.
  std::function<std::optional<std::string>()> model_dir;
  // Called once the config is known, before the data is loaded; may fail (bad flags of the caller).
  // Returning null means no observer for this run.
  std::function<absl::StatusOr<std::unique_ptr<TrainingObserver>>()> make_observer;
};

// Parses the command line (gflags; --set taken out first) and trains. Returns the exit status.
int RunTrainProgram(int argc, char** argv, const TrainProgramHooks& hooks);

}  // namespace mrcnn

#endif  // MRCNN_TRAIN_TRAIN_PROGRAM_H_
