#!/usr/bin/env python3
"""Writes ai.onnx.ml ZipMap cases in ONNX's test layout, expected outputs from ONNX Runtime:

  make_zipmap_suite.py OUT_DIR [--check]

  zipmap_strings     ZipMap(classlabels_strings) on a [4, 3] float input: a sequence of
                     map(string, float), one map per row
  zipmap_classifier  a classifier as skl2onnx writes one, from standard ops: MatMul + Add ->
                     Softmax -> ZipMap(classlabels_int64s) (probabilities, seq(map(int64, float)))
                     and ArgMax (the label), like LinearClassifier -> ZipMap
  zipmap_empty_batch ZipMap on a [0, 2] input: an empty sequence of maps
  linear_classifier  what skl2onnx writes for a multinomial LogisticRegression on iris-like data:
                     LinearClassifier(SOFTMAX, string labels) -> output_label and, through
                     ZipMap, output_probability (seq(map(string, float)))

Each case is model.onnx + test_data_set_0/{input,output}_K.pb; a sequence of maps is a
SequenceProto (elem_type MAP) of MapProtos whose values are scalar float tensors, the layout of
onnx.numpy_helper.from_list (which cannot write string keys, so MapProtos are built here).
--check also compares ONNX Runtime's outputs with the maps built in NumPy from the scores (a
check of this script and of ORT, not of Concord).
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OPSETS = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 1)]


def map_sequence_proto(name, maps):
    seq = onnx.SequenceProto()
    seq.name = name
    seq.elem_type = onnx.SequenceProto.MAP
    for d in maps:
        m = seq.map_values.add()
        keys = list(d)
        if keys and isinstance(keys[0], str):
            m.key_type = TensorProto.STRING
            m.string_keys.extend(k.encode("utf-8") for k in keys)
        else:
            m.key_type = TensorProto.INT64
            m.keys.extend(int(k) for k in keys)
        m.values.elem_type = onnx.SequenceProto.TENSOR
        for v in d.values():
            m.values.tensor_values.append(numpy_helper.from_array(np.asarray(v, np.float32)))
    return seq


def save_case(out_dir, model, inputs, outputs):
    os.makedirs(os.path.join(out_dir, "test_data_set_0"), exist_ok=True)
    onnx.save(model, os.path.join(out_dir, "model.onnx"))
    for prefix, items in (("input", inputs), ("output", outputs)):
        for k, (name, value) in enumerate(items):
            if isinstance(value, list):
                proto = map_sequence_proto(name, value)
            else:
                proto = numpy_helper.from_array(value, name)
            with open(os.path.join(out_dir, "test_data_set_0", f"{prefix}_{k}.pb"), "wb") as f:
                f.write(proto.SerializeToString())


def seq_map_info(name, key):
    value = helper.make_tensor_type_proto(TensorProto.FLOAT, None)
    return helper.make_value_info(
        name, helper.make_sequence_type_proto(helper.make_map_type_proto(key, value)))


def make_model(nodes, name, inputs, outputs, inits=()):
    m = helper.make_model(helper.make_graph(nodes, name, inputs, outputs, list(inits)),
                          opset_imports=OPSETS, producer_name="concord-make_zipmap_suite")
    m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    return m


def zipmap_node(labels, x="X", z="Z"):
    attr = "classlabels_strings" if isinstance(labels[0], str) else "classlabels_int64s"
    return helper.make_node("ZipMap", [x], [z], domain="ai.onnx.ml", **{attr: labels})


def zipmap_strings(rng):
    labels = ["setosa", "versicolor", "virginica"]
    x = rng.standard_normal((4, 3)).astype(np.float32)
    model = make_model([zipmap_node(labels)], "zipmap_strings",
                       [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4, 3])],
                       [seq_map_info("Z", TensorProto.STRING)])
    expected = [dict(zip(labels, row)) for row in x]
    return model, [("X", x)], [expected]


def zipmap_classifier(rng):
    labels = [0, 1, 2, 7]
    w = rng.standard_normal((5, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["X", "W"], ["xw"]),
             helper.make_node("Add", ["xw", "B"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
             helper.make_node("ArgMax", ["probs"], ["label"], axis=1, keepdims=0),
             zipmap_node(labels, "probs", "probabilities")]
    model = make_model(nodes, "zipmap_classifier",
                       [helper.make_tensor_value_info("X", TensorProto.FLOAT, [6, 5])],
                       [helper.make_tensor_value_info("label", TensorProto.INT64, [6]),
                        seq_map_info("probabilities", TensorProto.INT64)],
                       [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
    logits = x.astype(np.float64) @ w + b
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    expected = [dict(zip(labels, row)) for row in probs]
    return model, [("X", x)], [np.argmax(probs, axis=1).astype(np.int64), expected]


def zipmap_empty_batch(rng):
    model = make_model([zipmap_node(["a", "b"])], "zipmap_empty_batch",
                       [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 2])],
                       [seq_map_info("Z", TensorProto.STRING)])
    return model, [("X", np.zeros((0, 2), np.float32))], [[]]


def linear_classifier(rng):
    labels = ["setosa", "versicolor", "virginica"]
    coef = rng.standard_normal((3, 4)).astype(np.float32)
    intercepts = rng.standard_normal(3).astype(np.float32)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    nodes = [helper.make_node("LinearClassifier", ["X"], ["output_label", "probability_tensor"],
                              domain="ai.onnx.ml", classlabels_strings=labels,
                              coefficients=coef.ravel().tolist(),
                              intercepts=intercepts.tolist(), post_transform="SOFTMAX"),
             zipmap_node(labels, "probability_tensor", "output_probability")]
    model = make_model(nodes, "linear_classifier",
                       [helper.make_tensor_value_info("X", TensorProto.FLOAT, [5, 4])],
                       [helper.make_tensor_value_info("output_label", TensorProto.STRING, [5]),
                        seq_map_info("output_probability", TensorProto.STRING)])
    scores = x.astype(np.float64) @ coef.T.astype(np.float64) + intercepts
    probs = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    label = np.array([labels[i] for i in np.argmax(probs, axis=1)], dtype=object)
    return model, [("X", x)], [label, [dict(zip(labels, row)) for row in probs]]


CASES = [zipmap_strings, zipmap_classifier, zipmap_empty_batch, linear_classifier]


def run_ort(model, inputs):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, dict(inputs))


def check(name, got, numpy_expected):
    """ORT against the maps built in NumPy: same keys, values within float32 rounding."""
    for g, e in zip(got, numpy_expected):
        if isinstance(e, np.ndarray):
            if not np.array_equal(g, e):
                sys.exit(f"{name}: ORT's {g} is not NumPy's {e}")
            continue
        if len(g) != len(e):
            sys.exit(f"{name}: ORT returned {len(g)} maps, NumPy {len(e)}")
        for gm, em in zip(g, e):
            if set(gm) != set(em.keys()):
                sys.exit(f"{name}: keys {sorted(gm)} are not {sorted(em)}")
            for k, v in em.items():
                if not np.isclose(gm[k], v, rtol=1e-6, atol=1e-7):
                    sys.exit(f"{name}: key {k}: ORT {gm[k]}, NumPy {v}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out, do_check = sys.argv[1], "--check" in sys.argv[2:]
    rng = np.random.default_rng(20261206)
    for make in CASES:
        model, inputs, numpy_expected = make(rng)
        got = run_ort(model, inputs)
        if do_check:
            check(make.__name__, got, numpy_expected)
        names = [o.name for o in model.graph.output]
        save_case(os.path.join(out, make.__name__), model, inputs, list(zip(names, got)))
    print(f"wrote {len(CASES)} ZipMap cases to {out}")


if __name__ == "__main__":
    main()
