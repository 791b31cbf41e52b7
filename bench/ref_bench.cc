// Reference-interpreter speed on MobileNetV2- and ResNet-18-shaped models (random weights,
// made by scripts/make_models.py bench bench/models). Reports latency per inference and
// achieved GFLOP/s (Conv/Gemm/MatMul multiply-adds x 2, counted from the inferred shapes).
// The argument is the thread count (interpreter kernels and OpenBLAS alike).
//   build/bin/ref_bench --benchmark_min_time=5
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <filesystem>
#include <map>

#include "ir/model.h"
#include "ref/interpreter.h"

namespace {

using concord::Model;

int64_t Dims(const onnx::TypeProto* t, std::vector<int64_t>* out) {
  out->clear();
  if (t == nullptr || !t->has_tensor_type()) return 0;
  int64_t n = 1;
  for (const auto& d : t->tensor_type().shape().dim()) {
    out->push_back(d.dim_value());
    n *= d.dim_value();
  }
  return n;
}

double CountFlops(const Model& m) {
  std::map<std::string, const onnx::TensorProto*> inits;
  for (const auto& t : m.graph().initializer()) inits[t.name()] = &t;
  double flops = 0;
  std::vector<int64_t> out_shape, in_shape;
  for (const auto& n : m.graph().node()) {
    if (n.op_type() == "Conv" && inits.count(n.input(1))) {
      const auto* w = inits[n.input(1)];
      int64_t out = Dims(m.FindType(n.output(0)), &out_shape);
      int64_t per_out = 1;
      for (int i = 1; i < w->dims_size(); ++i) per_out *= w->dims(i);
      flops += 2.0 * static_cast<double>(out) * static_cast<double>(per_out);
    } else if ((n.op_type() == "Gemm" || n.op_type() == "MatMul") && inits.count(n.input(1))) {
      const auto* w = inits[n.input(1)];
      int64_t out = Dims(m.FindType(n.output(0)), &out_shape);
      bool trans_b = false;
      for (const auto& a : n.attribute()) trans_b |= a.name() == "transB" && a.i() == 1;
      int64_t k = trans_b ? w->dims(1) : w->dims(0);
      flops += 2.0 * static_cast<double>(out) * static_cast<double>(k);
    }
  }
  return flops;
}

void BM_Ref(benchmark::State& state, const std::string& path) {
  if (!std::filesystem::exists(path)) {
    state.SkipWithError(
        ("missing " + path + " (run scripts/make_models.py bench bench/models)").c_str());
    return;
  }
  openblas_set_num_threads(static_cast<int>(state.range(0)));
  Model model = Model::Load(path);
  double flops = CountFlops(model);
  // threads for both the interpreter's kernels and OpenBLAS, as the ref backend sets them
  concord::ref::Interpreter interp(model, concord::ref::DefaultRegistry(),
                                   static_cast<int>(state.range(0)));
  concord::Tensor x(concord::DType::kFloat32, {1, 3, 224, 224});
  for (int64_t i = 0; i < x.numel(); ++i)
    x.data<float>()[i] = static_cast<float>((i % 255) / 255.0 - 0.5);
  std::map<std::string, concord::Value> feeds = {{"input", x}};
  interp.Run(feeds);  // first inference reported by the harness as warm-up
  for (auto _ : state) {
    auto out = interp.Run(feeds);
    benchmark::DoNotOptimize(out);
  }
  state.counters["GFLOP"] = flops / 1e9;
  state.counters["GFLOPS"] = benchmark::Counter(
      flops * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(std::to_string(state.range(0)) + " thread(s)");
}

}  // namespace

BENCHMARK_CAPTURE(BM_Ref, mobilenetv2_shaped,
                  std::string(CONCORD_BENCH_MODELS "/mobilenetv2_shaped.onnx"))
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Ref, resnet18_shaped,
                  std::string(CONCORD_BENCH_MODELS "/resnet18_shaped.onnx"))
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_MAIN();
