#include "datasets/dataset.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "datasets/image_io.h"

namespace mrcnn::datasets {

std::vector<uint8_t> InstanceMasks::ToHWN() const {
  const int n = size();
  std::vector<uint8_t> out(static_cast<size_t>(height) * width * n);
  for (int i = 0; i < n; ++i) {
    for (int y = 0; y < height; ++y) {
      const uint8_t* row = masks[i].ptr<uint8_t>(y);
      for (int x = 0; x < width; ++x) out[(static_cast<size_t>(y) * width + x) * n + i] = row[x];
    }
  }
  return out;
}

Dataset::Dataset() { classes_.push_back({"", 0, "BG"}); }

absl::Status Dataset::AddClass(const std::string& source, int id, const std::string& name) {
  if (source.empty()) return absl::InvalidArgumentError("AddClass: source must not be empty");
  if (id == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("AddClass(", source, ", 0, ", name, "): id 0 is the background"));
  }
  for (const ClassInfo& c : classes_) {
    if (c.source == source && c.id == id) return absl::OkStatus();
  }
  classes_.push_back({source, id, name});
  prepared_ = false;
  return absl::OkStatus();
}

int Dataset::AddImage(ImageInfo info) {
  images_.push_back(std::move(info));
  prepared_ = false;
  return num_images() - 1;
}

absl::Status Dataset::Prepare() {
  source_map_.clear();
  for (int i = 1; i < num_classes(); ++i) source_map_[{classes_[i].source, classes_[i].id}] = i;
  for (const ImageInfo& img : images_) {
    for (const Annotation& a : img.annotations) {
      if (MapSourceClassId(img.source, a.class_id) < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            img.label_path.empty() ? img.id : img.label_path, ": instance ", a.source_index,
            ": class ", a.class_id, " of source '", img.source, "' was never added"));
      }
    }
  }
  prepared_ = true;
  return absl::OkStatus();
}

std::vector<std::string> Dataset::class_names() const {
  std::vector<std::string> names;
  for (const ClassInfo& c : classes_) names.push_back(c.name);
  return names;
}

int Dataset::MapSourceClassId(const std::string& source, int id) const {
  auto it = source_map_.find({source, id});
  return it == source_map_.end() ? -1 : it->second;
}

absl::StatusOr<cv::Mat> RasteriseAnnotation(const Annotation& a, int height, int width) {
  cv::Mat mask = cv::Mat::zeros(height, width, CV_8UC1);
  for (const Polygon& p : a.polygons) FillPolygon(p, &mask);
  for (const Circle& c : a.circles) FillCircle(c, &mask);
  if (!a.rle_counts.empty()) {
    absl::StatusOr<cv::Mat> rle = RleToMask(a.rle_counts, height, width);
    if (!rle.ok()) return rle.status();
    mask |= *rle;
  }
  return mask;
}

absl::StatusOr<cv::Mat> Dataset::LoadImage(int index) const {
  absl::StatusOr<DecodedImage> d = LoadImageForSize(index, 0, 0);
  if (!d.ok()) return d.status();
  return std::move(d->rgb);
}

absl::StatusOr<DecodedImage> Dataset::LoadImageForSize(int index, int target_height, int target_width) const {
  if (index < 0 || index >= num_images()) {
    return absl::OutOfRangeError(absl::StrCat("image index ", index, " outside [0, ", num_images(), ")"));
  }
  const ImageInfo& info = images_[index];
  if (info.synthetic) {
    DecodedImage out;
    out.height = info.height;
    out.width = info.width;
    out.rgb = cv::Mat(info.height, info.width, CV_8UC3,
                      cv::Scalar(info.scene.background[0], info.scene.background[1], info.scene.background[2]));
    for (size_t i = 0; i < info.annotations.size(); ++i) {
      absl::StatusOr<cv::Mat> m = RasteriseAnnotation(info.annotations[i], info.height, info.width);
      if (!m.ok()) return m.status();
      const auto& c = info.scene.colours.at(i);
      out.rgb.setTo(cv::Scalar(c[0], c[1], c[2]), *m);
    }
    return out;
  }
  const std::string name = info.path.empty() ? info.label_path : info.path;
  // The header first: a file replaced since loading (by a bigger image, say) is refused before it is
  // decoded.
  absl::StatusOr<ImageHeader> header = info.encoded.empty()
                                           ? ReadImageHeader(info.path, image_max_pixels_)
                                           : ReadImageHeaderFromBytes(info.encoded, name, image_max_pixels_);
  if (!header.ok()) return header.status();
  if (info.width > 0 && (header->width != info.width || header->height != info.height)) {
    return absl::DataLossError(absl::StrCat(name, ": image is now ", header->width, "x", header->height,
                                            " but was ", info.width, "x", info.height, " when loaded"));
  }
  DecodeOptions options;
  options.max_pixels = image_max_pixels_;
  options.target_height = target_height;
  options.target_width = target_width;
  if (!info.encoded.empty()) return DecodeImage(info.encoded, name, options);
  absl::StatusOr<std::string> bytes = ReadFileBytes(info.path);
  if (!bytes.ok()) return bytes.status();
  return DecodeImage(*bytes, info.path, options);
}

absl::StatusOr<InstanceMasks> Dataset::LoadMask(int index) const {
  if (index < 0 || index >= num_images()) {
    return absl::OutOfRangeError(absl::StrCat("image index ", index, " outside [0, ", num_images(), ")"));
  }
  if (!prepared_) return absl::FailedPreconditionError("LoadMask before Prepare()");
  const ImageInfo& info = images_[index];
  InstanceMasks out;
  out.height = info.height;
  out.width = info.width;
  std::vector<cv::Mat> masks;
  for (const Annotation& a : info.annotations) {
    absl::StatusOr<cv::Mat> m = RasteriseAnnotation(a, info.height, info.width);
    if (!m.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(info.label_path, ": instance ", a.source_index,
                                                     ": ", m.status().message()));
    }
    masks.push_back(*std::move(m));
  }
  if (info.occlusion_ordered) {
    // Walk from the top: each mask loses the pixels covered by the ones drawn after it.
    cv::Mat covered = cv::Mat::zeros(info.height, info.width, CV_8UC1);
    for (int i = static_cast<int>(masks.size()) - 1; i >= 0; --i) {
      cv::Mat visible = masks[i].clone();
      visible.setTo(0, covered);
      covered |= masks[i];
      masks[i] = visible;
    }
  }
  for (size_t i = 0; i < masks.size(); ++i) {
    if (cv::countNonZero(masks[i]) == 0) continue;
    const Annotation& a = info.annotations[i];
    out.masks.push_back(masks[i]);
    out.class_ids.push_back(MapSourceClassId(info.source, a.class_id));
    out.crowd.push_back(a.crowd);
    out.source_index.push_back(a.source_index);
  }
  return out;
}

Dataset Dataset::Subset(const std::vector<int>& indices) const {
  Dataset out;
  out.classes_ = classes_;
  out.image_max_pixels_ = image_max_pixels_;
  for (int i : indices) out.images_.push_back(images_.at(i));
  out.Prepare().IgnoreError();  // the classes are those of a prepared dataset
  return out;
}

int Dataset::FindImage(const std::string& id) const {
  for (int i = 0; i < num_images(); ++i) {
    if (images_[i].id == id) return i;
  }
  return -1;
}

}  // namespace mrcnn::datasets
