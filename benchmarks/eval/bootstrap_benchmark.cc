// Bootstrap speed: B = 1000 resamples (multisets of the evaluated images) accumulated from the
// per-image matching results of one evaluation, bbox and segm, 1 and 2 threads; then the peer script
// (pycocotools on the same files, same run) times evaluate()+accumulate() on resamples built as
// datasets of duplicated images, which is what a bootstrap with pycocotools has to do, and the table
// prints our 1000 resamples against 1000 x pycocotools' median time for one.
//
//   python3 benchmarks/eval/make_large_case.py --out /tmp/large      # 500 images, 20k detections
//   bazel run //benchmarks/eval:bootstrap_benchmark -- --gt=/tmp/large/gt.json
//       --dt=/tmp/large/dt.json [--nopeer --python=/path/to/python3 --peer_resamples=3]
//
// "Bootstrap" is eval::PairedBootstrap with one run: 1001 accumulations (every image once, then each
// replicate) and the percentile intervals of AP and AP50. "PairedBootstrap2Arms3Seeds" compares two
// arms of three seeds each (the same evaluation stands in for every run; the work does not depend on
// the values): 6 accumulations per replicate.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "benchmarks/eval/bench_util.h"
#include "eval/bootstrap.h"
#include "eval/coco_eval.h"
#include "eval/coco_json.h"
#include "eval/per_image.h"
#include "nlohmann/json.hpp"

namespace {

namespace ev = mrcnn::eval;

std::string g_gt = "tests/testdata/coco_eval/gt_a_medium.json";
std::string g_dt = "tests/testdata/coco_eval/dt_a_medium.json";
constexpr int kResamples = 1000;

struct Inputs {
  std::map<int, std::unique_ptr<ev::ResampleAccumulator>> acc;  // 0 bbox, 1 segm
  size_t images = 0, detections = 0;
};

const Inputs& GetInputs() {
  static const Inputs* inputs = [] {
    auto* in = new Inputs;
    absl::StatusOr<ev::CocoDataset> gt = ev::LoadCocoGroundTruth(g_gt);
    if (!gt.ok()) {
      std::cerr << gt.status().message() << "\n";
      std::exit(1);
    }
    absl::StatusOr<std::vector<ev::Detection>> dts = ev::LoadCocoResults(g_dt, *gt, true);
    if (!dts.ok()) {
      std::cerr << dts.status().message() << "\n";
      std::exit(1);
    }
    in->images = gt->images.size();
    in->detections = dts->size();
    for (int type = 0; type < 2; ++type) {
      ev::EvalOptions o;
      o.num_threads = 2;
      o.ignore_unknown_categories = true;
      o.keep_per_image = true;
      ev::CocoEvalResult r =
          ev::EvaluateCoco(*gt, *dts, type ? ev::IouType::kSegm : ev::IouType::kBbox, ev::Params(), o)
              .value();
      in->acc[type] = std::make_unique<ev::ResampleAccumulator>(
          ev::ResampleAccumulator::Create(r.per_image).value());
    }
    return in;
  }();
  return *inputs;
}

void Bootstrap(benchmark::State& state) {
  const ev::ResampleAccumulator* acc = GetInputs().acc.at(static_cast<int>(state.range(0))).get();
  ev::PairedBootstrapOptions o;
  o.resamples = kResamples;
  o.seed = 1;
  o.num_threads = static_cast<int>(state.range(1));
  for (auto _ : state) {
    ev::PairedBootstrapResult r = ev::PairedBootstrap({{acc}}, {0, 1}, o).value();
    benchmark::DoNotOptimize(r.differences);
  }
}

void PairedBootstrap2Arms3Seeds(benchmark::State& state) {
  const ev::ResampleAccumulator* acc = GetInputs().acc.at(static_cast<int>(state.range(0))).get();
  ev::PairedBootstrapOptions o;
  o.resamples = kResamples;
  o.seed = 1;
  o.num_threads = static_cast<int>(state.range(1));
  o.resample_seeds = false;  // every seed in every replicate: the most work
  for (auto _ : state) {
    ev::PairedBootstrapResult r = ev::PairedBootstrap({{acc, acc, acc}, {acc, acc, acc}}, {0, 1}, o).value();
    benchmark::DoNotOptimize(r.differences);
  }
}

BENCHMARK(Bootstrap)
    ->ArgNames({"segm", "threads"})
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(PairedBootstrap2Arms3Seeds)
    ->ArgNames({"segm", "threads"})
    ->ArgsProduct({{0, 1}, {2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

using mrcnn::bench::RecordingReporter;
using mrcnn::bench::RunCommand;
using mrcnn::bench::TakeFlag;

int main(int argc, char** argv) {
  bool peer = true;
  std::string python, resamples = "3";
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (TakeFlag(arg, "gt", &g_gt) || TakeFlag(arg, "dt", &g_dt) ||
        TakeFlag(arg, "python", &python) || TakeFlag(arg, "peer_resamples", &resamples)) {
      continue;
    }
    if (arg == "--nopeer") {
      peer = false;
      continue;
    }
    argv[kept++] = argv[i];
  }
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const Inputs& in = GetInputs();  // evaluate outside the timings
  std::printf("%s: %zu images, %zu detections; B = %d\n", g_dt.c_str(), in.images, in.detections,
              kResamples);
  RecordingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  if (!peer) return 0;

  std::string out;
  const std::string script = "benchmarks/eval/bootstrap_peer.py";
  for (const std::string& py :
       python.empty() ? std::vector<std::string>{"python3", "/root/.pyenv/shims/python3",
                                                 "/usr/local/bin/python3"}
                      : std::vector<std::string>{python}) {
    out = RunCommand("'" + py + "' " + script + " --gt '" + g_gt + "' --dt '" + g_dt +
                     "' --resamples " + resamples + " 2>/dev/null");
    if (!out.empty()) break;
  }
  if (out.empty()) {
    std::cout << "\npeer: no python3 with pycocotools ran " << script
              << " (pass --python=/path/to/python3)\n";
    return 0;
  }
  const nlohmann::json peer_times = nlohmann::json::parse(out);
  std::printf(
      "\n%d resamples: pycocotools evaluate()+accumulate() on a duplicated-image dataset (median of "
      "%s, x %d) vs this (Bootstrap), same files, same run:\n",
      kResamples, resamples.c_str(), kResamples);
  std::printf("%-6s %16s %14s %15s %10s %10s\n", "type", "pycocotools_s", "ours_1thread_s",
              "ours_2threads_s", "ratio_1t", "ratio_2t");
  for (const char* type : {"bbox", "segm"}) {
    const std::string segm = std::string(type) == "segm" ? "1" : "0";
    const double py = peer_times[type]["median_s"].get<double>() * kResamples;
    const double t1 = reporter.Seconds("Bootstrap/segm:" + segm + "/threads:1/real_time");
    const double t2 = reporter.Seconds("Bootstrap/segm:" + segm + "/threads:2/real_time");
    std::printf("%-6s %16.1f %14.3f %15.3f %9.0fx %9.0fx\n", type, py, t1, t2, py / t1, py / t2);
  }
  return 0;
}
