// bazel run //mrcnn:evaluate -- --weights=CHECKPOINT --format=... --dataset_dir=DIR
// COCO bbox/segm evaluation of a trained model on a dataset's validation split (or all of it); can
// write the detections as a COCO results file. See --help.
#include <ATen/Parallel.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "eval/agreement.h"
#include "eval/coco_json.h"
#include "gflags/gflags.h"
#include "mrcnn/config/flags.h"
#include "mrcnn/config/help.h"
#include "mrcnn/config/paths.h"
#include "mrcnn/model/mask_rcnn.h"
#include "mrcnn/precision/denormal.h"
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
DEFINE_bool(flush_denormal, false, "flush denormal floats to zero (see train --help)");
DEFINE_string(device, "cpu", "cpu | cuda | cuda:N: where the model runs (CUDA: a --config=cuda build)");
DEFINE_string(detections_out, "", "write the detections as a COCO results JSON file");
DEFINE_bool(compare_precision, false,
            "evaluate the weights twice, PRECISION=fp32 and PRECISION=bf16, on the same images (one per call), "
            "and print both scores and how the two detection lists agree (pairs of IoU >= 0.5: mean box and mask IoU, "
            "same class); with --detections_out=F the lists are written to F.fp32.json and F.bf16.json");

namespace mrcnn {
namespace {

int Fail(const absl::Status& s) {
  std::cerr << "evaluate: " << s.message() << "\n";
  return 1;
}

// The model of `config` with the checkpoint's weights (its optimizer and trainer state left out), on
// `device`.
absl::StatusOr<MaskRCNN> LoadModel(const Config& config, const TensorMap& tensors, const std::string& weights,
                                   const torch::Device& device) {
  absl::StatusOr<MaskRCNN> model = CreateMaskRCNN(config);
  if (!model.ok()) return model.status();
  TensorMap own;
  for (const auto& [k, v] : tensors) {
    if (k.rfind("optimizer.", 0) != 0 && k.rfind("trainer.", 0) != 0) own[k] = v;
  }
  LoadReport r = LoadStateDict(**model, own, {});
  if (!r.complete()) {
    return absl::InvalidArgumentError(absl::StrCat(weights, ": does not fit the model: ", r.Summary()));
  }
  (*model)->to(device);
  return model;
}

absl::Status WriteDetections(const std::vector<eval::Detection>& dets, const std::string& path) {
  std::ofstream out(path);
  out << eval::DetectionsToJson(dets).dump() << "\n";
  out.close();
  if (!out) return absl::InternalError(absl::StrCat(path, ": cannot write"));
  std::cout << "detections written to " << path << "\n";
  return absl::OkStatus();
}

// --compare_precision: the same weights and images in fp32 and in bf16.
int ComparePrecisions(const Config& config, const TensorMap& tensors, const std::string& weights,
                      const torch::Device& device, const datasets::Dataset& ds, const ModelEvaluator& ev) {
  std::vector<std::vector<eval::Detection>> found;
  std::vector<ModelEvaluation> scores;
  for (Precision p : {Precision::kFp32, Precision::kBf16}) {
    Config c = config;
    c.PRECISION = p;
    const std::string name = EnumName(p);
    absl::StatusOr<MaskRCNN> model = LoadModel(c, tensors, weights, device);
    if (!model.ok()) return Fail(model.status());
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::vector<eval::Detection>> dets = DetectInDataset(*model, ds, ev.indices(), /*batch_size=*/1);
    if (!dets.ok()) return Fail(dets.status());
    const double detect_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    absl::StatusOr<ModelEvaluation> res = ev.Score(*dets);
    if (!res.ok()) return Fail(res.status());
    std::cout << absl::StrFormat("PRECISION=%s: %s on %d images (%d detections, model %.1f s)\nbbox:\n%s\nsegm:\n%s\n",
                                 name, weights, res->images, res->detections, detect_s, res->bbox.Summary(),
                                 res->segm.Summary());
    if (!FLAGS_detections_out.empty()) {
      absl::Status w = WriteDetections(*dets, absl::StrCat(FLAGS_detections_out, ".", name, ".json"));
      if (!w.ok()) return Fail(w);
    }
    found.push_back(*std::move(dets));
    scores.push_back(*std::move(res));
  }
  const eval::DetectionAgreement g = eval::CompareDetections(found[0], found[1]);
  std::cout << "fp32 against bf16: " << g.Summary() << "\n";
  std::cout << absl::StrFormat(
      "AP difference (bf16 - fp32): bbox AP %+.4f AP50 %+.4f, segm AP %+.4f AP50 %+.4f\n",
      scores[1].bbox.stats[0] - scores[0].bbox.stats[0], scores[1].bbox.stats[1] - scores[0].bbox.stats[1],
      scores[1].segm.stats[0] - scores[0].segm.stats[0], scores[1].segm.stats[1] - scores[0].segm.stats[1]);
  return 0;
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
  if (absl::Status s = SetFlushDenormal(FLAGS_flush_denormal); !s.ok()) return Fail(s);
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

  absl::StatusOr<TensorMap> tensors = ReadTensorFile(weights);
  if (!tensors.ok()) return Fail(tensors.status());
  absl::StatusOr<torch::Device> device = ParseDevice(FLAGS_device);
  if (!device.ok()) return Fail(device.status());
  absl::StatusOr<ModelEvaluator> ev = ModelEvaluator::Create(ds, FLAGS_max_images);
  if (!ev.ok()) return Fail(ev.status());
  if (FLAGS_compare_precision) return ComparePrecisions(*config, *tensors, weights, *device, ds, *ev);
  absl::StatusOr<MaskRCNN> model = LoadModel(*config, *tensors, weights, *device);
  if (!model.ok()) return Fail(model.status());
  absl::StatusOr<ModelEvaluation> res = ev->Evaluate(*model, config->BATCH_SIZE());
  if (!res.ok()) return Fail(res.status());
  std::cout << absl::StrFormat("%s on %d images (%d detections, %.1f s)\nbbox:\n%s\nsegm:\n%s\n", weights,
                               res->images, res->detections, res->seconds, res->bbox.Summary(), res->segm.Summary());
  if (!FLAGS_detections_out.empty()) {
    std::vector<int> indices(res->images);
    std::iota(indices.begin(), indices.end(), 0);
    absl::StatusOr<std::vector<eval::Detection>> dets = DetectInDataset(*model, ds, indices, 1);
    if (!dets.ok()) return Fail(dets.status());
    absl::Status w = WriteDetections(*dets, FLAGS_detections_out);
    if (!w.ok()) return Fail(w);
  }
  return 0;
}

}  // namespace
}  // namespace mrcnn

int main(int argc, char** argv) { return mrcnn::GuardedMain("evaluate", mrcnn::Main, argc, argv); }
