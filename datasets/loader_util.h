// Helpers shared by the loaders (package-private): tolerant JSON parsing, point reading with the
// reasons users need, the checks every instance goes through, and sorted file listings.
#ifndef DATASETS_LOADER_UTIL_H_
#define DATASETS_LOADER_UTIL_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "datasets/class_map.h"
#include "datasets/dataset.h"
#include "datasets/problems.h"
#include "nlohmann/json.hpp"

namespace mrcnn::datasets::internal {

// Parses JSON that may contain Python's NaN, Infinity and -Infinity literals (json.dump writes them);
// they become the strings "NaN", "Infinity", "-Infinity" so that point readers can name them. The
// error is "FILE: malformed JSON: ...".
absl::StatusOr<nlohmann::json> ParseJsonLenient(const std::string& text, const std::string& file);

// Reads [[x, y], ...] into `out`. Returns "" or the reason it cannot (NaN or infinite coordinate,
// not a number, not a pair).
std::string ReadPointPairs(const nlohmann::json& points, Polygon* out);
// Reads COCO's flat [x1, y1, x2, y2, ...].
std::string ReadFlatPoints(const nlohmann::json& flat, Polygon* out);

// Checks an annotation against its image: polygons with fewer than 3 points are errors; points outside
// the image are counted and reported (the rasteriser clips them); self-intersecting polygons are
// reported and rasterised as drawn; an annotation whose mask covers no pixel is an error. Returns
// whether to keep it; a non-OK status only in strict mode.
absl::StatusOr<bool> CheckAnnotation(const Annotation& a, const std::string& file, int width,
                                     int height, ProblemLog* log);

// CheckAnnotation, then appends the annotation to info->annotations when it is kept. A non-OK status
// only in strict mode.
absl::Status AddCheckedAnnotation(Annotation a, const std::string& file, ImageInfo* info,
                                  ProblemLog* log);

// A folder loader's classes: `given` when it is not empty, else the map discovered from the codes
// seen in the label files; added to `ds` as ids 1.. under `source`. Returns the map used.
absl::StatusOr<ClassMap> AddMappedClasses(const std::string& source, const ClassMap& given,
                                          const std::set<std::string>& codes, Dataset* ds);

// The reason part of a status whose message starts with "FILE: " (the whole message otherwise).
std::string Reason(const absl::Status& status, const std::string& file);

// Regular files under `dir` (recursively), sorted by path.
std::vector<std::string> ListFiles(const std::string& dir);
// `path` relative to `root` without its extension, with '/' separators ("0927/0927_1/img001").
std::string RelativeStem(const std::string& path, const std::string& root);
std::string Extension(const std::string& path);  // lower case, without the dot
bool IsDirectory(const std::string& path);
bool IsRegularFile(const std::string& path);

}  // namespace mrcnn::datasets::internal

#endif  // DATASETS_LOADER_UTIL_H_
