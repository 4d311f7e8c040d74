// Images per second through the batch loader with preprocessing: a tutorial-layout folder of 640x480
// JPEGs with 3 polygons each resized to 512 px (square mode, mini masks, flips), and the synthetic
// shapes preset at 128 px. Also the single-thread PrepareImage cost of both.
//
//   bazel run //benchmarks:datasets_benchmark -- --benchmark_min_time=2
//   /usr/bin/python3 benchmarks/datasets_benchmark_peer.py   # the same work in torch/torchvision
//
// The JPEG folder is written to $MRCNN_BENCH_DIR (default /tmp/mrcnn_datasets_bench) when absent; the
// peer script writes or reads the same folder.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "datasets/loader.h"
#include "datasets/preprocess.h"
#include "datasets/shapes.h"
#include "datasets/tutorial.h"
#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"

namespace mrcnn::datasets {
namespace {

constexpr int kImages = 64;

std::string BenchDir() {
  const char* env = std::getenv("MRCNN_BENCH_DIR");
  return env ? env : "/tmp/mrcnn_datasets_bench";
}

// Image i: a colour ramp with three polygons whose corners follow i (no randomness needed).
void WriteFolder(const std::string& root) {
  namespace fs = std::filesystem;
  if (fs::exists(root + "/Segmentations/img_063.txt")) return;
  fs::create_directories(root + "/JPEGImages");
  fs::create_directories(root + "/Segmentations");
  for (int i = 0; i < kImages; ++i) {
    cv::Mat bgr(480, 640, CV_8UC3);
    for (int y = 0; y < 480; ++y) {
      for (int x = 0; x < 640; ++x) bgr.at<cv::Vec3b>(y, x) = cv::Vec3b((x + i) % 256, (y * 2) % 256, (x + y) % 256);
    }
    std::string label = "[";
    for (int k = 0; k < 3; ++k) {
      const int x = 40 + (i * 37 + k * 180) % 480, y = 40 + (i * 23 + k * 110) % 320, s = 30 + (i + 7 * k) % 60;
      const std::vector<cv::Point> poly = {{x, y}, {x + 2 * s, y + s / 3}, {x + s, y + 2 * s}, {x - s / 2, y + s}};
      cv::fillPoly(bgr, std::vector<std::vector<cv::Point>>{poly}, cv::Scalar(40 * k, 200, 255 - 60 * k));
      label += (k ? "," : "") + std::string("{\"category\":\"") + std::to_string(40 + k) + "\",\"type\":\"polygon\",\"points\":[";
      for (size_t p = 0; p < poly.size(); ++p) {
        label += (p ? "," : "") + std::string("[") + std::to_string(poly[p].x) + "," + std::to_string(poly[p].y) + "]";
      }
      label += "]}";
    }
    label += "]";
    char name[32];
    std::snprintf(name, sizeof(name), "img_%03d", i);
    cv::imwrite(root + "/JPEGImages/" + name + ".jpg", bgr, {cv::IMWRITE_JPEG_QUALITY, 90});
    std::ofstream(root + "/Segmentations/" + name + ".txt") << label;
  }
}

std::shared_ptr<Dataset> JpegDataset() {
  static std::shared_ptr<Dataset> ds = [] {
    WriteFolder(BenchDir());
    ProblemLog log;
    TutorialOptions opt;
    opt.root = BenchDir();
    opt.class_map = ParseClassMapFlag("40=a,41=b,42=c").value();
    return std::make_shared<Dataset>(LoadTutorial(opt, &log).value());
  }();
  return ds;
}

mrcnn::Config Config512() {
  mrcnn::Config c = mrcnn::Config::Preset("matterport").value();
  c.IMAGE_RESIZE_MODE = mrcnn::ResizeMode::kSquare;
  c.IMAGE_MIN_DIM = 512;
  c.IMAGE_MAX_DIM = 512;
  c.IMAGES_PER_GPU = 2;
  return c;
}

void RunLoader(benchmark::State& state, std::shared_ptr<Dataset> ds, const mrcnn::Config& c) {
  BatchLoader loader(ds, c, {true, true, 1, static_cast<int>(state.range(0)), 4, false});
  // One untimed batch: LibTorch and OpenCV set themselves up on first use.
  loader.StartEpoch(1000);
  (void)loader.Next();
  int epoch = 0;
  int64_t images = 0;
  for (auto _ : state) {
    loader.StartEpoch(epoch++);
    while (true) {
      absl::StatusOr<Batch> b = loader.Next();
      if (!b.ok()) break;
      images += b->size();
      benchmark::DoNotOptimize(b->images.data_ptr());
    }
  }
  state.SetItemsProcessed(images);
  state.counters["images_per_s"] = benchmark::Counter(static_cast<double>(images), benchmark::Counter::kIsRate);
}

void BM_Loader512(benchmark::State& state) { RunLoader(state, JpegDataset(), Config512()); }
BENCHMARK(BM_Loader512)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LoaderShapes128(benchmark::State& state) {
  static auto ds = std::make_shared<Dataset>(MakeShapesDataset({256, 128, 128, 1, "train"}));
  RunLoader(state, ds, mrcnn::Config::Preset("shapes").value());
}
BENCHMARK(BM_LoaderShapes128)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PrepareImage512(benchmark::State& state) {
  auto ds = JpegDataset();
  const mrcnn::Config c = Config512();
  int i = 0;
  for (auto _ : state) {
    Rng rng(i);
    benchmark::DoNotOptimize(PrepareImage(*ds, i++ % ds->num_images(), c, true, &rng));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PrepareImage512)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace mrcnn::datasets

BENCHMARK_MAIN();
