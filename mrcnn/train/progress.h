// Training progress for people: on a terminal one bar redrawn in place
//   epoch 2/10 [#########.........]  45/100 loss 0.812  21.3 img/s  ETA 0:12
// and when the output is a file or pipe one plain line every `log_every` steps (and at the end).
//
//   Progress p(stderr, /*epochs=*/10, /*steps_per_epoch=*/100);
//   p.Step(epoch, step_in_epoch, loss, images, seconds);
//   p.EndEpoch("val loss 0.7  segm AP50 0.91");
#ifndef MRCNN_TRAIN_PROGRESS_H_
#define MRCNN_TRAIN_PROGRESS_H_

#include <cstdio>
#include <string>

namespace mrcnn {

class Progress {
 public:
  // `terminal`: -1 decides from isatty(fileno(out)).
  Progress(std::FILE* out, int epochs, int steps_per_epoch, int log_every = 10, int terminal = -1);
  void Step(int epoch, int step_in_epoch, double loss, int images, double seconds);
  void EndEpoch(const std::string& summary);
  bool terminal() const { return terminal_; }

  // "1:02:03" or "2:03".
  static std::string FormatDuration(double seconds);

 private:
  std::FILE* out_;
  int epochs_, steps_per_epoch_, log_every_;
  bool terminal_;
  double smoothed_loss_ = 0, images_ = 0, seconds_ = 0;
  int steps_ = 0;
};

}  // namespace mrcnn

#endif  // MRCNN_TRAIN_PROGRESS_H_
