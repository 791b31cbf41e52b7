// A small but realistic analysis document (schema concord.analysis/1, see report/analysis.h)
// for tests of the renderers and of `concord report`: no store, no runtimes needed.
//
// Contents (hand-computed so tests can assert exact values):
//   envs: ort@cpu,opt=3 | ort@cpu,opt=0 | tvm@cpu,opt=3 | tvm@opencl,opt=3
//         (pairs cover every DeltaNN kind: opt, library, device and other)
//   model "cifar_cnn": 10 CIFAR-10 classes, top-5, 5 inputs (4 labelled, one named with '&'),
//     one failed cell (tvm@cpu,opt=3 on truck_02.png, message with < > & " '), one disagreeing
//     input ("dog & friend.png": tvm@opencl says cat), thumbnails, resources, time change.
//     Accuracy (top-1 / top-5): both ort envs 0.75 / 1.0 (truck_02 -> automobile), tvm@cpu
//     1.0 / 1.0 over 3 inputs (its truck_02 cell failed), tvm@opencl 0.5 / 1.0.
//   model "mlp_tiny": no class names, no labels, no errors, no disagreements, no resources,
//     null first-inference / prepare times: the "nothing to show" paths.
// Header-only; the document is built fresh on every call, so tests may modify it.
#pragma once

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace concord::report::testing {

// A 16x16 PNG (checkerboard with gradients), as image inputs' thumbnails are embedded.
inline constexpr const char* kFixtureThumbnail =
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAABrElEQVR42hWSIRZFIQhE/8LMZvNkM9lMNpvNZjP5Zlf0e"
    "TbP4QIzw0+lqBa1IhV6wQqj4EWzaBXtolO4hShQeOWnUlWrWpUqvWKVUfGqWbWqdtWp3EpUqLyaQFNtak1q9IY1RsObZtN"
    "q2k2ncRvRoPFaAtk6i5WPLkwM4dKUlrSlI64IgXj6UTq10zrq6l3WNbq8Mzurszun63ZF//q9noBRjWbI1E1mGiY3prGM"
    "bRzTNYV9058lMKiDNtBQH7KhMeSDOViDPThDdyjGt+sbCTjVaY5c3WWu4XJnOsvZznFdV/in7HmKnqpTLTVO+sQmY+JTc"
    "2pN7akzuZOYMHkzgaW61NKRRV/YYix8aS6tpb10FncRCxZvJbBVt1r6t+kb24yNb82ttbW3zuZuYsPm7QSO6lE7aTj9YI"
    "dx8KN5tI720TncQxw4vJOiL/XSLrrqV3Y1rvwyL+uyL+fqXsX98ns3gaAGLVCohyw0Qh7MYAU7OKEbivjSfpHAd1R5Jhm"
    "8Mu4MMCPxz5IUmWvnIsrx2TBLHgk86qO9/Kk/2dN48sd8rMd+nKf7FO+7pPf+fcCfEEA6wH8AAAAASUVORK5CYII=";

inline const std::vector<std::string>& FixtureEnvs() {
  static const std::vector<std::string> envs = {"ort@cpu,opt=3", "ort@cpu,opt=0", "tvm@cpu,opt=3",
                                                "tvm@opencl,opt=3"};
  return envs;
}

namespace fixture_detail {

// Linear-interpolation percentile (NumPy "linear"), as report/metrics.h defines it.
inline double Percentile(std::vector<double> x, double p) {
  std::sort(x.begin(), x.end());
  double pos = p / 100.0 * static_cast<double>(x.size() - 1);
  size_t i = static_cast<size_t>(pos);
  double f = pos - static_cast<double>(i);
  return i + 1 < x.size() ? x[i] + (x[i + 1] - x[i]) * f : x[i];
}

inline nlohmann::json LatencyStats(const std::vector<double>& x) {
  if (x.empty()) return nullptr;
  double mean = 0;
  for (double v : x) mean += v;
  mean /= static_cast<double>(x.size());
  double var = 0;
  for (double v : x) var += (v - mean) * (v - mean);
  var /= static_cast<double>(x.size());
  return {{"n", x.size()},
          {"mean", mean},
          {"std", std::sqrt(var)},
          {"median", Percentile(x, 50)},
          {"p90", Percentile(x, 90)},
          {"p99", Percentile(x, 99)},
          {"min", *std::min_element(x.begin(), x.end())},
          {"max", *std::max_element(x.begin(), x.end())}};
}

inline nlohmann::json Env(const std::string& env, const std::string& backend,
                          const std::string& device, const std::string& opt,
                          const nlohmann::json& threads, const nlohmann::json& versions) {
  nlohmann::json machine = {{"hostname", "bench-01"}, {"cpu", "AMD EPYC 7B13"}, {"cores", 2}};
  return {{"env", env}, {"backend", backend}, {"library", backend},   {"device", device},
          {"opt", opt}, {"threads", threads}, {"versions", versions}, {"machine", machine}};
}

}  // namespace fixture_detail

inline nlohmann::json FixtureCifarModel() {
  using nlohmann::json;
  namespace d = fixture_detail;
  const std::vector<std::string>& envs = FixtureEnvs();
  const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                          "dog",      "frog",       "horse", "ship", "truck"};
  const std::vector<std::string> inputs = {"cat_01.png", "dog & friend.png", "ship_07.png",
                                           "truck_02.png", "unlabelled_05.png"};
  const std::vector<json> labels = {3, 5, 8, 9, nullptr};
  // Top-5 per input as ort@cpu,opt=3 computes it; the other envs differ as noted below.
  const std::vector<std::vector<int>> top = {
      {3, 5, 2, 4, 6}, {5, 3, 4, 6, 2}, {8, 0, 9, 1, 2}, {1, 9, 8, 0, 3}, {0, 8, 2, 9, 1}};
  const std::vector<std::vector<double>> scores = {{9.1, 7.2, 3.3, 2.0, 1.1},
                                                   {6.2, 6.0, 2.1, 1.0, 0.5},
                                                   {11.0, 4.2, 3.9, 1.5, 0.2},
                                                   {7.5, 7.1, 2.2, 1.9, 0.4},
                                                   {8.8, 5.5, 2.5, 1.2, 0.9}};
  const std::vector<double> base_ms = {5.0, 5.4, 4.8, 5.2, 5.1};
  const std::vector<double> env_factor = {1.0, 1.6, 0.7, 0.45};

  json model;
  model["name"] = "cifar_cnn";
  model["sha256"] = "9f2c4e1b7a6d5c3e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcde";
  model["path"] = "/data/models/cifar_cnn.onnx";
  model["label_space"] = {{"num_classes", 10}, {"offset", 0}};
  model["class_names"] = names;
  model["top_k"] = 5;
  model["preprocess"] = {{"layout", "NCHW"}, {"size", {32, 32}}, {"mean", {0.49, 0.48, 0.45}}};
  model["inputs"] = json::array();
  for (size_t i = 0; i < inputs.size(); ++i) {
    model["inputs"].push_back({{"id", i + 1},
                               {"name", inputs[i]},
                               {"label", labels[i]},
                               {"thumbnail", kFixtureThumbnail}});
  }
  model["cells"] = {{"total", 60}, {"ok", 57}, {"error", 3}};
  const std::string error_message =
      "tvm@cpu,opt=3: shape mismatch at node \"conv_3\" <Conv> & 'reshape': "
      "<script>alert(1)</script>";
  model["errors"] = json::array();
  for (int r = 0; r < 3; ++r) {
    model["errors"].push_back(
        {{"env", envs[2]}, {"input", "truck_02.png"}, {"repeat", r}, {"error", error_message}});
  }

  // predictions / per-env samples
  model["predictions"] = json::object();
  std::vector<std::vector<double>> samples(envs.size());
  std::vector<std::vector<json>> input_ms(envs.size());
  for (size_t e = 0; e < envs.size(); ++e) {
    json list = json::array();
    for (size_t i = 0; i < inputs.size(); ++i) {
      bool failed = e == 2 && i == 3;
      std::vector<int> t = top[i];
      std::vector<double> s = scores[i];
      if (e == 3 && i == 1) {  // tvm@opencl: cat over dog
        std::swap(t[0], t[1]);
        s[0] = 6.1;
        s[1] = 6.05;
      }
      for (double& v : s) v += 0.001 * static_cast<double>(e);  // small numeric drift
      std::vector<double> reps;
      for (int r = 0; r < 3; ++r) {
        reps.push_back(base_ms[i] * env_factor[e] * (1.0 + 0.04 * r));  // slower repeats
      }
      if (failed) {
        list.push_back(nullptr);
        input_ms[e].push_back(nullptr);
        continue;
      }
      samples[e].insert(samples[e].end(), reps.begin(), reps.end());
      double median = d::Percentile(reps, 50);
      input_ms[e].push_back(median);
      list.push_back({{"input", inputs[i]}, {"top", t}, {"scores", s}, {"ms", reps[0]}});
    }
    model["predictions"][envs[e]] = list;
  }

  // pairs (a before b in env order)
  auto pair = [&](int a, int b, const char* kind, int n, double agree, double jac, double tau,
                  double max_abs, int identical, bool dog) {
    return json{{"a", envs[a]},
                {"b", envs[b]},
                {"kind", kind},
                {"inputs", n},
                {"top1_agree", agree},
                {"topk_jaccard", jac},
                {"kendall_tau", tau},
                {"max_abs", max_abs},
                {"max_rel", max_abs * 40},
                {"min_cosine", 1.0 - max_abs},
                {"identical_outputs", identical},
                {"disagreeing_inputs", dog ? json::array({"dog & friend.png"}) : json::array()}};
  };
  model["pairs"] = json::array({pair(0, 1, "opt", 5, 1.0, 1.0, 1.0, 2.4e-6, 2, false),
                                pair(0, 2, "library", 4, 1.0, 1.0, 0.95, 3.1e-5, 0, false),
                                pair(0, 3, "other", 5, 0.8, 0.96, 0.88, 0.21, 0, true),
                                pair(1, 2, "other", 4, 1.0, 1.0, 0.95, 3.0e-5, 0, false),
                                pair(1, 3, "other", 5, 0.8, 0.96, 0.88, 0.21, 0, true),
                                pair(2, 3, "device", 4, 0.75, 0.95, 0.85, 0.21, 0, true)});
  model["repeats"] = json::array();
  for (size_t e = 0; e < envs.size(); ++e) {
    model["repeats"].push_back({{"env", envs[e]},
                                {"repeats", 3},
                                {"identical", e != 3},
                                {"max_abs", e != 3 ? 0.0 : 1.2e-6}});
  }

  // disagreements: the dog input, every env ran it
  json dis_top = json::object();
  for (size_t e = 0; e < envs.size(); ++e) {
    const json& p = model["predictions"][envs[e]][1];
    json list = json::array();
    for (size_t k = 0; k < 5; ++k) {
      int c = p["top"][k];
      list.push_back({{"class", c}, {"name", names[c]}, {"score", p["scores"][k]}});
    }
    dis_top[envs[e]] = list;
  }
  model["disagreements"] = json::array({{{"input", "dog & friend.png"},
                                         {"label", 5},
                                         {"thumbnail", kFixtureThumbnail},
                                         {"top", dis_top}}});

  // quality: labelled inputs cat(3) dog(5) ship(8) truck(9); every env says automobile(1) for
  // the truck, tvm@cpu failed on it, tvm@opencl says cat for the dog.
  auto cls = [&](int c, int support, int predicted, json precision, json sensitivity) {
    return json{{"class", c},
                {"name", names[c]},
                {"support", support},
                {"predicted", predicted},
                {"precision", precision},
                {"sensitivity", sensitivity}};
  };
  json q_ort = {
      {"n", 4},
      {"top1_accuracy", 0.75},
      {"topk_accuracy", 1.0},
      {"gmean", 0.0},
      {"classes", {1, 3, 5, 8, 9}},
      {"class_names", {"automobile", "cat", "dog", "ship", "truck"}},
      {"confusion",
       {{0, 0, 0, 0, 0}, {0, 1, 0, 0, 0}, {0, 0, 1, 0, 0}, {0, 0, 0, 1, 0}, {1, 0, 0, 0, 0}}},
      {"per_class",
       {cls(1, 0, 1, 0.0, nullptr), cls(3, 1, 1, 1.0, 1.0), cls(5, 1, 1, 1.0, 1.0),
        cls(8, 1, 1, 1.0, 1.0), cls(9, 1, 0, 0.0, 0.0)}}};
  json q_tvm_cpu = {
      {"n", 3},
      {"top1_accuracy", 1.0},
      {"topk_accuracy", 1.0},
      {"gmean", 1.0},
      {"classes", {3, 5, 8}},
      {"class_names", {"cat", "dog", "ship"}},
      {"confusion", {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}},
      {"per_class", {cls(3, 1, 1, 1.0, 1.0), cls(5, 1, 1, 1.0, 1.0), cls(8, 1, 1, 1.0, 1.0)}}};
  json q_tvm_cl = {
      {"n", 4},
      {"top1_accuracy", 0.5},
      {"topk_accuracy", 1.0},
      {"gmean", 0.0},
      {"classes", {1, 3, 5, 8, 9}},
      {"class_names", {"automobile", "cat", "dog", "ship", "truck"}},
      {"confusion",
       {{0, 0, 0, 0, 0}, {0, 1, 0, 0, 0}, {0, 1, 0, 0, 0}, {0, 0, 0, 1, 0}, {1, 0, 0, 0, 0}}},
      {"per_class",
       {cls(1, 0, 1, 0.0, nullptr), cls(3, 1, 2, 0.5, 1.0), cls(5, 1, 0, 0.0, 0.0),
        cls(8, 1, 1, 1.0, 1.0), cls(9, 1, 0, 0.0, 0.0)}}};
  model["quality"] = json::array();
  for (size_t e = 0; e < envs.size(); ++e) {
    json q = e < 2 ? q_ort : e == 2 ? q_tvm_cpu : q_tvm_cl;
    q["env"] = envs[e];
    model["quality"].push_back(q);
  }

  // performance
  model["performance"] = json::array();
  for (size_t e = 0; e < envs.size(); ++e) {
    json res = {{"t_s", json::array()}, {"cpu_percent", json::array()}, {"rss_mb", json::array()}};
    double peak = 0, cpu_sum = 0;
    for (int k = 0; k < 8; ++k) {
      double cpu = (e == 3 ? 35.0 : 92.0) + 6.0 * std::sin(k + static_cast<double>(e));
      double rss = 80.0 + 20.0 * static_cast<double>(e) + 3.0 * k;
      res["t_s"].push_back(0.25 * k);
      res["cpu_percent"].push_back(cpu);
      res["rss_mb"].push_back(rss);
      peak = std::max(peak, rss);
      cpu_sum += cpu;
    }
    model["performance"].push_back({{"env", envs[e]},
                                    {"latency_ms", d::LatencyStats(samples[e])},
                                    {"latencies_ms", samples[e]},
                                    {"first_inference_ms", 12.0 * env_factor[e] + 4.0},
                                    {"prepare_ms", e >= 2 ? 2400.0 + 300 * e : 35.0},
                                    {"resources", res},
                                    {"mean_cpu_percent", cpu_sum / 8},
                                    {"peak_rss_mb", peak}});
  }

  // time change vs the first env
  json tc = {{"baseline", envs[0]}, {"inputs", json::array()}};
  for (size_t i = 0; i < inputs.size(); ++i) {
    json ms = json::object(), change = json::object();
    double base = input_ms[0][i].get<double>();
    for (size_t e = 0; e < envs.size(); ++e) {
      ms[envs[e]] = input_ms[e][i];
      change[envs[e]] = input_ms[e][i].is_null()
                            ? json(nullptr)
                            : json(100.0 * (input_ms[e][i].get<double>() - base) / base);
    }
    tc["inputs"].push_back({{"input", inputs[i]}, {"ms", ms}, {"change_pct", change}});
  }
  model["time_change"] = tc;
  return model;
}

// The second model: everything optional is empty or null.
inline nlohmann::json FixtureMlpModel() {
  using nlohmann::json;
  const std::vector<std::string>& envs = FixtureEnvs();
  json model = {{"name", "mlp_tiny"},
                {"sha256", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
                {"path", "/data/models/mlp_tiny.onnx"},
                {"label_space", {{"num_classes", 4}, {"offset", 0}}},
                {"class_names", json::array()},
                {"top_k", 3},
                {"preprocess", nullptr},
                {"inputs",
                 {{{"id", 1}, {"name", "vec_0.bin"}, {"label", nullptr}, {"thumbnail", nullptr}},
                  {{"id", 2}, {"name", "vec_1.bin"}, {"label", nullptr}, {"thumbnail", nullptr}}}},
                {"cells", {{"total", 8}, {"ok", 8}, {"error", 0}}},
                {"errors", json::array()},
                {"predictions", json::object()},
                {"pairs", json::array()},
                {"repeats", json::array()},
                {"disagreements", json::array()},
                {"quality", json::array()},
                {"performance", json::array()}};
  json tc = {{"baseline", envs[0]}, {"inputs", json::array()}};
  for (int i = 0; i < 2; ++i)
    tc["inputs"].push_back({{"input", i == 0 ? "vec_0.bin" : "vec_1.bin"},
                            {"ms", json::object()},
                            {"change_pct", json::object()}});
  for (size_t e = 0; e < envs.size(); ++e) {
    json list = json::array();
    for (int i = 0; i < 2; ++i) {
      list.push_back({{"input", i == 0 ? "vec_0.bin" : "vec_1.bin"},
                      {"top", {2, 0, 1}},
                      {"scores", {0.7, 0.2, 0.1}},
                      {"ms", 0.05 + 0.01 * e}});
      tc["inputs"][i]["ms"][envs[e]] = 0.05 + 0.01 * e;
      tc["inputs"][i]["change_pct"][envs[e]] = 20.0 * e;
    }
    model["predictions"][envs[e]] = list;
    std::vector<double> lat = {0.05 + 0.01 * e, 0.06 + 0.01 * e};
    model["performance"].push_back(
        {{"env", envs[e]},
         {"latency_ms", fixture_detail::LatencyStats(lat)},
         {"latencies_ms", lat},
         {"first_inference_ms", nullptr},
         {"prepare_ms", nullptr},
         {"resources",
          {{"t_s", json::array()}, {"cpu_percent", json::array()}, {"rss_mb", json::array()}}},
         {"mean_cpu_percent", nullptr},
         {"peak_rss_mb", nullptr}});
    model["repeats"].push_back(
        {{"env", envs[e]}, {"repeats", 1}, {"identical", true}, {"max_abs", 0.0}});
    for (size_t f = e + 1; f < envs.size(); ++f) {
      const char* kinds[4][4] = {{"", "opt", "library", "other"},
                                 {"", "", "other", "other"},
                                 {"", "", "", "device"},
                                 {"", "", "", ""}};
      model["pairs"].push_back({{"a", envs[e]},
                                {"b", envs[f]},
                                {"kind", kinds[e][f]},
                                {"inputs", 2},
                                {"top1_agree", 1.0},
                                {"topk_jaccard", 1.0},
                                {"kendall_tau", 1.0},
                                {"max_abs", 0.0},
                                {"max_rel", 0.0},
                                {"min_cosine", 1.0},
                                {"identical_outputs", 2},
                                {"disagreeing_inputs", json::array()}});
    }
  }
  model["time_change"] = tc;
  return model;
}

inline nlohmann::json FixtureAnalysis() {
  using nlohmann::json;
  namespace d = fixture_detail;
  const std::vector<std::string>& envs = FixtureEnvs();
  json ort_versions = {{"onnxruntime", "1.23.2"}, {"onnx", "1.17.0"}};
  json tvm_versions = {{"tvm", "0.27.0"}, {"llvm", "14.0.6"}};
  json doc;
  doc["schema"] = "concord.analysis/1";
  doc["store"] = "/tmp/demo/concord.db";
  doc["generated_at"] = "2026-11-22T03:04:05Z";
  doc["campaign"] = {{"name", "demo"}, {"config", {{"repeats", 3}, {"envs", envs}, {"warmup", 1}}}};
  doc["machine"] = {{"hostname", "bench-01"}, {"cpu", "AMD EPYC 7B13"}, {"cores", 2}};
  doc["envs"] = json::array({d::Env(envs[0], "ort", "cpu", "3", "1", ort_versions),
                             d::Env(envs[1], "ort", "cpu", "0", "1", ort_versions),
                             d::Env(envs[2], "tvm", "cpu", "3", nullptr, tvm_versions),
                             d::Env(envs[3], "tvm", "opencl", "3", nullptr, tvm_versions)});
  doc["models"] = json::array({FixtureCifarModel(), FixtureMlpModel()});
  return doc;
}

}  // namespace concord::report::testing
