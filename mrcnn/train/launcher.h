// The local launcher of `train --ranks=N`: starts N copies of this binary on this machine as the ranks
// of one data-parallel job (RANK, WORLD_SIZE, MASTER_ADDR=127.0.0.1, a free MASTER_PORT,
// OMP_NUM_THREADS), waits for them, and ends the others when one fails.
#ifndef MRCNN_TRAIN_LAUNCHER_H_
#define MRCNN_TRAIN_LAUNCHER_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mrcnn {

struct LaunchOptions {
  int ranks = 2;
  int threads_per_rank = 1;
  // After a rank fails, how long the others get to end by themselves (they see the failure in their next
  // collective, within the job's timeout) before they are killed.
  std::chrono::seconds grace{60};
};

// A free TCP port on the loopback (bound and released; the job's rank 0 binds it again at once).
absl::StatusOr<int> FreeLoopbackPort();

// Runs `binary args... --ranks=0 --threads=T` as ranks 0..N-1 and returns the exit code of the job: 0 when
// every rank exited 0, else the first failing rank's code (128 + signal when killed by one). stderr gets
// a line for each rank that fails. SIGINT and SIGTERM to the launcher are passed on to the ranks.
absl::StatusOr<int> LaunchLocalRanks(const std::string& binary, const std::vector<std::string>& args,
                                     const LaunchOptions& options);

}  // namespace mrcnn

#endif  // MRCNN_TRAIN_LAUNCHER_H_
