#include "mrcnn/precision/denormal.h"

#include <ATen/Context.h>

namespace mrcnn {

absl::Status SetFlushDenormal(bool flush) {
  if (!at::globalContext().setFlushDenormal(flush) && flush) {
    return absl::FailedPreconditionError("--flush_denormal: this CPU cannot flush denormals to zero");
  }
  return absl::OkStatus();
}

}  // namespace mrcnn
