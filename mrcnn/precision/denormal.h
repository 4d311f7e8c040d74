// Flushing denormal floats to zero, for the whole process (LibTorch's setFlushDenormal: the CPU's
// flush-to-zero and denormals-are-zero modes, for this thread and the threads LibTorch starts).
//
// fp32 training from random weights produces gradients below 1.2e-38, which some CPUs compute many
// times slower than normal numbers: on the GPU machine's Intel Xeon one R50-FPN training step took
// 51-57 s with them and 12-14 s flushed (README: Mixed precision). Flushing changes only values that
// small. bf16 kernels are not affected. `train` and `evaluate` take --flush_denormal.
//
//   absl::Status s = SetFlushDenormal(FLAGS_flush_denormal);
#ifndef MRCNN_PRECISION_DENORMAL_H_
#define MRCNN_PRECISION_DENORMAL_H_

#include "absl/status/status.h"

namespace mrcnn {

// An error when `flush` is asked for on a CPU that cannot (x86 without SSE3).
absl::Status SetFlushDenormal(bool flush);

}  // namespace mrcnn

#endif  // MRCNN_PRECISION_DENORMAL_H_
