#include "experiments/trial_reporter.h"
#include "mrcnn/precision/cpu_isa.h"

namespace experiments {

CocoStats ToCocoStats(const mrcnn::eval::CocoEvalResult& result, const std::vector<std::string>& class_names) {
  CocoStats s;
  s.stats = result.stats;
  s.per_image = result.per_image;
  for (const auto& [id, ap] : result.per_category_ap) {
    const bool known = id >= 0 && id < static_cast<int64_t>(class_names.size());
    s.per_class.push_back({id, known ? class_names[id] : "", ap});
  }
  return s;
}

absl::Status TrialReporter::OnStart(const mrcnn::TrainingStart& start) {
  start_ = start;
  absl::Status s = log_.SetTotalSteps(start.total_steps);
  if (s.ok()) s = log_.SetBuild({start.build.compilation_mode, start.build.libtorch_version, start.build.cuda_version,
                                      mrcnn::CpuIsaSummary()});
  if (s.ok()) s = log_.SetDataset(start.dataset_name, start.dataset_hash);
  return s;
}

absl::Status TrialReporter::OnStep(const mrcnn::StepReport& step) {
  if (step.global_step % start_.log_every != 0 && step.step_in_epoch != start_.steps_per_epoch) {
    return absl::OkStatus();
  }
  std::vector<MetricPoint> points;
  for (const auto& [k, v] : step.losses) points.push_back({k, v, "min"});
  points.push_back({"learning_rate", step.learning_rate, "max"});
  return log_.LogMetrics(step.global_step, step.epoch, points);
}

absl::Status TrialReporter::OnEpoch(const mrcnn::EpochReport& epoch) {
  std::vector<MetricPoint> points;
  for (const auto& [k, v] : epoch.train_losses) points.push_back({"epoch_" + k, v, "min"});
  for (const auto& [k, v] : epoch.val_losses) points.push_back({"val_" + k, v, "min"});
  points.push_back({"train_seconds", epoch.total_train_seconds, "min"});
  absl::Status s = log_.LogMetrics(epoch.global_step, epoch.epoch, points);
  if (s.ok() && epoch.coco) {
    CocoResult c;
    c.bbox = ToCocoStats(epoch.coco->bbox, start_.val_class_names);
    c.segm = ToCocoStats(epoch.coco->segm, start_.val_class_names);
    s = log_.LogCoco(epoch.global_step, epoch.epoch, c);
  }
  if (s.ok() && !epoch.checkpoint.empty()) s = log_.LogCheckpoint(epoch.global_step, "last", epoch.checkpoint);
  return s;
}

absl::Status TrialReporter::OnFinish() { return log_.Finish(); }

}  // namespace experiments
