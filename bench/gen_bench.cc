// Generation throughput of the model generator (src/gen): models/s for 10- and 30-node graphs,
// everything included (z3 solving, concretization, ONNX checker + shape inference, validation
// run on ref). Each iteration uses the next seed, so the figure averages over seeds.
#include <benchmark/benchmark.h>

#include "gen/generator.h"

static void BM_Generate(benchmark::State& state) {
  uint64_t seed = 0;
  int64_t nodes = 0;
  for (auto _ : state) {
    concord::gen::GenOptions o;
    o.seed = seed++;
    o.max_nodes = static_cast<int>(state.range(0));
    auto g = concord::gen::Generate(o);
    nodes += static_cast<int64_t>(g.op_types.size());
    benchmark::DoNotOptimize(g);
  }
  state.SetItemsProcessed(state.iterations());  // items/s = models/s
  state.counters["nodes_per_model"] =
      static_cast<double>(nodes) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Generate)->Arg(10)->Arg(30)->Unit(benchmark::kMillisecond)->MinTime(5.0);

BENCHMARK_MAIN();
