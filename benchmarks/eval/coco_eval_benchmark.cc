// COCO evaluation speed: evaluate + accumulate on the largest shared case (a_medium: 200 images,
// 1313 objects, 4191 detections) or --gt/--dt, box and mask IoU, 1 and 2 threads; then runs the peer
// scripts on the same files in the same run and prints the speed-ups: pycocotools
// (coco_eval_peer.py) and faster-coco-eval (faster_coco_eval_peer.py, a C++ core). Against
// faster-coco-eval it also times whole processes: `eval/coco_eval --threads=2` against a python3
// process that imports faster-coco-eval, loads both files and evaluates; and it prints the largest
// difference between its 12 numbers and ours.
//
//   bazel run //benchmarks/eval:coco_eval_benchmark [-- --gt=GT.json --dt=DT.json --nopeer
//       --python=/path/to/python3 --peer_repeats=3 --benchmark_*...]
//   python3 benchmarks/eval/make_large_case.py --out /tmp/large      # 500 images, 20k detections
//   bazel run //benchmarks/eval:coco_eval_benchmark -- --gt=/tmp/large/gt.json --dt=/tmp/large/dt.json
//
// "EvaluateAccumulate" times what pycocotools' evaluate()+accumulate() does from loaded
// annotations: preparing the ground truth (indexing, polygon rasterisation), IoUs, matching,
// accumulation (and the summary). "EvaluateReused" reuses the prepared ground truth, as a trainer
// does every epoch. "LoadEvaluate" adds parsing both JSON files.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "benchmarks/eval/bench_util.h"
#include "eval/coco_eval.h"
#include "eval/coco_json.h"
#include "nlohmann/json.hpp"

namespace {

namespace ev = mrcnn::eval;

std::string g_gt = "tests/testdata/coco_eval/gt_a_medium.json";
std::string g_dt = "tests/testdata/coco_eval/dt_a_medium.json";

struct Inputs {
  ev::CocoDataset gt;
  std::vector<ev::Detection> dts;
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
    in->gt = *std::move(gt);
    in->dts = *std::move(dts);
    return in;
  }();
  return *inputs;
}

ev::EvalOptions Options(int threads) {
  ev::EvalOptions o;
  o.num_threads = threads;
  o.ignore_unknown_categories = true;
  return o;
}

ev::IouType TypeOf(const benchmark::State& state) {
  return state.range(0) == 0 ? ev::IouType::kBbox : ev::IouType::kSegm;
}

void EvaluateAccumulate(benchmark::State& state) {
  const Inputs& in = GetInputs();
  for (auto _ : state) {
    absl::StatusOr<ev::CocoEvalResult> r = ev::EvaluateCoco(
        in.gt, in.dts, TypeOf(state), ev::Params(), Options(static_cast<int>(state.range(1))));
    benchmark::DoNotOptimize(r->stats);
  }
}

void EvaluateReused(benchmark::State& state) {
  const Inputs& in = GetInputs();
  ev::CocoEvaluator evaluator =
      ev::CocoEvaluator::Create(in.gt, TypeOf(state), ev::Params(), Options(state.range(1)))
          .value();
  for (auto _ : state) {
    absl::StatusOr<ev::CocoEvalResult> r = evaluator.Evaluate(in.dts);
    benchmark::DoNotOptimize(r->stats);
  }
}

void LoadEvaluate(benchmark::State& state) {
  for (auto _ : state) {
    ev::CocoDataset gt = ev::LoadCocoGroundTruth(g_gt).value();
    std::vector<ev::Detection> dts = ev::LoadCocoResults(g_dt, gt, true).value();
    absl::StatusOr<ev::CocoEvalResult> r =
        ev::EvaluateCoco(gt, dts, TypeOf(state), ev::Params(), Options(state.range(1)));
    benchmark::DoNotOptimize(r->stats);
  }
}

// Args: {iou type (0 bbox, 1 segm), threads}.
BENCHMARK(EvaluateAccumulate)
    ->ArgNames({"segm", "threads"})
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(EvaluateReused)
    ->ArgNames({"segm", "threads"})
    ->ArgsProduct({{0, 1}, {2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(LoadEvaluate)
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
  std::string python, repeats = "3";
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (TakeFlag(arg, "gt", &g_gt) || TakeFlag(arg, "dt", &g_dt) ||
        TakeFlag(arg, "python", &python) || TakeFlag(arg, "peer_repeats", &repeats)) {
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
  GetInputs();  // load outside the timings
  RecordingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  if (!peer) return 0;

  const std::vector<std::string> pythons =
      python.empty() ? std::vector<std::string>{"python3", "/root/.pyenv/shims/python3",
                                                "/usr/local/bin/python3"}
                     : std::vector<std::string>{python};
  const auto run_peer = [&](const std::string& script) {
    for (const std::string& py : pythons) {
      std::string out = RunCommand("'" + py + "' " + script + " --gt '" + g_gt + "' --dt '" + g_dt +
                                   "' --repeats " + repeats + " 2>/dev/null");
      if (!out.empty()) return out;
    }
    return std::string();
  };
  const std::string fce_script = "benchmarks/eval/faster_coco_eval_peer.py";
  const std::string fce_out = run_peer(fce_script);
  if (fce_out.empty()) {
    std::cout << "\npeer: no python3 with faster-coco-eval ran " << fce_script
              << " (pip install faster-coco-eval==1.8.0, or pass --python=/path/to/python3)\n";
  } else {
    const nlohmann::json fce = nlohmann::json::parse(fce_out);
    // Our whole process, the same way: `eval/coco_eval --threads=2`, fastest and median of repeats.
    const int n = std::max(1, std::atoi(repeats.c_str()));
    std::printf(
        "\nfaster-coco-eval %s vs this, same files, same run (median of %d; ratio = theirs / ours):\n",
        fce["version"].get<std::string>().c_str(), n);
    std::printf("%-6s %12s %12s %9s %15s %15s %9s %14s\n", "type", "fce_eval_s", "ours_eval_s",
                "ratio", "fce_process_s", "ours_process_s", "ratio", "max|stat diff|");
    for (const char* type : {"bbox", "segm"}) {
      const std::string segm = std::string(type) == "segm" ? "1" : "0";
      std::vector<double> ours_process;
      std::string summary;
      for (int i = 0; i < n; ++i) {
        const auto start = std::chrono::steady_clock::now();
        summary = RunCommand("eval/coco_eval --gt='" + g_gt + "' --results='" + g_dt +
                             "' --iou_type=" + type + " --threads=2 --ignore_unknown_categories --json=-");
        ours_process.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
      std::sort(ours_process.begin(), ours_process.end());
      double max_diff = NAN;
      const size_t brace = summary.find('{');
      if (brace != std::string::npos) {
        const nlohmann::json ours = nlohmann::json::parse(summary.substr(brace), nullptr, false);
        if (!ours.is_discarded() && ours.contains("stats")) {
          max_diff = 0;
          for (size_t j = 0; j < 12; ++j) {
            const double mine = ours["stats"][ev::kStatNames[j]].get<double>();
            max_diff = std::max(max_diff, std::abs(mine - fce[type]["stats"][j].get<double>()));
          }
        }
      }
      const double fe = fce[type]["eval_s"]["median_s"];
      const double fp = fce[type]["process_s"]["median_s"];
      const double oe = reporter.Seconds("EvaluateAccumulate/segm:" + segm + "/threads:2/real_time");
      const double op = ours_process[ours_process.size() / 2];
      std::printf("%-6s %12.4f %12.4f %8.1fx %15.4f %15.4f %8.1fx %14.2g\n", type, fe, oe, fe / oe,
                  fp, op, fp / op, max_diff);
    }
  }

  const std::string script = "benchmarks/eval/coco_eval_peer.py";
  const std::string out = run_peer(script);
  if (out.empty()) {
    std::cout << "\npeer: no python3 with pycocotools ran " << script
              << " (pass --python=/path/to/python3)\n";
    return 0;
  }
  const nlohmann::json peer_times = nlohmann::json::parse(out);
  std::printf(
      "\npycocotools evaluate()+accumulate() (fastest of %s) vs this (EvaluateAccumulate), same "
      "files, same run:\n",
      repeats.c_str());
  std::printf("%-6s %14s %16s %16s %10s %10s\n", "type", "pycocotools_s", "ours_1thread_s",
              "ours_2threads_s", "ratio_1t", "ratio_2t");
  for (const char* type : {"bbox", "segm"}) {
    const std::string segm = std::string(type) == "segm" ? "1" : "0";
    const double py = peer_times[type]["min_s"];
    const double t1 = reporter.Seconds("EvaluateAccumulate/segm:" + segm + "/threads:1/real_time");
    const double t2 = reporter.Seconds("EvaluateAccumulate/segm:" + segm + "/threads:2/real_time");
    std::printf("%-6s %14.4f %16.5f %16.5f %9.1fx %9.1fx\n", type, py, t1, t2, py / t1, py / t2);
  }
  return 0;
}
