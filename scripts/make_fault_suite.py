#!/usr/bin/env python3
"""Builds a fault suite for `concord localize` / `concord repair`, independently of Concord's own
C++ injector (src/passes/fault_inject.cc): other naming (PyTorch-exporter style "/layer/Op"),
another net shape, faults written with onnx.helper the way a third party would.

  make_fault_suite.py OUTDIR [--hw 48] [--sets 4]

OUTDIR/source.onnx, OUTDIR/inputs/test_data_set_N/input_0.pb (images in [0, 1]),
OUTDIR/<case>/target.onnx for each case, and OUTDIR/manifest.json:
  [{"case": ..., "kind": "input"|"parameter"|"hyperparameter"|"graph"|null,
    "injected_node": NAME or null, "description": ...}, ...]
Every target is checked with onnx.checker and, with onnxruntime, that it still runs and (for
faults) that its output differs from the source's, (for controls) that it does not.
"""
import argparse
import copy
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)


def build_source(hw, rng):
    nodes, inits = [], []

    def conv(name, x, cin, cout, k, pad, out, stride=1, dil=1, bias=True):
        w = rng.normal(0, np.sqrt(2.0 / (cin * k * k)), (cout, cin, k, k))
        inits.append(init(f"{name}.weight", w))
        ins = [x, f"{name}.weight"]
        if bias:
            inits.append(init(f"{name}.bias", rng.uniform(-0.1, 0.1, cout)))
            ins.append(f"{name}.bias")
        nodes.append(helper.make_node("Conv", ins, [out], name="/" + name.replace(".", "/") + "/Conv", kernel_shape=[k, k],
                                      pads=[pad] * 4, strides=[stride] * 2, dilations=[dil] * 2))

    inits.append(init("norm.mean", np.array([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)))
    inits.append(init("norm.std", np.array([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)))
    nodes.append(helper.make_node("Sub", ["input", "norm.mean"], ["/norm/Sub_output_0"], name="/norm/Sub"))
    nodes.append(helper.make_node("Div", ["/norm/Sub_output_0", "norm.std"], ["/norm/Div_output_0"], name="/norm/Div"))
    conv("stem", "/norm/Div_output_0", 3, 12, 3, 1, "/stem/Conv_output_0", stride=2)
    for n, a in [("bn.scale", rng.uniform(0.5, 1.5, 12)), ("bn.bias", rng.uniform(-0.2, 0.2, 12)),
                 ("bn.mean", rng.uniform(-0.2, 0.2, 12)), ("bn.var", rng.uniform(0.2, 1.0, 12))]:
        inits.append(init(n, a))
    nodes.append(helper.make_node("BatchNormalization", ["/stem/Conv_output_0", "bn.scale", "bn.bias", "bn.mean",
                                                         "bn.var"], ["/bn/BN_output_0"], name="/bn/BatchNormalization",
                                  epsilon=1e-5))
    nodes.append(helper.make_node("Relu", ["/bn/BN_output_0"], ["/act1/Relu_output_0"], name="/act1/Relu"))
    nodes.append(helper.make_node("MaxPool", ["/act1/Relu_output_0"], ["/pool1/MaxPool_output_0"],
                                  name="/pool1/MaxPool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    conv("block.conv1", "/pool1/MaxPool_output_0", 12, 12, 3, 1, "/block/conv1/Conv_output_0")
    nodes.append(helper.make_node("Relu", ["/block/conv1/Conv_output_0"], ["/block/Relu_output_0"],
                                  name="/block/Relu"))
    conv("block.conv2", "/block/Relu_output_0", 12, 12, 3, 2, "/block/conv2/Conv_output_0", dil=2)
    nodes.append(helper.make_node("Add", ["/block/conv2/Conv_output_0", "/pool1/MaxPool_output_0"],
                                  ["/block/Add_output_0"], name="/block/Add"))
    nodes.append(helper.make_node("LeakyRelu", ["/block/Add_output_0"], ["/block/LeakyRelu_output_0"],
                                  name="/block/LeakyRelu", alpha=0.05))
    nodes.append(helper.make_node("AveragePool", ["/block/LeakyRelu_output_0"], ["/pool2/AveragePool_output_0"],
                                  name="/pool2/AveragePool", kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
                                  count_include_pad=1))
    conv("head.a", "/pool2/AveragePool_output_0", 12, 6, 1, 0, "/head/a/Conv_output_0")
    conv("head.b", "/pool2/AveragePool_output_0", 12, 6, 3, 1, "/head/b/Conv_output_0")
    nodes.append(helper.make_node("Concat", ["/head/a/Conv_output_0", "/head/b/Conv_output_0"],
                                  ["/head/Concat_output_0"], name="/head/Concat", axis=1))
    nodes.append(helper.make_node("GlobalAveragePool", ["/head/Concat_output_0"], ["/gap/GAP_output_0"],
                                  name="/gap/GlobalAveragePool"))
    nodes.append(helper.make_node("Flatten", ["/gap/GAP_output_0"], ["/Flatten_output_0"], name="/Flatten", axis=1))
    inits.append(init("fc1.weight", rng.normal(0, 0.35, (12, 12))))
    inits.append(init("fc1.bias", rng.uniform(-0.1, 0.1, 12)))
    nodes.append(helper.make_node("Gemm", ["/Flatten_output_0", "fc1.weight", "fc1.bias"], ["/fc1/Gemm_output_0"],
                                  name="/fc1/Gemm", transB=1))
    nodes.append(helper.make_node("Relu", ["/fc1/Gemm_output_0"], ["/fc1/Relu_output_0"], name="/fc1/Relu"))
    inits.append(init("fc2.weight", rng.normal(0, 0.35, (8, 12))))
    inits.append(init("fc2.bias", rng.uniform(-0.3, 0.3, 8)))
    nodes.append(helper.make_node("Gemm", ["/fc1/Relu_output_0", "fc2.weight", "fc2.bias"], ["logits"],
                                  name="/fc2/Gemm", transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], name="/Softmax", axis=-1))
    graph = helper.make_graph(nodes, "suite_net",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, hw, hw])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 8])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="fault-suite-py")
    m.ir_version = 8  # what Concord's ONNX library reads (as scripts/make_models.py)
    return m


def node(m, name):
    for n in m.graph.node:
        if n.name == name:
            return n
    raise KeyError(name)


def get_init(m, name):
    for t in m.graph.initializer:
        if t.name == name:
            return t
    raise KeyError(name)


def set_init(m, name, arr):
    t = get_init(m, name)
    t.CopyFrom(numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name))


def arr(m, name):
    return numpy_helper.to_array(get_init(m, name)).astype(np.float32)


def set_attr(n, name, value):
    for a in list(n.attribute):
        if a.name == name:
            n.attribute.remove(a)
    n.attribute.append(helper.make_attribute(name, value))


def insert_after(m, producer_name, new_node):
    """Insert new_node after producer; consumers of the producer's output read new_node's output."""
    nodes = list(m.graph.node)
    idx = [i for i, n in enumerate(nodes) if n.name == producer_name][0]
    src = nodes[idx].output[0]
    for n in nodes:
        for i, x in enumerate(n.input):
            if x == src:
                n.input[i] = new_node.output[0]
    nodes.insert(idx + 1, new_node)
    del m.graph.node[:]
    m.graph.node.extend(nodes)


def remove_node(m, name, reuse_name=False):
    nodes = list(m.graph.node)
    n = [x for x in nodes if x.name == name][0]
    nodes.remove(n)
    if reuse_name:  # the producer now writes the removed node's output name
        for p in nodes:
            for i, o in enumerate(p.output):
                if o == n.input[0]:
                    p.output[i] = n.output[0]
        consumer_input = n.output[0]
    else:
        for c in nodes:
            for i, x in enumerate(c.input):
                if x == n.output[0]:
                    c.input[i] = n.input[0]
        consumer_input = n.input[0]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return [c.name for c in nodes if consumer_input in c.input][0]


def cases(src):
    """(case, kind, injected_node, description, target_model)"""
    out = []

    def case(name, kind, injected, desc, fn):
        m = copy.deepcopy(src)
        r = fn(m)
        out.append((name, kind, r if r else injected, desc, m))

    case("input_mean", "input", "/norm/Sub", "mean constant [0.5]*3",
         lambda m: set_init(m, "norm.mean", np.full((1, 3, 1, 1), 0.5)))
    case("input_std_255", "input", "/norm/Div", "std constant times 255",
         lambda m: set_init(m, "norm.std", arr(m, "norm.std") * 255))

    def bgr(m):
        m.graph.initializer.append(numpy_helper.from_array(np.array([2, 1, 0], dtype=np.int64), "bgr_idx"))
        nodes = list(m.graph.node)
        for n in nodes:
            for i, x in enumerate(n.input):
                if x == "input":
                    n.input[i] = "input_bgr"
        nodes.insert(0, helper.make_node("Gather", ["input", "bgr_idx"], ["input_bgr"], name="ToBGR", axis=1))
        del m.graph.node[:]
        m.graph.node.extend(nodes)
    case("input_bgr", "input", "ToBGR", "channels reversed by an inserted Gather", bgr)
    case("param_transpose", "parameter", "/block/conv1/Conv", "3x3 kernels transposed",
         lambda m: set_init(m, "block.conv1.weight", arr(m, "block.conv1.weight").transpose(0, 1, 3, 2)))
    case("param_fp16", "parameter", "/head/b/Conv", "weights through float16",
         lambda m: set_init(m, "head.b.weight", arr(m, "head.b.weight").astype(np.float16).astype(np.float32)))

    def int8(m):
        w = arr(m, "fc1.weight")
        s = np.abs(w).max() / 127
        set_init(m, "fc1.weight", np.round(w / s) * s)
    case("param_int8", "parameter", "/fc1/Gemm", "weights through int8", int8)

    def bias_drop(m):
        n = node(m, "/stem/Conv")
        del n.input[2]
    case("param_bias_drop", "parameter", "/stem/Conv", "bias dropped", bias_drop)
    case("param_bias_scale", "parameter", "/fc2/Gemm", "bias scaled",
         lambda m: set_init(m, "fc2.bias", arr(m, "fc2.bias") * 3))

    def fp16_cast(m):
        w = arr(m, "head.a.weight").astype(np.float16)
        m.graph.initializer.append(numpy_helper.from_array(w, "head.a.weight_fp16"))
        nodes = list(m.graph.node)
        idx = [i for i, n in enumerate(nodes) if n.name == "/head/a/Conv"][0]
        nodes[idx].input[1] = "head.a.weight_cast"
        nodes.insert(idx, helper.make_node("Cast", ["head.a.weight_fp16"], ["head.a.weight_cast"],
                                           name="/head/a/Cast", to=TensorProto.FLOAT))
        del m.graph.node[:]
        m.graph.node.extend(nodes)
    case("param_fp16_cast", "parameter", "/head/a/Conv", "weight stored as float16 + Cast", fp16_cast)
    case("hyper_bn_eps", "hyperparameter", "/bn/BatchNormalization", "epsilon 1e-5 -> 1e-3",
         lambda m: set_attr(node(m, "/bn/BatchNormalization"), "epsilon", 1e-3))
    case("hyper_pads", "hyperparameter", "/stem/Conv", "pads 1 -> 0 (output shrinks)",
         lambda m: set_attr(node(m, "/stem/Conv"), "pads", [0, 0, 0, 0]))
    case("hyper_dilations", "hyperparameter", "/block/conv2/Conv", "dilations 2 -> 1 with pads 1",
         lambda m: (set_attr(node(m, "/block/conv2/Conv"), "dilations", [1, 1]),
                    set_attr(node(m, "/block/conv2/Conv"), "pads", [1, 1, 1, 1])) and None)
    case("hyper_strides", "hyperparameter", "/stem/Conv", "stride 2 -> 1",
         lambda m: set_attr(node(m, "/stem/Conv"), "strides", [1, 1]))
    case("hyper_count_include_pad", "hyperparameter", "/pool2/AveragePool", "count_include_pad 1 -> 0",
         lambda m: set_attr(node(m, "/pool2/AveragePool"), "count_include_pad", 0))
    case("hyper_softmax_axis", "hyperparameter", "/Softmax", "axis -1 -> 0",
         lambda m: set_attr(node(m, "/Softmax"), "axis", 0))
    case("hyper_transB", "hyperparameter", "/fc1/Gemm", "transB 1 -> 0",
         lambda m: set_attr(node(m, "/fc1/Gemm"), "transB", 0))
    case("hyper_leaky_alpha", "hyperparameter", "/block/LeakyRelu", "alpha 0.05 -> 0.2",
         lambda m: set_attr(node(m, "/block/LeakyRelu"), "alpha", 0.2))
    case("graph_insert", "graph", "inserted_tanh", "Tanh inserted after the block's first conv",
         lambda m: insert_after(m, "/block/conv1/Conv",
                                helper.make_node("Tanh", ["/block/conv1/Conv_output_0"], ["inserted_tanh_out"],
                                                 name="inserted_tanh")))
    case("graph_remove", "graph", None, "block Relu removed",
         lambda m: remove_node(m, "/block/Relu"))
    case("graph_remove_reuse_name", "graph", None, "fc1 Relu removed, Gemm writes its output name",
         lambda m: remove_node(m, "/fc1/Relu", reuse_name=True))

    def remove_last(m):
        nodes = [n for n in m.graph.node if n.name != "/Softmax"]
        for n in nodes:
            if n.name == "/fc2/Gemm":
                n.output[0] = "probs"
        del m.graph.node[:]
        m.graph.node.extend(nodes)
    case("graph_remove_softmax", "graph", "/fc2/Gemm", "final Softmax dropped (Gemm writes the output)", remove_last)

    def replace(m):
        nodes = list(m.graph.node)
        idx = [i for i, n in enumerate(nodes) if n.name == "/act1/Relu"][0]
        nodes[idx] = helper.make_node("Sigmoid", ["/bn/BN_output_0"], ["swapped_act"], name="swapped_act_node")
        for n in nodes:
            for i, x in enumerate(n.input):
                if x == "/act1/Relu_output_0":
                    n.input[i] = "swapped_act"
        del m.graph.node[:]
        m.graph.node.extend(nodes)
    case("graph_replace", "graph", "swapped_act_node", "Relu replaced by Sigmoid", replace)
    case("control_identical", None, None, "identical", lambda m: None)

    def restructure(m):
        nodes = list(m.graph.node)
        new = []
        for n in nodes:
            if n.op_type == "Gemm":  # Gemm -> MatMul + Add, same output name
                wt = arr(m, n.input[1]).T
                m.graph.initializer.append(init(n.input[1] + "_T", wt))
                new.append(helper.make_node("MatMul", [n.input[0], n.input[1] + "_T"], [n.output[0] + "_mm"],
                                            name=n.name + "_MatMul"))
                new.append(helper.make_node("Add", [n.output[0] + "_mm", n.input[2]], [n.output[0]],
                                            name=n.name + "_Add"))
            elif n.op_type == "Conv" and len(n.input) == 3 and n.name == "/head/b/Conv":
                # Conv bias -> Conv + Add; the bias-free Conv keeps the output NAME.
                b = arr(m, n.input[2]).reshape(1, -1, 1, 1)
                m.graph.initializer.append(init(n.input[2] + "_4d", b))
                c = copy.deepcopy(n)
                del c.input[2]
                c.output[0] = n.output[0]
                add_out = n.output[0] + "_biased"
                new.append(c)
                new.append(helper.make_node("Add", [n.output[0], n.input[2] + "_4d"], [add_out], name="/head/b/Add"))
                for later in nodes:
                    for i, x in enumerate(later.input):
                        if x == n.output[0] and later is not n:
                            later.input[i] = add_out
            elif n.op_type == "BatchNormalization":
                continue  # folded below
            else:
                new.append(n)
        # Fold BN into the stem conv.
        stem = [n for n in new if n.name == "/stem/Conv"][0]
        w, b = arr(m, "stem.weight"), arr(m, "stem.bias")
        s = arr(m, "bn.scale") / np.sqrt(arr(m, "bn.var") + 1e-5)
        m.graph.initializer.append(init("stem.weight_folded", w * s.reshape(-1, 1, 1, 1)))
        m.graph.initializer.append(init("stem.bias_folded", (b - arr(m, "bn.mean")) * s + arr(m, "bn.bias")))
        stem.input[1], stem.input[2] = "stem.weight_folded", "stem.bias_folded"
        stem.output[0] = "/bn/BN_output_0"
        # An Identity after the normalization, renamed nodes.
        for n in new:
            for i, x in enumerate(n.input):
                if x == "/norm/Div_output_0":
                    n.input[i] = "normalized"
        new.insert(2, helper.make_node("Identity", ["/norm/Div_output_0"], ["normalized"], name="id0"))
        for k, n in enumerate(new):
            n.name = f"node_{k}"
        del m.graph.node[:]
        m.graph.node.extend(new)
    case("control_restructure", None, None, "Gemm as MatMul+Add, Conv bias as Add, BN folded, Identity, renamed",
         restructure)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--hw", type=int, default=48)
    ap.add_argument("--sets", type=int, default=4)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    src = build_source(a.hw, rng)
    onnx.checker.check_model(src)
    os.makedirs(a.outdir, exist_ok=True)
    onnx.save(src, os.path.join(a.outdir, "source.onnx"))
    images = []
    for s in range(a.sets):
        d = os.path.join(a.outdir, "inputs", f"test_data_set_{s}")
        os.makedirs(d, exist_ok=True)
        x = rng.uniform(0, 1, (1, 3, a.hw, a.hw)).astype(np.float32)
        images.append(x)
        with open(os.path.join(d, "input_0.pb"), "wb") as f:
            f.write(numpy_helper.from_array(x, "input").SerializeToString())
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None

    def run(m):
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        return [sess.run(None, {"input": x})[0] for x in images]

    want = run(src) if ort else None
    manifest = []
    for name, kind, injected, desc, m in cases(src):
        onnx.checker.check_model(m)
        if ort:
            got = run(m)
            diff = max(float(np.abs(g - w).max()) if g.shape == w.shape else np.inf for g, w in zip(got, want))
            if kind is None and diff > 1e-5:
                sys.exit(f"{name}: control differs from the source by {diff}")
            if kind is not None and diff == 0:
                sys.exit(f"{name}: fault does not change the output")
        d = os.path.join(a.outdir, name)
        os.makedirs(d, exist_ok=True)
        onnx.save(m, os.path.join(d, "target.onnx"))
        manifest.append({"case": name, "kind": kind, "injected_node": injected, "description": desc})
    with open(os.path.join(a.outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {len(manifest)} cases to {a.outdir}")


if __name__ == "__main__":
    main()
