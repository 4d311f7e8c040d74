// Tests of sweep specs: grid and random expansion, seeds, and every malformed spec.
#include "experiments/spec.h"

#include <fstream>
#include <set>

#include "gtest/gtest.h"
#include "tests/experiments/test_util.h"

namespace experiments {
namespace {

using Json = nlohmann::json;

Json GridSpec() {
  return Json::parse(R"({"name": "g", "base": {"STEPS_PER_EPOCH": 7},
    "params": {"RPN_ANCHOR_STRIDE": [1, 2], "USE_MINI_MASK": [false, true]}})");
}

std::string ErrorOf(const Json& spec) {
  absl::StatusOr<SweepPlan> p = PlanSweep(spec, "spec.json");
  EXPECT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(p.status().message());
}

TEST(SpecTest, GridIsTheCartesianProductTimesSeeds) {
  absl::StatusOr<SweepPlan> p = PlanSweep(GridSpec(), "spec.json", 3);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->name, "g");
  EXPECT_EQ(p->seeds, 3);
  ASSERT_EQ(p->trials.size(), 12u);  // 2 x 2 points x 3 seeds
  std::set<std::pair<int, bool>> points;
  std::set<std::string> hashes;
  for (const PlannedTrial& t : p->trials) {
    points.insert({t.config.RPN_ANCHOR_STRIDE, t.config.USE_MINI_MASK});
    EXPECT_EQ(t.config.STEPS_PER_EPOCH, 7);
    EXPECT_EQ(t.config.SEED, t.seed);
    EXPECT_EQ(t.config.BACKBONE_BASE_WIDTH, 32);  // the shapes preset is the default base
    hashes.insert(t.config.Hash());
  }
  EXPECT_EQ(points.size(), 4u);
  EXPECT_EQ(hashes.size(), 12u);
  // Seeds of one point are consecutive from "seed", and share the point hash.
  EXPECT_EQ(p->trials[0].seed, 0);
  EXPECT_EQ(p->trials[2].seed, 2);
  EXPECT_EQ(PointHash(p->trials[0].config), PointHash(p->trials[2].config));
  EXPECT_NE(PointHash(p->trials[0].config), PointHash(p->trials[3].config));
  EXPECT_EQ(p->spec["seeds"], 3);
  EXPECT_EQ(p->swept_keys, (std::vector<std::string>{"RPN_ANCHOR_STRIDE", "USE_MINI_MASK"}));
}

TEST(SpecTest, RandomSearchIsSeededAndStaysInItsRanges) {
  Json spec = Json::parse(R"({"name": "r", "search": "random", "trials": 20, "seed": 5,
    "params": {"RPN_NMS_THRESHOLD": {"min": 0.5, "max": 0.9},
               "LEARNING_RATE": {"min": 0.0001, "max": 0.1, "scale": "log"},
               "TRAIN_ROIS_PER_IMAGE": {"min": 16, "max": 64, "type": "int"},
               "RPN_ANCHOR_STRIDE": [1, 2, 4]}})");
  absl::StatusOr<SweepPlan> a = PlanSweep(spec, "spec.json");
  absl::StatusOr<SweepPlan> b = PlanSweep(spec, "spec.json");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->trials.size(), 20u);
  for (size_t i = 0; i < a->trials.size(); ++i) {
    const mrcnn::Config& c = a->trials[i].config;
    EXPECT_EQ(c, b->trials[i].config);  // same seed, same list
    EXPECT_GE(c.RPN_NMS_THRESHOLD, 0.5);
    EXPECT_LE(c.RPN_NMS_THRESHOLD, 0.9);
    EXPECT_GE(c.LEARNING_RATE, 0.0001);
    EXPECT_LE(c.LEARNING_RATE, 0.1);
    EXPECT_GE(c.TRAIN_ROIS_PER_IMAGE, 16);
    EXPECT_LE(c.TRAIN_ROIS_PER_IMAGE, 64);
    EXPECT_TRUE(c.RPN_ANCHOR_STRIDE == 1 || c.RPN_ANCHOR_STRIDE == 2 || c.RPN_ANCHOR_STRIDE == 4);
    EXPECT_EQ(a->trials[i].seed, 5);
  }
  spec["seed"] = 6;
  absl::StatusOr<SweepPlan> c = PlanSweep(spec, "spec.json");
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->trials[0].config.RPN_NMS_THRESHOLD, c->trials[0].config.RPN_NMS_THRESHOLD);
}

TEST(SpecTest, UnknownConfigKeyIsAnError) {
  Json spec = GridSpec();
  spec["params"]["RPN_ANCHOR_STRIDES"] = {1, 2};
  const std::string e = ErrorOf(spec);
  EXPECT_NE(e.find("spec.json"), std::string::npos) << e;
  EXPECT_NE(e.find("RPN_ANCHOR_STRIDES"), std::string::npos) << e;
  spec = GridSpec();
  spec["base"]["NOT_A_KEY"] = 1;
  EXPECT_NE(ErrorOf(spec).find("NOT_A_KEY"), std::string::npos);
  spec = GridSpec();
  spec["parms"] = Json::object();
  EXPECT_NE(ErrorOf(spec).find("unknown field \"parms\""), std::string::npos);
}

TEST(SpecTest, EmptyGridIsAnError) {
  Json spec = GridSpec();
  spec["params"] = Json::object();
  EXPECT_NE(ErrorOf(spec).find("empty grid"), std::string::npos);
  spec = GridSpec();
  spec["params"]["USE_MINI_MASK"] = Json::array();
  const std::string e = ErrorOf(spec);
  EXPECT_NE(e.find("params.USE_MINI_MASK: empty list"), std::string::npos) << e;
  spec = GridSpec();
  spec.erase("params");
  EXPECT_NE(ErrorOf(spec).find("\"params\""), std::string::npos);
}

// Every point is validated before the plan exists, with the model's constraints (Config::Validate);
// the error names each invalid point by index and values, and the key and value at fault.
TEST(SpecTest, EveryPointIsValidatedAndNamed) {
  // The issue's examples: global selection cannot keep 2000 of PRE_NMS_LIMIT = 1000 boxes; a subset of
  // the FPN levels, which the backbone does not make.
  Json spec = Json::parse(R"({"name": "v", "params": {"POST_NMS_ROIS_TRAINING": [500, 2000],
      "BACKBONE_STRIDES": [[4, 8, 16, 32, 64], [4, 8, 16, 32]]}})");
  std::string e = ErrorOf(spec);
  EXPECT_NE(e.find("3 of 4 points are not valid configs (nothing was run or logged)"), std::string::npos) << e;
  EXPECT_EQ(e.find("point 0 "), std::string::npos) << e;
  // Keys vary in the order of their names, the first outermost.
  EXPECT_NE(e.find("point 2 {\"BACKBONE_STRIDES\":[4,8,16,32],\"POST_NMS_ROIS_TRAINING\":500}: "
                   "BACKBONE_STRIDES: must be [4,8,16,32,64]"),
            std::string::npos) << e;
  EXPECT_NE(e.find("point 1 {\"BACKBONE_STRIDES\":[4,8,16,32,64],\"POST_NMS_ROIS_TRAINING\":2000}: "
                   "POST_NMS_ROIS_TRAINING: must be <= PRE_NMS_LIMIT (1000) with PROPOSAL_SELECTION=global, got 2000"),
            std::string::npos) << e;
  EXPECT_NE(e.find("point 3 "), std::string::npos) << e;
  // A bad word is named with the point too.
  spec = Json::parse(R"({"name": "w", "params": {"IMAGE_RESIZE_MODE": ["square", "stretch"]}})");
  e = ErrorOf(spec);
  EXPECT_NE(e.find("point 1 {\"IMAGE_RESIZE_MODE\":\"stretch\"}: IMAGE_RESIZE_MODE: must be one of none, "
                   "square, pad64, crop, torchvision; got 'stretch'"),
            std::string::npos) << e;
  // Random search: every draw is checked; the draws are reproducible, so the index names the same one.
  spec = Json::parse(R"({"name": "r", "search": "random", "trials": 40, "seed": 3,
      "params": {"RPN_ANCHOR_STRIDE": {"min": 0, "max": 3, "type": "int"}}})");
  e = ErrorOf(spec);
  EXPECT_NE(e.find("RPN_ANCHOR_STRIDE: must be > 0, got 0"), std::string::npos) << e;
  EXPECT_NE(e.find("{\"RPN_ANCHOR_STRIDE\":0}"), std::string::npos) << e;
  EXPECT_EQ(e.find("{\"RPN_ANCHOR_STRIDE\":1}"), std::string::npos) << e;
  // Many invalid points: the first 10 are listed, and the rest counted.
  spec = Json::parse(R"({"name": "m", "params": {"RPN_ANCHOR_STRIDE": [0, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11]}})");
  e = ErrorOf(spec);
  EXPECT_NE(e.find("12 of 12 points"), std::string::npos) << e;
  EXPECT_NE(e.find("point 9 "), std::string::npos) << e;
  EXPECT_EQ(e.find("point 10 "), std::string::npos) << e;
  EXPECT_NE(e.find("and 2 more"), std::string::npos) << e;
  // Strides above 2 are valid now (matterport's meaning).
  spec = Json::parse(R"({"name": "s", "params": {"RPN_ANCHOR_STRIDE": [1, 3, 4]}})");
  absl::StatusOr<SweepPlan> ok = PlanSweep(spec, "spec.json");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->trials.size(), 3u);
}

TEST(SpecTest, OtherMalformedSpecsAreErrors) {
  Json spec = GridSpec();
  spec["params"]["RPN_ANCHOR_STRIDE"] = {0, 1};  // stride 0 is not a valid config
  std::string e = ErrorOf(spec);
  EXPECT_NE(e.find("spec.json: 2 of 4 points are not valid configs"), std::string::npos) << e;
  EXPECT_NE(e.find("point 0 {\"RPN_ANCHOR_STRIDE\":0,\"USE_MINI_MASK\":false}: RPN_ANCHOR_STRIDE: must be > 0, got 0"),
            std::string::npos) << e;
  EXPECT_NE(e.find("point 1 {\"RPN_ANCHOR_STRIDE\":0,\"USE_MINI_MASK\":true}: RPN_ANCHOR_STRIDE"),
            std::string::npos) << e;
  spec = GridSpec();
  spec["params"]["RPN_ANCHOR_STRIDE"] = {1, 1};
  EXPECT_NE(ErrorOf(spec).find("repeats an earlier point"), std::string::npos);
  spec = GridSpec();
  spec["params"]["RPN_ANCHOR_STRIDE"] = {"two"};
  EXPECT_NE(ErrorOf(spec).find("RPN_ANCHOR_STRIDE"), std::string::npos);
  spec = GridSpec();
  spec["params"]["SEED"] = {1, 2};
  EXPECT_NE(ErrorOf(spec).find("seeds"), std::string::npos);
  spec = GridSpec();
  spec["seeds"] = 0;
  EXPECT_NE(ErrorOf(spec).find("seeds must be"), std::string::npos);
  spec = GridSpec();
  spec.erase("name");
  EXPECT_NE(ErrorOf(spec).find("\"name\""), std::string::npos);
  spec = GridSpec();
  spec["search"] = "bayes";
  EXPECT_NE(ErrorOf(spec).find("grid\" or \"random"), std::string::npos);
  spec = GridSpec();
  spec["search"] = "random";
  EXPECT_NE(ErrorOf(spec).find("\"trials\""), std::string::npos);
  spec["trials"] = 3;
  spec["params"]["LEARNING_RATE"] = {{"min", 0.0}, {"max", 1.0}, {"scale", "log"}};
  EXPECT_NE(ErrorOf(spec).find("log range needs min > 0"), std::string::npos);
  spec["params"]["LEARNING_RATE"] = {{"min", 0.1}, {"max", 1.0}, {"step", 2}};
  EXPECT_NE(ErrorOf(spec).find("unknown range field"), std::string::npos);
  spec = GridSpec();
  spec["preset"] = "nope";
  EXPECT_NE(ErrorOf(spec).find("unknown preset"), std::string::npos);
}

TEST(SpecTest, SizesAndRangesThatCannotBePlannedAreErrors) {
  // Found by the sweep-spec fuzzer: unbounded plans ran out of time and memory, and int ranges beyond
  // int64 were undefined behaviour.
  Json spec = GridSpec();
  spec["seeds"] = 100000000;
  EXPECT_NE(ErrorOf(spec).find("seeds: at most 100000"), std::string::npos) << ErrorOf(spec);
  spec = GridSpec();
  spec["seeds"] = 1000;
  std::vector<int> many(200);
  for (int i = 0; i < 200; ++i) many[i] = i + 1;
  spec["params"]["TRAIN_ROIS_PER_IMAGE"] = many;
  EXPECT_NE(ErrorOf(spec).find("more than 100000 trials"), std::string::npos) << ErrorOf(spec);
  spec = GridSpec();
  spec["search"] = "random";
  spec["trials"] = int64_t{1} << 40;
  EXPECT_NE(ErrorOf(spec).find("more than 100000 trials"), std::string::npos) << ErrorOf(spec);
  spec["trials"] = 3;
  spec["params"] = {{"TRAIN_ROIS_PER_IMAGE", {{"min", 1}, {"max", 1e300}, {"type", "int"}}}};
  EXPECT_NE(ErrorOf(spec).find("an int range must lie within +-2^53"), std::string::npos) << ErrorOf(spec);
  spec["params"] = {{"LEARNING_RATE", {{"min", -1e308}, {"max", 1e308}}}};
  EXPECT_NE(ErrorOf(spec).find("wider than a double can hold"), std::string::npos) << ErrorOf(spec);
}

TEST(SpecTest, TrainerFlagsBecomeSortedArgumentsAndStayInTheSpec) {
  Json spec = GridSpec();
  spec["trainer"] = Json::parse(R"({"layers": "all", "epochs": 3, "augment": false, "val_fraction": 0.25})");
  absl::StatusOr<SweepPlan> p = PlanSweep(spec, "spec.json");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->trainer_args, (std::vector<std::string>{"--augment=false", "--epochs=3", "--layers=all",
                                                       "--val_fraction=0.25"}));
  EXPECT_EQ(p->spec["trainer"]["epochs"], 3);
  // Without "trainer" the trial gets the protocol's flags only.
  p = PlanSweep(GridSpec(), "spec.json");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->trainer_args.empty());
}

TEST(SpecTest, BadTrainerFlagsAreErrors) {
  Json spec = GridSpec();
  spec["trainer"] = Json::array({"--epochs=3"});
  EXPECT_NE(ErrorOf(spec).find("\"trainer\" must be an object"), std::string::npos);
  spec["trainer"] = Json::parse(R"({"seed": 4})");
  EXPECT_NE(ErrorOf(spec).find("trainer.seed: set by the coordinator"), std::string::npos);
  spec["trainer"] = Json::parse(R"({"threads": 4})");
  EXPECT_NE(ErrorOf(spec).find("trainer.threads: set by the coordinator"), std::string::npos);
  spec["trainer"] = Json::parse(R"({"--epochs": 4})");
  EXPECT_NE(ErrorOf(spec).find("\"--epochs\" is not a flag name"), std::string::npos);
  spec["trainer"] = Json::parse(R"({"stages": ["heads:1"]})");
  EXPECT_NE(ErrorOf(spec).find("trainer.stages: expected a string, number or boolean"), std::string::npos);
}

TEST(SpecTest, FileErrorsNameTheFile) {
  EXPECT_EQ(PlanSweepFile("/no/such/spec.json").status().code(), absl::StatusCode::kNotFound);
  const std::string path = experiments_test::NewTempDir("spec") + "/bad.json";
  std::ofstream(path) << "{not json";
  absl::StatusOr<SweepPlan> p = PlanSweepFile(path);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find(path), std::string::npos);
  std::ofstream(path, std::ios::trunc) << GridSpec().dump();
  p = PlanSweepFile(path, 2, "renamed");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->name, "renamed");
  EXPECT_EQ(p->trials.size(), 8u);
}

}  // namespace
}  // namespace experiments

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  experiments_test::SetArgs(argc, argv);
  return RUN_ALL_TESTS();
}
