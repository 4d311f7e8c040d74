// Run-length encoded binary masks with the semantics of pycocotools (cocoapi's maskApi).
//
// A mask of height h and width w is read column by column (x-major, "Fortran order"); `counts`
// holds the lengths of alternating runs starting with a run of zeros (which may be 0 long), summing
// to h*w. Every function here reproduces pycocotools' arithmetic exactly, so areas, boxes, IoUs and
// polygon rasterisations are bit-identical to what COCOeval computes. Typical use:
//
//   Rle gt = RleFromPolygons({{10, 10, 40, 10, 40, 30}}, /*height=*/100, /*width=*/120).value();
//   Rle dt = RleFromCompressedString("bo0n0V2...", 100, 120).value();
//   double iou = MaskIou(dt, gt, /*gt_is_crowd=*/false);
//   std::string s = RleToCompressedString(dt);  // COCO's compressed "counts" string
#ifndef EVAL_RLE_H_
#define EVAL_RLE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mrcnn::eval {

// Box as COCO writes it: top-left corner and size, in pixels.
struct Box {
  double x = 0;
  double y = 0;
  double w = 0;
  double h = 0;
};

struct Rle {
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint32_t> counts;  // alternating runs of 0s and 1s, column-major, starting with 0s
};

// Checks that the runs cover exactly height*width pixels and the size is non-negative.
absl::Status ValidateRle(const Rle& rle);

// Encodes a mask whose pixel (y, x) is at mask[y * width + x] (row-major, as images and tensors
// are). Any non-zero byte is foreground.
Rle RleFromRowMajor(const uint8_t* mask, int64_t height, int64_t width);
// Encodes a mask whose pixel (y, x) is at mask[x * height + y] (column-major, as pycocotools takes
// it).
Rle RleFromColumnMajor(const uint8_t* mask, int64_t height, int64_t width);

// Decodes into height*width bytes (0 or 1), row-major or column-major. The RLE must be valid.
std::vector<uint8_t> RleToRowMajor(const Rle& rle);
std::vector<uint8_t> RleToColumnMajor(const Rle& rle);

// Number of foreground pixels (pycocotools' area(): the sum of the odd runs).
uint64_t RleArea(const Rle& rle);

// Tight bounding box of the foreground (pycocotools' toBbox()); all zeros for an empty mask.
Box RleToBox(const Rle& rle);

// Union (or intersection) of masks of one size (pycocotools' merge()). An empty list gives a 0x0
// mask.
absl::StatusOr<Rle> RleMerge(const std::vector<Rle>& rles, bool intersect = false);

// IoU of two boxes; for a crowd ground truth the denominator is the detection's area only, so a
// detection inside a crowd region scores 1 (pycocotools' bbIou).
double BoxIou(const Box& dt, const Box& gt, bool gt_is_crowd);

// IoU of two masks with the same crowd rule (pycocotools' rleIou, including its box pre-check).
// Returns -1 when the sizes differ, as pycocotools does.
double MaskIou(const Rle& dt, const Rle& gt, bool gt_is_crowd);
// The same, with the masks' boxes (RleToBox) computed beforehand by the caller.
double MaskIou(const Rle& dt, const Box& dt_box, const Rle& gt, const Box& gt_box,
               bool gt_is_crowd);

// Rasterises one polygon [x0, y0, x1, y1, ...] in pixel coordinates exactly as pycocotools' frPoly
// does (boundary sampled at 1/5 pixel, runs started at the pixel rows it crosses). Needs at least 3
// points and an even count of finite coordinates within +-1e6.
absl::StatusOr<Rle> RleFromPolygon(const std::vector<double>& xy, int64_t height, int64_t width);
// Union of the polygons of one object (pycocotools' annToRLE for a polygon list).
absl::StatusOr<Rle> RleFromPolygons(const std::vector<std::vector<double>>& polygons,
                                    int64_t height, int64_t width);
// The box drawn as the polygon (x,y) (x,y+h) (x+w,y+h) (x+w,y) (pycocotools' frBbox).
absl::StatusOr<Rle> RleFromBox(const Box& box, int64_t height, int64_t width);

// COCO's compressed counts string (LEB128-like, 6 bits per character in '0'..'o', deltas from the
// run two places back from the fourth run on).
std::string RleToCompressedString(const Rle& rle);
// Parses a compressed counts string; rejects characters outside '0'..'o', a truncated last run,
// negative or oversized runs, and runs that do not sum to height*width.
absl::StatusOr<Rle> RleFromCompressedString(std::string_view counts, int64_t height, int64_t width);

}  // namespace mrcnn::eval

#endif  // EVAL_RLE_H_
