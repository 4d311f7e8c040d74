#include "mrcnn/train/evaluation.h"

#include <cstring>

#include <algorithm>
#include <chrono>
#include <utility>

#include <torch/types.h>
#include <torch/utils.h>

#include "absl/strings/str_cat.h"
#include "datasets/geometry/masks.h"
#include "datasets/loader.h"
#include "datasets/preprocess.h"

namespace mrcnn {
namespace {

// The RLE of `mask` (row-major, height x width) with every pixel a scale x scale block, encoded
// without building the full mask (a 6000 x 6000 one is 36 MB): column X of the result is column
// X / scale of `mask`, each pixel repeated `scale` times down the column.
eval::Rle RleOfBlocks(const uint8_t* mask, int64_t height, int64_t width, int scale) {
  eval::Rle rle;
  rle.height = height * scale;
  rle.width = width * scale;
  bool value = false;  // runs alternate, starting with zeros
  uint32_t run = 0;
  for (int64_t x = 0; x < width; ++x) {
    for (int repeat = 0; repeat < scale; ++repeat) {
      for (int64_t y = 0; y < height; ++y) {
        if ((mask[y * width + x] != 0) != value) {
          rle.counts.push_back(run);
          run = 0;
          value = !value;
        }
        run += scale;
      }
    }
  }
  rle.counts.push_back(run);
  return rle;
}

}  // namespace

absl::StatusOr<eval::CocoDataset> CocoGroundTruth(const datasets::Dataset& ds, int max_images) {
  eval::CocoDataset gt;
  for (int c = 1; c < ds.num_classes(); ++c) gt.categories.push_back({c, ds.classes()[c].name});
  const int n = max_images > 0 ? std::min(max_images, ds.num_images()) : ds.num_images();
  int64_t next_id = 1;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<datasets::InstanceMasks> m = ds.LoadMask(i);
    if (!m.ok()) return m.status();
    gt.images.push_back({i, m->height, m->width, ds.image_info(i).path});
    for (int k = 0; k < m->size(); ++k) {
      cv::Mat mask = m->masks[k].isContinuous() ? m->masks[k] : m->masks[k].clone();
      eval::CocoAnnotation a;
      a.id = next_id++;
      a.image_id = i;
      a.category_id = m->class_ids[k];
      a.iscrowd = k < static_cast<int>(m->crowd.size()) && m->crowd[k];
      // The tight box of the mask (datasets/geometry's MaskBox: exclusive ends) and its pixel count.
      const std::array<int, 4> box = geometry::MaskBox(mask.ptr<uint8_t>(0), mask.rows, mask.cols);
      if (box[2] <= box[0]) continue;
      const int64_t area = cv::countNonZero(mask);
      a.bbox = {double(box[0]), double(box[1]), double(box[2] - box[0]), double(box[3] - box[1])};
      a.area = static_cast<double>(area);
      a.segmentation.rle = eval::RleFromRowMajor(mask.data, mask.rows, mask.cols);
      gt.annotations.push_back(std::move(a));
    }
  }
  return gt;
}

std::vector<eval::Detection> ToCocoDetections(const ImageDetections& d, int64_t image_id, int scale) {
  std::vector<eval::Detection> out;
  const int64_t n = d.boxes.size(0);
  torch::Tensor boxes = d.boxes.to(torch::kFloat64).contiguous();
  torch::Tensor masks = d.masks.to(torch::kUInt8).contiguous();  // [D, H, W]
  for (int64_t i = 0; i < n; ++i) {
    eval::Detection det;
    det.image_id = image_id;
    det.category_id = d.labels[i].item<int64_t>();
    det.score = d.scores[i].item<double>();
    const double* b = boxes[i].data_ptr<double>();
    det.bbox = eval::Box{b[0] * scale, b[1] * scale, (b[2] - b[0]) * scale, (b[3] - b[1]) * scale};
    torch::Tensor m = masks[i];
    det.mask = scale == 1 ? eval::RleFromRowMajor(m.data_ptr<uint8_t>(), m.size(0), m.size(1))
                          : RleOfBlocks(m.data_ptr<uint8_t>(), m.size(0), m.size(1), scale);
    out.push_back(std::move(det));
  }
  return out;
}

absl::StatusOr<EvaluationInput> MakeEvaluationInput(const datasets::Dataset& ds, int index, const Config& config) {
  absl::StatusOr<datasets::PreparedImage> p = datasets::PrepareInferenceImage(ds, index, config);
  if (!p.ok()) return p.status();
  const datasets::ImageMeta& m = p->meta;
  EvaluationInput in;
  in.image = datasets::ImageTensor(p->image);
  in.reduction = std::max(1, m.decoded_reduction);
  in.geometry.window = {m.window[0], m.window[1], m.window[2], m.window[3]};
  // The reduction divides both sides exactly: detections land in the decoded image's pixels.
  in.geometry.original_size = {m.original_height / in.reduction, m.original_width / in.reduction};
  return in;
}

absl::StatusOr<std::vector<eval::Detection>> DetectInDataset(MaskRCNN& model, const datasets::Dataset& ds,
                                                            const std::vector<int>& indices, int batch_size) {
  const bool was_training = model->is_training();
  model->eval();
  std::vector<eval::Detection> dets;
  batch_size = std::max(1, batch_size);
  for (size_t s = 0; s < indices.size(); s += batch_size) {
    std::vector<torch::Tensor> images;
    std::vector<InputGeometry> geometry;
    std::vector<int> ids, scales;
    for (size_t k = s; k < std::min(indices.size(), s + batch_size); ++k) {
      absl::StatusOr<EvaluationInput> in = MakeEvaluationInput(ds, indices[k], model->config);
      if (!in.ok()) return in.status();
      images.push_back(in->image);
      geometry.push_back(in->geometry);
      ids.push_back(indices[k]);
      scales.push_back(in->reduction);
    }
    std::vector<ImageDetections> out;
    try {
      torch::NoGradGuard no_grad;
      out = model->Detect(images, geometry);
    } catch (const c10::Error& e) {
      return absl::InternalError(absl::StrCat("COCO evaluation: the model failed on image ",
                                              ds.image_info(ids[0]).path, ": ", e.what_without_backtrace()));
    }
    for (size_t k = 0; k < out.size(); ++k) {
      std::vector<eval::Detection> d = ToCocoDetections(out[k], ids[k], scales[k]);
      dets.insert(dets.end(), d.begin(), d.end());
    }
  }
  if (was_training) model->train();
  return dets;
}

absl::StatusOr<ModelEvaluator> ModelEvaluator::Create(const datasets::Dataset& ds, int max_images,
                                                      int num_threads) {
  absl::StatusOr<eval::CocoDataset> gt = CocoGroundTruth(ds, max_images);
  if (!gt.ok()) return gt.status();
  if (gt->images.empty()) return absl::InvalidArgumentError("COCO evaluation: the dataset has no images");
  eval::EvalOptions options;
  options.num_threads = num_threads;
  options.keep_per_image = true;  // logged beside the numbers, for bootstrap intervals
  ModelEvaluator ev;
  ev.dataset_ = &ds;
  for (const eval::CocoImage& im : gt->images) ev.indices_.push_back(static_cast<int>(im.id));
  absl::StatusOr<eval::CocoEvaluator> bbox = eval::CocoEvaluator::Create(*gt, eval::IouType::kBbox, eval::Params(), options);
  if (!bbox.ok()) return bbox.status();
  absl::StatusOr<eval::CocoEvaluator> segm =
      eval::CocoEvaluator::Create(std::move(*gt), eval::IouType::kSegm, eval::Params(), options);
  if (!segm.ok()) return segm.status();
  ev.bbox_ = std::make_shared<eval::CocoEvaluator>(std::move(*bbox));
  ev.segm_ = std::make_shared<eval::CocoEvaluator>(std::move(*segm));
  return ev;
}

absl::StatusOr<ModelEvaluation> ModelEvaluator::Evaluate(MaskRCNN& model, int batch_size) const {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<eval::Detection>> found = DetectInDataset(model, *dataset_, indices_, batch_size);
  if (!found.ok()) return found.status();
  absl::StatusOr<ModelEvaluation> r = Score(*found);
  if (r.ok()) r->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

namespace {

template <typename T>
void Put(std::string* out, const T& v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

template <typename T>
bool Get(const std::string& in, size_t* pos, T* v) {
  if (in.size() - *pos < sizeof(T)) return false;
  std::memcpy(v, in.data() + *pos, sizeof(T));
  *pos += sizeof(T);
  return true;
}

}  // namespace

std::string SerializeDetections(const std::vector<eval::Detection>& dets) {
  std::string out;
  Put<uint64_t>(&out, dets.size());
  for (const eval::Detection& d : dets) {
    Put(&out, d.image_id);
    Put(&out, d.category_id);
    Put(&out, d.score);
    const uint8_t flags = (d.bbox ? 1 : 0) | (d.mask ? 2 : 0) | (d.area ? 4 : 0);
    Put(&out, flags);
    if (d.bbox) {
      for (double v : {d.bbox->x, d.bbox->y, d.bbox->w, d.bbox->h}) Put(&out, v);
    }
    if (d.mask) {
      Put(&out, d.mask->height);
      Put(&out, d.mask->width);
      Put<uint64_t>(&out, d.mask->counts.size());
      if (!d.mask->counts.empty()) {
        out.append(reinterpret_cast<const char*>(d.mask->counts.data()), d.mask->counts.size() * sizeof(uint32_t));
      }
    }
    if (d.area) Put(&out, *d.area);
  }
  return out;
}

absl::StatusOr<std::vector<eval::Detection>> ParseDetections(const std::string& in, const std::string& source) {
  size_t pos = 0;
  uint64_t n = 0;
  auto bad = [&](uint64_t k) {
    return absl::DataLossError(absl::StrCat(source, ": detection ", k, " is cut short or malformed (byte ", pos, " of ",
                                            in.size(), ")"));
  };
  if (!Get(in, &pos, &n) || n > in.size()) return bad(0);
  std::vector<eval::Detection> dets(n);
  for (uint64_t k = 0; k < n; ++k) {
    eval::Detection& d = dets[k];
    uint8_t flags = 0;
    if (!Get(in, &pos, &d.image_id) || !Get(in, &pos, &d.category_id) || !Get(in, &pos, &d.score) ||
        !Get(in, &pos, &flags)) {
      return bad(k);
    }
    if (flags & 1) {
      eval::Box b;
      if (!Get(in, &pos, &b.x) || !Get(in, &pos, &b.y) || !Get(in, &pos, &b.w) || !Get(in, &pos, &b.h)) return bad(k);
      d.bbox = b;
    }
    if (flags & 2) {
      eval::Rle r;
      uint64_t m = 0;
      if (!Get(in, &pos, &r.height) || !Get(in, &pos, &r.width) || !Get(in, &pos, &m) ||
          m > (in.size() - pos) / sizeof(uint32_t)) {
        return bad(k);
      }
      r.counts.resize(m);
      if (m > 0) std::memcpy(r.counts.data(), in.data() + pos, m * sizeof(uint32_t));
      pos += m * sizeof(uint32_t);
      d.mask = std::move(r);
    }
    if (flags & 4) {
      double a = 0;
      if (!Get(in, &pos, &a)) return bad(k);
      d.area = a;
    }
  }
  if (pos != in.size()) return bad(n);
  return dets;
}

absl::StatusOr<ModelEvaluation> ModelEvaluator::Score(const std::vector<eval::Detection>& dets) const {
  const auto start = std::chrono::steady_clock::now();
  ModelEvaluation r;
  r.images = static_cast<int>(indices_.size());
  r.detections = static_cast<int>(dets.size());
  absl::StatusOr<eval::CocoEvalResult> bbox = bbox_->Evaluate(dets);
  if (!bbox.ok()) return bbox.status();
  absl::StatusOr<eval::CocoEvalResult> segm = segm_->Evaluate(dets);
  if (!segm.ok()) return segm.status();
  r.bbox = std::move(*bbox);
  r.segm = std::move(*segm);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace mrcnn
