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
// Token per_image: the COCO result is instead a real evaluation (eval/) whose numbers are known by
// hand, logged with its per-image results: 37 images (ids 100..136) of one 100 x 100 square each
// (class 1); the trial detects each square exactly (bbox and segm IoU 1) except, with
// RPN_ANCHOR_STRIDE = 2, on the 9 images i % 4 == 1, and, with seed s, on the last s images (i > 36 -
// s). A multiset with `total` images, `hits` of them detected, has AP = AP50 = (number of k in 0..100
// with k * total <= 100 * hits) / 101 (0 when hits is 0). Token other_images: one image fewer (36).
//
// Tokens in the config's NAME (joined by '+') make it misbehave: fail (exit 3 after step 0), crash
// (SIGSEGV after step 0), hang (sleep forever after step 0), fail_attempt1 / hang_attempt1 (only on
// attempt 1), slow (sleep 50 ms per step).
//
// With --epochs=N (a scheduler's budget; the trainer's flag) it runs epochs 1..N of STEPS_PER_EPOCH
// steps instead, as the trainer does under a scheduler: step g (1-based, global) logs loss = 1 / g;
// the end of epoch e logs a COCO result whose segm_AP is the scripted curve
//            segm_AP(e) = RPN_NMS_THRESHOLD + DETECTION_NMS_THRESHOLD * (1 - 1 / e)
// (start level, gain: curves can cross), writes the checkpoint file ckpt_<e>.txt ("epoch step") and
// logs it. --stop_at_epoch=E stops after epoch E; --resume=FILE continues after the checkpoint's epoch
// (a checkpoint that cannot be read is an error, exit 4). More tokens: timed (each step sleeps
// DETECTION_MAX_INSTANCES ms), no_metric (logs no COCO result), fail_epoch2 (exit 3 after epoch 2's
// checkpoint, on attempts that started before epoch 2).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "eval/coco_eval.h"
#include "experiments/trial.h"
#include "mrcnn/config/config.h"

namespace {

int Fail(const absl::Status& s) {
  std::cerr << "fake_trial: " << s.message() << "\n";
  return 1;
}

}  // namespace

// The per_image evaluation described above.
absl::StatusOr<experiments::CocoResult> PerImageCoco(const mrcnn::Config& config, int64_t seed,
                                                     bool other_images) {
  namespace ev = mrcnn::eval;
  const int images = other_images ? 36 : 37;
  ev::CocoDataset gt;
  gt.categories.push_back({1, "square"});
  std::vector<ev::Detection> dts;
  for (int i = 0; i < images; ++i) {
    gt.images.push_back({100 + i, 200, 200, ""});
    ev::CocoAnnotation a;
    a.id = i + 1;
    a.image_id = 100 + i;
    a.category_id = 1;
    a.bbox = {10, 10, 100, 100};
    a.area = 10000;
    a.segmentation.polygons = {{10, 10, 110, 10, 110, 110, 10, 110}};
    gt.annotations.push_back(a);
    const bool missed = (config.RPN_ANCHOR_STRIDE == 2 && i % 4 == 1) || i > 36 - seed;
    if (missed) continue;
    ev::Detection d;
    d.image_id = 100 + i;
    d.category_id = 1;
    d.score = 0.3 + 0.01 * i;
    d.bbox = ev::Box{10, 10, 100, 100};
    dts.push_back(d);
  }
  ev::EvalOptions o;
  o.keep_per_image = true;
  experiments::CocoResult coco;
  for (ev::IouType type : {ev::IouType::kBbox, ev::IouType::kSegm}) {
    absl::StatusOr<ev::CocoEvalResult> r = ev::EvaluateCoco(gt, dts, type, ev::Params(), o);
    if (!r.ok()) return r.status();
    experiments::CocoStats stats;
    stats.stats = r->stats;
    stats.per_image = r->per_image;
    stats.per_class = {{1, "square", r->per_category_ap.at(1)}};
    (type == ev::IouType::kBbox ? coco.bbox : coco.segm) = stats;
  }
  return coco;
}

// The scheduler mode described above.
int RunEpochs(const experiments::TrialArgs& args, const mrcnn::Config& config,
              const std::set<std::string>& tokens, int epochs, experiments::TrialLog& log) {
  int64_t start_epoch = 0, step = 0;
  if (!args.resume.empty()) {
    std::ifstream in(args.resume);
    if (!(in >> start_epoch >> step)) {
      std::cerr << "fake_trial: " << args.resume << ": not a checkpoint\n";
      return 4;
    }
  }
  const int last = args.stop_at_epoch > 0 ? std::min(args.stop_at_epoch, epochs) : epochs;
  const int64_t steps = config.STEPS_PER_EPOCH;
  absl::Status s = log.SetTotalSteps(last * steps);
  if (s.ok()) s = log.SetBuild({"fake-trial", "none (fake trial)", "none"});
  if (s.ok()) s = log.SetDataset("fake", "A");
  if (!s.ok()) return Fail(s);
  std::cout << "fake_trial: trial " << args.trial_id << " attempt " << args.attempt << ", epochs "
            << start_epoch + 1 << ".." << last << " of " << epochs << "\n";
  for (int64_t e = start_epoch + 1; e <= last; ++e) {
    for (int64_t i = 0; i < steps; ++i) {
      ++step;
      s = log.LogMetrics(step, e, {{"loss", 1.0 / static_cast<double>(step), ""}});
      if (!s.ok()) return Fail(s);
      if (tokens.count("timed")) usleep(static_cast<useconds_t>(config.DETECTION_MAX_INSTANCES) * 1000);
    }
    if (!tokens.count("no_metric")) {
      experiments::CocoResult coco;
      coco.segm.emplace();
      coco.segm->stats[0] = config.RPN_NMS_THRESHOLD +
                            config.DETECTION_NMS_THRESHOLD * (1.0 - 1.0 / static_cast<double>(e));
      s = log.LogCoco(step, e, coco);
      if (!s.ok()) return Fail(s);
    }
    const std::string ckpt = absl::StrCat(args.trial_dir, "/ckpt_", e, ".txt");
    std::ofstream(ckpt) << e << " " << step << "\n";
    s = log.LogCheckpoint(step, "last", ckpt);
    if (!s.ok()) return Fail(s);
    if (e == 2 && start_epoch < 2 && tokens.count("fail_epoch2")) {
      std::cerr << "fake_trial: failing after epoch 2 as told by NAME=" << config.NAME << "\n";
      return 3;
    }
  }
  if (tokens.count("no_result")) return 0;  // exits 0 without the result file (--report)
  s = log.Finish();
  if (!s.ok()) return Fail(s);
  return 0;
}

int main(int argc, char** argv) {
  // --epochs is the trainer's flag, not the protocol's: take it out before parsing the protocol.
  std::vector<std::string> rest;
  int epochs = 0;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--epochs=", 0) == 0) {
      epochs = std::atoi(a.c_str() + 9);
    } else if (a == "--check_args") {
      check = true;
    } else {
      rest.push_back(a);
    }
  }
  if (check) {
    // The only trainer flag the fake knows is --epochs.
    if (!rest.empty()) {
      std::cerr << "fake_trial: unknown trainer flag " << rest[0] << "\n";
      return 2;
    }
    return 0;
  }
  absl::StatusOr<experiments::TrialArgs> args = experiments::ParseTrialArgs(rest);
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
  if (epochs > 0) return RunEpochs(*args, *config, tokens, epochs, *log);

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
      if (tokens.count("crash")) {
        // The default action, whatever handler is installed (AddressSanitizer's would turn the
        // signal into a report and an abort): the coordinator must see "killed by signal 11".
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
      }
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
  if (tokens.count("per_image")) {
    absl::StatusOr<experiments::CocoResult> real =
        PerImageCoco(*config, args->seed, tokens.count("other_images") > 0);
    if (!real.ok()) return Fail(real.status());
    coco = *real;
  }
  s = log->LogCoco(steps, 0, coco);
  if (!s.ok()) return Fail(s);
  const std::string ckpt = absl::StrCat(args->trial_dir, "/last.ckpt");
  std::ofstream(ckpt) << "fake checkpoint\n";
  s = log->LogCheckpoint(steps, "last", ckpt);
  if (!s.ok()) return Fail(s);
  if (tokens.count("no_result")) return 0;  // exits 0 without the result file (--report)
  s = log->Finish();
  if (!s.ok()) return Fail(s);
  return 0;
}
