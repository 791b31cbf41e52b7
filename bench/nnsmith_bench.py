# Side-by-side for bench/gen_bench.cc: NNSmith (PyPI nnsmith 0.1.0) throughput at 10 and 30 nodes.
# Setup (never in the project venv): python3 -m venv /tmp/nnsmith-venv &&
#   /tmp/nnsmith-venv/bin/pip install "nnsmith[onnx]"; with torch >= 2.9 its exporter needs
#   `dynamo=False` added to the torch.onnx.export call in nnsmith/materialize/onnx/__init__.py
#   (otherwise every op fails the export probe and the opset is empty). Then:
#   /tmp/nnsmith-venv/bin/python bench/nnsmith_bench.py 50
# Throughput of NNSmith 0.1.0 (symbolic generation, ONNX via torch export, oracle via torch),
# in one process (no per-model interpreter start-up), same node counts as gen_bench.
import logging, os, sys, time, tempfile
from omegaconf import OmegaConf
import hydra
from nnsmith.graph_gen import model_gen
from nnsmith.materialize import Model, TestCase
from nnsmith.narrow_spec import auto_opset
logging.disable(logging.WARNING)
ModelType = Model.init("onnx", backend_target="cpu")
ModelType.add_seed_setter()
opset = auto_opset(ModelType, None, vulops=False)
print("nnsmith opset size:", len(opset))
n_models = int(sys.argv[1]) if len(sys.argv) > 1 else 50
for max_nodes in (10, 30):
    fails = 0; t_gen = 0.0; t_all = 0.0; done = 0
    t0 = time.time()
    for seed in range(n_models):
        a = time.time()
        try:
            gen = model_gen(opset=opset, method="symbolic-cinit", seed=seed, max_elem_per_tensor=65536,
                            max_nodes=max_nodes, timeout_ms=10000)
            ir = gen.make_concrete()
            t_gen += time.time() - a
            model = ModelType.from_gir(ir)
            model.refine_weights()
            oracle = model.make_oracle()
            with tempfile.TemporaryDirectory() as d:
                TestCase(model, oracle).dump(root_folder=d)
            done += 1
        except Exception as e:
            fails += 1
        t_all += time.time() - a
    print(f"max_nodes={max_nodes}: {done}/{n_models} ok; generation only {n_models/t_gen:.1f} models/s; "
          f"generation+materialize+oracle+ONNX export {n_models/t_all:.1f} models/s")
