// bazel run //mrcnn:evaluate -- --weights=CHECKPOINT --format=... --dataset_dir=DIR
// COCO bbox/segm evaluation of a trained model on a dataset's validation split (or all of it); can
// write the detections as a COCO results file. See --help.
#include <ATen/Parallel.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "eval/coco_json.h"
#include "gflags/gflags.h"
#include "mrcnn/config/flags.h"
#include "mrcnn/config/help.h"
#include "mrcnn/config/paths.h"
#include "mrcnn/model/mask_rcnn.h"
#include "mrcnn/train/data.h"
#include "mrcnn/train/data_flags.h"
#include "mrcnn/train/evaluation.h"
#include "mrcnn/train/trainer.h"
#include "mrcnn/weights/weights.h"
#include "mrcnn/config/untrusted.h"

DEFINE_string(weights, "", "checkpoint or weight file; 'last' = the newest checkpoint under --model_dir");
DEFINE_string(model_dir, "logs", "where --weights=last looks (run folders of //mrcnn:train)");
DEFINE_string(split, "val", "val (the training run's held-out images) | train");
DEFINE_int32(max_images, 0, "evaluate the first N images (0: all)");
DEFINE_int32(threads, 0, "intra-op threads; 0: LibTorch's default");
DEFINE_string(device, "cpu", "cpu | cuda | cuda:N: where the model runs (CUDA: a --config=cuda build)");
DEFINE_string(detections_out, "", "write the detections as a COCO results JSON file");

namespace mrcnn {
namespace {

int Fail(const absl::Status& s) {
  std::cerr << "evaluate: " << s.message() << "\n";
  return 1;
}

int Main(int argc, char** argv) {
  std::vector<std::string> sets = ExtractRepeatedFlag("set", &argc, &argv);
  gflags::SetUsageMessage(
      "COCO evaluation (bbox and segm, pycocotools' numbers) of a trained Mask R-CNN.\n"
      "  evaluate --weights=logs/shapes20261126T0100/mask_rcnn_shapes_0010.pt --format=shapes\n"
      "  evaluate --weights=last --format=tutorial --dataset_dir=DIR --detections_out=dets.json\n"
      "The config is the run folder's config.json beside the weights unless --preset/--config/--set are given (" +
      SetFlagHelp() + ").");
  mrcnn::ParseFlags(&argc, &argv);
  ResolvePathFlags({"dataset_dir", "val_dir", "model_dir", "detections_out"});
  if (FLAGS_weights != "last") FLAGS_weights = ResolveUserPath(FLAGS_weights);
  if (FLAGS_threads > 0) at::set_num_threads(FLAGS_threads);
  if (FLAGS_weights.empty()) return Fail(absl::InvalidArgumentError("--weights is required (a file or 'last')"));

  std::string weights = FLAGS_weights;
  if (weights == "last") {
    absl::StatusOr<Config> c = ConfigFromFlags(sets);
    if (!c.ok()) return Fail(c.status());
    absl::StatusOr<std::string> last = FindLast(FLAGS_model_dir, c->NAME);
    if (!last.ok()) return Fail(last.status());
    weights = *last;
  }
  if (!std::filesystem::exists(weights)) return Fail(absl::NotFoundError(absl::StrCat(weights, ": no such file")));
  absl::StatusOr<Config> config = ConfigForWeights(weights, sets);
  if (!config.ok()) return Fail(config.status());

  DataOptions d = DataOptionsFromFlags(*config);
  d.shapes_train = 0;
  absl::StatusOr<TrainValData> data = LoadTrainVal(d);
  if (!data.ok()) return Fail(data.status());
  datasets::Dataset ds = FLAGS_split == "train" ? data->train : data->val;
  if (FLAGS_split != "val" && FLAGS_split != "train") {
    return Fail(absl::InvalidArgumentError(absl::StrCat("--split=", FLAGS_split, ": expected val or train")));
  }
  absl::Status cs = CheckClasses(ds, *config, "dataset");
  if (!cs.ok()) return Fail(cs);

  absl::StatusOr<MaskRCNN> model = CreateMaskRCNN(*config);
  if (!model.ok()) return Fail(model.status());
  absl::StatusOr<TensorMap> tensors = ReadTensorFile(weights);
  if (!tensors.ok()) return Fail(tensors.status());
  TensorMap own;
  for (auto& [k, v] : *tensors) {
    if (k.rfind("optimizer.", 0) != 0 && k.rfind("trainer.", 0) != 0) own[k] = v;
  }
  LoadReport r = LoadStateDict(**model, own, {});
  if (!r.complete()) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(weights, ": does not fit the model: ", r.Summary())));
  }
  absl::StatusOr<torch::Device> device = ParseDevice(FLAGS_device);
  if (!device.ok()) return Fail(device.status());
  (*model)->to(*device);
  absl::StatusOr<ModelEvaluator> ev = ModelEvaluator::Create(ds, FLAGS_max_images);
  if (!ev.ok()) return Fail(ev.status());
  absl::StatusOr<ModelEvaluation> res = ev->Evaluate(*model, config->BATCH_SIZE());
  if (!res.ok()) return Fail(res.status());
  std::cout << absl::StrFormat("%s on %d images (%d detections, %.1f s)\nbbox:\n%s\nsegm:\n%s\n", weights,
                               res->images, res->detections, res->seconds, res->bbox.Summary(), res->segm.Summary());
  if (!FLAGS_detections_out.empty()) {
    std::vector<int> indices(res->images);
    std::iota(indices.begin(), indices.end(), 0);
    absl::StatusOr<std::vector<eval::Detection>> dets = DetectInDataset(*model, ds, indices, 1);
    if (!dets.ok()) return Fail(dets.status());
    std::ofstream out(FLAGS_detections_out);
    out << eval::DetectionsToJson(*dets).dump() << "\n";
    if (!out) return Fail(absl::InternalError(absl::StrCat(FLAGS_detections_out, ": cannot write")));
    std::cout << "detections written to " << FLAGS_detections_out << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace mrcnn

int main(int argc, char** argv) { return mrcnn::GuardedMain("evaluate", mrcnn::Main, argc, argv); }
