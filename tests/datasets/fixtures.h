// Test fixtures written by the tests themselves: a fresh temporary folder, text and image files, and
// one small two-class dataset written in the tutorial, labelme and COCO formats.
#ifndef TESTS_DATASETS_FIXTURES_H_
#define TESTS_DATASETS_FIXTURES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/raster.h"
#include "opencv2/core.hpp"

namespace mrcnn::datasets::testing {

// A new empty folder under TEST_TMPDIR (or /tmp), unique per call.
std::string MakeTempDir(const std::string& name);
void WriteText(const std::string& path, const std::string& text);  // creates parent folders
// A width x height image of a colour ramp; the format follows the extension (.png lossless, .jpg).
void WriteImage(const std::string& path, int width, int height);
std::string ReadText(const std::string& path);

// The bytes of a small valid image (8 x 8; format by `ext`: "png", "jpg", "bmp") whose header is patched
// to declare `width` x `height`, as an attacker makes a 1 KB file that claims gigapixels: the PNG's IHDR
// keeps a correct CRC, the JPEG's frame header (SOF0) and the BMP's info header carry the new size.
std::string ImageDeclaringSize(const std::string& ext, int width, int height);
// CRC-32 of PNG chunks (ISO 3309, polynomial 0xEDB88320), written from the PNG specification.
uint32_t PngCrc(const std::string& bytes);

// The small dataset: polygons per image with their class name ("cat" or "dog").
struct FixtureInstance {
  std::string label;
  Polygon polygon;
};
struct FixtureImage {
  std::string name;  // stem
  int width, height;
  std::vector<FixtureInstance> instances;
};
std::vector<FixtureImage> SmallDataset();

// Each writer lays the dataset out under `root` and returns what the loader takes:
std::string WriteTutorial(const std::string& root);  // root (JPEGImages/sub/, Segmentations/sub/); codes 1=cat, 2=dog
std::string WriteLabelme(const std::string& root);   // the labelme folder
std::string WriteCoco(const std::string& root);      // the folder (annotations.json + images/)

}  // namespace mrcnn::datasets::testing

#endif  // TESTS_DATASETS_FIXTURES_H_
