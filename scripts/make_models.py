#!/usr/bin/env python3
"""Generates Concord's example and benchmark models with random weights (onnx.helper + numpy).

  make_models.py example OUT_DIR   tiny CNN classifier + test_data_set_0 whose expected output is
                                   computed here with plain numpy (an independent reference)
  make_models.py bench OUT_DIR     MobileNetV2- and ResNet-18-shaped models (224x224, 1000 classes)

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


def main():
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
