#!/usr/bin/env python3
"""Generates Concord's example and benchmark models with random weights (onnx.helper + numpy).

  make_models.py example OUT_DIR   tiny CNN classifier + test_data_set_0 whose expected output is
                                   computed here with plain numpy (an independent reference)
  make_models.py bench OUT_DIR     MobileNetV2- and ResNet-18-shaped models (224x224, 1000 classes)
  make_models.py zoo OUT_DIR       small models of our own in ONNX's test layout (model.onnx +
                                   test_data_set_0 with a numpy-computed expected output):
                                   tiny_cnn, mlp, attention (one transformer encoder block)

Models use opset 13 and IR version 8 so the ONNX 1.12 C++ library (Debian) can load them.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


class Builder:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.count = [], [], 0
        self.flops = 0  # multiply-adds x 2 for Conv/Gemm

    def name(self, prefix):
        self.count += 1
        return f"{prefix}{self.count}"

    def weight(self, prefix, shape, scale):
        w = (self.rng.standard_normal(shape) * scale).astype(np.float32)
        n = self.name(prefix)
        self.inits.append(numpy_helper.from_array(w, n))
        return n, w

    def conv(self, x, cin, cout, k, stride=1, group=1, hw=None):
        fan_in = cin // group * k * k
        w, _ = self.weight("w", (cout, cin // group, k, k), np.sqrt(2.0 / fan_in))
        b, _ = self.weight("b", (cout,), 0.01)
        y = self.name("conv")
        p = k // 2
        self.nodes.append(helper.make_node("Conv", [x, w, b], [y], name=y, kernel_shape=[k, k],
                                           strides=[stride, stride], pads=[p, p, p, p], group=group))
        if hw is not None:
            oh = (hw + 2 * p - k) // stride + 1
            self.flops += 2 * cout * oh * oh * (cin // group) * k * k
            return y, oh
        return y

    def op(self, op_type, inputs, **attrs):
        y = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [y], name=y, **attrs))
        return y

    def relu6(self, x):
        lo = self.const(np.array(0, np.float32))
        hi = self.const(np.array(6, np.float32))
        return self.op("Clip", [x, lo, hi])

    def const(self, arr):
        n = self.name("c")
        self.inits.append(numpy_helper.from_array(arr, n))
        return n

    def gemm(self, x, cin, cout):
        w, _ = self.weight("fc_w", (cout, cin), np.sqrt(1.0 / cin))
        b, _ = self.weight("fc_b", (cout,), 0.01)
        self.flops += 2 * cin * cout
        return self.op("Gemm", [x, w, b], transB=1)

    def model(self, name, x_shape, y, y_shape):
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, x_shape)],
            [helper.make_tensor_value_info(y, TensorProto.FLOAT, y_shape)], self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="concord-make_models")
        m.ir_version = 8
        m.doc_string = f"flops={self.flops}"
        onnx.checker.check_model(m)
        return m


def mobilenet_v2():
    b = Builder(2)
    x, hw = b.conv("input", 3, 32, 3, stride=2, hw=224)
    x = b.relu6(x)
    cin = 32
    # (expansion, out channels, repeats, stride) as in MobileNetV2
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y, h2 = x, hw
            if t != 1:
                y, h2 = b.conv(y, cin, hidden, 1, hw=hw)
                y = b.relu6(y)
            y, h2 = b.conv(y, hidden, hidden, 3, stride=stride, group=hidden, hw=h2)
            y = b.relu6(y)
            y, h2 = b.conv(y, hidden, c, 1, hw=h2)
            if stride == 1 and cin == c:
                y = b.op("Add", [x, y])
            x, hw, cin = y, h2, c
    x, hw = b.conv(x, cin, 1280, 1, hw=hw)
    x = b.relu6(x)
    x = b.op("GlobalAveragePool", [x])
    x = b.op("Flatten", [x], axis=1)
    y = b.gemm(x, 1280, 1000)
    return b.model("mobilenetv2_shaped", [1, 3, 224, 224], y, [1, 1000])


def resnet18():
    b = Builder(18)
    x, hw = b.conv("input", 3, 64, 7, stride=2, hw=224)
    x = b.op("Relu", [x])
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    hw = (hw + 2 - 3) // 2 + 1
    cin = 64
    for c, s in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        for i in range(2):
            stride = s if i == 0 else 1
            y, h2 = b.conv(x, cin, c, 3, stride=stride, hw=hw)
            y = b.op("Relu", [y])
            y, h2 = b.conv(y, c, c, 3, hw=h2)
            short = x
            if stride != 1 or cin != c:
                short, _ = b.conv(x, cin, c, 1, stride=stride, hw=hw)
            x = b.op("Relu", [b.op("Add", [y, short])])
            hw, cin = h2, c
    x = b.op("GlobalAveragePool", [x])
    x = b.op("Flatten", [x], axis=1)
    y = b.gemm(x, 512, 1000)
    return b.model("resnet18_shaped", [1, 3, 224, 224], y, [1, 1000])


# --- tiny CNN example with a numpy reference ---------------------------------------------------

def np_conv(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    co, ci, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, co, oh, ow), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw].astype(np.float64)
            out[:, :, i, j] = np.tensordot(patch, w.astype(np.float64), axes=([1, 2, 3], [1, 2, 3]))
    return out + b.reshape(1, -1, 1, 1)


def tiny_cnn(out_dir):
    b = Builder(7)
    w1n, w1 = b.weight("w", (8, 3, 3, 3), 0.3)
    b1n, b1 = b.weight("b", (8,), 0.1)
    w2n, w2 = b.weight("w", (16, 8, 3, 3), 0.2)
    b2n, b2 = b.weight("b", (16,), 0.1)
    fwn, fw = b.weight("fc_w", (10, 16), 0.3)
    fbn, fb = b.weight("fc_b", (10,), 0.1)
    nodes = [
        helper.make_node("Conv", ["input", w1n, b1n], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", w2n, b2n], ["c2"], name="conv2", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", fwn, fbn], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(nodes, "tiny_cnn",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 10])], b.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="concord-make_models")
    m.ir_version = 8
    m.doc_string = "Tiny CNN classifier (random weights) bundled as Concord's example."
    onnx.checker.check_model(m)

    x = np.random.default_rng(11).uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)
    y = np.maximum(np_conv(x, w1, b1, 1, 1), 0)
    y = y.reshape(1, 8, 16, 2, 16, 2).max(axis=(3, 5))
    y = np.maximum(np_conv(y, w2, b2, 2, 1), 0)
    y = y.mean(axis=(2, 3))
    logits = y @ fw.astype(np.float64).T + fb
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    os.makedirs(os.path.join(out_dir, "test_data_set_0"), exist_ok=True)
    onnx.save(m, os.path.join(out_dir, "model.onnx"))
    for name, arr in [("input_0.pb", (x, "input")), ("output_0.pb", (probs, "probs"))]:
        t = numpy_helper.from_array(arr[0], arr[1])
        with open(os.path.join(out_dir, "test_data_set_0", name), "wb") as f:
            f.write(t.SerializeToString())


def save_case(out_dir, model, inputs, outputs):
    """Writes model.onnx and test_data_set_0/{input,output}_K.pb."""
    os.makedirs(os.path.join(out_dir, "test_data_set_0"), exist_ok=True)
    onnx.save(model, os.path.join(out_dir, "model.onnx"))
    for prefix, items in (("input", inputs), ("output", outputs)):
        for k, (name, arr) in enumerate(items):
            with open(os.path.join(out_dir, "test_data_set_0", f"{prefix}_{k}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(arr, name).SerializeToString())


def make_model(nodes, name, inputs, outputs, inits):
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="concord-make_models")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def mlp(out_dir):
    rng = np.random.default_rng(21)
    dims = [256, 512, 256, 10]
    inits, nodes, x = [], [], "input"
    ws = []
    for i in range(3):
        w = (rng.standard_normal((dims[i], dims[i + 1])) * np.sqrt(2.0 / dims[i])).astype(np.float32)
        b = (rng.standard_normal(dims[i + 1]) * 0.05).astype(np.float32)
        ws.append((w, b))
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"mm{i}"], name=f"fc{i}"))
        nodes.append(helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"fc{i}_out"], name=f"bias{i}"))
        x = f"fc{i}_out"
        if i < 2:
            act = "Relu" if i == 0 else "Tanh"
            nodes.append(helper.make_node(act, [x], [f"act{i}"], name=f"act{i}"))
            x = f"act{i}"
    nodes.append(helper.make_node("Softmax", [x], ["probs"], name="softmax", axis=-1))
    m = make_model(nodes, "mlp", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [4, 256])],
                   [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [4, 10])], inits)
    xin = rng.uniform(-1, 1, (4, 256)).astype(np.float32)
    h = xin.astype(np.float64)
    for i, (w, b) in enumerate(ws):
        h = h @ w.astype(np.float64) + b
        if i == 0:
            h = np.maximum(h, 0)
        elif i == 1:
            h = np.tanh(h)
    e = np.exp(h - h.max(axis=-1, keepdims=True))
    save_case(out_dir, m, [("input", xin)], [("probs", (e / e.sum(axis=-1, keepdims=True)).astype(np.float32))])


def attention(out_dir):
    """One post-norm transformer encoder block: multi-head self-attention + residual + layer
    norm (written with primitive ops, opset 13) + feed-forward + residual."""
    rng = np.random.default_rng(33)
    seq, d, heads, ff = 16, 64, 4, 128
    hd = d // heads
    P = {}
    def param(name, shape, scale):
        P[name] = (rng.standard_normal(shape) * scale).astype(np.float32)
        return name
    for n in ("wq", "wk", "wv", "wo"):
        param(n, (d, d), 1 / np.sqrt(d))
    param("w1", (d, ff), 1 / np.sqrt(d))
    param("w2", (ff, d), 1 / np.sqrt(ff))
    param("b1", (ff,), 0.05)
    param("gamma", (d,), 0.1)
    P["gamma"] += 1
    param("beta", (d,), 0.1)
    consts = {"split_shape": np.array([1, seq, heads, hd], np.int64), "merge_shape": np.array([1, seq, d], np.int64),
              "scale": np.array(1 / np.sqrt(hd), np.float32), "eps": np.array(1e-5, np.float32),
              "two": np.array(2, np.float32)}
    inits = [numpy_helper.from_array(v, k) for k, v in {**P, **consts}.items()]
    N = helper.make_node
    nodes = []
    for n in ("q", "k", "v"):
        nodes += [N("MatMul", ["input", "w" + n], [n + "_proj"], name=n + "_proj"),
                  N("Reshape", [n + "_proj", "split_shape"], [n + "_heads"], name=n + "_split"),
                  N("Transpose", [n + "_heads"], [n + "_t"], name=n + "_transpose", perm=[0, 2, 1, 3])]
    nodes += [
        N("Transpose", ["k_t"], ["k_tt"], name="k_transpose2", perm=[0, 1, 3, 2]),
        N("MatMul", ["q_t", "k_tt"], ["scores_raw"], name="qk"),
        N("Mul", ["scores_raw", "scale"], ["scores"], name="scale"),
        N("Softmax", ["scores"], ["attn"], name="softmax", axis=-1),
        N("MatMul", ["attn", "v_t"], ["ctx_heads"], name="attn_v"),
        N("Transpose", ["ctx_heads"], ["ctx_t"], name="ctx_transpose", perm=[0, 2, 1, 3]),
        N("Reshape", ["ctx_t", "merge_shape"], ["ctx"], name="ctx_merge"),
        N("MatMul", ["ctx", "wo"], ["attn_out"], name="out_proj"),
        N("Add", ["input", "attn_out"], ["res1"], name="residual1"),
        N("ReduceMean", ["res1"], ["mean"], name="ln_mean", axes=[-1]),
        N("Sub", ["res1", "mean"], ["centered"], name="ln_center"),
        N("Pow", ["centered", "two"], ["sq"], name="ln_square"),
        N("ReduceMean", ["sq"], ["var"], name="ln_var", axes=[-1]),
        N("Add", ["var", "eps"], ["var_eps"], name="ln_eps"),
        N("Sqrt", ["var_eps"], ["std"], name="ln_sqrt"),
        N("Div", ["centered", "std"], ["normed"], name="ln_div"),
        N("Mul", ["normed", "gamma"], ["scaled"], name="ln_gamma"),
        N("Add", ["scaled", "beta"], ["ln_out"], name="ln_beta"),
        N("MatMul", ["ln_out", "w1"], ["ff1"], name="ff1"),
        N("Add", ["ff1", "b1"], ["ff1b"], name="ff1_bias"),
        N("Relu", ["ff1b"], ["ff_act"], name="ff_relu"),
        N("MatMul", ["ff_act", "w2"], ["ff2"], name="ff2"),
        N("Add", ["ln_out", "ff2"], ["output"], name="residual2"),
    ]
    m = make_model(nodes, "attention_block",
                   [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, seq, d])],
                   [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, seq, d])], inits)
    x = rng.uniform(-1, 1, (1, seq, d)).astype(np.float32)
    f = {k: v.astype(np.float64) for k, v in P.items()}
    xd = x.astype(np.float64)
    def heads_of(t):
        return t.reshape(1, seq, heads, hd).transpose(0, 2, 1, 3)
    q, k, v = (heads_of(xd @ f[w]) for w in ("wq", "wk", "wv"))
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    a = e / e.sum(axis=-1, keepdims=True)
    c = (a @ v).transpose(0, 2, 1, 3).reshape(1, seq, d)
    r1 = xd + c @ f["wo"]
    mu = r1.mean(axis=-1, keepdims=True)
    var = ((r1 - mu) ** 2).mean(axis=-1, keepdims=True)
    ln = (r1 - mu) / np.sqrt(var + 1e-5) * f["gamma"] + f["beta"]
    y = ln + np.maximum(ln @ f["w1"] + f["b1"], 0) @ f["w2"]
    save_case(out_dir, m, [("input", x)], [("output", y.astype(np.float32))])


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "zoo":
        for name, fn in (("tiny_cnn", tiny_cnn), ("mlp", mlp), ("attention", attention)):
            fn(os.path.join(sys.argv[2], name))
        return 0
    if len(sys.argv) != 3 or sys.argv[1] not in ("example", "bench"):
        print(__doc__)
        return 2
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    if sys.argv[1] == "example":
        tiny_cnn(out)
    else:
        for fn in (mobilenet_v2, resnet18):
            m = fn()
            path = os.path.join(out, m.graph.name + ".onnx")
            onnx.save(m, path)
            print(f"{path}: {len(m.graph.node)} nodes, {m.doc_string}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
