#!/usr/bin/env python3
"""Writes one-op float6 check models (ONNX 1.23: IR 14, opset 28) in ONNX's test layout, with
expected outputs from ONNX's reference implementation (onnx.reference):

  make_float6_suite.py OUT_DIR [--check]

FLOAT6E2M3 (27) and FLOAT6E3M2 (28) are the OCP MX 6-bit floats (no inf, no NaN; max 7.5 and
28). ONNX 1.23.2's own node tests have no float6 case, so this suite is the end-to-end check:

  cast_*             Cast-28 to both float6 types from float, float16, double and int32, with
                     saturate 0 and 1 (every code, every tie between neighbours, values just off
                     the ties, overflow, +-inf, NaN, +-0, underflow), and from float6 to float,
                     float16, bfloat16, double, int32, float8e4m3fn, float4e2m1 and the other
                     float6
  cast_*_sign        the sign of the zeros float6 produces (NaN -> -0), seen through 1 / float(y)
  quantize_*         QuantizeLinear-28 into float6: per tensor with and without a zero point,
                     output_dtype, saturate 0, per axis, blocked scales (block_size 2 and 3, the
                     last block short), float16 operands, precision
  dequantize_*       DequantizeLinear-28 from float6: per tensor, zero points (subtracted), per
                     axis, blocked, float16 scales, output_dtype, a float6 initializer
  qdq_*              QuantizeLinear then DequantizeLinear (fake quantization through float6)
  optional_*         Optional-28 / OptionalHasElement / OptionalGetElement-28 on float6 tensors
  castlike_*         CastLike to and from float6 (see below)

Inputs and outputs are TensorProto files (float6 packed four codes to three bytes in raw_data, as
onnx.numpy_helper writes them; one input per float6 type uses the int32_data form, one code per
entry).

ONNX 1.23.2 has no CastLike-28, and CastLike-25's type constraints do not list float6: the checker
passes such a model, strict shape inference (check_model's full_check) refuses it, and
onnx.reference runs it. The castlike_* cases are off-schema in that sense; they check that a
runtime that runs them (ref does) casts as Cast-28 does.

--check also checks the script itself: every model passes onnx.checker with full_check (the
castlike_* cases pass the plain checker and must fail full_check, as said above); the 64 codes
of each type decode by the OCP formula (written here, independent of ml_dtypes); and each case is
tried on ONNX Runtime (1.32 has no float6 kernels: the count that ran is printed, and any case it
runs must agree).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import warnings
from typing import Any, Callable

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

OPSET = 28
IR = 14
E2M3, E3M2 = int(TensorProto.FLOAT6E2M3), int(TensorProto.FLOAT6E3M2)
F6: dict[int, Any] = {E2M3: ml_dtypes.float6_e2m3fn, E3M2: ml_dtypes.float6_e3m2fn}
SHORT = {E2M3: "e2m3", E3M2: "e3m2"}
# (exponent bits, mantissa bits, bias) of each type, for the independent decoder.
LAYOUT: dict[int, tuple[int, int, int]] = {E2M3: (2, 3, 1), E3M2: (3, 2, 3)}


def decode(code: int, elem: int) -> float:
    """Value of a 6-bit code by the OCP MX formula (no specials)."""
    ebits, mbits, bias = LAYOUT[elem]
    sign = -1.0 if code >> 5 else 1.0
    e, m = (code >> mbits) & ((1 << ebits) - 1), code & ((1 << mbits) - 1)
    if e == 0:
        return sign * m * 2.0 ** (1 - bias - mbits)
    return sign * (1 + m / 2**mbits) * 2.0 ** (e - bias)


def all_codes(elem: int) -> np.ndarray:
    return np.arange(64, dtype=np.uint8).view(F6[elem])


def probe_values(elem: int) -> np.ndarray:
    """Every value of the type, the midpoints between neighbours (the ties), values a little off
    each midpoint, and the specials: what a conversion into the type must get right."""
    pos = np.unique(np.abs(all_codes(elem).astype(np.float64)))  # 0 .. max, ascending
    mids = (pos[:-1] + pos[1:]) / 2
    top = pos[-1]
    gap = pos[-1] - pos[-2]
    extra = [top + gap / 2, top + gap / 2 - gap / 64, top + gap, 1e30, pos[1] / 2, pos[1] / 4,
             pos[1] / 2 + pos[1] / 64, 1e-30]
    vals = np.concatenate([pos, mids, mids * (1 + 1 / 64), mids * (1 - 1 / 64), extra])
    vals = np.concatenate([vals, -vals, [np.inf, -np.inf, np.nan, -np.nan, 0.0, -0.0]])
    return vals


def vi(name: str, elem: int, shape: list[int] | None) -> Any:
    return helper.make_tensor_value_info(name, elem, shape)


def make_model(name: str, nodes: list[Any], inputs: list[Any], outputs: list[Any],
               inits: list[Any] | None = None) -> Any:
    graph = helper.make_graph(nodes, name, inputs, outputs, inits or [])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="concord-make_float6_suite")
    m.ir_version = IR
    return m


class Case:
    def __init__(self, name: str, model: Any, data_sets: list[list[Any]],
                 int32_inputs: bool = False,
                 expect: Callable[[list[Any]], list[Any]] | None = None) -> None:
        self.name, self.model, self.data_sets = name, model, data_sets
        self.int32_inputs = int32_inputs  # write float6 inputs as int32_data, one code per entry
        self.expect = expect  # the expected outputs where onnx.reference is wrong


def tensor_proto(arr: np.ndarray, name: str, int32: bool) -> Any:
    if int32 and arr.dtype in (np.dtype(t) for t in F6.values()):
        elem = E2M3 if arr.dtype == np.dtype(F6[E2M3]) else E3M2
        t = TensorProto()
        t.name, t.data_type = name, elem
        t.dims.extend(arr.shape)
        t.int32_data.extend(arr.view(np.uint8).reshape(-1).tolist())
        return t
    return numpy_helper.from_array(arr, name)


# ---- cases ---------------------------------------------------------------------------------


def cast_cases() -> list[Case]:
    cases = []
    sources = {TensorProto.FLOAT: np.float32, TensorProto.FLOAT16: np.float16,
               TensorProto.DOUBLE: np.float64}
    for to in (E2M3, E3M2):
        for src, np_t in sources.items():
            x = probe_values(to).astype(np_t)
            for sat in (1, 0):
                if src != TensorProto.FLOAT and sat == 0:
                    continue  # saturate makes no difference for float6; once is enough
                name = f"cast_{helper.tensor_dtype_to_np_dtype(src).name}_to_float6{SHORT[to]}"
                name += f"_saturate{sat}"
                m = make_model(name, [helper.make_node("Cast", ["x"], ["y"], to=to, saturate=sat)],
                               [vi("x", src, [len(x)])], [vi("y", to, [len(x)])])
                cases.append(Case(name, m, [[x]]))
        ints = np.array([0, 1, -1, 7, 8, -8, 27, 28, 29, 31, 100, -100000, 2**31 - 1], np.int32)
        name = f"cast_int32_to_float6{SHORT[to]}"
        m = make_model(name, [helper.make_node("Cast", ["x"], ["y"], to=to)],
                       [vi("x", TensorProto.INT32, [len(ints)])], [vi("y", to, [len(ints)])])
        cases.append(Case(name, m, [[ints]]))
        # The sign of zero: NaN becomes -0, -tiny -0; float(y) hides it, 1 / float(y) does not.
        x = np.array([np.nan, -np.nan, 1e-9, -1e-9, 0.0, -0.0, 1.0], np.float32)
        name = f"cast_float_to_float6{SHORT[to]}_sign"
        m = make_model(name, [
            helper.make_node("Cast", ["x"], ["y"], to=to),
            helper.make_node("Cast", ["y"], ["f"], to=TensorProto.FLOAT),
            helper.make_node("Reciprocal", ["f"], ["r"]),
        ], [vi("x", TensorProto.FLOAT, [7])], [vi("y", to, [7]), vi("r", TensorProto.FLOAT, [7])])
        cases.append(Case(name, m, [[x]]))
    targets = [TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE,
               TensorProto.INT32, TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT4E2M1]
    for frm in (E2M3, E3M2):
        codes = all_codes(frm)
        other = E3M2 if frm == E2M3 else E2M3
        for to in targets + [other]:
            tname = helper.tensor_dtype_to_string(to).split(".")[-1].lower()
            name = f"cast_float6{SHORT[frm]}_to_{tname}"
            m = make_model(name, [helper.make_node("Cast", ["x"], ["y"], to=to)],
                           [vi("x", frm, [8, 8])], [vi("y", to, [8, 8])])
            # The float input goes as int32_data once per type (the other encoding).
            cases.append(Case(name, m, [[codes.reshape(8, 8)]], int32_inputs=to == TensorProto.FLOAT))
    return cases


def castlike_cases() -> list[Case]:
    cases = []
    for elem in (E2M3, E3M2):
        x = probe_values(elem).astype(np.float32)
        name = f"castlike_float_to_float6{SHORT[elem]}"
        m = make_model(name, [helper.make_node("CastLike", ["x", "t"], ["y"])],
                       [vi("x", TensorProto.FLOAT, [len(x)]), vi("t", elem, [1])],
                       [vi("y", elem, [len(x)])])
        cases.append(Case(name, m, [[x, all_codes(elem)[:1]]]))
        name = f"castlike_float6{SHORT[elem]}_to_float16"
        m = make_model(name, [helper.make_node("CastLike", ["x", "t"], ["y"])],
                       [vi("x", elem, [64]), vi("t", TensorProto.FLOAT16, [1])],
                       [vi("y", TensorProto.FLOAT16, [64])])
        cases.append(Case(name, m, [[all_codes(elem), np.zeros(1, np.float16)]]))
    return cases


def quantize_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for elem in (E2M3, E3M2):
        s = SHORT[elem]
        top = float(np.abs(all_codes(elem).astype(np.float64)).max())
        x = np.concatenate([probe_values(elem) * 0.5, rng.uniform(-2 * top, 2 * top, 40)])
        x = x.astype(np.float32)
        n = len(x)
        scale = np.array(0.5, np.float32)
        # Per tensor, with a zero point (added to x / scale before rounding).
        zp = np.array(1.5 if elem == E2M3 else -3.0, F6[elem])
        m = make_model(f"quantize_float6{s}_zero_point", [
            helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])],
            [vi("x", TensorProto.FLOAT, [n]), vi("s", TensorProto.FLOAT, []), vi("z", elem, [])],
            [vi("y", elem, [n])])
        cases.append(Case(m.graph.name, m, [[x, scale, zp]]))
        # output_dtype and no zero point; saturate=0 changes nothing for float6.
        for sat in (1, 0):
            name = f"quantize_float6{s}_output_dtype_saturate{sat}"
            m = make_model(name, [helper.make_node("QuantizeLinear", ["x", "s"], ["y"],
                                                   output_dtype=elem, saturate=sat)],
                           [vi("x", TensorProto.FLOAT, [n]), vi("s", TensorProto.FLOAT, [])],
                           [vi("y", elem, [n])])
            cases.append(Case(name, m, [[x, scale]]))
        # Per axis (axis 1 of [3, 4, 5]).
        xa = rng.uniform(-3 * top, 3 * top, (3, 4, 5)).astype(np.float32)
        sa = np.array([0.25, 1, 2, 8], np.float32)
        za = np.array([0, 1, -1, 0.5], np.float32).astype(F6[elem])
        m = make_model(f"quantize_float6{s}_per_axis", [
            helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], axis=1)],
            [vi("x", TensorProto.FLOAT, [3, 4, 5]), vi("s", TensorProto.FLOAT, [4]),
             vi("z", elem, [4])], [vi("y", elem, [3, 4, 5])])
        cases.append(Case(m.graph.name, m, [[xa, sa, za]]))
        # Blocked: block_size 2 along axis 1 of [2, 6]; block_size 3 along axis 0 of [7, 3]
        # (blocks of 3, 3 and 1).
        xb = rng.uniform(-4 * top, 4 * top, (2, 6)).astype(np.float32)
        sb = rng.uniform(0.2, 3, (2, 3)).astype(np.float32)
        zb = rng.uniform(-1, 1, (2, 3)).astype(F6[elem])
        m = make_model(f"quantize_float6{s}_blocked", [
            helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], axis=1, block_size=2)],
            [vi("x", TensorProto.FLOAT, [2, 6]), vi("s", TensorProto.FLOAT, [2, 3]),
             vi("z", elem, [2, 3])], [vi("y", elem, [2, 6])])
        cases.append(Case(m.graph.name, m, [[xb, sb, zb]]))
        xc = rng.uniform(-4 * top, 4 * top, (7, 3)).astype(np.float32)
        sc = rng.uniform(0.2, 3, (3, 3)).astype(np.float32)
        m = make_model(f"quantize_float6{s}_blocked_short_last_block", [
            helper.make_node("QuantizeLinear", ["x", "s"], ["y"], axis=0, block_size=3,
                             output_dtype=elem)],
            [vi("x", TensorProto.FLOAT, [7, 3]), vi("s", TensorProto.FLOAT, [3, 3])],
            [vi("y", elem, [7, 3])])
        cases.append(Case(m.graph.name, m, [[xc, sc]]))
        # float16 operands (x / scale in float16, the zero point added in float32) and
        # precision (both operands rounded to float16 first).
        xh = x.astype(np.float16)
        sh = np.array(0.3, np.float16)
        m = make_model(f"quantize_float6{s}_float16", [
            helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])],
            [vi("x", TensorProto.FLOAT16, [n]), vi("s", TensorProto.FLOAT16, []),
             vi("z", elem, [])], [vi("y", elem, [n])])
        cases.append(Case(m.graph.name, m, [[xh, sh, zp]]))
        m = make_model(f"quantize_float6{s}_precision_float16", [
            helper.make_node("QuantizeLinear", ["x", "s"], ["y"], output_dtype=elem,
                             precision=TensorProto.FLOAT16)],
            [vi("x", TensorProto.FLOAT, [n]), vi("s", TensorProto.FLOAT, [])],
            [vi("y", elem, [n])])
        cases.append(Case(m.graph.name, m, [[x * np.float32(1.001), np.array(0.3, np.float32)]]))
    return cases


def dequantize_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for elem in (E2M3, E3M2):
        s = SHORT[elem]
        codes = all_codes(elem)
        m = make_model(f"dequantize_float6{s}", [
            helper.make_node("DequantizeLinear", ["x", "s"], ["y"])],
            [vi("x", elem, [64]), vi("s", TensorProto.FLOAT, [])], [vi("y", TensorProto.FLOAT, [64])])
        cases.append(Case(m.graph.name, m, [[codes, np.array(0.375, np.float32)]]))
        # A zero point of x's type is subtracted.
        m = make_model(f"dequantize_float6{s}_zero_point", [
            helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"])],
            [vi("x", elem, [64]), vi("s", TensorProto.FLOAT, []), vi("z", elem, [])],
            [vi("y", TensorProto.FLOAT, [64])])
        cases.append(Case(m.graph.name, m, [[codes, np.array(1.25, np.float32),
                                             np.array(-1.5, F6[elem])]]))
        # Per axis (axis 0 of [8, 8]) with zero points.
        m = make_model(f"dequantize_float6{s}_per_axis", [
            helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"], axis=0)],
            [vi("x", elem, [8, 8]), vi("s", TensorProto.FLOAT, [8]), vi("z", elem, [8])],
            [vi("y", TensorProto.FLOAT, [8, 8])])
        sa = rng.uniform(0.1, 4, 8).astype(np.float32)
        za = rng.uniform(-2, 2, 8).astype(F6[elem])
        cases.append(Case(m.graph.name, m, [[codes.reshape(8, 8), sa, za]]))
        # Blocked along axis 1 (block_size 3: blocks 3, 3, 2), float16 scales, output float16.
        sb = rng.uniform(0.1, 4, (8, 3)).astype(np.float16)
        zb = rng.uniform(-2, 2, (8, 3)).astype(F6[elem])
        m = make_model(f"dequantize_float6{s}_blocked_float16", [
            helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"], axis=1, block_size=3)],
            [vi("x", elem, [8, 8]), vi("s", TensorProto.FLOAT16, [8, 3]), vi("z", elem, [8, 3])],
            [vi("y", TensorProto.FLOAT16, [8, 8])])
        cases.append(Case(m.graph.name, m, [[codes.reshape(8, 8), sb, zb]]))
        # output_dtype bfloat16 from a float scale.
        m = make_model(f"dequantize_float6{s}_output_bfloat16", [
            helper.make_node("DequantizeLinear", ["x", "s"], ["y"],
                             output_dtype=TensorProto.BFLOAT16)],
            [vi("x", elem, [64]), vi("s", TensorProto.FLOAT, [])],
            [vi("y", TensorProto.BFLOAT16, [64])])
        cases.append(Case(m.graph.name, m, [[codes, np.array(3.1, np.float32)]]))
        # A float6 weight as an initializer (packed raw_data inside model.onnx).
        w = rng.uniform(-6, 6, (4, 5)).astype(F6[elem])
        init = numpy_helper.from_array(w, "w")
        m = make_model(f"dequantize_float6{s}_initializer", [
            helper.make_node("DequantizeLinear", ["w", "s"], ["wf"], axis=0),
            helper.make_node("MatMul", ["x", "wf"], ["y"])],
            [vi("x", TensorProto.FLOAT, [2, 4])], [vi("y", TensorProto.FLOAT, [2, 5])],
            [init, numpy_helper.from_array(np.array([0.5, 1, 2, 0.25], np.float32), "s")])
        cases.append(Case(m.graph.name, m, [[rng.integers(-3, 4, (2, 4)).astype(np.float32)]]))
    return cases


def qdq_and_optional_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for elem in (E2M3, E3M2):
        s = SHORT[elem]
        x = rng.standard_normal((4, 8)).astype(np.float32) * 3
        m = make_model(f"qdq_float6{s}_blocked", [
            helper.make_node("QuantizeLinear", ["x", "s"], ["q"], axis=1, block_size=4,
                             output_dtype=elem),
            helper.make_node("DequantizeLinear", ["q", "s"], ["y"], axis=1, block_size=4)],
            [vi("x", TensorProto.FLOAT, [4, 8]), vi("s", TensorProto.FLOAT, [4, 2])],
            [vi("y", TensorProto.FLOAT, [4, 8])])
        cases.append(Case(m.graph.name, m, [[x, rng.uniform(0.1, 1, (4, 2)).astype(np.float32)]]))
        opt_type = helper.make_optional_type_proto(helper.make_tensor_type_proto(elem, [5]))
        m = make_model(f"optional_float6{s}", [
            helper.make_node("Optional", ["x"], ["o"]),
            helper.make_node("OptionalHasElement", ["o"], ["has"]),
            helper.make_node("OptionalGetElement", ["o"], ["y"])],
            [vi("x", elem, [5])], [vi("has", TensorProto.BOOL, []), vi("y", elem, [5])])
        m.graph.value_info.append(helper.make_value_info("o", opt_type))
        # onnx.reference's Optional wraps its tensor in a list, so its OptionalGetElement gives
        # a [1, 5] array; the spec (and ONNX's own optional node tests) give the tensor back.
        cases.append(Case(m.graph.name, m, [[all_codes(elem)[[1, 31, 32, 40, 63]]]],
                          expect=lambda ins: [np.array(True), ins[0]]))
    return cases


# ---- writing -------------------------------------------------------------------------------


def expected_outputs(case: Case, inputs: list[np.ndarray]) -> list[Any]:
    if case.expect is not None:
        return case.expect(inputs)
    model = case.model
    feeds = {vi.name: v for vi, v in zip(model.graph.input, inputs)}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return list(ReferenceEvaluator(model).run(None, feeds))


def write_case(case: Case, out_dir: str) -> None:
    case_dir = os.path.join(out_dir, "test_" + case.name)
    os.makedirs(case_dir)
    model = case.model
    with open(os.path.join(case_dir, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    for i, inputs in enumerate(case.data_sets):
        set_dir = os.path.join(case_dir, f"test_data_set_{i}")
        os.makedirs(set_dir)
        outputs = expected_outputs(case, inputs)
        for prefix, values, infos, int32 in (
            ("input", inputs, model.graph.input, case.int32_inputs),
            ("output", outputs, model.graph.output, False),
        ):
            for k, value in enumerate(values):
                arr = np.asarray(value)
                want = helper.tensor_dtype_to_np_dtype(infos[k].type.tensor_type.elem_type)
                if arr.dtype != want:
                    raise SystemExit(f"{case.name}: {prefix} {k} is {arr.dtype}, declared {want}")
                proto = tensor_proto(arr, infos[k].name, int32)
                with open(os.path.join(set_dir, f"{prefix}_{k}.pb"), "wb") as f:
                    f.write(proto.SerializeToString())


def all_cases() -> list[Case]:
    rng = np.random.default_rng(20261206)
    with np.errstate(over="ignore"):  # 1e30 into float16 becomes inf on purpose
        return (cast_cases() + castlike_cases() + quantize_cases(rng) + dequantize_cases(rng)
                + qdq_and_optional_cases(rng))


# ---- --check -------------------------------------------------------------------------------


def check(cases: list[Case]) -> int:
    for elem in (E2M3, E3M2):
        got = all_codes(elem).astype(np.float64)
        want = np.array([decode(c, elem) for c in range(64)])
        if not np.array_equal(got, want) or not np.array_equal(np.signbit(got), np.signbit(want)):
            print(f"ml_dtypes decodes {SHORT[elem]} differently from the OCP formula",
                  file=sys.stderr)
            return 1
    for case in cases:
        off_schema = case.name.startswith("castlike_")
        onnx.checker.check_model(case.model, full_check=not off_schema)
        if off_schema:
            try:
                onnx.checker.check_model(case.model, full_check=True)
            except onnx.shape_inference.InferenceError:
                continue
            print(f"{case.name}: CastLike now takes float6 (full_check passes): make it a "
                  "regular case", file=sys.stderr)
            return 1
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime is not installed: ORT not tried")
        return 0
    ort.set_default_logger_severity(4)  # its refusals are reported below, once
    ran, refused = 0, []
    for case in cases:
        try:
            sess = ort.InferenceSession(case.model.SerializeToString(),
                                        providers=["CPUExecutionProvider"])
        except Exception as e:  # ORT's Fail / NotImplemented / InvalidGraph
            refused.append(f"{case.name}: {str(e).splitlines()[0][:160]}")
            continue
        for inputs in case.data_sets:
            feeds = {vi.name: v for vi, v in zip(case.model.graph.input, inputs)}
            got = sess.run(None, feeds)
            for g, w in zip(got, expected_outputs(case, inputs)):
                g64, w64 = np.asarray(g).astype(np.float64), np.asarray(w).astype(np.float64)
                if not np.array_equal(g64, w64, equal_nan=True):
                    print(f"{case.name}: ORT disagrees with onnx.reference", file=sys.stderr)
                    return 1
        ran += 1
    print(f"onnxruntime {ort.__version__}: ran {ran} of {len(cases)} cases (all agree); "
          f"refused {len(refused)}")
    for line in refused[:3]:
        print("  e.g. " + line)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--check", action="store_true",
                        help="also check the models, the decoding and ONNX Runtime")
    args = parser.parse_args(argv)
    cases = all_cases()
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        print("make_float6_suite.py: duplicate case names", file=sys.stderr)
        return 1
    if args.check and check(cases) != 0:
        return 1
    out_dir = os.path.abspath(args.out_dir)
    tmp_dir = out_dir + ".tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    os.makedirs(tmp_dir)
    for case in cases:
        write_case(case, tmp_dir)
    with open(os.path.join(tmp_dir, "SUITE.json"), "w") as f:
        json.dump({"onnx": onnx.__version__, "cases": len(cases),
                   "command": "scripts/make_float6_suite.py " + " ".join(argv)}, f, indent=2)
        f.write("\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.rename(tmp_dir, out_dir)
    print(f"{out_dir}: {len(cases)} float6 cases, expected outputs from onnx {onnx.__version__}'s "
          "reference")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
