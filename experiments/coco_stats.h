// The 12 numbers COCOeval.summarize() prints, in its order, under the column names the log uses
// (bbox_AP, segm_AP50, ...).
#ifndef EXPERIMENTS_COCO_STATS_H_
#define EXPERIMENTS_COCO_STATS_H_

#include <string>
#include <vector>

namespace experiments {

// AP (IoU .50:.95), AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl.
inline const std::vector<std::string>& CocoStatNames() {
  static const std::vector<std::string>* names = new std::vector<std::string>{
      "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
  return *names;
}

}  // namespace experiments

#endif  // EXPERIMENTS_COCO_STATS_H_
