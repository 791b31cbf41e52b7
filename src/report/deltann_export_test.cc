// Tests for report/deltann_export: a small hand-built analysis document (ort and tvm at opt 0
// and 3 on cpu, ort on gpu0, ref with no opt; 3 inputs; one disagreeing top-1; one failed cell)
// exported and checked file by file against values worked out by hand in the comments, with
// DeltaNN's formulas (evaluators/evalgenerator.py, get_basic_evaluation) written next to them.
#include "report/deltann_export.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>

#include "ir/error.h"
#include "testing/temp_dir.h"

namespace concord::report {

nlohmann::json OneWayAnova(const std::vector<double>& a, const std::vector<double>& b);

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using test::TempDir;

std::string Read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  EXPECT_TRUE(f.good()) << "cannot read " << p;
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

json ReadJson(const fs::path& p) { return json::parse(Read(p)); }

std::vector<std::string> ListTree(const fs::path& root) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), root).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void ExpectKind(const std::function<void()>& f, ErrorKind kind) {
  try {
    f();
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
  }
}

json Env(const std::string& env, const std::string& library, const std::string& device,
         const json& opt) {
  return {{"env", env},
          {"backend", library},
          {"library", library},
          {"device", device},
          {"opt", opt},
          {"threads", nullptr},
          {"versions", json::object()},
          {"machine", json::object()}};
}

json Pred(const std::string& input, std::vector<int> top, double ms) {
  return {{"input", input}, {"top", top}, {"scores", {9.1, 8.5, 7.25, 6, 5}}, {"ms", ms}};
}

const std::vector<int> kCat = {281, 282, 285, 287, 700};
const std::vector<int> kDog = {207, 208, 209, 210, 211};
const std::vector<int> kDogSwapped = {208, 207, 209, 210, 211};

const char* kA = "ort@cpu,opt=0";
const char* kB = "tvm@cpu,opt=0";
const char* kC = "ort@cpu,opt=3,threads=1";
const char* kD = "tvm@cpu,opt=3";
const char* kE = "ref@cpu";
const char* kF = "ort@gpu0,opt=0";

// Inputs cat.png, dog.jpg, dog.png (-> cat.txt, dog.txt, dog_2.txt: the second "dog" stem is
// taken). Times in ms chosen so that seconds are exact binary fractions.
//   A ort  cpu opt0: cat 1000 ms, dog 2000, dog2 500
//   B tvm  cpu opt0: cat  500,    dog 3000 (top-1 208, the others say 207), dog2 FAILED
//   C ort  cpu opt3 threads=1: 1000, 1000, 1000      D tvm cpu opt3: 1000, 1000, 1000
//   E ref  cpu (no opt): 1000, 2000, 500             F ort gpu0 opt0: 1000, 2000, 500
json Document(int top_k = 5) {
  json model = {
      {"name", "tiny_cnn"},
      {"sha256", "x"},
      {"path", "tiny.onnx"},
      {"label_space", {{"num_classes", 1000}, {"offset", 0}}},
      {"class_names", json::array()},
      {"top_k", top_k},
      {"preprocess", nullptr},
      {"inputs",
       {{{"id", 1}, {"name", "cat.png"}, {"label", 281}, {"thumbnail", nullptr}},
        {{"id", 2}, {"name", "dog.jpg"}, {"label", 207}, {"thumbnail", nullptr}},
        {{"id", 3}, {"name", "dog.png"}, {"label", nullptr}, {"thumbnail", nullptr}}}},
      {"cells", {{"total", 18}, {"ok", 17}, {"error", 1}}},
      {"errors", {{{"env", kB}, {"input", "dog.png"}, {"repeat", 0}, {"error", "boom"}}}},
      {"predictions",
       {{kA,
         {Pred("cat.png", kCat, 1000), Pred("dog.jpg", kDog, 2000), Pred("dog.png", kDog, 500)}},
        {kB, {Pred("cat.png", kCat, 500), Pred("dog.jpg", kDogSwapped, 3000), nullptr}},
        {kC,
         {Pred("cat.png", kCat, 1000), Pred("dog.jpg", kDog, 1000), Pred("dog.png", kDog, 1000)}},
        {kD,
         {Pred("cat.png", kCat, 1000), Pred("dog.jpg", kDog, 1000), Pred("dog.png", kDog, 1000)}},
        {kE,
         {Pred("cat.png", kCat, 1000), Pred("dog.jpg", kDog, 2000), Pred("dog.png", kDog, 500)}},
        {kF,
         {Pred("cat.png", kCat, 1000), Pred("dog.jpg", kDog, 2000), Pred("dog.png", kDog, 500)}}}},
      {"pairs", json::array()},
      {"repeats", {{{"env", kA}, {"repeats", 3}, {"identical", true}, {"max_abs", 0.0}}}},
      {"disagreements", json::array()},
      {"quality", json::array()},
      {"performance", json::array()},
      {"time_change", {{"baseline", kA}, {"inputs", json::array()}}},
  };
  return {
      {"schema", "concord.analysis/1"},
      {"store", "/tmp/x.db"},
      {"generated_at", "2026-11-22T03:04:05Z"},
      {"campaign", json::object()},
      {"machine", json::object()},
      {"envs",
       {Env(kA, "ort", "cpu", "0"), Env(kB, "tvm", "cpu", "0"), Env(kC, "ort", "cpu", "3"),
        Env(kD, "tvm", "cpu", "3"), Env(kE, "ref", "cpu", nullptr), Env(kF, "ort", "gpu0", "0")}},
      {"models", {model}}};
}

TEST(DeltaNNExport, FileTree) {
  TempDir tmp;
  fs::path out = tmp.path() / "out";
  ExportDeltaNN(Document(), out);
  // Folders: <model>/<device>/<opt>/<library>/mutations/ts_0; C's threads=1 becomes part of
  // the library name ("ort_threads-1"); E has no opt -> "opt_default"; B has no dog_2.txt.
  std::vector<std::string> expected = {
      "tiny_cnn/concord_mapping.json",
      "tiny_cnn/cpu/opt0/library_evaluation.json",
      "tiny_cnn/cpu/opt0/library_evaluation_time_percentages.json",
      "tiny_cnn/cpu/opt0/library_evaluation_time_stats.json",
      "tiny_cnn/cpu/opt0/ort/mutations/same_folder_evaluation.json",
      "tiny_cnn/cpu/opt0/ort/mutations/ts_0/cat.txt",
      "tiny_cnn/cpu/opt0/ort/mutations/ts_0/dog.txt",
      "tiny_cnn/cpu/opt0/ort/mutations/ts_0/dog_2.txt",
      "tiny_cnn/cpu/opt0/tvm/mutations/same_folder_evaluation.json",
      "tiny_cnn/cpu/opt0/tvm/mutations/ts_0/cat.txt",
      "tiny_cnn/cpu/opt0/tvm/mutations/ts_0/dog.txt",
      "tiny_cnn/cpu/opt3/library_evaluation.json",
      "tiny_cnn/cpu/opt3/library_evaluation_time_percentages.json",
      "tiny_cnn/cpu/opt3/library_evaluation_time_stats.json",
      "tiny_cnn/cpu/opt3/ort_threads-1/mutations/same_folder_evaluation.json",
      "tiny_cnn/cpu/opt3/ort_threads-1/mutations/ts_0/cat.txt",
      "tiny_cnn/cpu/opt3/ort_threads-1/mutations/ts_0/dog.txt",
      "tiny_cnn/cpu/opt3/ort_threads-1/mutations/ts_0/dog_2.txt",
      "tiny_cnn/cpu/opt3/tvm/mutations/same_folder_evaluation.json",
      "tiny_cnn/cpu/opt3/tvm/mutations/ts_0/cat.txt",
      "tiny_cnn/cpu/opt3/tvm/mutations/ts_0/dog.txt",
      "tiny_cnn/cpu/opt3/tvm/mutations/ts_0/dog_2.txt",
      "tiny_cnn/cpu/opt_default/library_evaluation.json",
      "tiny_cnn/cpu/opt_default/library_evaluation_time_percentages.json",
      "tiny_cnn/cpu/opt_default/library_evaluation_time_stats.json",
      "tiny_cnn/cpu/opt_default/ref/mutations/same_folder_evaluation.json",
      "tiny_cnn/cpu/opt_default/ref/mutations/ts_0/cat.txt",
      "tiny_cnn/cpu/opt_default/ref/mutations/ts_0/dog.txt",
      "tiny_cnn/cpu/opt_default/ref/mutations/ts_0/dog_2.txt",
      "tiny_cnn/device_evaluation.json",
      "tiny_cnn/gpu0/opt0/library_evaluation.json",
      "tiny_cnn/gpu0/opt0/library_evaluation_time_percentages.json",
      "tiny_cnn/gpu0/opt0/library_evaluation_time_stats.json",
      "tiny_cnn/gpu0/opt0/ort/mutations/same_folder_evaluation.json",
      "tiny_cnn/gpu0/opt0/ort/mutations/ts_0/cat.txt",
      "tiny_cnn/gpu0/opt0/ort/mutations/ts_0/dog.txt",
      "tiny_cnn/gpu0/opt0/ort/mutations/ts_0/dog_2.txt",
  };
  EXPECT_EQ(ListTree(out), expected);
  // No temporary sibling is left next to OUT.
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 1);
}

TEST(DeltaNNExport, PerInputFiles) {
  TempDir tmp;
  fs::path out = tmp.path() / "out";
  ExportDeltaNN(Document(), out);
  // executor.py: "%s, %f" per rank, then print("\n%f" % seconds). Class ids are canonical + 1
  // (no "torch"/"keras" in the path, so DeltaNN's reader subtracts 1): 281 -> 282. Time
  // 1000 ms -> 1.000000 s.
  EXPECT_EQ(Read(out / "tiny_cnn/cpu/opt0/ort/mutations/ts_0/cat.txt"),
            "282, 9.100000\n283, 8.500000\n286, 7.250000\n288, 6.000000\n701, 5.000000\n"
            "\n1.000000\n");
  EXPECT_EQ(Read(out / "tiny_cnn/cpu/opt0/tvm/mutations/ts_0/dog.txt"),
            "209, 9.100000\n208, 8.500000\n210, 7.250000\n211, 6.000000\n212, 5.000000\n"
            "\n3.000000\n");
  EXPECT_EQ(Read(out / "tiny_cnn/cpu/opt0/ort/mutations/ts_0/dog_2.txt"),
            "208, 9.100000\n209, 8.500000\n210, 7.250000\n211, 6.000000\n212, 5.000000\n"
            "\n0.500000\n");
}

TEST(DeltaNNExport, LibraryEvaluationOpt0) {
  TempDir tmp;
  fs::path out = tmp.path() / "out";
  ExportDeltaNN(Document(), out);
  fs::path dir = out / "tiny_cnn/cpu/opt0";
  std::string raw = Read(dir / "library_evaluation.json");
  // json.dumps(indent=2, sort_keys=True) printed with a newline.
  EXPECT_EQ(raw.substr(0, 18), "{\n  \"comparisons\":");
  EXPECT_EQ(raw.back(), '\n');
  json lib = json::parse(raw);

  // ort (base) vs tvm: ort has 3 files -> total_no_of_images 3. cat: top-1 282 = 282 similar;
  // dog: 208 vs 209 dissimilar; dog_2: no tvm file -> skipped (still in the total).
  // percentage_similar = str(1/3*100) = "33.33333333333333", same for dissimilar.
  // Times over cat, dog: orig (ort) 1 + 2 = 3.0, evaluated (tvm) 0.5 + 3 = 3.5;
  // average_orig = 3.0 / 3 = 1.0, average (tvm) = 3.5 / 3 = 1.1666666666666667 (-> "times").
  // exec_time_percentages: (0.5-1)/1*100 = -50.0, (3-2)/2*100 = 50.0.
  // ANOVA orig [1, 2] vs mut [0.5, 3]: means 1.5, 1.75, grand 1.625;
  // SSB = 2*0.125^2 + 2*0.125^2 = 0.0625; SSW = 0.25+0.25 + 1.5625+1.5625 = 3.625;
  // F = (0.0625/1) / (3.625/2) = 1/29 = 0.034482758620689655; for F(1, 2),
  // p = P(|t_2| > sqrt(F)) = 1 - sqrt(F / (F + 2)) = 1 - sqrt(1/59) = 0.8698110890191761.
  //
  // tvm (base) vs ort: tvm has 2 files -> total 2; cat similar, dog dissimilar -> "50.0".
  // orig (tvm) 3.5, evaluated (ort) 3.0; averages 3.5/2 = 1.75 and 3.0/2 = 1.5 (-> "times").
  // percentages: (1-0.5)/0.5*100 = 100.0, round((2-3)/3*100, 2) = -33.33. Same ANOVA.
  // total_images_dissimilar: dog.txt listed twice; DeltaNN counts the first as 0 -> 1.
  double p = 1 - std::sqrt(1.0 / 59.0);
  for (int i = 0; i < 2; ++i) {
    json& anova = lib["comparisons"][i]["comparison"]["oneway_exec_time"];
    EXPECT_NEAR(anova["statistic"].get<double>(), 1.0 / 29.0, 1e-15);
    EXPECT_NEAR(anova["p-value"].get<double>(), p, 1e-12);
    anova = "checked";
  }
  json expected = json::parse(R"({
    "comparisons": [
      {"base": "ort", "evaluated": "tvm", "comparison": {
        "total_no_of_images": 3, "no_of_images_similar": "1", "no_of_images_dissimilar": "1",
        "percentage_similar": "33.33333333333333", "percentage_dissimilar": "33.33333333333333",
        "orig_total_exec_time": 3.0, "average_orig_exec_time": 1.0,
        "images_dissimilar": ["dog.txt"], "diff_labels": {}, "oneway_exec_time": "checked"}},
      {"base": "tvm", "evaluated": "ort", "comparison": {
        "total_no_of_images": 2, "no_of_images_similar": "1", "no_of_images_dissimilar": "1",
        "percentage_similar": "50.0", "percentage_dissimilar": "50.0",
        "orig_total_exec_time": 3.5, "average_orig_exec_time": 1.75,
        "images_dissimilar": ["dog.txt"], "diff_labels": {}, "oneway_exec_time": "checked"}}
    ],
    "times": {"tvm": {"average_exec_time": 1.1666666666666667, "total_exec_time": 3.5},
              "ort": {"average_exec_time": 1.5, "total_exec_time": 3.0}},
    "total_images_dissimilar": {"dog.txt": 1}
  })");
  EXPECT_EQ(lib, expected) << lib.dump(2);

  json pct = ReadJson(dir / "library_evaluation_time_percentages.json");
  EXPECT_EQ(pct["ort"]["tvm"], json::parse("[-50.0, 50.0]"));
  EXPECT_EQ(pct["tvm"]["ort"], json::parse("[100.0, -33.33]"));
  EXPECT_NEAR(pct["ort"]["oneway_exec_time"]["p-value"].get<double>(), p, 1e-12);
  EXPECT_EQ(pct["ort"].size(), 2u);  // "tvm" and "oneway_exec_time"
  json stats = ReadJson(dir / "library_evaluation_time_stats.json");
  EXPECT_NEAR(stats["tvm"]["ort"]["statistic"].get<double>(), 1.0 / 29.0, 1e-15);
  EXPECT_EQ(stats.size(), 2u);
}

TEST(DeltaNNExport, LibraryEvaluationOpt3AndSingleLibrary) {
  TempDir tmp;
  fs::path out = tmp.path() / "out";
  ExportDeltaNN(Document(), out);
  // opt3: ort_threads-1 vs tvm, 3 files each, all top-1 equal -> "100.0" / "0.0"; every time
  // 1.0 s -> percentages 0.0; ANOVA of [1,1,1] vs [1,1,1]: SSW = SSB = 0 -> scipy NaN, which
  // DeltaNN writes as the string "NaN". Averages 3.0 / 3 = 1.0.
  json lib = ReadJson(out / "tiny_cnn/cpu/opt3/library_evaluation.json");
  ASSERT_EQ(lib["comparisons"].size(), 2u);
  json c = lib["comparisons"][0];
  EXPECT_EQ(c["base"], "ort_threads-1");
  EXPECT_EQ(c["evaluated"], "tvm");
  EXPECT_EQ(c["comparison"]["percentage_similar"], "100.0");
  EXPECT_EQ(c["comparison"]["percentage_dissimilar"], "0.0");
  EXPECT_EQ(c["comparison"]["no_of_images_dissimilar"], "0");
  EXPECT_EQ(c["comparison"]["images_dissimilar"], json::array());
  EXPECT_EQ(c["comparison"]["oneway_exec_time"],
            json::parse(R"({"statistic": "NaN", "p-value": "NaN"})"));
  EXPECT_EQ(lib["times"]["tvm"], json::parse(R"({"average_exec_time": 1.0,
                                                 "total_exec_time": 3.0})"));
  EXPECT_EQ(lib["total_images_dissimilar"], json::object());
  json pct = ReadJson(out / "tiny_cnn/cpu/opt3/library_evaluation_time_percentages.json");
  EXPECT_EQ(pct["tvm"]["ort_threads-1"], json::parse("[0.0, 0.0, 0.0]"));

  // opt_default holds ref alone: DeltaNN's loop writes its files with nothing compared.
  EXPECT_EQ(ReadJson(out / "tiny_cnn/cpu/opt_default/library_evaluation.json"),
            json::parse(R"({"comparisons": [], "times": {}, "total_images_dissimilar": {}})"));
  EXPECT_EQ(ReadJson(out / "tiny_cnn/cpu/opt_default/library_evaluation_time_percentages.json"),
            json::parse(R"({"ref": {}})"));
}

TEST(DeltaNNExport, DeviceAndSameFolderEvaluation) {
  TempDir tmp;
  fs::path out = tmp.path() / "out";
  ExportDeltaNN(Document(), out);
  // Only ort at opt0 exists on two devices (A cpu, F gpu0), with equal top-1s and equal times
  // [1, 2, 0.5]: similar 3 of 3 -> "100.0"; percentages 0.0; totals 3.5 each, averages
  // 3.5 / 3 = 1.1666666666666667; ANOVA: equal means -> SSB = 0, SSW = 2 * (0.5^2 + 0.5^2 +
  // 1^2)... > 0 -> F = 0, p = P(F(1,4) > 0) = 1.
  json dev = ReadJson(out / "tiny_cnn/device_evaluation.json");
  json one = {{"total_no_of_images", 3},
              {"no_of_images_similar", "3"},
              {"no_of_images_dissimilar", "0"},
              {"percentage_similar", "100.0"},
              {"percentage_dissimilar", "0.0"},
              {"total_exec_time", 3.5},
              {"orig_total_exec_time", 3.5},
              {"average_exec_time", 3.5 / 3},
              {"average_orig_exec_time", 3.5 / 3},
              {"images_dissimilar", json::array()},
              {"exec_time_percentages", {0.0, 0.0, 0.0}},
              {"diff_labels", json::object()},
              {"oneway_exec_time", {{"statistic", 0.0}, {"p-value", 1.0}}}};
  json expected = {
      {"ort",
       {{{"base", "cpu"}, {"evaluated", "gpu0"}, {"opt", "opt0"}, {"comparison", one}},
        {{"base", "gpu0"}, {"evaluated", "cpu"}, {"opt", "opt0"}, {"comparison", one}}}},
      {"tvm", json::array()},
      {"ort_threads-1", json::array()},
      {"ref", json::array()},
      {"total_images_dissimilar", json::object()}};
  EXPECT_EQ(dev, expected) << dev.dump(2);

  // One run folder (ts_0) -> DeltaNN's same-folder comparison is empty; total_avg_exec_time
  // = 0 / 1. Concord's repeat check rides along for A only.
  json same = ReadJson(out / "tiny_cnn/cpu/opt0/ort/mutations/same_folder_evaluation.json");
  EXPECT_EQ(same, json::parse(R"({"comparisons": [], "times": {}, "total_avg_exec_time": 0.0,
      "total_images_dissimilar": {},
      "concord_repeats": {"repeats": 3, "identical": true, "max_abs": 0.0}})"));
  json same_b = ReadJson(out / "tiny_cnn/cpu/opt0/tvm/mutations/same_folder_evaluation.json");
  EXPECT_FALSE(same_b.contains("concord_repeats"));
}

TEST(DeltaNNExport, MappingNamesFailedCells) {
  TempDir tmp;
  fs::path out = tmp.path() / "out";
  ExportDeltaNN(Document(), out);
  json m = ReadJson(out / "tiny_cnn/concord_mapping.json");
  EXPECT_EQ(m["inputs"], json::parse(R"([{"input": "cat.png", "file": "cat.txt"},
      {"input": "dog.jpg", "file": "dog.txt"}, {"input": "dog.png", "file": "dog_2.txt"}])"));
  EXPECT_EQ(m["failed"], json::parse(R"([{"env": "tvm@cpu,opt=0", "input": "dog.png"}])"));
  ASSERT_EQ(m["envs"].size(), 6u);
  EXPECT_EQ(m["envs"][2]["env"], kC);
  EXPECT_EQ(m["envs"][2]["folder"], "cpu/opt3/ort_threads-1/mutations/ts_0");
  EXPECT_EQ(m["envs"][2]["class_id_offset"], 1);
}

TEST(DeltaNNExport, SafeNamesAndTorchPaths) {
  // Model "my torch/v1.2" -> folder "my_torch_v1_2" ('/' and '.' -> '_'); its path contains
  // "torch", so DeltaNN reads ids as they are: ids are written canonical (offset 0). Env
  // "ort@gpu:0,opt=1,target=llvm -mcpu=x" -> device "gpu_0", opt1,
  // library "ort_target-llvm_-mcpu-x". Input "a/b.c.png" -> stem "a/b.c" -> "a_b_c.txt".
  json doc = Document();
  json& model = doc["models"][0];
  model["name"] = "my torch/v1.2";
  std::string env = "ort@gpu:0,opt=1,target=llvm -mcpu=x";
  doc["envs"] = {Env(env, "ort", "gpu:0", "1")};
  model["inputs"] = {{{"id", 1}, {"name", "a/b.c.png"}, {"label", nullptr}}};
  model["predictions"] = {{env, {Pred("a/b.c.png", kCat, 250)}}};
  TempDir tmp;
  fs::path out = tmp.path() / "out";
  ExportDeltaNN(doc, out);
  EXPECT_EQ(Read(out / "my_torch_v1_2/gpu_0/opt1/ort_target-llvm_-mcpu-x/mutations/ts_0/a_b_c.txt"),
            "281, 9.100000\n282, 8.500000\n285, 7.250000\n287, 6.000000\n700, 5.000000\n"
            "\n0.250000\n");
}

TEST(DeltaNNExport, RefusesNonEmptyOutAndAcceptsEmptyOne) {
  TempDir tmp;
  fs::path out = tmp.path() / "out";
  fs::create_directories(out);
  std::ofstream(out / "keep.txt") << "mine";
  ExpectKind([&] { ExportDeltaNN(Document(), out); }, ErrorKind::kInput);
  EXPECT_EQ(ListTree(out), std::vector<std::string>{"keep.txt"});  // untouched
  EXPECT_EQ(Read(out / "keep.txt"), "mine");

  fs::path empty = tmp.path() / "empty";
  fs::create_directories(empty);
  ExportDeltaNN(Document(), empty.string() + "/");  // trailing slash too
  EXPECT_TRUE(fs::exists(empty / "tiny_cnn/device_evaluation.json"));

  fs::path file = tmp.path() / "file";
  std::ofstream(file) << "x";
  ExpectKind([&] { ExportDeltaNN(Document(), file); }, ErrorKind::kInput);
}

TEST(DeltaNNExport, BadDocumentsLeaveNothingBehind) {
  TempDir tmp;
  fs::path out = tmp.path() / "out";
  auto expect_clean_failure = [&](const json& doc) {
    ExpectKind([&] { ExportDeltaNN(doc, out); }, ErrorKind::kInput);
    EXPECT_FALSE(fs::exists(out));
    EXPECT_TRUE(fs::is_empty(tmp.path())) << "a temporary folder was left behind";
  };
  json wrong_schema = Document();
  wrong_schema["schema"] = "concord.analysis/0";
  expect_clean_failure(wrong_schema);
  expect_clean_failure(json::array());
  json no_models = Document();
  no_models.erase("models");
  expect_clean_failure(no_models);
  // DeltaNN's files hold exactly 5 predictions: top_k 3 cannot be exported.
  expect_clean_failure(Document(3));
  // A prediction list shorter than the inputs (fails after files were written).
  json short_list = Document();
  short_list["models"][0]["predictions"][kF].erase(2);
  expect_clean_failure(short_list);
  json bad_top = Document();
  bad_top["models"][0]["predictions"][kF][0]["top"] = "oops";
  expect_clean_failure(bad_top);
  // Two envs that differ only in characters the safe names fold together.
  json collide = Document();
  collide["envs"][3] = Env("ort@cpu,opt=3,threads-1", "ort", "cpu", "3");
  collide["envs"][2] = Env("ort@cpu,opt=3,threads=1", "ort", "cpu", "3");
  collide["models"][0]["predictions"]["ort@cpu,opt=3,threads-1"] =
      collide["models"][0]["predictions"][kD];
  expect_clean_failure(collide);
  // Predictions for an env the "envs" list lacks.
  json stray = Document();
  stray["models"][0]["predictions"]["onnx@cpu"] = stray["models"][0]["predictions"][kA];
  expect_clean_failure(stray);
}

TEST(OneWayAnova, ClosedForms) {
  // [1, 2] vs [0.5, 3]: F = 1/29, df (1, 2): p = 1 - sqrt(F / (F + 2)) = 1 - sqrt(1/59).
  json r = OneWayAnova({1, 2}, {0.5, 3});
  EXPECT_NEAR(r["statistic"].get<double>(), 1.0 / 29.0, 1e-15);
  EXPECT_NEAR(r["p-value"].get<double>(), 1 - std::sqrt(1.0 / 59.0), 1e-12);
  // [0, 2] vs [4, 6]: means 1, 5, grand 3; SSB = 2*4 + 2*4 = 16; SSW = 1+1+1+1 = 4;
  // F = 16 / (4 / 2) = 8; p = 1 - sqrt(8 / 10) = 0.10557280900008414.
  r = OneWayAnova({0, 2}, {4, 6});
  EXPECT_DOUBLE_EQ(r["statistic"].get<double>(), 8);
  EXPECT_NEAR(r["p-value"].get<double>(), 1 - std::sqrt(0.8), 1e-12);
  // [1, 1] vs [2, 2]: no spread within, some between -> F = inf, p = 0.
  EXPECT_EQ(OneWayAnova({1, 1}, {2, 2}),
            json::parse(R"({"statistic": "Infinity", "p-value": 0.0})"));
  // All equal, or one value per group (no degrees of freedom within) -> NaN.
  json nan = json::parse(R"({"statistic": "NaN", "p-value": "NaN"})");
  EXPECT_EQ(OneWayAnova({1, 1}, {1, 1}), nan);
  EXPECT_EQ(OneWayAnova({1}, {2}), nan);
  EXPECT_EQ(OneWayAnova({}, {}), nan);
}

}  // namespace
}  // namespace concord::report
