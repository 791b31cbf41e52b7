#!/usr/bin/env python3
"""Writes current-ONNX blocks (IR 11, opset 23) in ONNX's test layout, expected outputs from NumPy:

  make_current_models.py OUT_DIR [--check]

  attention23    an Attention-23 block with a KV cache (past_key/past_value in, present_key/
                 present_value out) and an additive mask, between projections and a residual
  rmsnorm_rope   RMSNormalization-23 then RotaryEmbedding-23 (position ids, cos/sin caches)
  rms_primitives the same RMS norm from primitive ops (ReduceMean-18 with its axes as an input):
                 a current model that `concord convert --opset 17` can lower
  float8_qdq     activations quantized to float8e4m3fn and back (QuantizeLinear/
                 DequantizeLinear-23), a MatMul against a float8e4m3fn weight with per-column
                 scales

Each case is model.onnx + test_data_set_0/{input,output}_K.pb. The expected outputs are plain
NumPy (float64, float8 rounding by ml_dtypes, which onnx depends on), written from the op
definitions, not from a runtime. --check also runs ONNX's reference and ONNX Runtime on every case
and fails if either disagrees with NumPy (a check of this script, not of Concord).
"""
import os
import sys

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from make_models import save_case  # scripts/ is on sys.path when run as a script

OPSET = 23
IR = 11
F8 = ml_dtypes.float8_e4m3fn


def make_model(nodes, name, inputs, outputs, inits):
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="concord-make_current_models")
    m.ir_version = IR
    onnx.checker.check_model(m, full_check=True)
    return m


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def attention23(rng):
    b, seq, past, heads, hd = 1, 3, 2, 2, 4
    d = heads * hd
    w = {k: (rng.standard_normal((d, d)) / np.sqrt(d)).astype(np.float32)
         for k in ("wq", "wk", "wv", "wo")}
    nodes = [helper.make_node("MatMul", ["x", "wq"], ["q"]),
             helper.make_node("MatMul", ["x", "wk"], ["k"]),
             helper.make_node("MatMul", ["x", "wv"], ["v"]),
             helper.make_node("Attention", ["q", "k", "v", "mask", "past_key", "past_value"],
                              ["ctx", "present_key", "present_value"], q_num_heads=heads,
                              kv_num_heads=heads),
             helper.make_node("MatMul", ["ctx", "wo"], ["proj"]),
             helper.make_node("Add", ["x", "proj"], ["y"])]
    cache = [b, heads, past, hd]
    total = [b, heads, past + seq, hd]
    m = make_model(nodes, "attention23_kv_cache",
                   [vi("x", TensorProto.FLOAT, [b, seq, d]),
                    vi("mask", TensorProto.FLOAT, [seq, past + seq]),
                    vi("past_key", TensorProto.FLOAT, cache),
                    vi("past_value", TensorProto.FLOAT, cache)],
                   [vi("y", TensorProto.FLOAT, [b, seq, d]),
                    vi("present_key", TensorProto.FLOAT, total),
                    vi("present_value", TensorProto.FLOAT, total)],
                   [numpy_helper.from_array(a, n) for n, a in w.items()])
    x = rng.uniform(-1, 1, (b, seq, d)).astype(np.float32)
    # Causal over the new tokens, everything of the cache visible; -inf-free additive mask.
    mask = np.zeros((seq, past + seq), np.float32)
    for i in range(seq):
        mask[i, past + i + 1:] = -1e4
    pk = rng.uniform(-1, 1, cache).astype(np.float32)
    pv = rng.uniform(-1, 1, cache).astype(np.float32)
    f = {k: a.astype(np.float64) for k, a in w.items()}
    xd = x.astype(np.float64)
    def split(t):  # [b, seq, heads*hd] -> [b, heads, seq, hd]
        return t.reshape(b, seq, heads, hd).transpose(0, 2, 1, 3)
    q, k, v = split(xd @ f["wq"]), split(xd @ f["wk"]), split(xd @ f["wv"])
    kt = np.concatenate([pk.astype(np.float64), k], axis=2)
    vt = np.concatenate([pv.astype(np.float64), v], axis=2)
    a = softmax(q @ kt.transpose(0, 1, 3, 2) / np.sqrt(hd) + mask.astype(np.float64))
    ctx = (a @ vt).transpose(0, 2, 1, 3).reshape(b, seq, d)
    y = xd + ctx @ f["wo"]
    ins = [("x", x), ("mask", mask), ("past_key", pk), ("past_value", pv)]
    outs = [("y", y), ("present_key", kt), ("present_value", vt)]
    return m, ins, [(n, a.astype(np.float32)) for n, a in outs]


def rmsnorm_rope(rng):
    b, seq, heads, hd, max_pos, eps = 2, 4, 2, 4, 16, 1e-5
    d = heads * hd
    scale = rng.uniform(0.5, 1.5, d).astype(np.float32)
    theta = np.arange(max_pos)[:, None] / 10000.0 ** (np.arange(hd // 2)[None, :] * 2.0 / hd)
    cos, sin = np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)
    nodes = [helper.make_node("RMSNormalization", ["x", "scale"], ["n"], axis=-1, epsilon=eps),
             helper.make_node("RotaryEmbedding", ["n", "cos", "sin", "pos"], ["y"],
                              num_heads=heads)]
    m = make_model(nodes, "rmsnorm_rotary",
                   [vi("x", TensorProto.FLOAT, [b, seq, d]), vi("pos", TensorProto.INT64, [b, seq])],
                   [vi("y", TensorProto.FLOAT, [b, seq, d])],
                   [numpy_helper.from_array(scale, "scale"), numpy_helper.from_array(cos, "cos"),
                    numpy_helper.from_array(sin, "sin")])
    x = rng.uniform(-2, 2, (b, seq, d)).astype(np.float32)
    pos = np.array([[0, 1, 2, 3], [5, 6, 7, 8]], np.int64)  # the second sequence continues a cache
    xd = x.astype(np.float64)
    n = xd / np.sqrt((xd * xd).mean(axis=-1, keepdims=True) + eps) * scale.astype(np.float64)
    h = n.reshape(b, seq, heads, hd)
    c = cos.astype(np.float64)[pos][:, :, None, :]  # [b, seq, 1, hd/2]
    s = sin.astype(np.float64)[pos][:, :, None, :]
    x1, x2 = h[..., : hd // 2], h[..., hd // 2:]  # not interleaved: halves rotate together
    y = np.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], axis=-1).reshape(b, seq, d)
    return m, [("x", x), ("pos", pos)], [("y", y.astype(np.float32))]


def rms_primitives(rng):
    rows, d, eps = 3, 6, 1e-5
    scale = rng.uniform(0.5, 1.5, d).astype(np.float32)
    nodes = [helper.make_node("Mul", ["x", "x"], ["sq"]),
             helper.make_node("ReduceMean", ["sq", "axes"], ["ms"], keepdims=1),
             helper.make_node("Add", ["ms", "eps"], ["mse"]),
             helper.make_node("Sqrt", ["mse"], ["rms"]),
             helper.make_node("Div", ["x", "rms"], ["n"]),
             helper.make_node("Mul", ["n", "scale"], ["y"])]
    m = make_model(nodes, "rms_primitives", [vi("x", TensorProto.FLOAT, [rows, d])],
                   [vi("y", TensorProto.FLOAT, [rows, d])],
                   [numpy_helper.from_array(np.array([-1], np.int64), "axes"),
                    numpy_helper.from_array(np.array(eps, np.float32), "eps"),
                    numpy_helper.from_array(scale, "scale")])
    x = rng.uniform(-2, 2, (rows, d)).astype(np.float32)
    xd = x.astype(np.float64)
    y = xd / np.sqrt((xd * xd).mean(axis=-1, keepdims=True) + eps) * scale.astype(np.float64)
    return m, [("x", x)], [("y", y.astype(np.float32))]


def float8_qdq(rng):
    rows, k, cols = 3, 8, 5
    w = rng.uniform(-1, 1, (k, cols)).astype(np.float32)
    w_scale = (np.abs(w).max(axis=0) / 448.0).astype(np.float32)  # per column, e4m3fn's max
    w_q = (w / w_scale).astype(F8)
    x_scale = np.float32(0.02)
    nodes = [helper.make_node("QuantizeLinear", ["x", "x_scale", "zp"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "x_scale", "zp"], ["xd"]),
             helper.make_node("DequantizeLinear", ["w_q", "w_scale"], ["wd"], axis=1),
             helper.make_node("MatMul", ["xd", "wd"], ["y"])]
    wq_tensor = helper.make_tensor("w_q", TensorProto.FLOAT8E4M3FN, [k, cols],
                                   w_q.view(np.uint8).tobytes(), raw=True)
    zp = helper.make_tensor("zp", TensorProto.FLOAT8E4M3FN, [], b"\x00", raw=True)
    m = make_model(nodes, "float8_qdq_matmul",
                   [vi("x", TensorProto.FLOAT, [rows, k])], [vi("y", TensorProto.FLOAT, [rows, cols])],
                   [numpy_helper.from_array(np.array(x_scale), "x_scale"), zp, wq_tensor,
                    numpy_helper.from_array(w_scale, "w_scale")])
    x = rng.uniform(-4, 4, (rows, k)).astype(np.float32)  # |x / scale| <= 200 < 448: no saturation
    xq = (x / x_scale).astype(F8)  # float32 division, then round to nearest even in e4m3fn
    xdq = xq.astype(np.float64) * np.float64(x_scale)
    wdq = w_q.astype(np.float64) * w_scale.astype(np.float64)[None, :]
    # Each dequantized value is a float32 (float8 x float32 scale, rounded once).
    xdq, wdq = xdq.astype(np.float32).astype(np.float64), wdq.astype(np.float32).astype(np.float64)
    return m, [("x", x)], [("y", (xdq @ wdq).astype(np.float32))]


CASES = {"attention23": attention23, "rmsnorm_rope": rmsnorm_rope,
         "rms_primitives": rms_primitives, "float8_qdq": float8_qdq}


def check(name, model, inputs, outputs):
    """ONNX's reference and ONNX Runtime against this script's NumPy (tolerance as conformance)."""
    import onnxruntime as ort
    from onnx.reference import ReferenceEvaluator
    feed = dict(inputs)
    runs = {"onnx.reference": ReferenceEvaluator(model).run(None, feed),
            "onnxruntime": ort.InferenceSession(model.SerializeToString(),
                                                providers=["CPUExecutionProvider"]).run(None, feed)}
    ok = True
    for who, got in runs.items():
        for (out, want), g in zip(outputs, got):
            if not np.allclose(g, want, rtol=1e-3, atol=1e-5):
                print(f"{name}: {who} output {out} differs by {np.abs(g - want).max():.3g}")
                ok = False
    return ok


def main():
    args = [a for a in sys.argv[1:] if a != "--check"]
    if len(args) != 1:
        print(__doc__)
        return 2
    ok = True
    for i, (name, fn) in enumerate(CASES.items()):
        model, inputs, outputs = fn(np.random.default_rng(230 + i))
        save_case(os.path.join(args[0], name), model, inputs, outputs)
        if "--check" in sys.argv:
            ok = check(name, model, inputs, outputs) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
