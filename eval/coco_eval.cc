#include "eval/coco_eval.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "eval/parallel.h"

namespace mrcnn::eval {
namespace {

// numpy.linspace(start, stop, num): start + i * step, with the last value set to stop. COCO's
// thresholds are exactly these doubles (0.8999999999999999 for the ninth IoU threshold).
std::vector<double> Linspace(double start, double stop, int num) {
  std::vector<double> values(num);
  const double step = (stop - start) / (num - 1);
  for (int i = 0; i < num; ++i) values[i] = i * step + start;
  values[num - 1] = stop;
  return values;
}

template <typename T>
std::vector<T> SortedUnique(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

bool IsFiniteBox(const Box& b) {
  return std::isfinite(b.x) && std::isfinite(b.y) && std::isfinite(b.w) && std::isfinite(b.h);
}

absl::Status CheckBox(const Box& b) {
  if (!IsFiniteBox(b)) return absl::InvalidArgumentError("bbox has a non-finite value");
  if (b.w < 0 || b.h < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bbox [", b.x, ", ", b.y, ", ", b.w, ", ", b.h, "] has a negative size"));
  }
  return absl::OkStatus();
}

absl::Status CheckMaskSize(const Rle& rle, const CocoImage& image) {
  if (rle.height != image.height || rle.width != image.width) {
    return absl::InvalidArgumentError(absl::StrCat("RLE size [", rle.height, ", ", rle.width,
                                                   "] differs from image ", image.id, "'s [",
                                                   image.height, ", ", image.width, "]"));
  }
  return ValidateRle(rle);
}

// Per (category k, image i) result of evaluateImg for every area range.
struct ImageCategoryEval {
  bool present = false;        // false: neither ground truth nor detections (pycocotools' None)
  std::vector<double> scores;  // D detection scores, highest first
  std::vector<int> num_counted_gt;  // [A] ground truth that is not ignored
  std::vector<uint8_t> dt_matched;  // [A, T, D]
  std::vector<uint8_t> dt_ignored;  // [A, T, D]
};

// numpy's pairwise summation (8 accumulators per block of up to 128 values, halves above that),
// so that means come out bit-identical to numpy.mean rather than merely close.
double PairwiseSum(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return PairwiseSum(a, n2) + PairwiseSum(a + n2, n - n2);
}

// numpy.mean(values[values > -1]), or -1 when nothing is above -1 (pycocotools' summarize()).
double MeanOfValid(const std::vector<double>& values) {
  std::vector<double> valid;
  valid.reserve(values.size());
  for (double v : values) {
    if (v > -1) valid.push_back(v);
  }
  if (valid.empty()) return -1.0;
  return PairwiseSum(valid.data(), valid.size()) / static_cast<double>(valid.size());
}

}  // namespace

const std::array<const char*, 12> kStatNames = {"AP",  "AP50", "AP75",  "APs", "APm", "APl",
                                                "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};

const char* IouTypeName(IouType type) { return type == IouType::kBbox ? "bbox" : "segm"; }

absl::StatusOr<IouType> ParseIouType(const std::string& name) {
  if (name == "bbox") return IouType::kBbox;
  if (name == "segm") return IouType::kSegm;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown iou_type '", name, "'; expected bbox or segm"));
}

Params::Params()
    : iou_thrs(Linspace(.5, 0.95, 10)),
      rec_thrs(Linspace(.0, 1.00, 101)),
      max_dets{1, 10, 100},
      area_rng{{{0, 1e10}}, {{0, 32.0 * 32}}, {{32.0 * 32, 96.0 * 96}}, {{96.0 * 96, 1e10}}},
      area_rng_lbl{"all", "small", "medium", "large"} {}

struct CocoEvaluator::State {
  CocoDataset owned_gt;             // the ground truth, unless borrowed for one EvaluateCoco call
  const CocoDataset* gt = nullptr;  // &owned_gt or the borrowed dataset
  IouType iou_type = IouType::kBbox;
  Params params;  // resolved
  EvalOptions options;
  std::unordered_map<int64_t, size_t> image_by_id;    // every GT image -> index into gt.images
  std::unordered_map<int64_t, int> known_categories;  // every GT category id -> 0
  std::unordered_map<int64_t, int> eval_image;        // evaluated image id -> i
  std::unordered_map<int64_t, int> eval_category;     // evaluated category id -> k (0 if !use_cats)
  // Position of a category in the given cat_ids; orders objects when categories are pooled.
  std::unordered_map<int64_t, int> category_rank;
  int num_k = 0;
  // Ground truth per (k, i) in the order pycocotools sees it: file order, or with use_cats off,
  // grouped by category in cat_ids order.
  std::vector<std::vector<int>> gt_by_cell;  // [K * I] annotation indices
  std::vector<Rle> gt_masks;                 // per annotation (kSegm)
  std::vector<Box> gt_mask_boxes;            // per annotation (kSegm)
};

CocoEvaluator::CocoEvaluator(std::unique_ptr<State> state) : state_(std::move(state)) {}
CocoEvaluator::CocoEvaluator(CocoEvaluator&&) noexcept = default;
CocoEvaluator& CocoEvaluator::operator=(CocoEvaluator&&) noexcept = default;
CocoEvaluator::~CocoEvaluator() = default;
const CocoDataset& CocoEvaluator::ground_truth() const { return *state_->gt; }

absl::StatusOr<CocoEvaluator> CocoEvaluator::Create(CocoDataset ground_truth, IouType iou_type,
                                                    Params params, EvalOptions options) {
  auto state = std::make_unique<State>();
  state->owned_gt = std::move(ground_truth);
  state->gt = &state->owned_gt;
  return Prepare(std::move(state), iou_type, std::move(params), options);
}

absl::StatusOr<CocoEvaluator> CocoEvaluator::CreateBorrowing(const CocoDataset& ground_truth,
                                                             IouType iou_type, Params params,
                                                             EvalOptions options) {
  auto state = std::make_unique<State>();
  state->gt = &ground_truth;
  return Prepare(std::move(state), iou_type, std::move(params), options);
}

absl::StatusOr<CocoEvaluator> CocoEvaluator::Prepare(std::unique_ptr<State> state, IouType iou_type,
                                                     Params params, EvalOptions options) {
  State& s = *state;
  s.iou_type = iou_type;
  s.options = options;
  const CocoDataset& gt = *s.gt;

  for (size_t j = 0; j < gt.images.size(); ++j) {
    const CocoImage& img = gt.images[j];
    if (!s.image_by_id.emplace(img.id, j).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("images[", j, "]: duplicate image id ", img.id));
    }
    if (img.height <= 0 || img.width <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("images[", j, "] (id ", img.id, "): size ",
                                                     img.height, "x", img.width,
                                                     " is not positive"));
    }
  }
  for (size_t j = 0; j < gt.categories.size(); ++j) {
    if (!s.known_categories.emplace(gt.categories[j].id, 0).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("categories[", j, "]: duplicate category id ", gt.categories[j].id));
    }
  }

  // Params as COCOeval.evaluate() resolves them.
  if (params.img_ids.empty()) {
    for (const CocoImage& img : gt.images) params.img_ids.push_back(img.id);
  }
  const bool cat_ids_given = !params.cat_ids.empty();
  if (!cat_ids_given) {
    for (const CocoCategory& c : gt.categories) params.cat_ids.push_back(c.id);
  }
  // With use_cats off pycocotools pools the categories in the order given (by default the sorted
  // ground-truth ids; it sorts given ids only when use_cats is on), and that order decides which
  // object a tied detection matches.
  const std::vector<int64_t> pooling_order =
      params.use_cats || !cat_ids_given ? SortedUnique(params.cat_ids) : params.cat_ids;
  params.img_ids = SortedUnique(params.img_ids);
  params.cat_ids = SortedUnique(params.cat_ids);
  std::sort(params.max_dets.begin(), params.max_dets.end());
  if (params.iou_thrs.empty() || params.rec_thrs.empty() || params.max_dets.empty() ||
      params.area_rng.empty()) {
    return absl::InvalidArgumentError(
        "params: iou_thrs, rec_thrs, max_dets and area_rng must not be empty");
  }
  if (params.area_rng_lbl.size() != params.area_rng.size()) {
    return absl::InvalidArgumentError(absl::StrCat("params: ", params.area_rng.size(),
                                                   " area ranges but ", params.area_rng_lbl.size(),
                                                   " labels"));
  }
  if (params.max_dets.front() < 0) {
    return absl::InvalidArgumentError("params: max_dets must not be negative");
  }
  for (int64_t id : params.img_ids) {
    if (!s.image_by_id.count(id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("params: img_ids names image ", id, ", which is not in the ground truth"));
    }
  }
  s.params = params;
  for (size_t i = 0; i < params.img_ids.size(); ++i) s.eval_image[params.img_ids[i]] = i;
  for (size_t k = 0; k < params.cat_ids.size(); ++k) {
    s.eval_category[params.cat_ids[k]] = params.use_cats ? k : 0;
  }
  for (size_t k = 0; k < pooling_order.size(); ++k) s.category_rank.emplace(pooling_order[k], k);
  s.num_k = params.use_cats ? static_cast<int>(params.cat_ids.size()) : 1;
  const int num_i = static_cast<int>(params.img_ids.size());

  // Check every object, then group the evaluated ones by (k, i).
  for (size_t j = 0; j < gt.annotations.size(); ++j) {
    const CocoAnnotation& ann = gt.annotations[j];
    auto where = [&]() { return absl::StrCat("annotations[", j, "] (id ", ann.id, "): "); };
    auto img = s.image_by_id.find(ann.image_id);
    if (img == s.image_by_id.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "image_id ", ann.image_id, " is not in the images list"));
    }
    if (!s.known_categories.count(ann.category_id)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "category_id ", ann.category_id, " is not in the categories list"));
    }
    if (absl::Status st = CheckBox(ann.bbox); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where(), st.message()));
    }
    if (!std::isfinite(ann.area)) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "area is not finite"));
    }
    if (ann.segmentation.rle) {
      if (absl::Status st = CheckMaskSize(*ann.segmentation.rle, gt.images[img->second]);
          !st.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(where(), "segmentation: ", st.message()));
      }
    }
    if (iou_type == IouType::kSegm && !ann.segmentation.rle && ann.segmentation.polygons.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "has no segmentation, which segm evaluation needs"));
    }
  }
  s.gt_by_cell.assign(static_cast<size_t>(s.num_k) * num_i, {});
  {
    std::vector<int> order(gt.annotations.size());
    std::iota(order.begin(), order.end(), 0);
    if (!params.use_cats) {
      // Pooled categories: pycocotools concatenates the per-category lists in cat_ids order.
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        auto ra = s.category_rank.find(gt.annotations[a].category_id);
        auto rb = s.category_rank.find(gt.annotations[b].category_id);
        const int va = ra == s.category_rank.end() ? -1 : ra->second;
        const int vb = rb == s.category_rank.end() ? -1 : rb->second;
        return va < vb;
      });
    }
    for (int j : order) {
      const CocoAnnotation& ann = gt.annotations[j];
      auto i = s.eval_image.find(ann.image_id);
      auto k = s.eval_category.find(ann.category_id);
      if (i == s.eval_image.end() || k == s.eval_category.end()) continue;
      s.gt_by_cell[static_cast<size_t>(k->second) * num_i + i->second].push_back(j);
    }
  }

  if (iou_type == IouType::kSegm) {
    s.gt_masks.resize(gt.annotations.size());
    s.gt_mask_boxes.resize(gt.annotations.size());
    std::vector<absl::Status> errors(gt.annotations.size());
    ParallelFor(static_cast<int>(gt.annotations.size()), options.num_threads, [&](int j) {
      const CocoAnnotation& ann = gt.annotations[j];
      if (!s.eval_image.count(ann.image_id) || !s.eval_category.count(ann.category_id)) return;
      const CocoImage& img = gt.images[s.image_by_id.at(ann.image_id)];
      if (ann.segmentation.rle) {
        s.gt_masks[j] = *ann.segmentation.rle;
      } else {
        absl::StatusOr<Rle> rle = RleFromPolygons(ann.segmentation.polygons, img.height, img.width);
        if (!rle.ok()) {
          errors[j] = absl::InvalidArgumentError(absl::StrCat(
              "annotations[", j, "] (id ", ann.id, "): segmentation: ", rle.status().message()));
          return;
        }
        s.gt_masks[j] = *std::move(rle);
      }
      s.gt_mask_boxes[j] = RleToBox(s.gt_masks[j]);
    });
    for (const absl::Status& e : errors) {
      if (!e.ok()) return e;
    }
  }
  return CocoEvaluator(std::move(state));
}

namespace {

// The detections an evaluation uses, checked and grouped (the first part of pycocotools' evaluate()).
struct GroupedDetections {
  std::vector<double> dt_area;                // per detection: its area for the area ranges
  std::unordered_map<size_t, Rle> box_masks;  // masks drawn from box-only results (kSegm)
  std::vector<std::vector<int>> by_cell;      // [K * I] detection indices, in list order
};

}  // namespace

// pycocotools' stages, each a function of the evaluator's prepared state.
struct CocoEvaluator::Stages {
  // Checks every detection and groups the evaluated ones by (k, i), in list order (with use_cats
  // off, grouped by category in cat_ids order first).
  static absl::StatusOr<GroupedDetections> Group(const State& s, const std::vector<Detection>& detections);
  // evaluate(): evaluateImg for every (k, i), images in parallel.
  static std::vector<ImageCategoryEval> EvaluateImages(const State& s, const std::vector<Detection>& detections,
                                                       const GroupedDetections& grouped);
};

absl::StatusOr<GroupedDetections> CocoEvaluator::Stages::Group(const State& s,
                                                               const std::vector<Detection>& detections) {
  const Params& p = s.params;
  const CocoDataset& gt = *s.gt;
  const int num_i = static_cast<int>(p.img_ids.size());
  GroupedDetections grouped;
  grouped.dt_area.assign(detections.size(), 0);
  grouped.by_cell.resize(static_cast<size_t>(s.num_k) * num_i);
  std::vector<int> order(detections.size());
  std::iota(order.begin(), order.end(), 0);
  for (size_t j = 0; j < detections.size(); ++j) {
    const Detection& d = detections[j];
    auto where = [&]() { return absl::StrCat("detection ", j, " (image_id ", d.image_id, "): "); };
    auto img = s.image_by_id.find(d.image_id);
    if (img == s.image_by_id.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "image_id is not in the ground truth"));
    }
    if (!s.known_categories.count(d.category_id) && !s.options.ignore_unknown_categories) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "category_id ", d.category_id, " is not in the ground truth"));
    }
    if (!std::isfinite(d.score)) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "score is not finite"));
    }
    if (d.bbox) {
      if (absl::Status st = CheckBox(*d.bbox); !st.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(where(), st.message()));
      }
    }
    if (d.mask) {
      if (absl::Status st = CheckMaskSize(*d.mask, gt.images[img->second]); !st.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(where(), "mask: ", st.message()));
      }
    }
    if (!d.bbox && !d.mask) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "has neither a bbox nor a mask"));
    }
    if (d.area && !std::isfinite(*d.area)) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "area is not finite"));
    }
    if (s.iou_type == IouType::kSegm && !d.mask) {
      // Box-only result in mask evaluation: pycocotools draws the box as a polygon.
      absl::StatusOr<Rle> drawn =
          RleFromBox(*d.bbox, gt.images[img->second].height, gt.images[img->second].width);
      if (!drawn.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where(), "bbox cannot be drawn as a mask: ", drawn.status().message()));
      }
      grouped.box_masks.emplace(j, *std::move(drawn));
    }
    grouped.dt_area[j] = d.area   ? *d.area
                         : d.bbox ? d.bbox->w * d.bbox->h
                                  : static_cast<double>(RleArea(*d.mask));
  }
  if (!p.use_cats) {
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      auto ra = s.category_rank.find(detections[a].category_id);
      auto rb = s.category_rank.find(detections[b].category_id);
      const int va = ra == s.category_rank.end() ? -1 : ra->second;
      const int vb = rb == s.category_rank.end() ? -1 : rb->second;
      return va < vb;
    });
  }
  for (int j : order) {
    auto i = s.eval_image.find(detections[j].image_id);
    auto k = s.eval_category.find(detections[j].category_id);
    if (i == s.eval_image.end() || k == s.eval_category.end()) continue;
    grouped.by_cell[static_cast<size_t>(k->second) * num_i + i->second].push_back(j);
  }
  return grouped;
}

std::vector<ImageCategoryEval> CocoEvaluator::Stages::EvaluateImages(const State& s,
                                                                     const std::vector<Detection>& detections,
                                                                     const GroupedDetections& grouped) {
  const Params& p = s.params;
  const CocoDataset& gt = *s.gt;
  const int num_i = static_cast<int>(p.img_ids.size());
  const int K = s.num_k;
  const int T = static_cast<int>(p.iou_thrs.size());
  const int A = static_cast<int>(p.area_rng.size());
  const int max_det = p.max_dets.back();
  const std::vector<double>& dt_area = grouped.dt_area;
  std::vector<ImageCategoryEval> cells(static_cast<size_t>(K) * num_i);
  std::vector<double> iou_limit(T);
  for (int t = 0; t < T; ++t) iou_limit[t] = std::min(p.iou_thrs[t], 1 - 1e-10);
  ParallelFor(num_i, s.options.num_threads, [&](int i) {
    std::vector<double> ious;
    std::vector<int> gt_order;
    std::vector<uint8_t> gt_ignored, gt_matched;
    for (int k = 0; k < K; ++k) {
      const size_t cell_index = static_cast<size_t>(k) * num_i + i;
      const std::vector<int>& g_list = s.gt_by_cell[cell_index];
      std::vector<int> d_list = grouped.by_cell[cell_index];
      ImageCategoryEval& cell = cells[cell_index];
      if (g_list.empty() && d_list.empty()) continue;
      cell.present = true;
      std::stable_sort(d_list.begin(), d_list.end(),
                       [&](int a, int b) { return detections[a].score > detections[b].score; });
      if (static_cast<int>(d_list.size()) > max_det) d_list.resize(max_det);
      const int D = static_cast<int>(d_list.size());
      const int G = static_cast<int>(g_list.size());

      // IoU [D, G] with ground truth in list order.
      ious.assign(static_cast<size_t>(D) * G, 0);
      if (D > 0 && G > 0) {
        for (int di = 0; di < D; ++di) {
          const Detection& d = detections[d_list[di]];
          if (s.iou_type == IouType::kBbox) {
            const Box db = d.bbox ? *d.bbox : RleToBox(*d.mask);
            for (int g = 0; g < G; ++g) {
              const CocoAnnotation& ann = gt.annotations[g_list[g]];
              ious[di * G + g] = BoxIou(db, ann.bbox, ann.iscrowd);
            }
          } else {
            const Rle* mask = d.mask ? &*d.mask : &grouped.box_masks.at(d_list[di]);
            const Box mb = RleToBox(*mask);
            for (int g = 0; g < G; ++g) {
              const int a = g_list[g];
              ious[di * G + g] =
                  MaskIou(*mask, mb, s.gt_masks[a], s.gt_mask_boxes[a], gt.annotations[a].iscrowd);
            }
          }
        }
      }

      cell.scores.resize(D);
      for (int di = 0; di < D; ++di) cell.scores[di] = detections[d_list[di]].score;
      cell.num_counted_gt.assign(A, 0);
      cell.dt_matched.assign(static_cast<size_t>(A) * T * D, 0);
      cell.dt_ignored.assign(static_cast<size_t>(A) * T * D, 0);
      for (int a = 0; a < A; ++a) {
        const double lo = p.area_rng[a][0], hi = p.area_rng[a][1];
        gt_ignored.resize(G);
        for (int g = 0; g < G; ++g) {
          const CocoAnnotation& ann = gt.annotations[g_list[g]];
          gt_ignored[g] = ann.iscrowd || ann.area < lo || ann.area > hi;
        }
        // Ground truth that counts first, ignored last, each in list order.
        gt_order.resize(G);
        std::iota(gt_order.begin(), gt_order.end(), 0);
        std::stable_partition(gt_order.begin(), gt_order.end(),
                              [&](int g) { return !gt_ignored[g]; });
        int counted = 0;
        for (int g = 0; g < G; ++g) counted += !gt_ignored[g];
        cell.num_counted_gt[a] = counted;
        // data() + offset: with no detections (D == 0) the arrays are empty, and &v[0] of an empty
        // vector is undefined (UBSan: reference binding to null pointer).
        uint8_t* matched = cell.dt_matched.data() + static_cast<size_t>(a) * T * D;
        uint8_t* ignored = cell.dt_ignored.data() + static_cast<size_t>(a) * T * D;
        if (D > 0 && G > 0) {
          for (int t = 0; t < T; ++t) {
            gt_matched.assign(G, 0);
            for (int di = 0; di < D; ++di) {
              double best = iou_limit[t];
              int m = -1;  // position in gt_order of the best match so far
              for (int go = 0; go < G; ++go) {
                const int g = gt_order[go];
                const bool crowd = gt.annotations[g_list[g]].iscrowd;
                if (gt_matched[go] && !crowd) continue;
                // Matched to an object that counts: ignored objects (sorted last) cannot replace
                // it.
                if (m > -1 && !gt_ignored[gt_order[m]] && gt_ignored[g]) break;
                const double iou = ious[di * G + g];
                if (iou < best) continue;
                best = iou;
                m = go;
              }
              if (m == -1) continue;
              ignored[t * D + di] = gt_ignored[gt_order[m]];
              matched[t * D + di] = 1;
              gt_matched[m] = 1;
            }
          }
        }
        // Unmatched detections outside the area range are ignored.
        for (int di = 0; di < D; ++di) {
          const double area = dt_area[d_list[di]];
          if (!(area < lo || area > hi)) continue;
          for (int t = 0; t < T; ++t) {
            if (!matched[t * D + di]) ignored[t * D + di] = 1;
          }
        }
      }
    }
  });
  return cells;
}

namespace {

// accumulate(): precision and recall per (k, a, m) from the per-image results, categories in
// parallel. `params` resolved; K categories (1 with use_cats off) by I images.
CocoEvalResult Accumulate(const std::vector<ImageCategoryEval>& cells, IouType iou_type, const Params& p, int K,
                          int num_threads) {
  const int num_i = static_cast<int>(p.img_ids.size());
  const int T = static_cast<int>(p.iou_thrs.size());
  const int R = static_cast<int>(p.rec_thrs.size());
  const int A = static_cast<int>(p.area_rng.size());
  const int M = static_cast<int>(p.max_dets.size());
  CocoEvalResult result;
  result.iou_type = iou_type;
  result.params = p;
  result.cat_ids = p.use_cats ? p.cat_ids : std::vector<int64_t>{-1};
  result.T = T;
  result.R = R;
  result.K = K;
  result.A = A;
  result.M = M;
  result.precision.assign(static_cast<size_t>(T) * R * K * A * M, -1.0);
  result.scores.assign(result.precision.size(), -1.0);
  result.recall.assign(static_cast<size_t>(T) * K * A * M, -1.0);
  const double eps = std::nextafter(1.0, 2.0) - 1.0;  // numpy.spacing(1)
  ParallelFor(K, num_threads, [&](int k) {
    std::vector<double> scores;
    std::vector<uint8_t> tp_flags, ign_flags;  // [T, N] in concatenation order
    std::vector<int> rank;
    std::vector<double> rc, pr;
    std::vector<std::pair<const ImageCategoryEval*, int>> parts;
    // The merged detection order depends on the detection limit, not on the area range: sort once
    // per limit.
    for (int mi = 0; mi < M; ++mi) {
      const int limit = p.max_dets[mi];
      // Concatenate the top `limit` detections of every image, image by image.
      scores.clear();
      parts.clear();
      for (int i = 0; i < num_i; ++i) {
        const ImageCategoryEval& cell = cells[static_cast<size_t>(k) * num_i + i];
        if (!cell.present) continue;
        const int n = std::min(static_cast<int>(cell.scores.size()), limit);
        parts.emplace_back(&cell, n);
        scores.insert(scores.end(), cell.scores.begin(), cell.scores.begin() + n);
      }
      if (parts.empty()) continue;  // no image has this category: -1 throughout
      const int N = static_cast<int>(scores.size());
      // numpy's stable mergesort of -scores.
      rank.resize(N);
      std::iota(rank.begin(), rank.end(), 0);
      std::stable_sort(rank.begin(), rank.end(),
                       [&](int x, int y) { return -scores[x] < -scores[y]; });
      for (int a = 0; a < A; ++a) {
        int counted_gt = 0;
        for (const auto& part : parts) counted_gt += part.first->num_counted_gt[a];
        if (counted_gt == 0) continue;
        tp_flags.assign(static_cast<size_t>(T) * N, 0);
        ign_flags.assign(static_cast<size_t>(T) * N, 0);
        int offset = 0;
        for (const auto& [cell, n] : parts) {
          const int D = static_cast<int>(cell->scores.size());
          const uint8_t* matched = cell->dt_matched.data() + static_cast<size_t>(a) * T * D;
          const uint8_t* ignored = cell->dt_ignored.data() + static_cast<size_t>(a) * T * D;
          for (int t = 0; t < T; ++t) {
            for (int di = 0; di < n; ++di) {
              tp_flags[static_cast<size_t>(t) * N + offset + di] = matched[t * D + di];
              ign_flags[static_cast<size_t>(t) * N + offset + di] = ignored[t * D + di];
            }
          }
          offset += n;
        }
        for (int t = 0; t < T; ++t) {
          rc.resize(N);
          pr.resize(N);
          double tp = 0, fp = 0;
          for (int n = 0; n < N; ++n) {
            const size_t f = static_cast<size_t>(t) * N + rank[n];
            if (!ign_flags[f]) {
              if (tp_flags[f]) {
                tp += 1;
              } else {
                fp += 1;
              }
            }
            rc[n] = tp / counted_gt;
            pr[n] = tp / (fp + tp + eps);
          }
          result.recall[((static_cast<size_t>(t) * K + k) * A + a) * M + mi] = N ? rc[N - 1] : 0;
          for (int n = N - 1; n > 0; --n) {
            if (pr[n] > pr[n - 1]) pr[n - 1] = pr[n];
          }
          for (int r = 0; r < R; ++r) {
            const size_t out = (((static_cast<size_t>(t) * R + r) * K + k) * A + a) * M + mi;
            result.precision[out] = 0;
            result.scores[out] = 0;
          }
          for (int r = 0; r < R; ++r) {
            const int pi = static_cast<int>(std::lower_bound(rc.begin(), rc.end(), p.rec_thrs[r]) -
                                            rc.begin());
            // pycocotools stops at the first recall threshold the detections never reach.
            if (pi >= N) break;
            const size_t out = (((static_cast<size_t>(t) * R + r) * K + k) * A + a) * M + mi;
            result.precision[out] = pr[pi];
            result.scores[out] = scores[rank[pi]];
          }
        }
      }
    }
  });
  return result;
}

// What pycocotools keeps in evalImgs, for resampling without the detections (per_image.h). Moves the
// cells' contents.
std::shared_ptr<PerImageEval> KeepPerImage(std::vector<ImageCategoryEval>& cells, const CocoEvalResult& result) {
  const Params& p = result.params;
  const int num_i = static_cast<int>(p.img_ids.size());
  const int K = result.K;
  auto kept = std::make_shared<PerImageEval>();
  kept->iou_type = result.iou_type;
  kept->img_ids = p.img_ids;
  kept->cat_ids = result.cat_ids;
  kept->iou_thrs = p.iou_thrs;
  kept->rec_thrs = p.rec_thrs;
  kept->max_dets = p.max_dets;
  kept->area_rng = p.area_rng;
  kept->area_rng_lbl = p.area_rng_lbl;
  for (int k = 0; k < K; ++k) {
    for (int i = 0; i < num_i; ++i) {
      ImageCategoryEval& cell = cells[static_cast<size_t>(k) * num_i + i];
      if (!cell.present) continue;
      ImageCategoryMatches m;
      m.k = k;
      m.i = i;
      m.scores = std::move(cell.scores);
      m.num_counted_gt = std::move(cell.num_counted_gt);
      m.flags.resize(cell.dt_matched.size());
      for (size_t f = 0; f < m.flags.size(); ++f) {
        m.flags[f] = static_cast<uint8_t>(cell.dt_matched[f] | (cell.dt_ignored[f] << 1));
      }
      kept->cells.push_back(std::move(m));
    }
  }
  return kept;
}

// summarize(): the 12 numbers and the per-category AP, each the mean of the entries above -1 for one
// setting.
void Summarize(CocoEvalResult& result) {
  const Params& p = result.params;
  const int T = result.T, R = result.R, K = result.K;
  auto find_index = [](const auto& list, const auto& value) {
    for (size_t j = 0; j < list.size(); ++j) {
      if (list[j] == value) return static_cast<int>(j);
    }
    return -1;
  };
  auto summarize = [&](bool ap, std::optional<double> iou_thr, const std::string& area,
                       std::optional<int> max_dets) {
    const int a = find_index(p.area_rng_lbl, area);
    const int m = max_dets ? find_index(p.max_dets, *max_dets) : -1;
    if (a < 0 || m < 0) return -1.0;
    std::vector<double> values;
    for (int t = 0; t < T; ++t) {
      if (iou_thr && p.iou_thrs[t] != *iou_thr) continue;
      if (ap) {
        for (int r = 0; r < R; ++r) {
          for (int k = 0; k < K; ++k) values.push_back(result.Precision(t, r, k, a, m));
        }
      } else {
        for (int k = 0; k < K; ++k) values.push_back(result.Recall(t, k, a, m));
      }
    }
    return MeanOfValid(values);
  };
  // pycocotools uses maxDets[0..2] by position (and a literal 100 for the first AP).
  auto md = [&](size_t j) -> std::optional<int> {
    if (j < p.max_dets.size()) return p.max_dets[j];
    return std::nullopt;
  };
  result.stats = {summarize(true, std::nullopt, "all", 100),
                  summarize(true, .5, "all", md(2)),
                  summarize(true, .75, "all", md(2)),
                  summarize(true, std::nullopt, "small", md(2)),
                  summarize(true, std::nullopt, "medium", md(2)),
                  summarize(true, std::nullopt, "large", md(2)),
                  summarize(false, std::nullopt, "all", md(0)),
                  summarize(false, std::nullopt, "all", md(1)),
                  summarize(false, std::nullopt, "all", md(2)),
                  summarize(false, std::nullopt, "small", md(2)),
                  summarize(false, std::nullopt, "medium", md(2)),
                  summarize(false, std::nullopt, "large", md(2))};
  {
    const int a = find_index(p.area_rng_lbl, std::string("all"));
    const int m = find_index(p.max_dets, 100);
    for (int k = 0; k < K; ++k) {
      std::vector<double> values;
      if (a >= 0 && m >= 0) {
        for (int t = 0; t < T; ++t) {
          for (int r = 0; r < R; ++r) values.push_back(result.Precision(t, r, k, a, m));
        }
      }
      result.per_category_ap[result.cat_ids[k]] = MeanOfValid(values);
    }
  }
}

}  // namespace

absl::StatusOr<CocoEvalResult> CocoEvaluator::Evaluate(const std::vector<Detection>& detections) const {
  const State& s = *state_;
  absl::StatusOr<GroupedDetections> grouped = Stages::Group(s, detections);
  if (!grouped.ok()) return grouped.status();
  std::vector<ImageCategoryEval> cells = Stages::EvaluateImages(s, detections, *grouped);
  CocoEvalResult result = Accumulate(cells, s.iou_type, s.params, s.num_k, s.options.num_threads);
  if (s.options.keep_per_image) result.per_image = KeepPerImage(cells, result);
  Summarize(result);
  return result;
}

std::string CocoEvalResult::Summary() const {
  struct Line {
    bool ap;
    std::optional<double> iou;
    const char* area;
    int max_det_index;  // -1: literal 100
  };
  const Line lines[12] = {{true, std::nullopt, "all", -1},
                          {true, .5, "all", 2},
                          {true, .75, "all", 2},
                          {true, std::nullopt, "small", 2},
                          {true, std::nullopt, "medium", 2},
                          {true, std::nullopt, "large", 2},
                          {false, std::nullopt, "all", 0},
                          {false, std::nullopt, "all", 1},
                          {false, std::nullopt, "all", 2},
                          {false, std::nullopt, "small", 2},
                          {false, std::nullopt, "medium", 2},
                          {false, std::nullopt, "large", 2}};
  std::string out;
  for (int j = 0; j < 12; ++j) {
    const Line& l = lines[j];
    const std::string iou =
        l.iou ? absl::StrFormat("%0.2f", *l.iou)
              : absl::StrFormat("%0.2f:%0.2f", params.iou_thrs.front(), params.iou_thrs.back());
    const int max_det = l.max_det_index < 0 ? 100
                        : static_cast<size_t>(l.max_det_index) < params.max_dets.size()
                            ? params.max_dets[l.max_det_index]
                            : -1;
    absl::StrAppendFormat(&out, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n",
                          l.ap ? "Average Precision" : "Average Recall", l.ap ? "(AP)" : "(AR)",
                          iou, l.area, max_det, stats[j]);
  }
  return out;
}

absl::StatusOr<CocoEvalResult> EvaluateCoco(const CocoDataset& ground_truth,
                                            const std::vector<Detection>& detections,
                                            IouType iou_type, const Params& params,
                                            const EvalOptions& options) {
  // The dataset outlives this call, so the evaluator may borrow it instead of copying it.
  absl::StatusOr<CocoEvaluator> evaluator =
      CocoEvaluator::CreateBorrowing(ground_truth, iou_type, params, options);
  if (!evaluator.ok()) return evaluator.status();
  return evaluator->Evaluate(detections);
}

}  // namespace mrcnn::eval
