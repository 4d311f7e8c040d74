// BatchLoader: batch shapes and types, known length per epoch, order fixed by (seed, epoch) and
// independent of the number of workers, augmentation reproducible, and image errors reported with the
// file instead of crashing.
#include "datasets/loader.h"

#include <ATen/ATen.h>

#include <memory>

#include "datasets/shapes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/datasets/fixtures.h"

namespace mrcnn::datasets {
namespace {

using ::testing::HasSubstr;

mrcnn::Config ShapesConfig() {
  mrcnn::Config c = mrcnn::Config::Preset("shapes").value();
  c.IMAGES_PER_GPU = 4;
  c.IMAGE_MIN_DIM = 64;
  c.IMAGE_MAX_DIM = 64;
  return c;
}

std::vector<Batch> Epoch(BatchLoader* loader, int epoch) {
  loader->StartEpoch(epoch);
  std::vector<Batch> out;
  while (true) {
    absl::StatusOr<Batch> b = loader->Next();
    if (absl::IsOutOfRange(b.status())) break;
    EXPECT_TRUE(b.ok()) << b.status();
    if (!b.ok()) break;
    out.push_back(*std::move(b));
  }
  return out;
}

TEST(BatchLoader, ShapesAndLength) {
  auto ds = std::make_shared<Dataset>(MakeShapesDataset({10, 48, 80, 1, "train"}));
  const mrcnn::Config c = ShapesConfig();
  BatchLoader loader(ds, c, {true, true, 7, 2, 2, false});
  EXPECT_EQ(loader.batches_per_epoch(), 3);  // 4 + 4 + 2
  const std::vector<Batch> batches = Epoch(&loader, 0);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[2].size(), 2);
  for (const Batch& b : batches) {
    EXPECT_EQ(b.images.sizes(), (at::IntArrayRef{b.size(), 3, 64, 64}));
    EXPECT_EQ(b.images.scalar_type(), at::kFloat);
    for (int i = 0; i < b.size(); ++i) {
      const int64_t n = b.boxes[i].size(0);
      EXPECT_GE(n, 1);
      EXPECT_EQ(b.boxes[i].sizes(), (at::IntArrayRef{n, 4}));
      EXPECT_EQ(b.class_ids[i].scalar_type(), at::kLong);
      EXPECT_EQ(b.masks[i].sizes(), (at::IntArrayRef{n, c.MINI_MASK_SHAPE[0], c.MINI_MASK_SHAPE[1]}));
      EXPECT_EQ(b.masks[i].scalar_type(), at::kByte);
      EXPECT_TRUE(b.class_ids[i].ge(1).all().item<bool>());
      EXPECT_TRUE(b.class_ids[i].le(3).all().item<bool>());
      // 80 x 48 into a 64 square: scale 0.8, 64 x 38 with 13 rows above and below.
      EXPECT_EQ(b.meta[i].window, (std::array<int, 4>{13, 0, 51, 64}));
      EXPECT_TRUE(b.boxes[i].select(1, 1).ge(13).all().item<bool>());
      EXPECT_TRUE(b.boxes[i].select(1, 3).le(51).all().item<bool>());
    }
  }
  BatchLoader drop(ds, c, {true, false, 7, 1, 2, true});
  EXPECT_EQ(drop.batches_per_epoch(), 2);
  EXPECT_EQ(Epoch(&drop, 0).size(), 2u);
}

TEST(BatchLoader, TorchvisionModePadsToMultiplesOf32) {
  auto ds = std::make_shared<Dataset>(MakeShapesDataset({3, 64, 128, 4, "train"}));
  mrcnn::Config c = mrcnn::Config::Preset("torchvision").value();
  c.IMAGES_PER_GPU = 3;
  c.IMAGE_MIN_DIM = 32;
  c.IMAGE_MAX_DIM = 48;
  BatchLoader loader(ds, c, {false, false, 0, 1, 1, false});
  const std::vector<Batch> batches = Epoch(&loader, 0);
  ASSERT_EQ(batches.size(), 1u);
  // scale = min(32 / 64, 48 / 128) = 0.375: 24 x 48, padded to 32 x 64 with zeros after normalising.
  EXPECT_EQ(batches[0].images.sizes(), (at::IntArrayRef{3, 3, 32, 64}));
  EXPECT_EQ(batches[0].meta[0].window, (std::array<int, 4>{0, 0, 24, 48}));
  EXPECT_EQ(batches[0].images.slice(2, 24).abs().sum().item<float>(), 0.0f);
  EXPECT_GT(batches[0].images.slice(2, 0, 24).abs().sum().item<float>(), 0.0f);
  // torchvision keeps full-size masks (USE_MINI_MASK is false in its preset).
  EXPECT_EQ(batches[0].masks[0].size(1), 24);
  EXPECT_EQ(batches[0].masks[0].size(2), 48);
}

TEST(BatchLoader, OrderFollowsSeedAndEpochNotWorkers) {
  auto ds = std::make_shared<Dataset>(MakeShapesDataset({13, 64, 64, 2, "train"}));
  const mrcnn::Config c = ShapesConfig();
  BatchLoader one(ds, c, {true, true, 5, 1, 1, false});
  BatchLoader three(ds, c, {true, true, 5, 3, 4, false});
  BatchLoader other_seed(ds, c, {true, true, 6, 2, 2, false});
  EXPECT_EQ(one.EpochOrder(0), three.EpochOrder(0));
  EXPECT_NE(one.EpochOrder(0), one.EpochOrder(1));
  EXPECT_NE(one.EpochOrder(0), other_seed.EpochOrder(0));
  for (int epoch = 0; epoch < 2; ++epoch) {
    const std::vector<Batch> a = Epoch(&one, epoch), b = Epoch(&three, epoch);
    ASSERT_EQ(a.size(), b.size());
    std::vector<int> seen;
    for (size_t k = 0; k < a.size(); ++k) {
      EXPECT_TRUE(at::equal(a[k].images, b[k].images));
      for (int i = 0; i < a[k].size(); ++i) {
        EXPECT_EQ(a[k].meta[i].image_index, b[k].meta[i].image_index);
        EXPECT_EQ(a[k].meta[i].flipped, b[k].meta[i].flipped);
        EXPECT_TRUE(at::equal(a[k].boxes[i], b[k].boxes[i]));
        EXPECT_TRUE(at::equal(a[k].masks[i], b[k].masks[i]));
        seen.push_back(a[k].meta[i].image_index);
      }
    }
    EXPECT_EQ(seen, one.EpochOrder(epoch));
  }
  // Augmentation flips some images and not others.
  int flipped = 0, total = 0;
  for (const Batch& b : Epoch(&three, 3)) {
    for (const ImageMeta& m : b.meta) flipped += m.flipped, ++total;
  }
  EXPECT_GT(flipped, 0);
  EXPECT_LT(flipped, total);
}

TEST(BatchLoader, StopsMidEpochAndRestarts) {
  auto ds = std::make_shared<Dataset>(MakeShapesDataset({40, 64, 64, 3, "train"}));
  BatchLoader loader(ds, ShapesConfig(), {true, false, 1, 2, 3, false});
  loader.StartEpoch(0);
  ASSERT_TRUE(loader.Next().ok());
  loader.StartEpoch(1);  // abandons epoch 0
  EXPECT_EQ(Epoch(&loader, 1).size(), 10u);
  EXPECT_TRUE(absl::IsOutOfRange(loader.Next().status()));
}

TEST(BatchLoader, UnreadableImageIsAnErrorNamingTheFile) {
  const std::string dir = testing::MakeTempDir("loader_bad");
  auto ds = std::make_shared<Dataset>();
  ASSERT_TRUE(ds->AddClass("t", 1, "a").ok());
  for (int i = 0; i < 3; ++i) {
    const std::string path = dir + "/img" + std::to_string(i) + ".png";
    testing::WriteImage(path, 32, 32);
    ImageInfo info;
    info.source = "t";
    info.id = "img" + std::to_string(i);
    info.path = path;
    info.width = info.height = 32;
    Annotation a;
    a.class_id = 1;
    a.polygons.push_back({{2, 2}, {20, 2}, {10, 20}});
    info.annotations.push_back(a);
    ds->AddImage(info);
  }
  ASSERT_TRUE(ds->Prepare().ok());
  testing::WriteText(dir + "/img1.png", "gone bad");  // changed on disk after loading
  mrcnn::Config c = ShapesConfig();
  c.IMAGES_PER_GPU = 1;
  BatchLoader loader(ds, c, {false, false, 0, 2, 2, false});
  loader.StartEpoch(0);
  EXPECT_TRUE(loader.Next().ok());
  absl::StatusOr<Batch> bad = loader.Next();
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr(dir + "/img1.png"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("not a readable image"));
  EXPECT_TRUE(loader.Next().ok());
}

TEST(MakeBatch, PadsToTheLargestImageRoundedUp) {
  PreparedImage a, b;
  a.image = cv::Mat(50, 70, CV_32FC3, cv::Scalar(1, 2, 3));
  b.image = cv::Mat(60, 33, CV_32FC3, cv::Scalar(4, 5, 6));
  a.mask_height = a.mask_width = 28;
  const Batch batch = MakeBatch({a, b}, 32);
  EXPECT_EQ(batch.images.sizes(), (at::IntArrayRef{2, 3, 64, 96}));
  EXPECT_EQ(batch.images[0][2][49][69].item<float>(), 3);
  EXPECT_EQ(batch.images[0][2][50][69].item<float>(), 0);  // padding
  EXPECT_EQ(batch.images[1][0][59][32].item<float>(), 4);
  EXPECT_EQ(batch.boxes[0].sizes(), (at::IntArrayRef{0, 4}));
  EXPECT_EQ(batch.masks[0].sizes(), (at::IntArrayRef{0, 28, 28}));  // no instances, mask size known
}

}  // namespace
}  // namespace mrcnn::datasets
