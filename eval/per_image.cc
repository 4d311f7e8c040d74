#include "eval/per_image.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace mrcnn::eval {

namespace {

constexpr int kStatCount = 12;

// pycocotools' summarize() settings, in stats order: AP or AR, IoU threshold (none: all), area
// label, maxDets (by value; -1: maxDets[2] by position, -2: maxDets[0], -3: maxDets[1]).
struct StatSpec {
  bool ap;
  std::optional<double> iou;
  const char* area;
  int max_det;
};
const StatSpec kSpecs[kStatCount] = {
    {true, std::nullopt, "all", 100}, {true, .5, "all", -1},         {true, .75, "all", -1},
    {true, std::nullopt, "small", -1}, {true, std::nullopt, "medium", -1},
    {true, std::nullopt, "large", -1}, {false, std::nullopt, "all", -2},
    {false, std::nullopt, "all", -3},  {false, std::nullopt, "all", -1},
    {false, std::nullopt, "small", -1}, {false, std::nullopt, "medium", -1},
    {false, std::nullopt, "large", -1}};

// The index into max_dets a spec reads, or -1 when pycocotools finds none (its number is then -1).
int MaxDetIndex(const std::vector<int>& max_dets, int spec) {
  int value = spec;
  if (spec < 0) {
    const size_t pos = spec == -1 ? 2 : spec == -2 ? 0 : 1;
    if (pos >= max_dets.size()) return -1;
    value = max_dets[pos];
  }
  for (size_t m = 0; m < max_dets.size(); ++m) {
    if (max_dets[m] == value) return static_cast<int>(m);
  }
  return -1;
}

int AreaIndex(const std::vector<std::string>& labels, const std::string& label) {
  for (size_t a = 0; a < labels.size(); ++a) {
    if (labels[a] == label) return static_cast<int>(a);
  }
  return -1;
}

absl::Status CheckShapes(const PerImageEval& r) {
  const size_t T = r.iou_thrs.size(), A = r.area_rng.size(), K = r.cat_ids.size(),
               I = r.img_ids.size();
  if (T == 0 || r.rec_thrs.empty() || r.max_dets.empty() || A == 0 || K == 0) {
    return absl::InvalidArgumentError("empty parameters (IoU or recall thresholds, maxDets, area "
                                      "ranges or categories)");
  }
  if (r.area_rng_lbl.size() != A) {
    return absl::InvalidArgumentError(absl::StrCat(A, " area ranges but ", r.area_rng_lbl.size(),
                                                   " labels"));
  }
  if (!std::is_sorted(r.rec_thrs.begin(), r.rec_thrs.end())) {
    return absl::InvalidArgumentError("recall thresholds are not ascending");
  }
  for (size_t m = 0; m < r.max_dets.size(); ++m) {
    if (r.max_dets[m] < 1 || (m > 0 && r.max_dets[m] <= r.max_dets[m - 1])) {
      return absl::InvalidArgumentError("maxDets are not positive and strictly ascending");
    }
  }
  for (size_t j = 0; j < r.cells.size(); ++j) {
    const ImageCategoryMatches& c = r.cells[j];
    const auto where = [&] { return absl::StrCat("cell ", j, " (k ", c.k, ", i ", c.i, "): "); };
    if (c.k < 0 || static_cast<size_t>(c.k) >= K || c.i < 0 || static_cast<size_t>(c.i) >= I) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "index outside ", K, " categories x ", I, " images"));
    }
    if (j > 0 && std::make_pair(c.k, c.i) <= std::make_pair(r.cells[j - 1].k, r.cells[j - 1].i)) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "cells are not in (k, i) order"));
    }
    const size_t D = c.scores.size();
    if (c.num_counted_gt.size() != A || c.flags.size() != A * T * D) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "arrays do not match ", A,
                                                     " area ranges, ", T, " IoU thresholds and ", D,
                                                     " detections"));
    }
    for (size_t d = 0; d < D; ++d) {
      if (!std::isfinite(c.scores[d]) || (d > 0 && c.scores[d] > c.scores[d - 1])) {
        return absl::InvalidArgumentError(
            absl::StrCat(where(), "scores are not finite and descending at detection ", d));
      }
    }
    for (int n : c.num_counted_gt) {
      if (n < 0) return absl::InvalidArgumentError(absl::StrCat(where(), "negative ground truth count"));
    }
    for (uint8_t f : c.flags) {
      if (f > 3) return absl::InvalidArgumentError(absl::StrCat(where(), "flag value ", int{f}));
    }
  }
  return absl::OkStatus();
}

}  // namespace

ResampleAccumulator::ResampleAccumulator(std::shared_ptr<const PerImageEval> results)
    : results_(std::move(results)) {}

absl::StatusOr<ResampleAccumulator> ResampleAccumulator::Create(
    std::shared_ptr<const PerImageEval> results) {
  if (results == nullptr) return absl::InvalidArgumentError("no per-image results");
  if (absl::Status s = CheckShapes(*results); !s.ok()) return s;
  ResampleAccumulator acc(std::move(results));
  const PerImageEval& r = *acc.results_;
  const int K = static_cast<int>(r.cat_ids.size());
  const int T = static_cast<int>(r.iou_thrs.size());
  const int A = static_cast<int>(r.area_rng.size());
  for (const StatSpec& spec : kSpecs) {
    if (!spec.ap) continue;
    const int m = MaxDetIndex(r.max_dets, spec.max_det);
    if (m >= 0 && std::find(acc.precision_limits_.begin(), acc.precision_limits_.end(), m) ==
                      acc.precision_limits_.end()) {
      acc.precision_limits_.push_back(m);
    }
  }
  acc.cell_begin_.assign(K + 1, r.cells.size());
  for (size_t j = r.cells.size(); j-- > 0;) acc.cell_begin_[r.cells[j].k] = j;
  for (int k = K - 1; k >= 0; --k) acc.cell_begin_[k] = std::min(acc.cell_begin_[k], acc.cell_begin_[k + 1]);

  for (const StatSpec& spec : kSpecs) {
    if (spec.ap) continue;
    const int a = AreaIndex(r.area_rng_lbl, spec.area);
    const int m = MaxDetIndex(r.max_dets, spec.max_det);
    if (a < 0 || m < 0) continue;
    if (std::find(acc.precision_limits_.begin(), acc.precision_limits_.end(), m) !=
        acc.precision_limits_.end()) {
      continue;  // the precision walk counts these true positives
    }
    if (std::find(acc.recall_slots_.begin(), acc.recall_slots_.end(), std::make_pair(a, m)) ==
        acc.recall_slots_.end()) {
      acc.recall_slots_.emplace_back(a, m);
    }
  }
  const size_t S = acc.recall_slots_.size();
  acc.cell_image_.resize(r.cells.size());
  acc.cell_counted_gt_.resize(r.cells.size() * A);
  acc.true_positives_.assign(r.cells.size() * S * T, 0);
  for (size_t j = 0; j < r.cells.size(); ++j) {
    const ImageCategoryMatches& c = r.cells[j];
    acc.cell_image_[j] = c.i;
    for (int a = 0; a < A; ++a) acc.cell_counted_gt_[j * A + a] = c.num_counted_gt[a];
    const int D = static_cast<int>(c.scores.size());
    for (size_t slot = 0; slot < S; ++slot) {
      const auto [a, m] = acc.recall_slots_[slot];
      const int n = std::min(D, r.max_dets[m]);
      for (int t = 0; t < T; ++t) {
        const uint8_t* f = c.flags.data() + (static_cast<size_t>(a) * T + t) * D;
        int tp = 0;
        for (int d = 0; d < n; ++d) tp += f[d] == 1;
        acc.true_positives_[(j * S + slot) * T + t] = tp;
      }
    }
  }

  const int P = static_cast<int>(acc.precision_limits_.size());
  acc.orders_.resize(static_cast<size_t>(K) * P);
  struct Entry {
    double score;
    int image, cell, d;
  };
  std::vector<Entry> entries;
  for (int k = 0; k < K; ++k) {
    for (int pl = 0; pl < P; ++pl) {
      const int limit = r.max_dets[acc.precision_limits_[pl]];
      entries.clear();
      for (size_t j = acc.cell_begin_[k]; j < acc.cell_begin_[k + 1]; ++j) {
        const ImageCategoryMatches& c = r.cells[j];
        const int n = std::min(static_cast<int>(c.scores.size()), limit);
        for (int d = 0; d < n; ++d) entries.push_back({c.scores[d], c.i, static_cast<int>(j), d});
      }
      // Cells are in image order and detections in their image's order, so a stable sort by score
      // is pycocotools' mergesort of the concatenation.
      std::stable_sort(entries.begin(), entries.end(),
                       [](const Entry& x, const Entry& y) { return -x.score < -y.score; });
      CategoryOrder& o = acc.orders_[static_cast<size_t>(k) * P + pl];
      const int N = static_cast<int>(entries.size());
      o.sequences.resize(static_cast<size_t>(A) * T);
      for (int a = 0; a < A; ++a) {
        for (int t = 0; t < T; ++t) {
          Sequence& seq = o.sequences[static_cast<size_t>(a) * T + t];
          bool new_run = true;
          for (int e = 0; e < N; ++e) {
            if (e > 0 && (entries[e].score != entries[e - 1].score ||
                          entries[e].image != entries[e - 1].image)) {
              new_run = true;
            }
            const ImageCategoryMatches& c = r.cells[entries[e].cell];
            const uint8_t f = c.flags[(static_cast<size_t>(a) * T + t) * c.scores.size() + entries[e].d];
            if (f & 2) continue;  // ignored: adds a point equal to its predecessor
            const int pos = static_cast<int>(seq.true_positive.size());
            if (new_run) {
              seq.runs.push_back({pos, pos, entries[e].image, 0});
              new_run = false;
            }
            seq.true_positive.push_back(f & 1);
            Sequence::Run& run = seq.runs.back();
            run.end = pos + 1;
            if (run.false_positives_only >= 0) {
              run.false_positives_only = (f & 1) ? -1 : run.false_positives_only + 1;
            }
          }
        }
      }
    }
  }
  return acc;
}

ResampleStats ResampleAccumulator::Accumulate(const std::vector<int>& counts) const {
  const PerImageEval& r = *results_;
  if (counts.size() != r.img_ids.size()) {  // a programmer error, not bad input
    std::fprintf(stderr, "ResampleAccumulator::Accumulate: %zu counts for %zu images\n",
                 counts.size(), r.img_ids.size());
    std::abort();
  }
  const int K = static_cast<int>(r.cat_ids.size());
  const int T = static_cast<int>(r.iou_thrs.size());
  const int R = static_cast<int>(r.rec_thrs.size());
  const int A = static_cast<int>(r.area_rng.size());
  const int M = static_cast<int>(r.max_dets.size());
  const int P = static_cast<int>(precision_limits_.size());
  const double eps = std::nextafter(1.0, 2.0) - 1.0;  // numpy.spacing(1)

  // Per (k, a): ground truth that counts (0: the category is absent, -1 throughout).
  std::vector<double> counted(static_cast<size_t>(K) * A, 0);
  // recall [K, A, M, T]; precision summed over recall thresholds [K, A, P, T].
  std::vector<double> recall(static_cast<size_t>(K) * A * M * T, -1);
  std::vector<double> precision_sum(static_cast<size_t>(K) * A * P * T, -1);
  const size_t S = recall_slots_.size();
  std::vector<long> tp(S * T);
  std::vector<double> precision_at_tp;
  std::vector<int> needed_tp(R);
  for (int k = 0; k < K; ++k) {
    std::fill(tp.begin(), tp.end(), 0);
    bool present = false;
    for (size_t j = cell_begin_[k]; j < cell_begin_[k + 1]; ++j) {
      const int c = counts[cell_image_[j]];
      if (c == 0) continue;
      present = true;
      const int* gt = cell_counted_gt_.data() + j * A;
      for (int a = 0; a < A; ++a) counted[k * A + a] += static_cast<double>(c) * gt[a];
      const int* cell_tp = true_positives_.data() + j * S * T;
      for (size_t x = 0; x < tp.size(); ++x) tp[x] += static_cast<long>(c) * cell_tp[x];
    }
    if (!present) continue;
    for (size_t slot = 0; slot < S; ++slot) {
      const auto [a, m] = recall_slots_[slot];
      const double gt = counted[k * A + a];
      if (gt == 0) continue;
      for (int t = 0; t < T; ++t) {
        recall[((static_cast<size_t>(k) * A + a) * M + m) * T + t] =
            static_cast<double>(tp[slot * T + t]) / gt;
      }
    }
    for (int a = 0; a < A; ++a) {
      const double gt = counted[k * A + a];
      if (gt == 0) continue;
      // needed_tp[r]: the fewest true positives whose recall (tp / gt, as pycocotools divides)
      // reaches recall threshold r; recall grows with tp, so this is where searchsorted lands.
      for (int rr = 0, j = 0; rr < R; ++rr) {
        while (static_cast<double>(j) / gt < r.rec_thrs[rr] && j <= gt) ++j;
        needed_tp[rr] = j;
      }
      for (int pl = 0; pl < P; ++pl) {
        const CategoryOrder& o = orders_[static_cast<size_t>(k) * P + pl];
        for (int t = 0; t < T; ++t) {
          const Sequence& seq = o.sequences[static_cast<size_t>(a) * T + t];
          // Only true positives matter: precision rises only there (between them it falls), and
          // recall reaches a threshold first there. So the envelope at the first point with
          // recall >= r is the largest precision at the true positives from the needed_tp[r]-th
          // on. Ignored detections (points equal to their predecessors) were left out in Create.
          precision_at_tp.clear();
          double tps = 0, fps = 0;
          bool any = false;  // a detection that is not ignored (pycocotools' N > 0)
          for (const Sequence::Run& run : seq.runs) {
            const int c = counts[run.image];
            if (c == 0) continue;
            any = true;
            if (run.false_positives_only >= 0) {
              fps += static_cast<double>(c) * run.false_positives_only;
              continue;
            }
            for (int copy = 0; copy < c; ++copy) {
              for (int e = run.begin; e < run.end; ++e) {
                if (seq.true_positive[e]) {
                  tps += 1;
                  precision_at_tp.push_back(tps / (fps + tps + eps));
                } else {
                  fps += 1;
                }
              }
            }
          }
          const int num_tp = static_cast<int>(precision_at_tp.size());
          // Recall at this limit: every true positive of the walk (pycocotools' rc[-1], or 0).
          recall[((static_cast<size_t>(k) * A + a) * M + precision_limits_[pl]) * T + t] = tps / gt;
          for (int j = num_tp - 1; j > 0; --j) {
            if (precision_at_tp[j] > precision_at_tp[j - 1]) precision_at_tp[j - 1] = precision_at_tp[j];
          }
          double sum = 0;
          for (int rr = 0; rr < R; ++rr) {
            const int need = needed_tp[rr];
            if (need == 0) {  // reached at the first point
              if (!any) break;
              sum += num_tp > 0 ? precision_at_tp[0] : 0.0;
            } else {
              if (need > num_tp) break;  // thresholds never reached keep precision 0
              sum += precision_at_tp[need - 1];
            }
          }
          precision_sum[((static_cast<size_t>(k) * A + a) * P + pl) * T + t] = sum;
        }
      }
    }
  }

  ResampleStats out;
  const auto limit_slot = [&](int m) {
    for (int pl = 0; pl < P; ++pl) {
      if (precision_limits_[pl] == m) return pl;
    }
    return -1;
  };
  for (int s = 0; s < kStatCount; ++s) {
    const StatSpec& spec = kSpecs[s];
    const int a = AreaIndex(r.area_rng_lbl, spec.area);
    const int m = MaxDetIndex(r.max_dets, spec.max_det);
    double sum = 0;
    long n = 0;
    if (a >= 0 && m >= 0) {
      const int pl = spec.ap ? limit_slot(m) : -1;
      for (int k = 0; k < K; ++k) {
        if (counted[k * A + a] == 0) continue;
        for (int t = 0; t < T; ++t) {
          if (spec.iou && r.iou_thrs[t] != *spec.iou) continue;
          if (spec.ap) {
            sum += precision_sum[((static_cast<size_t>(k) * A + a) * P + pl) * T + t];
            n += R;
          } else {
            sum += recall[((static_cast<size_t>(k) * A + a) * M + m) * T + t];
            n += 1;
          }
        }
      }
    }
    out.stats[s] = n > 0 ? sum / static_cast<double>(n) : -1.0;
  }
  out.per_category_ap.assign(K, -1.0);
  const int a_all = AreaIndex(r.area_rng_lbl, "all");
  const int m100 = MaxDetIndex(r.max_dets, 100);
  if (a_all >= 0 && m100 >= 0) {
    const int pl = limit_slot(m100);
    for (int k = 0; k < K; ++k) {
      if (counted[k * A + a_all] == 0) continue;
      double sum = 0;
      for (int t = 0; t < T; ++t) sum += precision_sum[((static_cast<size_t>(k) * A + a_all) * P + pl) * T + t];
      out.per_category_ap[k] = sum / (static_cast<double>(T) * R);
    }
  }
  return out;
}

// ---- The file format ----

namespace {

constexpr char kMagic[8] = {'M', 'R', 'C', 'N', 'N', 'P', 'I', 'E'};
constexpr uint32_t kFormatVersion = 1;

uint64_t Fnv1a(const char* data, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 1099511628211ull;
  }
  return h;
}

class Writer {
 public:
  template <typename T>
  void Put(const T& v) {
    buf_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  template <typename T>
  void PutArray(const T* v, size_t n) {
    buf_.append(reinterpret_cast<const char*>(v), n * sizeof(T));
  }
  std::string& buf() { return buf_; }

 private:
  std::string buf_;
};

class Reader {
 public:
  Reader(const std::string& data, size_t end) : data_(data), end_(end) {}
  template <typename T>
  bool Get(T* v) {
    if (end_ - pos_ < sizeof(T)) return false;
    std::memcpy(v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  template <typename T>
  bool GetArray(std::vector<T>* v, uint64_t n) {
    if (n > (end_ - pos_) / sizeof(T)) return false;
    v->resize(n);
    if (n > 0) std::memcpy(v->data(), data_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
    return true;
  }
  size_t pos() const { return pos_; }
  size_t end() const { return end_; }

 private:
  const std::string& data_;
  size_t end_;
  size_t pos_ = 0;
};

}  // namespace

absl::Status SavePerImageEval(const PerImageEval& r, const std::string& path) {
  Writer w;
  w.PutArray(kMagic, 8);
  w.Put(kFormatVersion);
  w.Put(static_cast<uint32_t>(r.iou_type == IouType::kSegm ? 1 : 0));
  for (size_t n : {r.iou_thrs.size(), r.rec_thrs.size(), r.max_dets.size(), r.area_rng.size(),
                   r.img_ids.size(), r.cat_ids.size(), r.cells.size()}) {
    w.Put(static_cast<uint64_t>(n));
  }
  w.PutArray(r.iou_thrs.data(), r.iou_thrs.size());
  w.PutArray(r.rec_thrs.data(), r.rec_thrs.size());
  for (int m : r.max_dets) w.Put(static_cast<int32_t>(m));
  for (const auto& rng : r.area_rng) w.PutArray(rng.data(), 2);
  for (const std::string& l : r.area_rng_lbl) {
    w.Put(static_cast<uint64_t>(l.size()));
    w.PutArray(l.data(), l.size());
  }
  w.PutArray(r.img_ids.data(), r.img_ids.size());
  w.PutArray(r.cat_ids.data(), r.cat_ids.size());
  for (const ImageCategoryMatches& c : r.cells) {
    w.Put(static_cast<int32_t>(c.k));
    w.Put(static_cast<int32_t>(c.i));
    w.Put(static_cast<uint64_t>(c.scores.size()));
    for (int n : c.num_counted_gt) w.Put(static_cast<int32_t>(n));
    w.PutArray(c.scores.data(), c.scores.size());
    w.PutArray(c.flags.data(), c.flags.size());
  }
  w.Put(Fnv1a(w.buf().data(), w.buf().size()));
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::UnavailableError(absl::StrCat(tmp, ": cannot open for writing"));
    out.write(w.buf().data(), static_cast<std::streamsize>(w.buf().size()));
    out.close();
    if (!out) return absl::UnavailableError(absl::StrCat(tmp, ": write failed"));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat(path, ": cannot rename ", tmp, " to it"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const PerImageEval>> LoadPerImageEval(const std::string& path) {
  const auto error = [&](const std::string& why) {
    return absl::DataLossError(absl::StrCat(path, ": per-image evaluation file: ", why));
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the per-image evaluation file"));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  if (data.size() < sizeof(kMagic) + sizeof(uint64_t) || std::memcmp(data.data(), kMagic, 8) != 0) {
    return error("not a per-image evaluation file (no MRCNNPIE header)");
  }
  const size_t body = data.size() - sizeof(uint64_t);
  uint64_t stored;
  std::memcpy(&stored, data.data() + body, sizeof(stored));
  if (stored != Fnv1a(data.data(), body)) return error("checksum mismatch (truncated or corrupted)");
  Reader rd(data, body);
  std::vector<char> magic;
  rd.GetArray(&magic, 8);
  uint32_t version = 0, type = 0;
  if (!rd.Get(&version) || version != kFormatVersion) {
    return error(absl::StrCat("format version ", version, ", this build reads ", kFormatVersion));
  }
  if (!rd.Get(&type) || type > 1) return error("bad iou type");
  auto r = std::make_shared<PerImageEval>();
  r->iou_type = type == 1 ? IouType::kSegm : IouType::kBbox;
  uint64_t n[7];
  for (uint64_t& v : n) {
    if (!rd.Get(&v)) return error("truncated header");
  }
  std::vector<int32_t> max_dets;
  std::vector<double> area;
  if (!rd.GetArray(&r->iou_thrs, n[0]) || !rd.GetArray(&r->rec_thrs, n[1]) ||
      !rd.GetArray(&max_dets, n[2]) || n[3] > body || !rd.GetArray(&area, 2 * n[3])) {
    return error("truncated parameters");
  }
  r->max_dets.assign(max_dets.begin(), max_dets.end());
  for (uint64_t a = 0; a < n[3]; ++a) r->area_rng.push_back({area[2 * a], area[2 * a + 1]});
  for (uint64_t a = 0; a < n[3]; ++a) {
    uint64_t len;
    std::vector<char> label;
    if (!rd.Get(&len) || !rd.GetArray(&label, len)) return error("truncated area labels");
    r->area_rng_lbl.emplace_back(label.begin(), label.end());
  }
  if (!rd.GetArray(&r->img_ids, n[4]) || !rd.GetArray(&r->cat_ids, n[5])) {
    return error("truncated image or category ids");
  }
  const uint64_t A = n[3], T = n[0];
  for (uint64_t j = 0; j < n[6]; ++j) {
    ImageCategoryMatches c;
    int32_t k, i;
    uint64_t D;
    std::vector<int32_t> counted;
    if (!rd.Get(&k) || !rd.Get(&i) || !rd.Get(&D) || !rd.GetArray(&counted, A) ||
        !rd.GetArray(&c.scores, D) || (A * T > 0 && D > body / (A * T)) ||
        !rd.GetArray(&c.flags, A * T * D)) {
      return error(absl::StrCat("cell ", j, " of ", n[6], " is truncated"));
    }
    c.k = k;
    c.i = i;
    c.num_counted_gt.assign(counted.begin(), counted.end());
    r->cells.push_back(std::move(c));
  }
  if (rd.pos() != rd.end()) return error(absl::StrCat(rd.end() - rd.pos(), " bytes left over"));
  if (absl::Status s = CheckShapes(*r); !s.ok()) return error(std::string(s.message()));
  return std::shared_ptr<const PerImageEval>(std::move(r));
}

}  // namespace mrcnn::eval
