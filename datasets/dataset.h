// Dataset: the tutorial's (matterport's utils.Dataset) model of a detection dataset: a list of classes,
// each from a source with the source's own id, and a list of images with their annotations.
//
// Class 0 is the background ("BG"). Loaders add classes with AddClass(source, id, name) and images with
// AddImage(info), then call Prepare(), which numbers the classes 0..num_classes()-1 in the order they
// were added and maps every annotation's source class id to that number.
//
//   Dataset ds;
//   ds.AddClass("tutorial", 1, "sign");
//   ImageInfo info; info.source = "tutorial"; info.id = "0927/a"; info.path = "/data/a.jpg"; ...
//   ds.AddImage(std::move(info));
//   absl::Status s = ds.Prepare();
//   absl::StatusOr<cv::Mat> rgb = ds.LoadImage(0);          // H x W x 3 uint8, RGB, EXIF applied
//   absl::StatusOr<DecodedImage> small = ds.LoadImageForSize(0, 128, 128);  // JPEG at 1/2..1/8
//   absl::StatusOr<InstanceMasks> m = ds.LoadMask(0);       // N masks of H x W plus class ids
//
// A Dataset is a plain value: copy it, or take a Subset() of it for a train/val split. It keeps the
// pixel limit its loader read the headers with, and LoadImage checks every file against it again
// before decoding (a file may change after loading).
#ifndef DATASETS_DATASET_H_
#define DATASETS_DATASET_H_

#include <array>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datasets/image_io.h"
#include "datasets/raster.h"
#include "opencv2/core.hpp"

namespace mrcnn::datasets {

struct ClassInfo {
  std::string source;  // "" for the background
  int id = 0;          // the source's own class id
  std::string name;
};

// One object as labelled: the union of its polygons, circles and run-length mask.
struct Annotation {
  int class_id = 0;       // the source's class id (see Dataset::MapSourceClassId)
  std::string category;   // the label as written in the file ("59", "sign")
  int source_index = -1;  // index of the (first) shape in its label file, for reports
  std::vector<Polygon> polygons;
  std::vector<Circle> circles;
  std::vector<uint32_t> rle_counts;  // COCO runs, column-major, image-sized; empty when unused
  bool crowd = false;                // COCO iscrowd: a region of many objects
};

// Colours of a synthetic image (the shapes generator): the image is painted from its annotations, so
// image and masks agree pixel for pixel.
struct SyntheticScene {
  std::array<uint8_t, 3> background = {0, 0, 0};  // RGB
  std::vector<std::array<uint8_t, 3>> colours;    // RGB, one per annotation
};

struct ImageInfo {
  std::string source;
  std::string id;           // unique within the dataset: relative path without extension
  std::string path;         // image file; may be empty when `encoded` holds the image
  std::string label_path;   // the label file the annotations came from (for reports)
  std::string encoded;      // image file bytes when they live elsewhere (labelme imageData)
  std::string group;        // split group (sub-folder); "" for none
  int width = 0;            // as displayed (EXIF orientation applied), read from the file
  int height = 0;
  std::vector<Annotation> annotations;
  // Later annotations lie on top of earlier ones: masks lose what later ones cover.
  bool occlusion_ordered = false;
  bool synthetic = false;
  SyntheticScene scene;
};

// N instance masks of one image: masks[i] is H x W CV_8UC1 of 0/1 (matterport's mask[:, :, i]).
struct InstanceMasks {
  int height = 0;
  int width = 0;
  std::vector<cv::Mat> masks;
  std::vector<int> class_ids;      // internal class ids, 1..num_classes-1
  std::vector<bool> crowd;
  std::vector<int> source_index;   // the annotation's index in its label file
  int size() const { return static_cast<int>(masks.size()); }
  // H x W x N bytes, matterport's layout.
  std::vector<uint8_t> ToHWN() const;
};

class Dataset {
 public:
  Dataset();

  // Adds a class unless (source, id) is already known. id 0 is reserved for the background.
  absl::Status AddClass(const std::string& source, int id, const std::string& name);
  // Returns the index of the image.
  int AddImage(ImageInfo info);
  // Numbers the classes and checks that every annotation's class was added.
  absl::Status Prepare();

  int num_classes() const { return static_cast<int>(classes_.size()); }  // including background
  int num_images() const { return static_cast<int>(images_.size()); }
  const std::vector<ClassInfo>& classes() const { return classes_; }
  std::vector<std::string> class_names() const;
  const ImageInfo& image_info(int index) const { return images_.at(index); }
  const std::vector<ImageInfo>& images() const { return images_; }
  // Internal class id of (source, source id), or -1.
  int MapSourceClassId(const std::string& source, int id) const;

  // Largest image, in pixels from its header, that LoadImage decodes; loaders set the limit they
  // read with (default kDefaultImageMaxPixels).
  void set_image_max_pixels(int64_t max_pixels) { image_max_pixels_ = max_pixels; }
  int64_t image_max_pixels() const { return image_max_pixels_; }

  // H x W x 3 uint8 RGB; the error names the file.
  absl::StatusOr<cv::Mat> LoadImage(int index) const;
  // The image for a resize to target_height x target_width: a JPEG at least twice as large is decoded
  // at 1/2, 1/4 or 1/8 (DecodeImage's rule); `reduction` says which, `height` and `width` keep the
  // full size, which the masks have. 0 x 0: full size.
  absl::StatusOr<DecodedImage> LoadImageForSize(int index, int target_height, int target_width) const;
  // Masks at the image's size; instances whose mask is empty are left out.
  absl::StatusOr<InstanceMasks> LoadMask(int index) const;

  // The images at `indices`, same classes; prepared.
  Dataset Subset(const std::vector<int>& indices) const;
  // Index of the image with this id, or -1.
  int FindImage(const std::string& id) const;

 private:
  std::vector<ClassInfo> classes_;
  std::vector<ImageInfo> images_;
  std::map<std::pair<std::string, int>, int> source_map_;
  bool prepared_ = false;
  int64_t image_max_pixels_ = kDefaultImageMaxPixels;
};

// The mask of one annotation at height x width (clipped to the image).
absl::StatusOr<cv::Mat> RasteriseAnnotation(const Annotation& a, int height, int width);

}  // namespace mrcnn::datasets

#endif  // DATASETS_DATASET_H_
