// The paired bootstrap on evaluations whose numbers are known by hand: 37 images with one 100 x 100
// object each; arm "all" finds every object exactly, arm "misses" finds none in a known subset of 9
// images. On a multiset with `total` images of which `hits` are outside the subset, "all" has AP 1
// and "misses" reaches recall hits / total at precision 1, so its AP is the share of the 101 recall
// thresholds k / 100 at or below that recall (37 divides no k * total / 100 exactly, so no threshold
// ties), and 0 when hits is 0.
#include "eval/bootstrap.h"

#include <cmath>

#include "eval/coco_eval.h"
#include "gtest/gtest.h"

namespace mrcnn::eval {
namespace {

constexpr int kImages = 37;
bool InSubset(int i) { return i % 4 == 1; }  // 9 of the 37 images

CocoDataset GroundTruth() {
  CocoDataset gt;
  gt.categories.push_back({1, "thing"});
  for (int i = 0; i < kImages; ++i) {
    gt.images.push_back({100 + i, 200, 200, ""});
    CocoAnnotation a;
    a.id = i + 1;
    a.image_id = 100 + i;
    a.category_id = 1;
    a.bbox = {10, 10, 100, 100};
    a.area = 10000;
    gt.annotations.push_back(a);
  }
  return gt;
}

std::shared_ptr<const PerImageEval> Evaluate(bool misses) {
  std::vector<Detection> dts;
  for (int i = 0; i < kImages; ++i) {
    if (misses && InSubset(i)) continue;
    Detection d;
    d.image_id = 100 + i;
    d.category_id = 1;
    d.score = 0.5 + 0.01 * i;
    d.bbox = Box{10, 10, 100, 100};
    dts.push_back(d);
  }
  EvalOptions o;
  o.keep_per_image = true;
  return EvaluateCoco(GroundTruth(), dts, IouType::kBbox, Params(), o).value().per_image;
}

double MissesAp(int hits, int total) {
  if (hits == 0) return 0;
  int reached = 0;
  for (int k = 0; k <= 100; ++k) reached += k * total <= 100 * hits;
  return reached / 101.0;
}

struct Arms {
  ResampleAccumulator all = ResampleAccumulator::Create(Evaluate(false)).value();
  ResampleAccumulator misses = ResampleAccumulator::Create(Evaluate(true)).value();
};

TEST(BootstrapTest, DifferenceOnAKnownSubsetEqualsTheHandCalculation) {
  Arms arms;
  PairedBootstrapOptions o;
  o.resamples = 300;
  o.seed = 5;
  // AP and AP50 (index 0, 1): both IoU-independent here.
  PairedBootstrapResult r = PairedBootstrap({{&arms.all}, {&arms.misses}}, {0, 1}, o).value();
  const double full = MissesAp(kImages - 9, kImages) - 1;  // 28/37 = 0.757: 76 thresholds reached
  EXPECT_NEAR(full, 76 / 101.0 - 1, 1e-15);
  EXPECT_NEAR(r.differences[1][0].estimate, full, 1e-12);
  EXPECT_NEAR(r.full[1][0][0], 76 / 101.0, 1e-12);

  std::vector<double> by_hand;
  for (int b = 0; b < o.resamples; ++b) {
    std::vector<int> counts, seed_counts;
    DrawReplicate(o.seed, b, kImages, 1, false, &counts, &seed_counts);
    int hits = 0;
    for (int i = 0; i < kImages; ++i) hits += InSubset(i) ? 0 : counts[i];
    by_hand.push_back(MissesAp(hits, kImages) - 1);
  }
  std::sort(by_hand.begin(), by_hand.end());
  const BootstrapDifference& d = r.differences[1][0];
  EXPECT_EQ(d.replicates, o.resamples);
  EXPECT_NEAR(d.low, Quantile(by_hand, 0.025), 1e-12);
  EXPECT_NEAR(d.high, Quantile(by_hand, 0.975), 1e-12);
  EXPECT_EQ(d.share_at_most_zero, 1.0);  // "misses" never beats "all"
  EXPECT_EQ(d.verdict, "worse");
  EXPECT_LT(d.high, 0);
  // The reverse comparison is the mirror image.
  PairedBootstrapResult rev = PairedBootstrap({{&arms.misses}, {&arms.all}}, {0}, o).value();
  EXPECT_NEAR(rev.differences[1][0].low, -d.high, 1e-12);
  EXPECT_EQ(rev.differences[1][0].verdict, "better");
  EXPECT_EQ(rev.differences[1][0].share_at_most_zero, 0.0);
}

TEST(BootstrapTest, SeedsAreResampledWithTheImages) {
  // Seed 0: both arms find everything; seed 1: the second arm misses the subset. A replicate's
  // difference is (draws of seed 1) / 2 x the seed-1 difference on its image multiset.
  Arms arms;
  PairedBootstrapOptions o;
  o.resamples = 200;
  o.seed = 9;
  PairedBootstrapResult r =
      PairedBootstrap({{&arms.all, &arms.all}, {&arms.all, &arms.misses}}, {0}, o).value();
  EXPECT_NEAR(r.differences[1][0].estimate, (76 / 101.0 - 1) / 2, 1e-12);
  std::vector<double> by_hand;
  for (int b = 0; b < o.resamples; ++b) {
    std::vector<int> counts, seed_counts;
    DrawReplicate(o.seed, b, kImages, 2, true, &counts, &seed_counts);
    int hits = 0;
    for (int i = 0; i < kImages; ++i) hits += InSubset(i) ? 0 : counts[i];
    by_hand.push_back(seed_counts[1] * (MissesAp(hits, kImages) - 1) / 2);
  }
  std::sort(by_hand.begin(), by_hand.end());
  EXPECT_NEAR(r.differences[1][0].low, Quantile(by_hand, 0.025), 1e-12);
  EXPECT_NEAR(r.differences[1][0].high, Quantile(by_hand, 0.975), 1e-12);
  // Some replicates draw seed 0 twice: difference exactly 0.
  EXPECT_EQ(by_hand.back(), 0);
  EXPECT_EQ(r.differences[1][0].verdict, "indistinguishable");
}

TEST(BootstrapTest, AnArmAgainstItselfIsIndistinguishable) {
  Arms arms;
  PairedBootstrapOptions o;
  o.seed = 3;
  PairedBootstrapResult r =
      PairedBootstrap({{&arms.misses}, {&arms.misses}}, {0, 1, 2, 8}, o).value();
  for (const BootstrapDifference& d : r.differences[1]) {
    EXPECT_LE(d.low, 0);
    EXPECT_GE(d.high, 0);
    EXPECT_EQ(d.share_at_most_zero, 1.0);
    EXPECT_EQ(d.verdict, "indistinguishable");
    EXPECT_EQ(d.replicates, 1000);
  }
}

TEST(BootstrapTest, SeededAndIndependentOfThreads) {
  Arms arms;
  PairedBootstrapOptions o;
  o.resamples = 400;
  o.seed = 11;
  o.num_threads = 1;
  const PairedBootstrapResult a = PairedBootstrap({{&arms.all}, {&arms.misses}}, {0}, o).value();
  o.num_threads = 3;
  const PairedBootstrapResult b = PairedBootstrap({{&arms.all}, {&arms.misses}}, {0}, o).value();
  EXPECT_EQ(a.differences[1][0].low, b.differences[1][0].low);
  EXPECT_EQ(a.differences[1][0].high, b.differences[1][0].high);
  EXPECT_EQ(a.differences[1][0].share_at_most_zero, b.differences[1][0].share_at_most_zero);
  // Another seed draws other multisets (the interval itself may coincide: AP takes few values here).
  std::vector<int> c11, c12, s;
  DrawReplicate(11, 0, kImages, 1, false, &c11, &s);
  DrawReplicate(12, 0, kImages, 1, false, &c12, &s);
  EXPECT_NE(c11, c12);
}

TEST(BootstrapTest, RunsOnOtherImagesAreRefused) {
  Arms arms;
  CocoDataset gt = GroundTruth();
  gt.images.pop_back();
  gt.annotations.pop_back();
  EvalOptions eo;
  eo.keep_per_image = true;
  ResampleAccumulator fewer = ResampleAccumulator::Create(
      EvaluateCoco(gt, {}, IouType::kBbox, Params(), eo).value().per_image).value();
  absl::StatusOr<PairedBootstrapResult> r =
      PairedBootstrap({{&arms.all, &arms.all}, {&arms.misses, &fewer}}, {0}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("arm 1, seed 1"), std::string::npos) << r.status();
  EXPECT_FALSE(PairedBootstrap({{&arms.all, &arms.all}, {&arms.misses}}, {0}, {}).ok());
  EXPECT_FALSE(PairedBootstrap({{&arms.all}}, {12}, {}).ok());
}

}  // namespace
}  // namespace mrcnn::eval
