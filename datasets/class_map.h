// ClassMap: how the category codes written in label files become class ids and names.
//
// Code k of the map (0-based) is class id k + 1; id 0 is the background. The tutorial's map turns the
// codes "40", "51", "59", "60", "61" into 1..5 named sign, sign_back, side_sign, side_sign_back, led:
//
//   ClassMap m = ParseClassMapFlag("40=sign,51=sign_back,59=side_sign,60=side_sign_back,61=led").value();
//   m.IdOf("59") == 3;  m.names[2] == "side_sign";
//
// Files hold the same pairs as JSON ({"40": "sign", ...} in file order, or [["40", "sign"], ...]) or as
// text lines "40 sign" / "40=sign" (# starts a comment). With no map, the codes found in the data are
// sorted (numerically when all are integers) and named after themselves.
#ifndef DATASETS_CLASS_MAP_H_
#define DATASETS_CLASS_MAP_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mrcnn::datasets {

struct ClassMap {
  std::vector<std::string> codes;
  std::vector<std::string> names;
  bool empty() const { return codes.empty(); }
  int size() const { return static_cast<int>(codes.size()); }
  // 1-based class id of `code`, or -1 when the map does not have it.
  int IdOf(const std::string& code) const;
};

// "40=sign,51=sign_back" or "sign,sign_back" (each code its own name).
absl::StatusOr<ClassMap> ParseClassMapFlag(const std::string& text);
absl::StatusOr<ClassMap> LoadClassMapFile(const std::string& path);
ClassMap DiscoverClassMap(const std::set<std::string>& codes);
// The tutorial's five traffic-sign classes.
ClassMap TutorialClassMap();

}  // namespace mrcnn::datasets

#endif  // DATASETS_CLASS_MAP_H_
