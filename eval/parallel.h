// ParallelFor: the one thread pool-free loop that eval/ parallelises with (images in evaluation,
// categories in accumulation, resamples in the bootstrap).
#ifndef EVAL_PARALLEL_H_
#define EVAL_PARALLEL_H_

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>
#include <vector>

namespace mrcnn::eval {

// Runs fn(0..n-1) on up to num_threads threads (the caller's thread included); work is handed out
// one index at a time, so uneven items balance out.
inline void ParallelFor(int n, int num_threads, const std::function<void(int)>& fn) {
  const int workers = std::max(1, std::min(num_threads, n));
  if (workers == 1) {
    for (int i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<int> next{0};
  auto work = [&]() {
    for (int i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
  };
  std::vector<std::thread> threads;
  threads.reserve(workers - 1);
  for (int t = 1; t < workers; ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
}

}  // namespace mrcnn::eval

#endif  // EVAL_PARALLEL_H_
