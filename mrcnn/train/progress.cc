#include "mrcnn/train/progress.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_format.h"

namespace mrcnn {

Progress::Progress(std::FILE* out, int epochs, int steps_per_epoch, int log_every, int terminal)
    : out_(out),
      epochs_(epochs),
      steps_per_epoch_(std::max(1, steps_per_epoch)),
      log_every_(std::max(1, log_every)),
      terminal_(terminal < 0 ? isatty(fileno(out)) != 0 : terminal != 0) {}

std::string Progress::FormatDuration(double seconds) {
  const long s = static_cast<long>(std::max(0.0, seconds) + 0.5);
  if (s >= 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

void Progress::Step(int epoch, int step_in_epoch, double loss, int images, double seconds) {
  // An exponential average keeps the displayed loss readable; the first step starts it.
  smoothed_loss_ = steps_ == 0 ? loss : 0.9 * smoothed_loss_ + 0.1 * loss;
  ++steps_;
  images_ += images;
  seconds_ += seconds;
  const double ips = seconds_ > 0 ? images_ / seconds_ : 0;
  const double eta = seconds_ / steps_ * (steps_per_epoch_ - step_in_epoch);
  if (terminal_) {
    const int width = 20;
    const int filled = width * step_in_epoch / steps_per_epoch_;
    absl::FPrintF(out_, "\repoch %d/%d [%s%s] %d/%d loss %.4f  %.1f img/s  ETA %s ", epoch, epochs_,
                  std::string(filled, '#'), std::string(width - filled, '.'), step_in_epoch,
                  steps_per_epoch_, smoothed_loss_, ips, FormatDuration(eta));
    std::fflush(out_);
  } else if (step_in_epoch % log_every_ == 0 || step_in_epoch == steps_per_epoch_) {
    absl::FPrintF(out_, "epoch %d/%d step %d/%d loss %.4f (last %.4f) %.1f img/s ETA %s\n", epoch, epochs_,
                  step_in_epoch, steps_per_epoch_, smoothed_loss_, loss, ips, FormatDuration(eta));
    std::fflush(out_);
  }
}

void Progress::EndEpoch(const std::string& summary) {
  if (terminal_) absl::FPrintF(out_, "\n");
  absl::FPrintF(out_, "%s\n", summary);
  std::fflush(out_);
  steps_ = 0;
  images_ = 0;
  seconds_ = 0;
}

}  // namespace mrcnn
