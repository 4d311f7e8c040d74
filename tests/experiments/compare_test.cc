// Tests of the reports over a log filled by a tiny sweep of the FAKE trial binary, whose metric values
// are closed forms of stride, mini mask and seed (see fake_trial.cc): segm_AP = 0.5 + 0.1 stride -
// 0.05 mini + 0.01 seed, and last loss = (stride + 0.5 mini + 0.1 seed) / STEPS.
#include "experiments/compare.h"

#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_split.h"
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

std::string Str(const SqlValue& v) { return SqlValueText(v); }

class CompareTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(experiments_test::NewTempDir("compare"));
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
    run({{"name", "default"},
         {"base", {{"STEPS_PER_EPOCH", 4}, {"NAME", "fake"}}},
         {"params", {{"RPN_ANCHOR_STRIDE", {1, 2}}, {"USE_MINI_MASK", {false, true}}}},
         {"seeds", 3}});
    // Another dataset (the fake trial logs hash "B" for it) and another NAME.
    run({{"name", "other"},
         {"base", {{"STEPS_PER_EPOCH", 4}, {"NAME", "fake+dataset_b"}, {"USE_MINI_MASK", false}}},
         {"params", {{"RPN_ANCHOR_STRIDE", {1, 2}}}}});
  }
  void SetUp() override {
    ExperimentLog::Options ro;
    ro.mode = Db::kReadOnly;
    absl::StatusOr<ExperimentLog> log = ExperimentLog::Open(*db_path_, ro);
    ASSERT_TRUE(log.ok()) << log.status();
    log_.emplace(std::move(*log));
  }
  Db& db() { return log_->db(); }
  int64_t TrialId(int stride, int mini, int seed, const std::string& sweep = "default") {
    absl::StatusOr<std::vector<std::vector<SqlValue>>> rows = db().QueryAll(
        "SELECT trial_id FROM runs WHERE sweep = ? AND RPN_ANCHOR_STRIDE = ? AND USE_MINI_MASK = ? "
        "AND SEED = ?",
        {sweep, int64_t{stride}, int64_t{mini}, int64_t{seed}});
    EXPECT_TRUE(rows.ok() && rows->size() == 1);
    return rows.ok() && rows->size() == 1 ? std::get<int64_t>((*rows)[0][0]) : -1;
  }
  static std::string* dir_;
  static std::string* db_path_;
  std::optional<ExperimentLog> log_;
};
std::string* CompareTest::dir_ = nullptr;
std::string* CompareTest::db_path_ = nullptr;

TEST(MeanStdTest, SampleStandardDeviation) {
  // Hand calculation: mean 5, squared deviations 9 + 1 + 1 + 9 = 20, / 3.
  const auto [m, s] = MeanStd({2, 4, 6, 8});
  EXPECT_DOUBLE_EQ(m, 5);
  EXPECT_DOUBLE_EQ(s, std::sqrt(20.0 / 3.0));
  EXPECT_EQ(MeanStd({3}).second, 0);
  EXPECT_TRUE(std::isnan(MeanStd({}).first));
}

TEST_F(CompareTest, CleanAblationOverStrideWithMeanAndStdOverSeeds) {
  AblationOptions o;
  o.axis = "RPN_ANCHOR_STRIDE";
  o.sweeps = {"default"};
  o.fix = {{"USE_MINI_MASK", "false"}};
  absl::StatusOr<Table> t = Ablation(db(), o);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->rows.size(), 2u);
  // stride 1: 0.60, 0.61, 0.62; stride 2: 0.70, 0.71, 0.72.
  EXPECT_EQ(Str(t->rows[0][0]), "1");
  EXPECT_EQ(Num(t->rows[0][1]), 3);
  EXPECT_NEAR(Num(t->rows[0][3]), 0.61, 1e-12);
  EXPECT_NEAR(Num(t->rows[0][4]), 0.01, 1e-12);
  EXPECT_NEAR(Num(t->rows[1][3]), 0.71, 1e-12);
  EXPECT_NEAR(Num(t->rows[1][5]), 0.70, 1e-12);
  EXPECT_NEAR(Num(t->rows[1][6]), 0.72, 1e-12);
  EXPECT_EQ(Str(t->rows[0][7]), "ok");
  EXPECT_EQ(Str(t->rows[1][7]), "ok");
}

TEST_F(CompareTest, AblationFlagsRowsThatDifferInMoreThanTheAxis) {
  AblationOptions o;
  o.axis = "RPN_ANCHOR_STRIDE";
  o.sweeps = {"default"};
  absl::StatusOr<Table> t = Ablation(db(), o);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->rows.size(), 2u);
  // Both mini-mask settings mixed in: (0.60 + 0.61 + 0.62 + 0.55 + 0.56 + 0.57) / 6 = 0.585.
  EXPECT_NEAR(Num(t->rows[0][3]), 0.585, 1e-12);
  EXPECT_EQ(Str(t->rows[0][7]), "DIFFERS: USE_MINI_MASK");
  EXPECT_EQ(Str(t->rows[1][7]), "DIFFERS: USE_MINI_MASK");
  // Across sweeps: the other sweep has another dataset and NAME.
  o.sweeps = {"default", "other"};
  o.fix = {{"USE_MINI_MASK", "false"}};
  t = Ablation(db(), o);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(Str(t->rows[0][7]), "DIFFERS: NAME, dataset_hash");
  EXPECT_EQ(Num(t->rows[0][1]), 4);
  // Bad axis and filters.
  o.axis = "RPN_ANCHOR_STRIDES";
  EXPECT_EQ(Ablation(db(), o).status().code(), absl::StatusCode::kInvalidArgument);
  o.axis = "RPN_ANCHOR_STRIDE";
  o.fix = {{"USE_MINI_MASK", "maybe"}};
  EXPECT_EQ(Ablation(db(), o).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CompareTest, SeedStatsPerPoint) {
  absl::StatusOr<Table> t = SeedStats(db(), "default", "segm_AP", "last");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->rows.size(), 4u);
  EXPECT_EQ(t->columns[0], "RPN_ANCHOR_STRIDE");
  EXPECT_EQ(t->columns[1], "USE_MINI_MASK");
  for (const auto& r : t->rows) {
    const double want = 0.5 + 0.1 * Num(r[0]) - 0.05 * Num(r[1]) + 0.01;  // mean seed is 1
    EXPECT_EQ(Num(r[2]), 3);
    EXPECT_NEAR(Num(r[3]), want, 1e-12);
    EXPECT_NEAR(Num(r[4]), 0.01, 1e-12);
  }
}

TEST_F(CompareTest, BestRunByAMetricFollowsItsGoal) {
  absl::StatusOr<Table> t = BestRuns(db(), "default", "segm_AP", "last", 1);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->rows.size(), 1u);
  EXPECT_EQ(Num(t->rows[0][1]), TrialId(2, 0, 2));
  EXPECT_NEAR(Num(t->rows[0].back()), 0.72, 1e-12);
  // Loss is minimised: stride 1, no mini mask, seed 0, last loss 1 / 4.
  t = BestRuns(db(), "default", "loss", "last", 2);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(Num(t->rows[0][1]), TrialId(1, 0, 0));
  EXPECT_NEAR(Num(t->rows[0].back()), 0.25, 1e-12);
  EXPECT_NEAR(Num(t->rows[1].back()), 1.1 / 4, 1e-12);
  // "best" reads the best value: the loss falls every step, so best = last here.
  t = BestRuns(db(), "default", "loss", "best", 1);
  ASSERT_TRUE(t.ok());
  EXPECT_NEAR(Num(t->rows[0].back()), 0.25, 1e-12);
  EXPECT_EQ(BestRuns(db(), "", "no_such_metric", "last", 1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(BestRuns(db(), "", "loss", "worst", 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CompareTest, DiffShowsConfigAndDerivedDifferences) {
  absl::StatusOr<Table> t = DiffRuns(db(), TrialId(1, 0, 0), TrialId(2, 0, 0), false);
  ASSERT_TRUE(t.ok()) << t.status();
  std::map<std::string, std::pair<std::string, std::string>> diff;
  for (const auto& r : t->rows) diff[Str(r[0])] = {Str(r[1]), Str(r[2])};
  EXPECT_EQ(diff["RPN_ANCHOR_STRIDE"], std::make_pair(std::string("1"), std::string("2")));
  // By hand, 128 px input, strides 4..64, 3 ratios: stride 1 places 32^2 + 16^2 + 8^2 + 4^2 + 2^2 =
  // 1364 cells x 3 = 4092 anchors; stride 2: 16^2 + 8^2 + 4^2 + 2^2 + 1 = 341 cells x 3 = 1023.
  EXPECT_EQ(diff["(derived) ANCHORS_TOTAL"], std::make_pair(std::string("4092"), std::string("1023")));
  EXPECT_EQ(diff["(derived) ANCHORS_PER_LEVEL"],
            std::make_pair(std::string("[3072,768,192,48,12]"), std::string("[768,192,48,12,3]")));
  EXPECT_EQ(diff.size(), 3u);  // nothing else differs (same seed)
  t = DiffRuns(db(), TrialId(1, 0, 0), TrialId(1, 0, 0), false);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->rows.empty());
  t = DiffRuns(db(), TrialId(1, 0, 0), TrialId(1, 0, 1), true);
  ASSERT_TRUE(t.ok());
  EXPECT_GT(t->rows.size(), 60u);
  EXPECT_EQ(DiffRuns(db(), 1, 999, false).status().code(), absl::StatusCode::kNotFound);
}

TEST(DerivedTest, ProposalCountsByHand) {
  mrcnn::Config c = mrcnn::Config::Preset("shapes").value();
  Json d = DerivedValues(c);
  EXPECT_EQ(d["PRE_NMS_KEPT_TRAINING"], 1000);   // min(PRE_NMS_LIMIT 1000, 4092 anchors)
  EXPECT_EQ(d["POST_NMS_ROIS_TRAINING_AT_MOST"], 500);
  EXPECT_EQ(d["PRE_NMS_KEPT_INFERENCE"], 500);
  EXPECT_EQ(d["POST_NMS_ROIS_INFERENCE_AT_MOST"], 250);
  EXPECT_EQ(d["POSITIVE_ROIS_PER_IMAGE_AT_MOST"], 10);  // int(32 * 0.33)
  c.RPN_ANCHOR_STRIDE = 4;  // 8^2 + 4^2 + 2^2 + 1 + 1 = 86 cells x 3 = 258 anchors
  c.PROPOSAL_SELECTION = mrcnn::ProposalSelection::kPerLevel;
  d = DerivedValues(c);
  EXPECT_EQ(d["ANCHORS_TOTAL"], 258);
  EXPECT_EQ(d["PRE_NMS_KEPT_TRAINING"], 258);  // every level under the per-level limit
  EXPECT_EQ(d["POST_NMS_ROIS_INFERENCE_AT_MOST"], 250);
}

TEST_F(CompareTest, RunsListAndExportFormats) {
  absl::StatusOr<Table> t = ListRuns(db(), "default", {"loss", "segm_AP"}, "last");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->rows.size(), 12u);
  EXPECT_EQ(ListRuns(db(), "nope", {}, "last").status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<Table> sweeps = ListSweeps(db());
  ASSERT_TRUE(sweeps.ok());
  ASSERT_EQ(sweeps->rows.size(), 2u);
  EXPECT_EQ(Str(sweeps->rows[0][4]), "12");
  EXPECT_EQ(Str(sweeps->rows[0][5]), "12");

  absl::StatusOr<Table> all = ExportRuns(db(), "default");
  ASSERT_TRUE(all.ok());
  absl::StatusOr<std::string> json = FormatTable(*all, "json");
  ASSERT_TRUE(json.ok());
  const Json j = Json::parse(*json);
  ASSERT_EQ(j["rows"].size(), 12u);
  EXPECT_TRUE(j["rows"][0]["RPN_ANCHOR_STRIDE"].is_number_integer());
  EXPECT_TRUE(j["rows"][0]["segm_AP"].is_number_float());
  EXPECT_TRUE(j["rows"][0]["status"].is_string());
  absl::StatusOr<std::string> csv = FormatTable(*all, "csv");
  ASSERT_TRUE(csv.ok());
  const std::vector<std::string> lines = absl::StrSplit(*csv, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 13u);
  // List values hold commas and are quoted.
  EXPECT_NE(csv->find("\"[4,8,16,32,64]\""), std::string::npos);
  EXPECT_EQ(FormatTable(*all, "xml").status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::string> text = FormatTable(*t, "table");
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("RPN_ANCHOR_STRIDE"), std::string::npos);
}

TEST_F(CompareTest, CompareBinaryPrintsAblationAsCsv) {
  experiments_test::ProcResult r = experiments_test::RunProcess(
      {Arg("compare"), "ablate", "--db=" + *db_path_, "--axis=RPN_ANCHOR_STRIDE", "--sweep=default",
       "--fix", "USE_MINI_MASK=false", "--format=csv"},
      30);
  ASSERT_TRUE(WIFEXITED(r.wait_status));
  EXPECT_EQ(WEXITSTATUS(r.wait_status), 0) << r.output;
  const std::vector<std::string> lines = absl::StrSplit(r.output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << r.output;
  EXPECT_EQ(lines[0], "RPN_ANCHOR_STRIDE,runs,seeds,segm_AP mean,segm_AP std,min,max,check");
  EXPECT_EQ(lines[1].substr(0, 8), "1,3,3,0.");
  r = experiments_test::RunProcess({Arg("compare"), "frobnicate", "--db=" + *db_path_}, 30);
  EXPECT_EQ(WEXITSTATUS(r.wait_status), 2);
  EXPECT_NE(r.output.find("unknown command"), std::string::npos);
  r = experiments_test::RunProcess({Arg("compare"), "sweeps", "--db=" + *dir_ + "/none.sqlite"}, 30);
  EXPECT_EQ(WEXITSTATUS(r.wait_status), 1);
  EXPECT_NE(r.output.find("no experiment log here"), std::string::npos) << r.output;
}

int Count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// Runs `code` with Debian's python3 and `arg` as sys.argv[1]; it must exit 0 printing `expected`.
void ExpectPythonPrints(const std::string& code, const std::string& arg, const std::string& expected) {
  experiments_test::ProcResult r = experiments_test::RunProcess({"/usr/bin/python3", "-c", code, arg}, 60);
  EXPECT_EQ(WEXITSTATUS(r.wait_status), 0) << r.output;
  EXPECT_EQ(r.output, expected);
}

TEST_F(CompareTest, HtmlReportIsSelfContainedWithOneMarkPerRun) {
  absl::StatusOr<std::string> html = HtmlReport(db(), "default", ReportOptions());
  ASSERT_TRUE(html.ok()) << html.status();
  EXPECT_EQ(Count(*html, "<polyline class=\"curve\""), 12);  // a smoothed loss curve per run
  EXPECT_EQ(Count(*html, "<polyline class=\"raw\""), 12);    // and its raw values
  EXPECT_EQ(Count(*html, "<polyline class=\"pc\""), 12);     // parallel coordinates
  EXPECT_EQ(Count(*html, "<svg class=\"scatter\""), 2);      // one per swept key
  // 24 scatter marks, and the band plot's one evaluation per config point (4 points x 3 seeds).
  EXPECT_EQ(Count(*html, "<circle "), 28);
  EXPECT_EQ(Count(*html, "<circle class=\"meanpt\""), 4);
  // The fake trial's default mode logs no per-image results: the forest plot says so.
  EXPECT_NE(html->find("<p class=\"no-ci\">No intervals: "), std::string::npos);
  EXPECT_NE(html->find("have no per-image"), std::string::npos);
  // The per-class AP table: a row per run, segm and bbox of class 1 ("square").
  EXPECT_NE(html->find("<table id=\"per_class\"><tr><th>trial</th><th>segm square</th><th>bbox square</th>"),
            std::string::npos);
  // The spec pretty-printed, and every run's config as its row's tooltip.
  EXPECT_NE(html->find("<pre id=\"spec\">{\n  &quot;base&quot;"), std::string::npos);
  // Once in the spec, then in each run's tooltips: its runs-table row, loss curve, 2 scatter marks,
  // parallel-coordinates line and per-class row.
  EXPECT_EQ(Count(*html, "&quot;RPN_ANCHOR_STRIDE&quot;: "), 1 + 12 * 6);
  // Nothing loaded from elsewhere.
  EXPECT_EQ(Count(*html, "<script"), 0);
  EXPECT_EQ(Count(*html, "src="), 0);
  EXPECT_EQ(Count(*html, "href="), 0);
  // By hand, in the segm_AP-against-stride plot (x from 1 to 2 over pixels 70..620, y from 0.55 to
  // 0.72 over pixels 270..20): the best run (stride 2, no mini mask, seed 2: 0.72) sits at (620, 20),
  // the worst (stride 1, mini mask, seed 0: 0.55) at (70, 270).
  const size_t stride_plot = html->find("data-param=\"RPN_ANCHOR_STRIDE\"");
  const size_t stride_end = html->find("</svg>", stride_plot);
  ASSERT_NE(stride_plot, std::string::npos);
  const std::string plot = html->substr(stride_plot, stride_end - stride_plot);
  EXPECT_NE(plot.find("<circle cx=\"620.0\" cy=\"20.0\""), std::string::npos) << plot;
  EXPECT_NE(plot.find("<circle cx=\"70.0\" cy=\"270.0\""), std::string::npos) << plot;
  // Parses as XML (every element closed), when Debian's python3 is there to check.
  if (std::filesystem::exists("/usr/bin/python3")) {
    const std::string file = *dir_ + "/report.html";
    std::ofstream(file) << *html;
    ExpectPythonPrints(
        "import sys, xml.etree.ElementTree as E; t = E.parse(sys.argv[1]); "
        "print(len(t.findall('.//{http://www.w3.org/2000/svg}svg')))",
        file, "5\n");
  }
  EXPECT_EQ(HtmlReport(db(), "nope", ReportOptions()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(HtmlEscape("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
}

// The report as a browser shows it: Debian's chromium, headless, parses every plot element (its DOM
// after loading keeps all 5 plots, 28 marks and 36 lines) and paints every run's colour.
TEST_F(CompareTest, HtmlReportRendersInHeadlessChromium) {
  if (!std::filesystem::exists("/usr/bin/chromium")) GTEST_SKIP() << "no chromium installed (setup.sh installs it)";
  if (!std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3 to read the screenshot";
  absl::StatusOr<std::string> html = HtmlReport(db(), "default", ReportOptions());
  ASSERT_TRUE(html.ok()) << html.status();
  const std::string file = *dir_ + "/render.html", shot = *dir_ + "/render.png";
  std::ofstream(file) << *html;
  const std::vector<std::string> chromium = {"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                                             "--hide-scrollbars", "--disable-dev-shm-usage", "--disable-crash-reporter",
                                             "--user-data-dir=" + *dir_ + "/chromium",
                                             "--window-size=1000,2600"};
  std::vector<std::string> cmd = chromium;
  cmd.push_back("--dump-dom");
  cmd.push_back("file://" + file);
  experiments_test::ProcResult r = experiments_test::RunProcess(cmd, 120);
  ASSERT_TRUE(WIFEXITED(r.wait_status) && WEXITSTATUS(r.wait_status) == 0) << r.output;
  EXPECT_EQ(Count(r.output, "<svg"), 5);
  EXPECT_EQ(Count(r.output, "<circle "), 28);
  EXPECT_EQ(Count(r.output, "<polyline "), 36);
  cmd = chromium;
  cmd.push_back("--screenshot=" + shot);
  cmd.push_back("file://" + file);
  r = experiments_test::RunProcess(cmd, 120);
  ASSERT_TRUE(WIFEXITED(r.wait_status) && WEXITSTATUS(r.wait_status) == 0) << r.output;
  // Each run's colour hsl((i * 137) % 360, 65%, 45%) must be painted somewhere (marks and lines).
  ExpectPythonPrints(
      "import colorsys, sys\n"
      "from PIL import Image\n"
      "im = Image.open(sys.argv[1]).convert('RGB')\n"
      "px = set(im.getdata())\n"
      "missing = []\n"
      "for i in range(12):\n"
      "    c = [round(255 * v) for v in colorsys.hls_to_rgb((i * 137 % 360) / 360, 0.45, 0.65)]\n"
      "    if not any(max(abs(a - b) for a, b in zip(p, c)) <= 6 for p in px): missing.append(i)\n"
      "print('missing', missing)\n",
      shot, "missing []\n");
}

// The README's example queries, run by the sqlite3 shell: the first answers "which anchor stride gave
// the best segm AP, averaged over seeds".
TEST_F(CompareTest, ExampleQueriesAnswerInTheSqliteShell) {
  if (!std::filesystem::exists("/usr/bin/sqlite3")) GTEST_SKIP() << "no sqlite3 shell installed";
  const std::string queries = experiments_test::ReadFile(Arg("queries"));
  ASSERT_FALSE(queries.empty());
  const std::string file = *dir_ + "/queries.sql";
  std::ofstream(file) << ".bail on\n.mode list\n" << queries;
  const std::string cmd = "/usr/bin/sqlite3 -readonly " + *db_path_ + " < " + file;
  experiments_test::ProcResult r = experiments_test::RunProcess({"/bin/sh", "-c", cmd}, 30);
  ASSERT_TRUE(WIFEXITED(r.wait_status));
  ASSERT_EQ(WEXITSTATUS(r.wait_status), 0) << r.output;
  // Stride 2, 6 runs: (0.70 + 0.71 + 0.72 + 0.65 + 0.66 + 0.67) / 6 = 0.685; then stride 1: 0.585.
  const std::vector<std::string> lines = absl::StrSplit(r.output, '\n');
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0].substr(0, 9), "2|6|0.685") << r.output;
  EXPECT_EQ(lines[1].substr(0, 9), "1|6|0.585") << r.output;
}

}  // namespace
}  // namespace experiments

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  experiments_test::SetArgs(argc, argv);
  return RUN_ALL_TESTS();
}
