#!/usr/bin/env python3
"""Writes a conformance suite for ops ONNX's node tests leave out, with ONNX Runtime's outputs.

  make_ort_ops_suite.py OUT_DIR [--expect-ort VERSION] [--list]

Real converted and optimized models carry ops that ONNX's node suite tests little or not at all:
the ai.onnx.ml ops sklearn converters emit (tree ensembles, linear models, encoders, scalers) and
the com.microsoft contrib ops that ONNX Runtime's optimizers, exporters and quantizer write (Gelu
fusions, FusedConv, SkipLayerNormalization, MatMulNBits, the QLinear* ops). Each case here is a
one-node model (onnx.helper) with seeded inputs; its expected outputs are what ONNX Runtime's CPU
provider computes, with graph optimizations off so the node runs as written. The layout is the
node suites' (the one `concord conformance --suite DIR` reads):

  OUT_DIR/test_<case>/model.onnx
  OUT_DIR/test_<case>/test_data_set_0/input_<K>.pb, output_<K>.pb

plus OUT_DIR/SUITE.json (onnxruntime and onnx versions, case count, the command). Weights that
ONNX Runtime wants constant (MatMulNBits' packed B, ...) are initializers; everything else is a
graph input. Quantized cases use scales that are powers of two, so that ONNX Runtime's float
arithmetic is exact and its uint8/int8 outputs are the spec's exact values, which is what
Concord's comparison checks integers against. OUT_DIR is replaced as a whole (written beside it,
then renamed).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from typing import Callable

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ML = "ai.onnx.ml"
MS = "com.microsoft"
ONNX_OPSET = 17
IR_VERSION = 9

CASES: list[Callable[[], "Case"]] = []


class Case:
    """One node, its feeds (graph inputs, in order) and constant initializers."""

    def __init__(self, name, op, domain, opset, inputs, outputs, attrs=None, inits=None):
        self.name = name
        self.op = op
        self.domain = domain
        self.opset = opset
        self.inputs = inputs  # list of (name, array); name "" for an omitted optional input
        self.outputs = outputs  # list of (name, TensorProto elem type)
        self.attrs = attrs or {}
        self.inits = inits or {}  # name -> array, placed among inputs by name

    def input_names(self):
        names = [n for n, _ in self.inputs]
        while names and not names[-1]:
            names.pop()  # trailing omitted inputs are left out
        return names

    def model(self, out_shapes=None) -> onnx.ModelProto:
        """The one-node model; outputs get out_shapes (ONNX Runtime's) once they are known."""
        graph_inputs = []
        for n, a in self.inputs:
            if n and n not in self.inits:
                graph_inputs.append(helper.make_tensor_value_info(n, elem_type(a), a.shape))
        shapes = out_shapes or [None] * len(self.outputs)
        graph_outputs = [helper.make_tensor_value_info(n, t, s)
                         for (n, t), s in zip(self.outputs, shapes)]
        node = helper.make_node(self.op, self.input_names(), [n for n, _ in self.outputs],
                                name=self.name, domain=self.domain, **self.attrs)
        inits = [numpy_helper.from_array(a, n) for n, a in self.inits.items()]
        graph = helper.make_graph([node], self.name, graph_inputs, graph_outputs, inits)
        opsets = [helper.make_opsetid("", ONNX_OPSET)]
        if self.domain not in ("", "ai.onnx"):
            opsets.append(helper.make_opsetid(self.domain, self.opset))
        model = helper.make_model(graph, opset_imports=opsets, producer_name="make_ort_ops_suite")
        model.ir_version = IR_VERSION
        return model

    def feeds(self):
        return {n: a for n, a in self.inputs if n and n not in self.inits}


def elem_type(a: np.ndarray) -> int:
    if a.dtype.kind in ("U", "O"):
        return TensorProto.STRING
    return helper.np_dtype_to_tensor_dtype(a.dtype)


def case(fn):
    CASES.append(fn)
    return fn


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def strings(a) -> np.ndarray:
    return np.asarray(a, dtype=object)


# ---- ai.onnx.ml: tree ensembles --------------------------------------------------------------

# Two trees over 3 features, node ids per tree, leaves carry the weights. Tree 0 splits on
# feature 0 then feature 2; tree 1 on feature 1 (missing values go true at its root).
TREES = dict(
    nodes_treeids=[0, 0, 0, 0, 0, 1, 1, 1],
    nodes_nodeids=[0, 1, 2, 3, 4, 0, 1, 2],
    nodes_featureids=[0, 2, 0, 0, 0, 1, 0, 0],
    nodes_modes=["BRANCH_LEQ", "BRANCH_GT", "LEAF", "LEAF", "LEAF", "BRANCH_LT", "LEAF", "LEAF"],
    nodes_values=[0.25, -0.5, 0, 0, 0, 0.1, 0, 0],
    nodes_truenodeids=[1, 2, 0, 0, 0, 1, 0, 0],
    nodes_falsenodeids=[4, 3, 0, 0, 0, 2, 0, 0],
    nodes_missing_value_tracks_true=[0, 0, 0, 0, 0, 1, 0, 0],
)
LEAVES = [(0, 2), (0, 3), (0, 4), (1, 1), (1, 2)]  # (tree, node) of every leaf


def tree_rows(seed, n=8, dtype=np.float32):
    x = rng(seed).uniform(-1.5, 1.5, size=(n, 3)).astype(dtype)
    x[2, 1] = np.nan  # tracks true at tree 1's root
    x[3, 0] = 0.25  # exactly on a threshold
    return x


def leaf_weights(prefix, targets, weights):
    ids, nodes, trees, w = [], [], [], []
    for (tree, node), per_leaf in zip(LEAVES, weights):
        for t in range(targets):
            if per_leaf[t] is None:
                continue
            trees.append(tree)
            nodes.append(node)
            ids.append(t)
            w.append(float(per_leaf[t]))
    return {f"{prefix}_treeids": trees, f"{prefix}_nodeids": nodes, f"{prefix}_ids": ids,
            f"{prefix}_weights": w}


def regressor(name, agg, targets, weights, seed, **extra):
    attrs = dict(TREES, n_targets=targets, aggregate_function=agg,
                 **leaf_weights("target", targets, weights), **extra)
    return Case(name, "TreeEnsembleRegressor", ML, 3, [("X", tree_rows(seed))],
                [("Y", TensorProto.FLOAT)], attrs)


@case
def tree_regressor_sum():
    w = [[1.5], [-2.0], [0.75], [0.5], [-0.25]]
    return regressor("test_ml_tree_ensemble_regressor_sum", "SUM", 1, w, 1, base_values=[0.5])


@case
def tree_regressor_average_two_targets():
    w = [[1.5, 2], [-2.0, 1], [0.75, None], [0.5, 4], [-0.25, -3]]
    return regressor("test_ml_tree_ensemble_regressor_average_2targets", "AVERAGE", 2, w, 2,
                     base_values=[0.5, -1])


@case
def tree_regressor_min():
    w = [[1.5, 2], [-2.0, 1], [0.75, None], [0.5, 4], [-0.25, -3]]
    return regressor("test_ml_tree_ensemble_regressor_min", "MIN", 2, w, 3)


@case
def tree_regressor_max():
    w = [[1.5, 2], [-2.0, 1], [0.75, None], [0.5, 4], [-0.25, -3]]
    return regressor("test_ml_tree_ensemble_regressor_max", "MAX", 2, w, 4)


@case
def tree_regressor_double():
    w = [[1.5], [-2.0], [0.75], [0.5], [-0.25]]
    attrs = dict(TREES, n_targets=1, **leaf_weights("target", 1, w))
    values = attrs.pop("nodes_values")
    attrs["nodes_values_as_tensor"] = numpy_helper.from_array(np.array(values, np.float64))
    attrs["target_weights_as_tensor"] = numpy_helper.from_array(
        np.array(attrs.pop("target_weights"), np.float64))
    return Case("test_ml_tree_ensemble_regressor_double", "TreeEnsembleRegressor", ML, 3,
                [("X", tree_rows(5, dtype=np.float64))], [("Y", TensorProto.FLOAT)], attrs)


def classifier(name, weights, labels, seed, **extra):
    targets = len(weights[0])
    attrs = dict(TREES, **leaf_weights("class", targets, weights), **extra)
    key = "classlabels_strings" if isinstance(labels[0], str) else "classlabels_int64s"
    attrs[key] = labels
    label_type = TensorProto.STRING if isinstance(labels[0], str) else TensorProto.INT64
    return Case(name, "TreeEnsembleClassifier", ML, 3, [("X", tree_rows(seed))],
                [("Y", label_type), ("Z", TensorProto.FLOAT)], attrs)


@case
def tree_classifier_multiclass():
    # Random-forest style: every leaf holds class probabilities.
    w = [[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.7, 0.2, 0.1], [0.3, 0.3, 0.4]]
    return classifier("test_ml_tree_ensemble_classifier_multiclass", w, [10, 20, 30], 6)


@case
def tree_classifier_multiclass_softmax():
    # Gradient-boosting style: one score per class, base values, SOFTMAX.
    w = [[0.5, -0.25, None], [None, 0.8, -0.1], [0.2, None, 0.6], [-0.7, 0.2, 0.1],
         [0.3, -0.3, None]]
    return classifier("test_ml_tree_ensemble_classifier_multiclass_softmax", w, ["a", "b", "c"],
                      7, base_values=[0.1, -0.2, 0.3], post_transform="SOFTMAX")


@case
def tree_classifier_binary_logistic():
    # skl2onnx's binary gradient boosting: one class id, one base value, LOGISTIC.
    w = [[0.5], [-0.75], [0.2], [-0.7], [0.3]]
    return classifier("test_ml_tree_ensemble_classifier_binary_logistic", w, ["no", "yes"], 8,
                      base_values=[0.25], post_transform="LOGISTIC")


@case
def tree_classifier_binary_probabilities():
    # Positive weights on the one class: labels decided on probability > 0.5.
    w = [[0.9], [0.2], [0.55], [0.4], [0.7]]
    return classifier("test_ml_tree_ensemble_classifier_binary_probabilities",
                      [[v[0] / 2] for v in w], [0, 1], 9)


@case
def tree_classifier_two_classes():
    w = [[0.5, 0.5], [0.1, 0.9], [0.8, 0.2], [0.7, 0.3], [0.35, 0.65]]
    return classifier("test_ml_tree_ensemble_classifier_two_classes", w, [0, 1], 10)


def tree_ensemble5(name, x, agg, post, targets, splits_dtype, extra=None):
    # Two trees. Tree 0: node 0 (x0 <= 0.25) -> node 1 (x2 > -0.5) | leaf 2; node 1 -> leaf 0 |
    # leaf 1. Tree 1: node 2 (x1 in {2, 1, -1}; ONNX Runtime takes
    # integer sets only) -> leaf 3 | node 3 (x1 < 0.1, NaN true) ->
    # leaf 4 | leaf 5.
    attrs = dict(
        n_targets=targets,
        aggregate_function=agg,
        post_transform=post,
        tree_roots=[0, 2],
        nodes_featureids=[0, 2, 1, 1],
        nodes_modes=numpy_helper.from_array(np.array([0, 3, 6, 1], np.uint8)),
        nodes_splits=numpy_helper.from_array(np.array([0.25, -0.5, 0, 0.1], splits_dtype)),
        nodes_truenodeids=[1, 0, 3, 4],
        nodes_trueleafs=[0, 1, 1, 1],
        nodes_falsenodeids=[2, 1, 3, 5],
        nodes_falseleafs=[1, 1, 0, 1],
        nodes_missing_value_tracks_true=[0, 0, 0, 1],
        membership_values=numpy_helper.from_array(np.array([2, 1, -1, np.nan], splits_dtype)),
        leaf_targetids=[0, targets - 1, 0, targets - 1, 0, 0],
        leaf_weights=numpy_helper.from_array(np.array([1.5, -2, 0.75, 0.5, -0.25, 3],
                                                      splits_dtype)),
    )
    attrs.update(extra or {})
    out_type = helper.np_dtype_to_tensor_dtype(x.dtype)
    return Case(name, "TreeEnsemble", ML, 5, [("X", x)], [("Y", out_type)], attrs)


def tree5_rows(seed, dtype):
    # Feature 1 (the set-membership one) holds whole numbers: ONNX Runtime truncates the feature
    # to an integer before the set lookup, so 1.1 would count as a member of {1}.
    x = tree_rows(seed, n=10, dtype=dtype)
    x[:, 1] = np.round(x[:, 1] * 2)
    x[2, 1] = np.nan
    return x


@case
def tree_ensemble5_sum():
    return tree_ensemble5("test_ml_tree_ensemble5_sum", tree5_rows(11, np.float32), 1, 0, 1,
                          np.float32)


@case
def tree_ensemble5_average_double():
    return tree_ensemble5("test_ml_tree_ensemble5_average_double", tree5_rows(12, np.float64), 0,
                          0, 2, np.float64)


@case
def tree_ensemble5_max_softmax_zero():
    # post_transform 3 (SOFTMAX_ZERO): ONNX Runtime 1.32 reads 1 and 2 swapped (1 as LOGISTIC, 2
    # as SOFTMAX; the spec has 1 SOFTMAX, 2 LOGISTIC), so those two are left out here.
    return tree_ensemble5("test_ml_tree_ensemble5_max_softmax_zero", tree5_rows(13, np.float32), 3,
                          3, 2, np.float32)


# ---- ai.onnx.ml: linear models ---------------------------------------------------------------


def linear_x(seed, n=6, c=4, dtype=np.float32):
    r = rng(seed)
    if np.issubdtype(dtype, np.integer):
        return r.integers(-5, 6, size=(n, c)).astype(dtype)
    return r.standard_normal((n, c)).astype(dtype)


def linear_classifier(name, x, classes, labels, post, seed):
    r = rng(seed)
    attrs = dict(coefficients=[float(v) for v in r.standard_normal(classes * x.shape[1])],
                 intercepts=[float(v) for v in r.standard_normal(classes)], post_transform=post)
    if isinstance(labels[0], str):
        attrs["classlabels_strings"] = labels
        label_type = TensorProto.STRING
    else:
        attrs["classlabels_ints"] = labels
        label_type = TensorProto.INT64
    return Case(name, "LinearClassifier", ML, 1, [("X", x)],
                [("Y", label_type), ("Z", TensorProto.FLOAT)], attrs)


@case
def linear_classifier_softmax():
    return linear_classifier("test_ml_linear_classifier_softmax", linear_x(20), 3,
                             ["cat", "dog", "eel"], "SOFTMAX", 21)


@case
def linear_classifier_logistic():
    return linear_classifier("test_ml_linear_classifier_logistic", linear_x(22), 3, [1, 5, 9],
                             "LOGISTIC", 23)


@case
def linear_classifier_none_double():
    return linear_classifier("test_ml_linear_classifier_none_double",
                             linear_x(24, dtype=np.float64), 4, [0, 1, 2, 3], "NONE", 25)


@case
def linear_classifier_binary_one_row():
    return linear_classifier("test_ml_linear_classifier_binary_one_row", linear_x(26), 1, [0, 1],
                             "NONE", 27)


@case
def linear_classifier_int64_input():
    return linear_classifier("test_ml_linear_classifier_int64_input",
                             linear_x(28, dtype=np.int64), 2, [7, 8], "SOFTMAX_ZERO", 29)


@case
def linear_regressor_one_target():
    r = rng(30)
    attrs = dict(coefficients=[float(v) for v in r.standard_normal(4)], intercepts=[0.5])
    return Case("test_ml_linear_regressor", "LinearRegressor", ML, 1, [("X", linear_x(31))],
                [("Y", TensorProto.FLOAT)], attrs)


@case
def linear_regressor_two_targets():
    r = rng(32)
    attrs = dict(coefficients=[float(v) for v in r.standard_normal(8)], intercepts=[0.5, -1],
                 targets=2)
    return Case("test_ml_linear_regressor_2targets", "LinearRegressor", ML, 1,
                [("X", linear_x(33))], [("Y", TensorProto.FLOAT)], attrs)


# ---- ai.onnx.ml: preprocessing --------------------------------------------------------------


def unary_ml(name, op, x, out_type, **attrs):
    return Case(name, op, ML, 1, [("X", x)], [("Y", out_type)], attrs)


@case
def normalizer_max():
    x = np.abs(linear_x(40)) + 0.1
    x[1] = 0
    return unary_ml("test_ml_normalizer_max", "Normalizer", x, TensorProto.FLOAT, norm="MAX")


@case
def normalizer_l1():
    x = linear_x(41)
    x[2] = 0
    return unary_ml("test_ml_normalizer_l1", "Normalizer", x, TensorProto.FLOAT, norm="L1")


@case
def normalizer_l2_double():
    return unary_ml("test_ml_normalizer_l2_double", "Normalizer", linear_x(42, dtype=np.float64),
                    TensorProto.FLOAT, norm="L2")


@case
def normalizer_l2_int64():
    return unary_ml("test_ml_normalizer_l2_int64", "Normalizer", linear_x(43, dtype=np.int64),
                    TensorProto.FLOAT, norm="L2")


@case
def scaler_per_column():
    return unary_ml("test_ml_scaler", "Scaler", linear_x(44), TensorProto.FLOAT,
                    offset=[0.5, -1, 2, 0], scale=[2, 0.5, -1, 3])


@case
def scaler_one_value_double():
    return unary_ml("test_ml_scaler_one_value_double", "Scaler", linear_x(45, dtype=np.float64),
                    TensorProto.FLOAT, offset=[0.25], scale=[1.5])


@case
def binarizer():
    x = linear_x(46)
    x[0, 0] = 0.5
    return unary_ml("test_ml_binarizer", "Binarizer", x, TensorProto.FLOAT, threshold=0.5)


@case
def imputer_floats():
    x = linear_x(48)
    x[1, 2] = np.nan
    x[3, 0] = np.nan
    return unary_ml("test_ml_imputer_floats", "Imputer", x, TensorProto.FLOAT,
                    imputed_value_floats=[1.0, 2.0, 3.0, 4.0], replaced_value_float=float("nan"))


@case
def imputer_int64():
    return unary_ml("test_ml_imputer_int64", "Imputer", linear_x(49, dtype=np.int64),
                    TensorProto.INT64, imputed_value_int64s=[99], replaced_value_int64=0)


@case
def feature_vectorizer():
    return Case("test_ml_feature_vectorizer", "FeatureVectorizer", ML, 1,
                [("A", linear_x(50, c=2)), ("B", linear_x(51, c=3))],
                [("Y", TensorProto.FLOAT)], dict(inputdimensions=[2, 3]))


@case
def array_feature_extractor():
    return Case("test_ml_array_feature_extractor", "ArrayFeatureExtractor", ML, 1,
                [("X", linear_x(52, n=3, c=5)), ("I", np.array([4, 0, 2], np.int64))],
                [("Y", TensorProto.FLOAT)])


@case
def array_feature_extractor_strings_1d():
    return Case("test_ml_array_feature_extractor_strings_1d", "ArrayFeatureExtractor", ML, 1,
                [("X", strings(["a", "b", "c", "d"])), ("I", np.array([[3, 1]], np.int64))],
                [("Y", TensorProto.STRING)])


@case
def array_feature_extractor_3d_int64():
    x = rng(53).integers(0, 100, size=(2, 3, 4)).astype(np.int64)
    return Case("test_ml_array_feature_extractor_3d_int64", "ArrayFeatureExtractor", ML, 1,
                [("X", x), ("I", np.array([1, 1, 3], np.int64))], [("Y", TensorProto.INT64)])


@case
def one_hot_encoder_int64():
    x = np.array([[1, 5, 3], [3, 9, 1]], np.int64)
    return unary_ml("test_ml_one_hot_encoder_int64", "OneHotEncoder", x, TensorProto.FLOAT,
                    cats_int64s=[1, 3, 5], zeros=1)


@case
def one_hot_encoder_strings():
    x = strings([["red", "blue"], ["green", "red"]])
    return unary_ml("test_ml_one_hot_encoder_strings", "OneHotEncoder", x, TensorProto.FLOAT,
                    cats_strings=["blue", "green", "red"])


@case
def one_hot_encoder_double():
    x = np.array([2.0, 7.9, 4.0, 2.5], np.float64)
    return unary_ml("test_ml_one_hot_encoder_double", "OneHotEncoder", x, TensorProto.FLOAT,
                    cats_int64s=[2, 4, 7])


def label_encoder(name, opset, x, out_type, **attrs):
    return Case(name, "LabelEncoder", ML, opset, [("X", x)], [("Y", out_type)], attrs)


@case
def label_encoder_string_to_int64():
    return label_encoder("test_ml_label_encoder_string_int64", 2,
                         strings(["b", "z", "a", "c", "a"]), TensorProto.INT64,
                         keys_strings=["a", "b", "c"], values_int64s=[10, 20, 30],
                         default_int64=-7)


@case
def label_encoder_int64_to_string():
    return label_encoder("test_ml_label_encoder_int64_string", 2,
                         np.array([[3, 1], [4, 1]], np.int64), TensorProto.STRING,
                         keys_int64s=[1, 3], values_strings=["one", "three"])


@case
def label_encoder_float_to_float():
    x = f32([0.5, 1.5, np.nan, -2, 0.5])
    return label_encoder("test_ml_label_encoder_float_float", 2, x, TensorProto.FLOAT,
                         keys_floats=[0.5, -2.0, float("nan")], values_floats=[5.0, -20.0, 99.0],
                         default_float=0.25)


@case
def label_encoder_tensor_float_nan():
    # Opset 4: a NaN key matches NaN inputs.
    return label_encoder(
        "test_ml_label_encoder_tensor_float_nan", 4, f32([np.nan, 1, 2, -0.0]), TensorProto.INT64,
        keys_tensor=numpy_helper.from_array(f32([1, np.nan, 0])),
        values_tensor=numpy_helper.from_array(np.array([10, 20, 30], np.int64)))


@case
def label_encoder_tensor_int64_to_double():
    return label_encoder(
        "test_ml_label_encoder_tensor_int64_double", 4, np.array([5, 6, 7, 5], np.int64),
        TensorProto.DOUBLE,
        keys_tensor=numpy_helper.from_array(np.array([5, 7], np.int64)),
        values_tensor=numpy_helper.from_array(np.array([0.125, -1.5], np.float64)),
        default_tensor=numpy_helper.from_array(np.array([3.5], np.float64)))


@case
def label_encoder_tensor_string_to_int16():
    return label_encoder(
        "test_ml_label_encoder_tensor_string_int16", 4, strings(["x", "y", "q"]),
        TensorProto.INT16,
        keys_tensor=numpy_helper.from_array(np.array(["x", "y"], dtype=object)),
        values_tensor=numpy_helper.from_array(np.array([100, -200], np.int16)),
        default_tensor=numpy_helper.from_array(np.array([7], np.int16)))


# ---- com.microsoft: float ops ----------------------------------------------------------------


def normal(seed, shape, scale=1.0, dtype=np.float32):
    return (rng(seed).standard_normal(shape) * scale).astype(dtype)


def ms_case(name, op, inputs, outputs=None, attrs=None, inits=None):
    outputs = outputs or [("Y", TensorProto.FLOAT)]
    return Case(name, op, MS, 1, inputs, outputs, attrs, inits)


@case
def gelu():
    return ms_case("test_ms_gelu", "Gelu", [("X", normal(60, (2, 3, 8), 2))])


@case
def bias_gelu():
    return ms_case("test_ms_bias_gelu", "BiasGelu",
                   [("A", normal(61, (2, 3, 8), 2)), ("B", normal(62, (8,)))])


@case
def fast_gelu():
    return ms_case("test_ms_fast_gelu", "FastGelu", [("X", normal(63, (2, 3, 8), 2))])


@case
def fast_gelu_bias():
    return ms_case("test_ms_fast_gelu_bias", "FastGelu",
                   [("X", normal(64, (4, 16), 2)), ("bias", normal(65, (16,)))])


@case
def quick_gelu():
    return ms_case("test_ms_quick_gelu", "QuickGelu", [("X", normal(66, (3, 10), 3))])


@case
def quick_gelu_alpha():
    return ms_case("test_ms_quick_gelu_alpha", "QuickGelu", [("X", normal(67, (3, 10), 3))],
                   attrs=dict(alpha=1.0))


def fused_conv(name, seed, w_shape, activation, params=None, bias=True, z=False, **conv):
    x = normal(seed, (1, 3, 8, 8))
    w = normal(seed + 1, w_shape, 0.5)
    inputs = [("X", x), ("W", w)]
    if bias or z:
        inputs.append(("B", normal(seed + 2, (w_shape[0],))) if bias else ("", None))
    attrs = dict(conv, activation=activation)
    if params is not None:
        attrs["activation_params"] = params
    case_ = ms_case(name, "FusedConv", inputs, attrs=attrs)
    if z:
        # Z has the convolution's output shape: run once without it to learn that shape.
        shape = run_ort(ms_case(name, "FusedConv", inputs, attrs=attrs))[0].shape
        case_.inputs.append(("Z", normal(seed + 3, shape)))
    return case_


@case
def fused_conv_relu():
    return fused_conv("test_ms_fused_conv_relu", 70, (4, 3, 3, 3), "Relu", pads=[1, 1, 1, 1])


@case
def fused_conv_leaky_relu_strided():
    return fused_conv("test_ms_fused_conv_leaky_relu_strided", 74, (4, 3, 3, 3), "LeakyRelu",
                      [0.1], bias=False, strides=[2, 2])


@case
def fused_conv_clip_sum():
    return fused_conv("test_ms_fused_conv_clip_sum", 78, (2, 3, 1, 1), "Clip", [-0.5, 0.5],
                      z=True)


@case
def fused_conv_sigmoid_depthwise():
    return fused_conv("test_ms_fused_conv_sigmoid_depthwise", 82, (3, 1, 3, 3), "Sigmoid",
                      group=3, pads=[1, 1, 1, 1])


@case
def fused_conv_hard_sigmoid():
    return fused_conv("test_ms_fused_conv_hard_sigmoid", 86, (2, 3, 3, 3), "HardSigmoid",
                      [0.2, 0.5], auto_pad="SAME_UPPER")


@case
def fused_conv_tanh_dilated():
    return fused_conv("test_ms_fused_conv_tanh_dilated", 90, (2, 3, 2, 2), "Tanh",
                      dilations=[2, 2])


def fused_matmul(name, a, b, **attrs):
    return ms_case(name, "FusedMatMul", [("A", a), ("B", b)], attrs=attrs)


@case
def fused_matmul_trans_a_alpha():
    return fused_matmul("test_ms_fused_matmul_trans_a_alpha", normal(100, (5, 3)),
                        normal(101, (5, 4)), transA=1, alpha=0.5)


@case
def fused_matmul_batched_trans_b():
    return fused_matmul("test_ms_fused_matmul_batched_trans_b", normal(102, (2, 3, 5)),
                        normal(103, (2, 4, 5)), transB=1)


@case
def fused_matmul_trans_batch():
    return fused_matmul("test_ms_fused_matmul_trans_batch", normal(104, (3, 2, 4, 5)),
                        normal(105, (6, 2, 4, 5)), transBatchA=1, transBatchB=1, transB=1,
                        alpha=2.0)


@case
def fused_matmul_broadcast():
    return fused_matmul("test_ms_fused_matmul_broadcast", normal(106, (2, 3, 4, 5)),
                        normal(107, (5, 6)), alpha=-1.5)


@case
def skip_layer_norm_full():
    h = 16
    return ms_case(
        "test_ms_skip_layer_norm_full", "SkipLayerNormalization",
        [("input", normal(110, (2, 3, h), 2)), ("skip", normal(111, (2, 3, h))),
         ("gamma", normal(112, (h,))), ("beta", normal(113, (h,))), ("bias", normal(114, (h,)))],
        [("Y", TensorProto.FLOAT), ("mean", TensorProto.FLOAT), ("inv_std_var", TensorProto.FLOAT),
         ("sum", TensorProto.FLOAT)], dict(epsilon=1e-5))


@case
def skip_layer_norm_plain():
    h = 8
    return ms_case("test_ms_skip_layer_norm_plain", "SkipLayerNormalization",
                   [("input", normal(115, (4, h))), ("skip", normal(116, (4, h))),
                    ("gamma", normal(117, (h,)))])


@case
def skip_simplified_layer_norm():
    h = 16
    return ms_case(
        "test_ms_skip_simplified_layer_norm", "SkipSimplifiedLayerNormalization",
        [("input", normal(118, (2, 3, h), 2)), ("skip", normal(119, (2, 3, h))),
         ("gamma", normal(120, (h,))), ("bias", normal(121, (h,)))],
        [("Y", TensorProto.FLOAT), ("mean", TensorProto.FLOAT), ("inv_std_var", TensorProto.FLOAT),
         ("sum", TensorProto.FLOAT)], dict(epsilon=1e-6))


def pack_bits(q: np.ndarray, bits: int) -> np.ndarray:
    """Packs the last axis of `q` (values < 2^bits) into bytes, lowest bits first."""
    per = 8 // bits
    pad = (-q.shape[-1]) % per
    q = np.concatenate([q, np.zeros(q.shape[:-1] + (pad,), q.dtype)], axis=-1)
    q = q.reshape(q.shape[:-1] + (-1, per)).astype(np.uint8)
    out = np.zeros(q.shape[:-1], np.uint8)
    for i in range(per):
        out |= q[..., i] << (i * bits)
    return out


def matmul_nbits(name, seed, a_shape, n, block, bits=4, zero_points="packed", bias=False):
    r = rng(seed)
    k = a_shape[-1]
    blocks = (k + block - 1) // block
    q = r.integers(0, 2**bits, size=(n, blocks, block))
    b = pack_bits(q, bits)  # [n, blocks, block * bits / 8]
    scales = (r.uniform(0.01, 0.1, size=(n * blocks,))).astype(np.float32)
    inputs = [("A", normal(seed + 1, a_shape)), ("B", b), ("scales", scales)]
    inits = {"B": b, "scales": scales}
    if zero_points == "packed":
        zp = pack_bits(r.integers(0, 2**bits, size=(n, blocks)), bits)
        inputs.append(("zero_points", zp))
        inits["zero_points"] = zp
    elif bias:
        inputs.append(("", None))
    if bias:
        inputs += [("", None), ("bias", normal(seed + 2, (n,)))]
        inits["bias"] = inputs[-1][1]
    return ms_case(name, "MatMulNBits", inputs, attrs=dict(K=k, N=n, bits=bits, block_size=block),
                   inits=inits)


@case
def matmul_nbits_4bit_zero_points():
    return matmul_nbits("test_ms_matmul_nbits_4bit_zero_points", 130, (3, 64), 16, 32)


@case
def matmul_nbits_4bit_default_zero_point_3d():
    return matmul_nbits("test_ms_matmul_nbits_4bit_default_zero_point_3d", 131, (2, 3, 64), 8,
                        16, zero_points=None)


@case
def matmul_nbits_4bit_ragged_k_bias():
    return matmul_nbits("test_ms_matmul_nbits_4bit_ragged_k_bias", 132, (4, 40), 6, 16,
                        bias=True)


@case
def matmul_nbits_8bit():
    return matmul_nbits("test_ms_matmul_nbits_8bit", 133, (2, 64), 8, 32, bits=8)


# ---- com.microsoft: QLinear ops ---------------------------------------------------------------
# Scales are powers of two (exact in float), so ONNX Runtime's float formulation gives the exact
# result that ref computes; zero points are arbitrary.


def qtensor(seed, shape, dtype=np.uint8):
    info = np.iinfo(dtype)
    return rng(seed).integers(info.min, info.max + 1, size=shape).astype(dtype)


def qparams(scale, zero_point, dtype=np.uint8):
    return [np.array(scale, np.float32), np.array(zero_point, dtype)]


def qbinary(name, op, a, b, sa, za, sb, zb, sc, zc):
    dt = a.dtype
    names = ["A", "A_scale", "A_zero_point", "B", "B_scale", "B_zero_point", "C_scale",
             "C_zero_point"]
    values = [a, *qparams(sa, za, dt), b, *qparams(sb, zb, dt), *qparams(sc, zc, dt)]
    out = helper.np_dtype_to_tensor_dtype(dt)
    return ms_case(name, op, list(zip(names, values)), [("C", out)])


@case
def qlinear_add_uint8():
    return qbinary("test_ms_qlinear_add_uint8", "QLinearAdd", qtensor(140, (2, 3, 8)),
                   qtensor(141, (2, 3, 8)), 0.5, 128, 0.25, 100, 0.5, 120)


@case
def qlinear_add_int8_broadcast():
    return qbinary("test_ms_qlinear_add_int8_broadcast", "QLinearAdd",
                   qtensor(142, (2, 3, 8), np.int8), qtensor(143, (8,), np.int8), 0.125, -3, 0.25,
                   5, 0.25, 1)


@case
def qlinear_add_scalar():
    return qbinary("test_ms_qlinear_add_scalar", "QLinearAdd", qtensor(144, (4, 5)),
                   qtensor(145, (1,)), 0.0625, 10, 0.5, 200, 0.125, 0)


@case
def qlinear_mul_uint8():
    return qbinary("test_ms_qlinear_mul_uint8", "QLinearMul", qtensor(146, (3, 8)),
                   qtensor(147, (3, 8)), 0.0625, 128, 0.125, 120, 0.5, 128)


@case
def qlinear_mul_int8_broadcast():
    return qbinary("test_ms_qlinear_mul_int8_broadcast", "QLinearMul",
                   qtensor(148, (2, 1, 6), np.int8), qtensor(149, (3, 1), np.int8), 0.125, 0,
                   0.0625, -2, 0.25, 3)


def qunary(name, op, x, sx, zx, sy, zy, **attrs):
    dt = x.dtype
    names = ["X", "X_scale", "X_zero_point", "Y_scale", "Y_zero_point"]
    values = [x, *qparams(sx, zx, dt), *qparams(sy, zy, dt)]
    return ms_case(name, op, list(zip(names, values)), [("Y", helper.np_dtype_to_tensor_dtype(dt))],
                   attrs)


@case
def qlinear_sigmoid_uint8():
    x = np.arange(256, dtype=np.uint8).reshape(16, 16)  # every code
    return qunary("test_ms_qlinear_sigmoid_uint8", "QLinearSigmoid", x, 0.0625, 128,
                  1 / 256, 0)


@case
def qlinear_sigmoid_int8():
    x = np.arange(-128, 128, dtype=np.int8).reshape(16, 16)
    return qunary("test_ms_qlinear_sigmoid_int8", "QLinearSigmoid", x, 0.125, 3, 1 / 256, -128)


@case
def qlinear_leaky_relu_uint8():
    # (x - zp) * 0.25 * 0.1 / 0.125 = 0.2 (x - zp): never within 0.1 of a .5 tie.
    x = np.arange(256, dtype=np.uint8).reshape(16, 16)
    return qunary("test_ms_qlinear_leaky_relu_uint8", "QLinearLeakyRelu", x, 0.25, 100, 0.125,
                  60, alpha=0.1)


@case
def qlinear_leaky_relu_int8():
    x = np.arange(-128, 128, dtype=np.int8).reshape(2, 128)
    # Negative inputs land on exact .5 ties; the odd zero point shows where rounding happens.
    return qunary("test_ms_qlinear_leaky_relu_int8", "QLinearLeakyRelu", x, 0.5, -10, 0.5, 3,
                  alpha=0.25)


@case
def qlinear_concat():
    a, b, c = qtensor(150, (2, 2, 3)), qtensor(151, (2, 3, 3)), qtensor(152, (2, 1, 3))
    inputs = [("Y_scale", np.array(0.25, np.float32)), ("Y_zero_point", np.array(127, np.uint8)),
              ("A", a), ("A_scale", np.array(0.5, np.float32)),
              ("A_zero_point", np.array(128, np.uint8)),
              ("B", b), ("B_scale", np.array(0.25, np.float32)),
              ("B_zero_point", np.array(128, np.uint8)),
              ("C", c), ("C_scale", np.array(0.125, np.float32)),
              ("C_zero_point", np.array(7, np.uint8))]
    return ms_case("test_ms_qlinear_concat", "QLinearConcat", inputs, [("Y", TensorProto.UINT8)],
                   dict(axis=1))


def qpool(name, op, x, sx, zx, sy, zy, **attrs):
    dt = x.dtype
    names = ["X", "x_scale", "x_zero_point", "y_scale", "y_zero_point"]
    values = [x, *qparams(sx, zx, dt), *qparams(sy, zy, dt)]
    return ms_case(name, op, list(zip(names, values)), [("Y", helper.np_dtype_to_tensor_dtype(dt))],
                   attrs)


@case
def qlinear_average_pool():
    return qpool("test_ms_qlinear_average_pool", "QLinearAveragePool", qtensor(160, (1, 3, 7, 7)),
                 0.5, 128, 0.5, 128, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])


@case
def qlinear_average_pool_count_pad():
    return qpool("test_ms_qlinear_average_pool_count_pad", "QLinearAveragePool",
                 qtensor(161, (2, 2, 6, 6), np.int8), 0.25, 0, 0.25, -5, kernel_shape=[3, 3],
                 pads=[1, 1, 1, 1], count_include_pad=1)


@case
def qlinear_average_pool_channels_last():
    return qpool("test_ms_qlinear_average_pool_channels_last", "QLinearAveragePool",
                 qtensor(162, (1, 6, 6, 4)), 0.125, 100, 0.25, 51, kernel_shape=[2, 2],
                 strides=[2, 2], channels_last=1)


@case
def qlinear_global_average_pool():
    return qpool("test_ms_qlinear_global_average_pool", "QLinearGlobalAveragePool",
                 qtensor(163, (2, 4, 5, 5)), 0.5, 128, 0.5, 128)


@case
def qlinear_global_average_pool_channels_last():
    return qpool("test_ms_qlinear_global_average_pool_channels_last", "QLinearGlobalAveragePool",
                 qtensor(164, (1, 4, 4, 8)), 0.25, 20, 0.125, 11, channels_last=1)


# ---- writing ---------------------------------------------------------------------------------


def run_ort(c: Case) -> list[np.ndarray]:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(c.model().SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    return sess.run(None, c.feeds())


def to_proto(a: np.ndarray, name: str) -> TensorProto:
    a = np.asarray(a)
    if a.dtype.kind in ("U", "O"):
        t = helper.make_tensor(name, TensorProto.STRING, a.shape,
                               [s.encode() if isinstance(s, str) else s for s in a.ravel()])
        return t
    return numpy_helper.from_array(a, name)


def write_case(c: Case, out_dir: str) -> None:
    outputs = run_ort(c)
    model = c.model([np.asarray(a).shape for a in outputs])
    onnx.checker.check_model(model)
    case_dir = os.path.join(out_dir, c.name)
    set_dir = os.path.join(case_dir, "test_data_set_0")
    os.makedirs(set_dir)
    with open(os.path.join(case_dir, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    for k, (n, a) in enumerate(c.feeds().items()):
        with open(os.path.join(set_dir, f"input_{k}.pb"), "wb") as f:
            f.write(to_proto(a, n).SerializeToString())
    for k, ((n, _), a) in enumerate(zip(c.outputs, outputs)):
        with open(os.path.join(set_dir, f"output_{k}.pb"), "wb") as f:
            f.write(to_proto(a, n).SerializeToString())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", nargs="?")
    parser.add_argument("--expect-ort", help="refuse to run unless onnxruntime is this version")
    parser.add_argument("--list", action="store_true", help="print the case names and exit")
    args = parser.parse_args()
    cases = [make() for make in CASES]
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        print("make_ort_ops_suite.py: duplicate case names", file=sys.stderr)
        return 1
    if args.list:
        print("\n".join(names))
        return 0
    if not args.out_dir:
        parser.error("OUT_DIR is required")
    if args.expect_ort and ort.__version__ != args.expect_ort:
        print(f"make_ort_ops_suite.py: onnxruntime is {ort.__version__}, expected "
              f"{args.expect_ort} (run scripts/setup to update .venv)", file=sys.stderr)
        return 2
    out_dir = os.path.abspath(args.out_dir)
    tmp_dir = out_dir + ".tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    os.makedirs(tmp_dir)
    for c in cases:
        try:
            write_case(c, tmp_dir)
        except Exception as e:  # a case ONNX Runtime rejects is a bug in this script
            print(f"make_ort_ops_suite.py: {c.name}: {e}", file=sys.stderr)
            return 1
    info = {
        "onnxruntime": ort.__version__,
        "onnx": onnx.__version__,
        "cases": len(cases),
        "command": "scripts/make_ort_ops_suite.py " + " ".join(sys.argv[1:]),
    }
    with open(os.path.join(tmp_dir, "SUITE.json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.rename(tmp_dir, out_dir)
    print(f"{out_dir}: {len(cases)} cases, outputs from onnxruntime {ort.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
