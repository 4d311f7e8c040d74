// The trainer's progress as a trial of the experiment log: a TrainingObserver (mrcnn/train/
// train_program.h) that writes what the trainer reports through a TrialLog (trial.h). The trainer
// owns the interface and knows nothing of the log; experiments/train_main.cc plugs this in:
//
//   absl::StatusOr<TrialLog> log = TrialLog::Open(args);
//   hooks.make_observer = ... std::make_unique<TrialReporter>(std::move(*log));
//
// What it logs: the run's total steps, build and dataset at the start; the step losses and learning
// rate every `log_every` steps and at the end of each epoch; per epoch the epoch_/val_ losses,
// train_seconds, COCO bbox/segm results (with per-image results) and the checkpoint; then Finish().
#ifndef EXPERIMENTS_TRIAL_REPORTER_H_
#define EXPERIMENTS_TRIAL_REPORTER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "eval/coco_eval.h"
#include "experiments/trial.h"
#include "mrcnn/train/train_program.h"

namespace experiments {

// One IoU type's evaluation as the log stores it; class names by class id (ids past the end: "").
CocoStats ToCocoStats(const mrcnn::eval::CocoEvalResult& result, const std::vector<std::string>& class_names);

class TrialReporter : public mrcnn::TrainingObserver {
 public:
  explicit TrialReporter(TrialLog log) : log_(std::move(log)) {}

  absl::Status OnStart(const mrcnn::TrainingStart& start) override;
  absl::Status OnStep(const mrcnn::StepReport& step) override;
  absl::Status OnEpoch(const mrcnn::EpochReport& epoch) override;
  absl::Status OnFinish() override;

 private:
  TrialLog log_;
  mrcnn::TrainingStart start_;
};

}  // namespace experiments

#endif  // EXPERIMENTS_TRIAL_REPORTER_H_
