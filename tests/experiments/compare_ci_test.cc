// `compare ablate --ci` over a log filled by the FAKE trial in its per_image mode (fake_trial.cc):
// real COCO evaluations of 37 one-square images whose AP is known by hand. Stride 2 misses the 9
// images i % 4 == 1, seed s misses the last s images, USE_MINI_MASK changes nothing. With seeds 0, 1,
// 2 the reference arm (stride 1) detects 37, 36, 35 images: AP = 101, 98, 95 (/ 101); stride 2
// detects 28, 27, 26: AP = 76, 73, 71 (/ 101) (the share of thresholds k / 100 <= hits / 37).
#include <sys/wait.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_split.h"
#include "experiments/compare.h"
#include "experiments/coordinator.h"
#include "experiments/log.h"
#include "experiments/report.h"
#include "gtest/gtest.h"
#include "tests/experiments/test_util.h"

namespace experiments {
namespace {

using experiments_test::Arg;
using Json = nlohmann::json;

double Num(const SqlValue& v) {
  if (std::holds_alternative<double>(v)) return std::get<double>(v);
  if (std::holds_alternative<int64_t>(v)) return static_cast<double>(std::get<int64_t>(v));
  ADD_FAILURE() << "not a number: " << SqlValueText(v);
  return NAN;
}

class CompareCiTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(experiments_test::NewTempDir("compare_ci"));
    db_path_ = new std::string(*dir_ + "/log.sqlite");
    SweepOptions o;
    o.db_path = *db_path_;
    o.trial_binary = Arg("fake_trial");
    o.cores = 2;
    o.workers = 2;
    std::ostringstream sink;
    o.out = &sink;
    const auto run = [&](const Json& spec) {
      absl::StatusOr<SweepPlan> plan = PlanSweep(spec, "spec");
      ASSERT_TRUE(plan.ok()) << plan.status();
      absl::StatusOr<SweepOutcome> r = RunSweep(*plan, o);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_EQ(r->counts.finished, r->counts.total());
    };
    run({{"name", "boot"},
         {"base", {{"STEPS_PER_EPOCH", 2}, {"NAME", "fake+per_image"}}},
         {"params", {{"RPN_ANCHOR_STRIDE", {1, 2}}, {"USE_MINI_MASK", {false, true}}}},
         {"seeds", 3}});
    // Evaluated on 36 images instead of 37.
    run({{"name", "other_images"},
         {"base", {{"STEPS_PER_EPOCH", 2}, {"NAME", "fake+per_image+other_images"},
                   {"USE_MINI_MASK", false}}},
         {"params", {{"RPN_ANCHOR_STRIDE", {3}}}},
         {"seeds", 3}});
    // Two seeds only.
    run({{"name", "two_seeds"},
         {"base", {{"STEPS_PER_EPOCH", 2}, {"NAME", "fake+per_image"}, {"USE_MINI_MASK", false}}},
         {"params", {{"RPN_ANCHOR_STRIDE", {4}}}},
         {"seeds", 2}});
    // A random search: the fake's segm_AP = 0.5 + 0.1 stride + 0.01 seed does not depend on
    // RPN_NMS_THRESHOLD.
    run({{"name", "random"},
         {"search", "random"},
         {"trials", 10},
         {"seed", 3},
         {"base", {{"STEPS_PER_EPOCH", 2}, {"NAME", "fake"}, {"USE_MINI_MASK", false}}},
         {"params", {{"RPN_ANCHOR_STRIDE", {{"min", 1}, {"max", 4}, {"type", "int"}}},
                     {"RPN_NMS_THRESHOLD", {{"min", 0.5}, {"max", 0.9}}}}}});
    // Without per-image results, as every run logged before schema version 4.
    run({{"name", "old"},
         {"base", {{"STEPS_PER_EPOCH", 2}, {"NAME", "fake"}, {"USE_MINI_MASK", false}}},
         {"params", {{"RPN_ANCHOR_STRIDE", {1, 2}}}},
         {"seeds", 2}});
  }
  void SetUp() override {
    ExperimentLog::Options ro;
    ro.mode = Db::kReadOnly;
    absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(*db_path_, ro);
    ASSERT_TRUE(log.ok()) << log.status();
    log_.emplace(std::move(*log));
  }
  Db& db() { return log_->db(); }
  static AblationOptions Options(const std::string& axis, const std::vector<std::string>& sweeps,
                                 const std::string& fix_key, const std::string& fix_value) {
    AblationOptions o;
    o.axis = axis;
    o.sweeps = sweeps;
    o.fix = {{fix_key, fix_value}};
    return o;
  }
  static std::string* dir_;
  static std::string* db_path_;
  std::optional<ExperimentLog> log_;
};
std::string* CompareCiTest::dir_ = nullptr;
std::string* CompareCiTest::db_path_ = nullptr;

TEST_F(CompareCiTest, StrideTwoIsWorseByTheHandComputedDifference) {
  AblationCiOptions ci;
  ci.seed = 4;
  absl::StatusOr<Table> t =
      AblationCi(db(), Options("RPN_ANCHOR_STRIDE", {"boot"}, "USE_MINI_MASK", "false"), ci);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->rows.size(), 4u);  // one arm x segm_AP, segm_AP50, bbox_AP, bbox_AP50
  const std::vector<std::string> metrics = {"segm_AP", "segm_AP50", "bbox_AP", "bbox_AP50"};
  for (size_t i = 0; i < 4; ++i) {
    const std::vector<SqlValue>& r = t->rows[i];
    SCOPED_TRACE(metrics[i]);
    EXPECT_EQ(Num(r[0]), 2);
    EXPECT_EQ(Num(r[1]), 1);
    EXPECT_EQ(SqlValueText(r[2]), metrics[i]);
    EXPECT_EQ(Num(r[3]), 3);
    EXPECT_NEAR(Num(r[4]), (101 + 98 + 95) / 303.0, 1e-12);
    EXPECT_NEAR(Num(r[5]), (76 + 73 + 71) / 303.0, 1e-12);
    EXPECT_NEAR(Num(r[6]), -74 / 303.0, 1e-12);  // (-25 - 25 - 24) / 3 / 101
    EXPECT_LT(Num(r[7]), Num(r[6]));
    EXPECT_GT(Num(r[8]), Num(r[6]));
    EXPECT_LT(Num(r[8]), 0);
    EXPECT_EQ(Num(r[9]), 1.0);
    EXPECT_EQ(SqlValueText(r[10]), "worse");
    EXPECT_NEAR(Num(r[11]), 3 / 101.0, 1e-12);  // sample std of 101, 98, 95, over 101
    EXPECT_EQ(SqlValueText(r[12]), "ok");
  }
  ASSERT_FALSE(t->notes.empty());
  EXPECT_NE(t->notes[0].find("B = 1000"), std::string::npos);
  EXPECT_NE(t->notes[0].find("3 seeds"), std::string::npos) << t->notes[0];
  // Seeded: the same intervals again.
  absl::StatusOr<Table> again =
      AblationCi(db(), Options("RPN_ANCHOR_STRIDE", {"boot"}, "USE_MINI_MASK", "false"), ci);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(FormatTable(*t, "csv").value(), FormatTable(*again, "csv").value());
}

TEST_F(CompareCiTest, AnArmThatChangesNothingIsIndistinguishable) {
  // USE_MINI_MASK does not change the fake's detections: the same per-image results in both arms.
  AblationCiOptions ci;
  ci.metrics = {"segm_AP", "bbox_AP75", "segm_AR100"};
  absl::StatusOr<Table> t =
      AblationCi(db(), Options("USE_MINI_MASK", {"boot"}, "RPN_ANCHOR_STRIDE", "1"), ci);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->rows.size(), 3u);
  for (const auto& r : t->rows) {
    EXPECT_EQ(Num(r[6]), 0);
    EXPECT_LE(Num(r[7]), 0);
    EXPECT_GE(Num(r[8]), 0);
    EXPECT_EQ(Num(r[9]), 1.0);
    EXPECT_EQ(SqlValueText(r[10]), "indistinguishable");
  }
}

TEST_F(CompareCiTest, RunsWithoutPerImageResultsAreNamed) {
  absl::StatusOr<Table> t =
      AblationCi(db(), Options("RPN_ANCHOR_STRIDE", {"old"}, "USE_MINI_MASK", "false"), {});
  ASSERT_FALSE(t.ok());
  const std::string m(t.status().message());
  EXPECT_NE(m.find("have no per-image"), std::string::npos) << m;
  EXPECT_NE(m.find("schema version 4"), std::string::npos) << m;
  // Every run of the comparison is named.
  absl::StatusOr<std::vector<std::vector<SqlValue>>> ids =
      db().QueryAll("SELECT trial_id FROM runs WHERE sweep = 'old'");
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->size(), 4u);
  for (const auto& r : *ids) {
    EXPECT_NE(m.find(SqlValueText(r[0])), std::string::npos) << m;
  }
}

TEST_F(CompareCiTest, RunsOnOtherImagesAreRefusedByName) {
  absl::StatusOr<Table> t = AblationCi(
      db(), Options("RPN_ANCHOR_STRIDE", {"boot", "other_images"}, "USE_MINI_MASK", "false"), {});
  ASSERT_FALSE(t.ok());
  const std::string m(t.status().message());
  EXPECT_NE(m.find("RPN_ANCHOR_STRIDE=3"), std::string::npos) << m;
  EXPECT_NE(m.find("36 validation images"), std::string::npos) << m;
  EXPECT_NE(m.find("37"), std::string::npos) << m;
}

TEST_F(CompareCiTest, UnpairedSeedsAndAmbiguousRunsAreRefusedByName) {
  absl::StatusOr<Table> t = AblationCi(
      db(), Options("RPN_ANCHOR_STRIDE", {"boot", "two_seeds"}, "USE_MINI_MASK", "false"), {});
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("no partner"), std::string::npos) << t.status();
  EXPECT_NE(t.status().message().find("seed 2"), std::string::npos) << t.status();
  // Without --fix, stride 1 has two runs per seed (USE_MINI_MASK false and true).
  AblationOptions o;
  o.axis = "RPN_ANCHOR_STRIDE";
  o.sweeps = {"boot"};
  t = AblationCi(db(), o, {});
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("ambiguous"), std::string::npos) << t.status();
  AblationCiOptions bad;
  bad.metrics = {"segm_mAP"};
  t = AblationCi(db(), Options("RPN_ANCHOR_STRIDE", {"boot"}, "USE_MINI_MASK", "false"), bad);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("segm_mAP"), std::string::npos) << t.status();
}

TEST_F(CompareCiTest, ADamagedPerImageFileIsNamedWithItsRun) {
  // Copy the log and damage one run's side file (paths are stored relative to the log's folder).
  const std::string dir = experiments_test::NewTempDir("compare_ci_damaged");
  std::filesystem::copy(*dir_, dir, std::filesystem::copy_options::recursive);
  ExperimentLog::Options ro;
  ro.mode = Db::kReadOnly;
  ExperimentLog log = ExperimentLog::Open(dir + "/log.sqlite", ro).value();
  absl::StatusOr<std::vector<std::vector<SqlValue>>> rows = log.db().QueryAll(
      "SELECT c.trial_id, p.path FROM coco_per_image p JOIN coco_results c ON c.id = p.coco_id "
      "JOIN runs r ON r.trial_id = c.trial_id WHERE r.sweep = 'boot' AND p.iou_type = 'segm' "
      "AND r.RPN_ANCHOR_STRIDE = 2 AND r.USE_MINI_MASK = 0 ORDER BY c.trial_id LIMIT 1");
  ASSERT_TRUE(rows.ok() && rows->size() == 1);
  const std::string rel = SqlValueText((*rows)[0][1]);
  ASSERT_NE(rel[0], '/') << rel;
  std::filesystem::resize_file(dir + "/" + rel, 100);
  absl::StatusOr<Table> t = AblationCi(
      log.db(), Options("RPN_ANCHOR_STRIDE", {"boot"}, "USE_MINI_MASK", "false"), {});
  ASSERT_FALSE(t.ok());
  const std::string m(t.status().message());
  EXPECT_NE(m.find(absl::StrCat("run ", SqlValueText((*rows)[0][0]))), std::string::npos) << m;
  EXPECT_NE(m.find(rel), std::string::npos) << m;
  EXPECT_NE(m.find("checksum"), std::string::npos) << m;
}

TEST_F(CompareCiTest, SweepTablesHoldTheOtherKeysFixed) {
  AblationCiOptions ci;
  ci.metrics = {"segm_AP"};
  absl::StatusOr<std::vector<SweepCi>> tables =
      SweepCiTables(db(), "boot", {"RPN_ANCHOR_STRIDE", "USE_MINI_MASK"}, ci);
  ASSERT_TRUE(tables.ok()) << tables.status();
  ASSERT_EQ(tables->size(), 4u);  // stride at mini 0 and 1, mini at stride 1 and 2
  std::vector<std::string> titles;
  for (const SweepCi& t : *tables) {
    titles.push_back(t.title);
    ASSERT_TRUE(t.table.ok()) << t.title << ": " << t.table.status();
    ASSERT_EQ(t.table->rows.size(), 1u);
  }
  EXPECT_EQ(titles, (std::vector<std::string>{"RPN_ANCHOR_STRIDE at USE_MINI_MASK=0",
                                              "RPN_ANCHOR_STRIDE at USE_MINI_MASK=1",
                                              "USE_MINI_MASK at RPN_ANCHOR_STRIDE=1",
                                              "USE_MINI_MASK at RPN_ANCHOR_STRIDE=2"}));
  EXPECT_NEAR(Num((*tables)[1].table->rows[0][6]), -74 / 303.0, 1e-12);
  EXPECT_EQ(SqlValueText((*tables)[1].table->rows[0][10]), "worse");
  EXPECT_EQ(SqlValueText((*tables)[3].table->rows[0][10]), "indistinguishable");
  // A sweep without per-image results gets its reason per slice.
  tables = SweepCiTables(db(), "old", {"RPN_ANCHOR_STRIDE"}, ci);
  ASSERT_TRUE(tables.ok());
  ASSERT_EQ(tables->size(), 1u);
  EXPECT_FALSE((*tables)[0].table.ok());
}

int Count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// The report's forest plot: one row per (key, fixed values, arm); stride 2 is worse (red) by
// -74/303 with 3 seeds, USE_MINI_MASK indistinguishable (grey). Rendered by headless chromium, which
// keeps the 4 rows and paints the "worse" red.
TEST_F(CompareCiTest, ReportForestPlotShowsEachArmsInterval) {
  ReportOptions ro;
  ro.resamples = 300;
  absl::StatusOr<std::string> html = HtmlReport(db(), "boot", ro);
  ASSERT_TRUE(html.ok()) << html.status();
  const size_t start = html->find("<svg id=\"forest\"");
  ASSERT_NE(start, std::string::npos);
  const std::string forest = html->substr(start, html->find("</svg>", start) - start);
  EXPECT_EQ(Count(forest, "<circle class=\"diff\""), 4);
  EXPECT_EQ(Count(forest, "<line class=\"ci\" stroke=\"#c0392b\""), 2);
  EXPECT_EQ(Count(forest, "<circle class=\"diff\" cx=\""), 4);
  EXPECT_EQ(Count(forest, "fill=\"#c0392b\""), 2);  // worse
  EXPECT_EQ(Count(forest, "fill=\"#555\""), 2);     // indistinguishable
  EXPECT_NE(forest.find("RPN_ANCHOR_STRIDE=2 vs 1 (USE_MINI_MASK=0): difference -0.2442"),
            std::string::npos)
      << forest;
  EXPECT_NE(forest.find("3 seed(s), noise floor (reference seed std) 0.0297"), std::string::npos) << forest;
  if (!std::filesystem::exists("/usr/bin/chromium") || !std::filesystem::exists("/usr/bin/python3")) {
    GTEST_SKIP() << "no chromium or /usr/bin/python3 to render and read the report";
  }
  const std::string file = *dir_ + "/report.html", shot = *dir_ + "/report.png";
  std::ofstream(file) << *html;
  const std::vector<std::string> chromium = {
      "/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
      "--disable-dev-shm-usage", "--disable-crash-reporter", "--user-data-dir=" + *dir_ + "/chromium",
      "--window-size=1000,2000"};
  std::vector<std::string> cmd = chromium;
  cmd.push_back("--dump-dom");
  cmd.push_back("file://" + file);
  experiments_test::ProcResult r = experiments_test::RunProcess(cmd, 120);
  ASSERT_TRUE(WIFEXITED(r.wait_status) && WEXITSTATUS(r.wait_status) == 0) << r.output;
  EXPECT_EQ(Count(r.output, "<circle class=\"diff\""), 4);
  cmd = chromium;
  cmd.push_back("--screenshot=" + shot);
  cmd.push_back("file://" + file);
  r = experiments_test::RunProcess(cmd, 120);
  ASSERT_TRUE(WIFEXITED(r.wait_status) && WEXITSTATUS(r.wait_status) == 0) << r.output;
  r = experiments_test::RunProcess(
      {"/usr/bin/python3", "-c",
       "import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1]).convert('RGB')\n"
       "print(sum(1 for p in im.getdata() if max(abs(a - b) for a, b in zip(p, (192, 57, 43))) <= 6))",
       shot},
      60);
  ASSERT_EQ(WEXITSTATUS(r.wait_status), 0) << r.output;
  EXPECT_GT(std::stoi(r.output), 100) << "red pixels of the two 'worse' rows";
}

TEST_F(CompareCiTest, ReportRanksParametersOfARandomSearch) {
  absl::StatusOr<std::string> html = HtmlReport(db(), "random", ReportOptions());
  ASSERT_TRUE(html.ok()) << html.status();
  EXPECT_NE(html->find("A random search has no arms to compare"), std::string::npos);
  const size_t start = html->find("<svg id=\"importance\"");
  ASSERT_NE(start, std::string::npos);
  const std::string bars = html->substr(start, html->find("</svg>", start) - start);
  // Every trial of the search has seed 3, so the metric is an increasing function of the stride
  // alone: Spearman's correlation is exactly 1 (ties included), and the stride ranks first.
  const size_t stride = bars.find(">RPN_ANCHOR_STRIDE<"), nms = bars.find(">RPN_NMS_THRESHOLD<");
  ASSERT_NE(stride, std::string::npos);
  ASSERT_NE(nms, std::string::npos);
  EXPECT_LT(stride, nms) << bars;
  EXPECT_NE(bars.find("RPN_ANCHOR_STRIDE: |Spearman rank correlation| 1.000"), std::string::npos) << bars;
}

TEST_F(CompareCiTest, CompareBinaryPrintsIntervals) {
  experiments_test::ProcResult r = experiments_test::RunProcess(
      {Arg("compare"), "ablate", "--db=" + *db_path_, "--axis=RPN_ANCHOR_STRIDE", "--sweep=boot",
       "--fix", "USE_MINI_MASK=false", "--ci", "--ci_metrics=bbox_AP50", "--resamples=200",
       "--format=csv"},
      60);
  ASSERT_TRUE(WIFEXITED(r.wait_status));
  EXPECT_EQ(WEXITSTATUS(r.wait_status), 0) << r.output;
  const std::vector<std::string> lines = absl::StrSplit(r.output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << r.output;
  EXPECT_EQ(lines[0],
            "RPN_ANCHOR_STRIDE,reference,metric,seeds,reference mean,arm mean,difference,ci95 low,"
            "ci95 high,P(diff<=0),verdict,noise floor (ref seed std),check");
  EXPECT_EQ(lines[1].substr(0, 16), "2,1,bbox_AP50,3,") << lines[1];
  EXPECT_NE(lines[1].find(",1,worse,"), std::string::npos) << lines[1];
  r = experiments_test::RunProcess({Arg("compare"), "ablate", "--db=" + *db_path_,
                                    "--axis=RPN_ANCHOR_STRIDE", "--sweep=old", "--ci"},
                                   60);
  EXPECT_EQ(WEXITSTATUS(r.wait_status), 1) << r.output;
  EXPECT_NE(r.output.find("no per-image"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace experiments

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  experiments_test::SetArgs(argc, argv);
  return RUN_ALL_TESTS();
}
