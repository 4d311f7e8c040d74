// COCO evaluation of a model on a Dataset, in process: the ground truth is built once from the
// dataset's masks (image id = image index, category id = class id), then each Evaluate() runs the
// model over the images and scores boxes and masks with eval's CocoEvaluator (pycocotools' numbers).
//
//   absl::StatusOr<ModelEvaluator> ev = ModelEvaluator::Create(val_dataset, /*max_images=*/100);
//   absl::StatusOr<ModelEvaluation> r = ev->Evaluate(*model);   // switches the model to eval()
//   r->segm.stats[1];  // segm AP50
#ifndef MRCNN_TRAIN_EVALUATION_H_
#define MRCNN_TRAIN_EVALUATION_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "datasets/dataset.h"
#include "eval/coco_eval.h"
#include "mrcnn/model/mask_rcnn.h"

namespace mrcnn {

struct ModelEvaluation {
  eval::CocoEvalResult bbox;
  eval::CocoEvalResult segm;
  int images = 0;
  int detections = 0;
  double seconds = 0;  // model and evaluation
};

// The COCO form of the first `max_images` images of `ds` (0: all): RLE masks, tight boxes, pixel areas.
absl::StatusOr<eval::CocoDataset> CocoGroundTruth(const datasets::Dataset& ds, int max_images);

// One image's detections in COCO form (boxes as x, y, w, h; masks as RLE). `scale` > 1: the image was
// decoded at 1/scale, and boxes and masks (nearest neighbour) are scaled up to its full size.
std::vector<eval::Detection> ToCocoDetections(const ImageDetections& d, int64_t image_id, int scale = 1);

// What evaluation gives the model for image `index` of `ds`: datasets::PrepareInferenceImage (the
// training resize with flips off; crop mode becomes pad64) as a [3, H, W] float tensor, and the
// geometry that maps its detections back to the decoded image (a JPEG decoded at 1/reduction).
struct EvaluationInput {
  torch::Tensor image;
  InputGeometry geometry;
  int reduction = 1;
};
absl::StatusOr<EvaluationInput> MakeEvaluationInput(const datasets::Dataset& ds, int index, const Config& config);

// Runs the model (eval mode, `batch_size` images per call) on images `indices` of `ds` and returns
// their detections with image id = index, in the images' full pixel coordinates. A JPEG at least
// twice the model's input size is decoded at 1/2, 1/4 or 1/8 (Dataset::LoadImageForSize), so a
// 6000 x 6000 photo costs what its 750 x 750 reduction does; its detections are scaled back up.
absl::StatusOr<std::vector<eval::Detection>> DetectInDataset(MaskRCNN& model, const datasets::Dataset& ds,
                                                            const std::vector<int>& indices, int batch_size);

// Detections as bytes and back, exactly (data-parallel evaluation gathers them on rank 0). Parse
// errors name `source`.
std::string SerializeDetections(const std::vector<eval::Detection>& detections);
absl::StatusOr<std::vector<eval::Detection>> ParseDetections(const std::string& bytes, const std::string& source);

class ModelEvaluator {
 public:
  static absl::StatusOr<ModelEvaluator> Create(const datasets::Dataset& ds, int max_images,
                                               int num_threads = 1);
  // Runs the model (eval mode, `batch_size` images per call) and evaluates bbox and segm.
  absl::StatusOr<ModelEvaluation> Evaluate(MaskRCNN& model, int batch_size = 1) const;

  // For evaluation in parts (data-parallel: each rank detects on a slice of indices()): the images
  // evaluated, in order, and the scoring of all their detections (in that order).
  const datasets::Dataset& dataset() const { return *dataset_; }
  const std::vector<int>& indices() const { return indices_; }
  absl::StatusOr<ModelEvaluation> Score(const std::vector<eval::Detection>& detections) const;

 private:
  ModelEvaluator() = default;
  const datasets::Dataset* dataset_ = nullptr;
  std::vector<int> indices_;
  std::shared_ptr<eval::CocoEvaluator> bbox_, segm_;
};

}  // namespace mrcnn

#endif  // MRCNN_TRAIN_EVALUATION_H_
