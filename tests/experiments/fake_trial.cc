// A FAKE trial binary for the experiments tests: it trains nothing. It speaks the trial protocol of
// experiments/trial.h and logs metric rows whose values are closed-form functions of its config and
// seed, so tests can check what the log and the reports hold by hand:
//
//   steps  = STEPS_PER_EPOCH; step s in 0..steps-1 logs loss = (RPN_ANCHOR_STRIDE + 0.5 * USE_MINI_MASK
//            + 0.1 * seed) / (s + 1), and "omp_threads" = $OMP_NUM_THREADS at step 0
//   at the end, one COCO result: segm stat i = b + 0.01 i, bbox stat i = b + 0.02 + 0.01 i, with
//            b = 0.5 + 0.1 * RPN_ANCHOR_STRIDE - 0.05 * USE_MINI_MASK + 0.01 * seed; per-class AP of class 1 = b
//   dataset "fake" with hash "A" (or "B" when NAME has the token dataset_b)
//
// Tokens in the config's NAME (joined by '+') make it misbehave: fail (exit 3 after step 0), crash
// (SIGSEGV after step 0), hang (sleep forever after step 0), fail_attempt1 / hang_attempt1 (only on
// attempt 1), slow (sleep 50 ms per step).
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "experiments/trial.h"
#include "mrcnn/config/config.h"

namespace {

int Fail(const absl::Status& s) {
  std::cerr << "fake_trial: " << s.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<experiments::TrialArgs> args = experiments::ParseTrialArgs(argc, argv);
  if (!args.ok()) return Fail(args.status());
  std::ifstream in(args->config_path);
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  absl::StatusOr<mrcnn::Config> config = mrcnn::Config::FromJson(j, args->config_path);
  if (!config.ok()) return Fail(config.status());
  const std::vector<std::string> parts = absl::StrSplit(config->NAME, '+');
  const std::set<std::string> tokens(parts.begin(), parts.end());
  const bool first = args->attempt == 1;
  absl::StatusOr<experiments::TrialLog> log = experiments::TrialLog::Open(*args);
  if (!log.ok()) return Fail(log.status());

  const int64_t steps = config->STEPS_PER_EPOCH;
  const double stride = config->RPN_ANCHOR_STRIDE;
  const double mini = config->USE_MINI_MASK ? 1.0 : 0.0;
  const double seed = static_cast<double>(args->seed);
  absl::Status s = log->SetTotalSteps(steps);
  if (s.ok()) s = log->SetBuild({"fake-trial", "none (fake trial)", "none"});
  if (s.ok()) s = log->SetDataset("fake", tokens.count("dataset_b") ? "B" : "A");
  if (!s.ok()) return Fail(s);
  std::cout << "fake_trial: trial " << args->trial_id << " attempt " << args->attempt << ", "
            << steps << " steps, seed " << args->seed << "\n";
  for (int64_t step = 0; step < steps; ++step) {
    std::vector<experiments::MetricPoint> points = {
        {"loss", (stride + 0.5 * mini + 0.1 * seed) / static_cast<double>(step + 1), ""}};
    if (step == 0) {
      const char* omp = std::getenv("OMP_NUM_THREADS");
      points.push_back({"omp_threads", omp ? std::atof(omp) : -1.0, "max"});
    }
    s = log->LogMetrics(step, 0, points);
    if (!s.ok()) return Fail(s);
    if (step == 0) {
      if (tokens.count("fail") || (first && tokens.count("fail_attempt1"))) {
        std::cerr << "fake_trial: failing as told by NAME=" << config->NAME << "\n";
        return 3;
      }
      if (tokens.count("crash")) raise(SIGSEGV);
      if (tokens.count("hang") || (first && tokens.count("hang_attempt1"))) {
        std::cout << "fake_trial: hanging" << std::endl;
        while (true) pause();
      }
    }
    if (tokens.count("slow")) usleep(50 * 1000);
  }
  const double b = 0.5 + 0.1 * stride - 0.05 * mini + 0.01 * seed;
  experiments::CocoResult coco;
  coco.segm.emplace();
  coco.bbox.emplace();
  for (int i = 0; i < 12; ++i) {
    coco.segm->stats[i] = b + 0.01 * i;
    coco.bbox->stats[i] = b + 0.02 + 0.01 * i;
  }
  coco.segm->per_class = {{1, "square", b}};
  coco.bbox->per_class = {{1, "square", b + 0.02}};
  s = log->LogCoco(steps, 0, coco);
  if (!s.ok()) return Fail(s);
  const std::string ckpt = absl::StrCat(args->trial_dir, "/last.ckpt");
  std::ofstream(ckpt) << "fake checkpoint\n";
  s = log->LogCheckpoint(steps, "last", ckpt);
  if (!s.ok()) return Fail(s);
  return 0;
}
