// ThreadPool::ParallelFor, and the interpreter's promise built on it: a model's outputs are
// bitwise identical for every thread count.
#include "ref/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <random>

#include "ir/error.h"
#include "ir/tensor_io.h"
#include "ref/interpreter.h"
#include "testing/graph_builder.h"

namespace concord::ref {
namespace {

using test::GraphBuilder;

// Every index of [0, n) is visited exactly once, in contiguous chunks, whatever n and threads.
TEST(ThreadPool, CoversEveryIndexOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 3, 5, 7, 100, 1001}) {
      std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
      std::atomic<int> chunks{0};
      pool.ParallelFor(n, 1, [&](int64_t begin, int64_t end) {
        EXPECT_LT(begin, end);
        ++chunks;
        for (int64_t i = begin; i < end; ++i) ++seen[static_cast<size_t>(i)];
      });
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], 1) << n << " " << i;
      // fewer items than threads: one chunk per item, never an empty chunk
      EXPECT_EQ(chunks, std::min<int64_t>(n, threads)) << "n=" << n << " threads=" << threads;
    }
  }
}

TEST(ThreadPool, GrainLimitsChunks) {
  ThreadPool pool(4);
  std::atomic<int> chunks{0};
  pool.ParallelFor(10, 4, [&](int64_t begin, int64_t end) {
    EXPECT_GE(end - begin, 4);
    ++chunks;
  });
  EXPECT_EQ(chunks, 2);  // 10 items of grain 4: two chunks of 5
  chunks = 0;
  pool.ParallelFor(7, 4, [&](int64_t, int64_t) { ++chunks; });
  EXPECT_EQ(chunks, 1);
}

// A worker's exception reaches the caller as the same Error, after every chunk has finished;
// with several failing chunks, the lowest one's.
TEST(ThreadPool, WorkerExceptionPropagatesAsError) {
  ThreadPool pool(3);
  std::atomic<int> finished{0};
  try {
    pool.ParallelFor(3, 1, [&](int64_t begin, int64_t) {
      if (begin >= 1) {
        throw Error(ErrorKind::kRuntime, "chunk " + std::to_string(begin) + " failed");
      }
      ++finished;
    });
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRuntime);
    EXPECT_STREQ(e.what(), "chunk 1 failed");
  }
  EXPECT_EQ(finished, 1);
  // the pool stays usable after a failure
  std::atomic<int64_t> sum{0};
  pool.ParallelFor(100, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) sum += i;
  });
  EXPECT_EQ(sum, 4950);
}

TEST(ThreadPool, NestedCallRunsSerially) {
  ThreadPool pool(2);
  std::atomic<int> inner_chunks{0};
  pool.ParallelFor(2, 1, [&](int64_t, int64_t) {
    pool.ParallelFor(100, 1, [&](int64_t begin, int64_t end) {
      EXPECT_EQ(begin, 0);
      EXPECT_EQ(end, 100);
      ++inner_chunks;
    });
  });
  EXPECT_EQ(inner_chunks, 2);
}

// Conv (dense 3x3 stride 2, depthwise 3x3, depthwise 5x5 stride 2 with channel multiplier 2 and
// dilation, 1x1), Clip, Add, Relu, MaxPool, AveragePool, BatchNormalization, GlobalAveragePool:
// the op mix of the MobileNet/ResNet-shaped benchmark models, at a size where every kernel
// splits its work over threads (each tensor holds at least two element-wise grains).
Model MixedModel() {
  GraphBuilder b("mixed", 13, 11);
  b.Input("x", {1, 3, 128, 128});
  auto conv = [&](const std::string& in, const std::string& out, int64_t cin, int64_t cout,
                  int64_t k, int64_t stride, int64_t group, int64_t dilation) {
    std::string w = b.Weight({cout, cin / group, k, k}, 0.3f);
    std::string bias = b.Weight({cout}, 0.1f);
    auto* n = b.Node("Conv", out, {in, w, bias}, {out});
    int64_t p = (k / 2) * dilation;
    GraphBuilder::Ints(n, "kernel_shape", {k, k});
    GraphBuilder::Ints(n, "strides", {stride, stride});
    GraphBuilder::Ints(n, "dilations", {dilation, dilation});
    GraphBuilder::Ints(n, "pads", {p, p, p, p});
    GraphBuilder::Int(n, "group", group);
  };
  conv("x", "c1", 3, 16, 3, 2, 1, 1);  // 64x64
  b.Node("Clip", "r1", {"c1", b.Const(0), b.Const(6)}, {"r1"});
  conv("r1", "dw1", 16, 16, 3, 1, 16, 1);  // depthwise 3x3
  b.Node("Clip", "r2", {"dw1", b.Const(0), b.Const(6)}, {"r2"});
  conv("r2", "pw1", 16, 16, 1, 1, 1, 1);  // pointwise
  b.Node("Add", "add", {"pw1", "r1"}, {"add"});
  conv("add", "dw2", 16, 32, 5, 2, 16, 2);  // 32x32, multiplier 2, dilation 2
  b.Node("Relu", "relu", {"dw2"}, {"relu"});
  auto* mp = b.Node("MaxPool", "mp", {"relu"}, {"mp"});  // 16x16
  GraphBuilder::Ints(mp, "kernel_shape", {3, 3});
  GraphBuilder::Ints(mp, "strides", {2, 2});
  GraphBuilder::Ints(mp, "pads", {1, 1, 1, 1});
  auto* ap = b.Node("AveragePool", "ap", {"mp"}, {"ap"});
  GraphBuilder::Ints(ap, "kernel_shape", {3, 3});
  GraphBuilder::Ints(ap, "pads", {1, 1, 1, 1});
  std::string scale = b.Weight({32}, 1.0f), bias = b.Weight({32}, 1.0f);
  std::string mean = b.Weight({32}, 1.0f);
  std::vector<float> var(32);
  for (size_t i = 0; i < var.size(); ++i) var[i] = 0.5f + 0.1f * static_cast<float>(i);
  b.Init("var", Tensor::FromVector<float>({32}, var));
  b.Node("BatchNormalization", "bn", {"ap", scale, bias, mean, "var"}, {"bn"});
  b.Node("GlobalAveragePool", "gap", {"bn"}, {"gap"});
  b.Output("gap", {1, 32, 1, 1});
  b.Output("add", {1, 16, 64, 64});
  b.Output("dw2", {1, 32, 32, 32});
  return b.Build();
}

Tensor RandomInput() {
  Tensor x(DType::kFloat32, {1, 3, 128, 128});
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = dist(rng);
  return x;
}

TEST(Interpreter, OutputsAreBitwiseIdenticalForEveryThreadCount) {
  Model model = MixedModel();
  std::map<std::string, Value> feeds = {{"x", RandomInput()}};
  std::vector<Value> base = Interpreter(model, DefaultRegistry(), 1).Run(feeds);
  ASSERT_EQ(base.size(), 3u);
  for (int threads : {2, 3}) {
    std::vector<Value> got = Interpreter(model, DefaultRegistry(), threads).Run(feeds);
    ASSERT_EQ(got.size(), base.size());
    for (size_t i = 0; i < got.size(); ++i) {
      const Tensor& a = base[i].tensor;
      const Tensor& b = got[i].tensor;
      ASSERT_EQ(a.shape(), b.shape());
      EXPECT_EQ(std::memcmp(a.data<float>(), b.data<float>(), sizeof(float) * a.numel()), 0)
          << "output " << i << " differs at threads=" << threads;
    }
  }
}

// The direct depthwise kernel against a naive loop over the ONNX definition, in double:
// 5x5, stride 2, dilation 2, channel multiplier 2, padding on every side.
TEST(Interpreter, DepthwiseConvMatchesDefinition) {
  Model model = MixedModel();
  std::map<std::string, Value> feeds = {{"x", RandomInput()}};
  std::map<std::string, Value> taps;
  Interpreter(model, DefaultRegistry(), 2).Run(feeds, &taps);
  const Tensor& in = taps.at("add").tensor;   // [1, 16, 64, 64]
  const Tensor& out = taps.at("dw2").tensor;  // [1, 32, 32, 32]
  const onnx::NodeProto* dw2 = nullptr;
  for (const auto& n : model.graph().node()) {
    if (n.name() == "dw2") dw2 = &n;
  }
  ASSERT_NE(dw2, nullptr);
  const onnx::NodeProto& node = *dw2;
  std::map<std::string, const onnx::TensorProto*> inits;
  for (const auto& t : model.graph().initializer()) inits[t.name()] = &t;
  Tensor wt = TensorFromProto(*inits.at(node.input(1)), ".", "W");
  Tensor bt = TensorFromProto(*inits.at(node.input(2)), ".", "B");
  std::vector<float> w(wt.data<float>(), wt.data<float>() + wt.numel());
  std::vector<float> bias(bt.data<float>(), bt.data<float>() + bt.numel());
  ASSERT_EQ(w.size(), 32u * 25u);
  const float* x = in.data<float>();
  for (int64_t m = 0; m < 32; ++m) {
    for (int64_t oh = 0; oh < 32; ++oh) {
      for (int64_t ow = 0; ow < 32; ++ow) {
        double acc = bias[static_cast<size_t>(m)];
        for (int64_t kh = 0; kh < 5; ++kh) {
          for (int64_t kw = 0; kw < 5; ++kw) {
            int64_t ih = oh * 2 - 4 + kh * 2, iw = ow * 2 - 4 + kw * 2;
            if (ih < 0 || ih >= 64 || iw < 0 || iw >= 64) continue;
            acc += static_cast<double>(w[static_cast<size_t>(m * 25 + kh * 5 + kw)]) *
                   x[(m / 2) * 4096 + ih * 64 + iw];
          }
        }
        float got = out.data<float>()[(m * 32 + oh) * 32 + ow];
        EXPECT_NEAR(got, acc, 1e-5 * (1 + std::fabs(acc))) << m << " " << oh << " " << ow;
      }
    }
  }
}

// A classifier-sized Gemm (1 x 1280 by 1280 x 1000, MobileNetV2's): its columns are split over
// the threads, and no split may send a piece to OpenBLAS's small-matrix kernels (products up to
// 10^6 multiply-adds on SkylakeX-class cores), which round differently: at every thread count
// the output is bitwise the single-threaded one.
TEST(Interpreter, SplitGemmIsBitwiseTheSameAtEveryThreadCount) {
  const int64_t K = 1280, N = 1000;
  GraphBuilder b("fc", 13, 5);
  b.Input("x", {1, K});
  b.Output("y", {1, N});
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> w(K * N), bias(N), x(K);
  for (auto* v : {&w, &bias, &x}) {
    for (auto& e : *v) e = u(rng);
  }
  b.Init("w", Tensor::FromVector<float>({N, K}, w));
  b.Init("b", Tensor::FromVector<float>({N}, bias));
  GraphBuilder::Int(b.Node("Gemm", "fc", {"x", "w", "b"}, {"y"}), "transB", 1);
  Model model = b.Build();
  std::map<std::string, Value> feeds = {{"x", Tensor::FromVector<float>({1, K}, x)}};
  Tensor one = Interpreter(model, DefaultRegistry(), 1).Run(feeds).at(0).tensor;
  for (int threads : {2, 3, 4}) {
    Tensor many = Interpreter(model, DefaultRegistry(), threads).Run(feeds).at(0).tensor;
    EXPECT_EQ(std::memcmp(one.data<float>(), many.data<float>(), sizeof(float) * N), 0)
        << "threads " << threads;
  }
}

// The unit-stride depthwise path (3x3, pads 1), computed in blocks of output rows: each output
// sums its taps in (kh, kw) order from zero, padding taps included, then adds the bias, bitwise
// what this serial float loop computes, at every thread count. 70 rows of 63 columns span
// several row blocks.
TEST(Interpreter, UnitStrideDepthwiseSumsTapsInOrder) {
  const int64_t C = 3, H = 70, W = 61;
  GraphBuilder b("dw", 13, 5);
  b.Input("x", {1, C, H, W});
  b.Output("y", {1, C, H, W});
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> w(C * 9), bias(C), x(C * H * W);
  for (auto* v : {&w, &bias, &x}) {
    for (auto& e : *v) e = u(rng);
  }
  b.Init("w", Tensor::FromVector<float>({C, 1, 3, 3}, w));
  b.Init("b", Tensor::FromVector<float>({C}, bias));
  auto* conv = b.Node("Conv", "dw", {"x", "w", "b"}, {"y"});
  GraphBuilder::Ints(conv, "pads", {1, 1, 1, 1});
  GraphBuilder::Int(conv, "group", C);
  Model model = b.Build();
  for (int threads : {1, 2}) {
    std::vector<Value> out = Interpreter(model, DefaultRegistry(), threads)
                                 .Run({{"x", Tensor::FromVector<float>({1, C, H, W}, x)}});
    const float* y = out.at(0).tensor.data<float>();
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t oh = 0; oh < H; ++oh) {
        for (int64_t ow = 0; ow < W; ++ow) {
          float acc = 0;
          for (int64_t kh = 0; kh < 3; ++kh) {
            for (int64_t kw = 0; kw < 3; ++kw) {
              int64_t ih = oh - 1 + kh, iw = ow - 1 + kw;
              bool inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
              float xv = inside ? x[static_cast<size_t>((c * H + ih) * W + iw)] : 0.0f;
              acc += w[static_cast<size_t>(c * 9 + kh * 3 + kw)] * xv;
            }
          }
          acc += bias[static_cast<size_t>(c)];
          float got = y[(c * H + oh) * W + ow];
          ASSERT_EQ(std::memcmp(&got, &acc, sizeof(float)), 0)
              << "threads " << threads << " at " << c << "," << oh << "," << ow << ": " << got
              << " vs " << acc;
        }
      }
    }
  }
}

}  // namespace
}  // namespace concord::ref
