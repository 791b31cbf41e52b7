"""ONNX graph -> PyTorch program, written as Python source (NNSmith's "materialize the graph
as framework code"): the fuzzer's generated models run on PyTorch itself, eager and through
torch.compile, with no converter in between, so a difference between eager and Inductor names
the compiler, and the emitted source is the standalone reproducer a bug report needs.

emit(model) returns an Emitted: `source` defines `class Model(torch.nn.Module)` whose forward
takes the graph inputs in order and returns the graph outputs as a tuple; its weights are the
graph's initializers, registered as buffers from `params` (name -> numpy array) by
Model(params). Attribute values and the constant inputs ONNX passes as tensors (Reshape's
shape, Slice's starts, Pad's pads, reduce axes, Resize's scales) become Python literals.

The op set is the generator's (src/gen/specs), at opset 13..21 semantics. Anything the emitter
cannot express exactly in PyTorch (Resize modes torch lacks, pooling with ceil_mode, non-constant
shape inputs, ...) raises Unsupported naming the node: the torch env reports it as
"unsupported", which the fuzzer's op-support inference records, never as a finding.
"""

from __future__ import annotations

from typing import Any

from onnx_emit import (FLOAT_TYPES, Emitted, Node, OpTable, Unsupported, emit_graph,
                       explicit_pads, instantiate, one, reduce_axes, reduced_axes, spatial_rank,
                       unsqueeze_positions)

__all__ = ["Emitted", "Unsupported", "emit", "instantiate", "supported_ops", "TORCH_DTYPES"]

# ONNX TensorProto data types -> torch dtype spelling.
TORCH_DTYPES = {1: "torch.float32", 2: "torch.uint8", 3: "torch.int8", 5: "torch.int16",
                6: "torch.int32", 7: "torch.int64", 9: "torch.bool", 10: "torch.float16",
                11: "torch.float64", 16: "torch.bfloat16"}
_TABLE = OpTable("PyTorch")
_op = _TABLE.op


def supported_ops() -> list[str]:
    return sorted(_TABLE.handlers)


_UNARY = {"Abs": "torch.abs({})", "Acos": "torch.acos({})", "Asin": "torch.asin({})",
          "Ceil": "torch.ceil({})", "Cos": "torch.cos({})", "Erf": "torch.erf({})",
          "Exp": "torch.exp({})", "Floor": "torch.floor({})", "Log": "torch.log({})",
          "Neg": "torch.neg({})", "Reciprocal": "torch.reciprocal({})",
          "Relu": "torch.relu({})", "Round": "torch.round({})",
          "Sigmoid": "torch.sigmoid({})", "Sign": "torch.sign({})", "Sin": "torch.sin({})",
          "Sqrt": "torch.sqrt({})", "Tanh": "torch.tanh({})",
          "Softsign": "torch.nn.functional.softsign({})", "Not": "torch.logical_not({})",
          "Identity": "{}", "HardSwish": "torch.nn.functional.hardswish({})",
          "Atan": "torch.atan({})", "Sinh": "torch.sinh({})", "Cosh": "torch.cosh({})",
          "Tan": "torch.tan({})", "Mish": "torch.nn.functional.mish({})"}


@_op(*_UNARY)
def _unary(n: Node) -> list[str]:
    return one(n, _UNARY[n.op].format(n.inputs[0]))


@_op("Softplus")
def _softplus(n: Node) -> list[str]:
    # ONNX's log(exp(x) + 1); torch's softplus is x above threshold=20, where the two differ by
    # at most exp(-20) = 2e-9, and log1p(exp(x)) would overflow float16 above x = 11.
    return one(n, "torch.nn.functional.softplus({0})".format(n.inputs[0]))


@_op("Elu")
def _elu(n: Node) -> list[str]:
    return one(n, "torch.nn.functional.elu(%s, alpha=%r)" % (n.inputs[0], n.attr("alpha", 1.0)))


@_op("LeakyRelu")
def _leaky(n: Node) -> list[str]:
    return one(n, "torch.nn.functional.leaky_relu(%s, %r)" % (n.inputs[0],
                                                             n.attr("alpha", 0.01)))


@_op("HardSigmoid")
def _hard_sigmoid(n: Node) -> list[str]:
    return one(n, "torch.clamp(%s * %r + %r, 0, 1)" % (n.inputs[0], n.attr("alpha", 0.2),
                                                       n.attr("beta", 0.5)))


_BINARY = {"Add": "torch.add({}, {})", "Sub": "torch.sub({}, {})", "Mul": "torch.mul({}, {})",
           "Equal": "torch.eq({}, {})", "Greater": "torch.gt({}, {})",
           "GreaterOrEqual": "torch.ge({}, {})", "Less": "torch.lt({}, {})",
           "LessOrEqual": "torch.le({}, {})", "And": "torch.logical_and({}, {})",
           "Or": "torch.logical_or({}, {})", "Xor": "torch.logical_xor({}, {})",
           "MatMul": "torch.matmul({}, {})"}


@_op(*_BINARY)
def _binary(n: Node) -> list[str]:
    return one(n, _BINARY[n.op].format(n.inputs[0], n.inputs[1]))


@_op("Div")
def _div(n: Node) -> list[str]:
    mode = "" if n.dtypes[0] in FLOAT_TYPES else ", rounding_mode='trunc'"
    return one(n, "torch.div(%s, %s%s)" % (n.inputs[0], n.inputs[1], mode))


@_op("Pow")
def _pow(n: Node) -> list[str]:
    # ONNX: the result has the base's type whatever the exponent's.
    return one(n, "torch.pow(%s, %s).to(%s.dtype)" % (n.inputs[0], n.inputs[1], n.inputs[0]))


@_op("Max", "Min")
def _max_min(n: Node) -> list[str]:
    fn = "torch.maximum" if n.op == "Max" else "torch.minimum"
    expr = n.inputs[0]
    for x in n.inputs[1:]:
        expr = "%s(%s, %s)" % (fn, expr, x)
    return one(n, expr)


@_op("Where")
def _where(n: Node) -> list[str]:
    return one(n, "torch.where(%s, %s, %s)" % tuple(n.inputs[:3]))


@_op("Clip")
def _clip(n: Node) -> list[str]:
    lo = n.inputs[1] if len(n.inputs) > 1 and n.input_names[1] else "None"
    hi = n.inputs[2] if len(n.inputs) > 2 and n.input_names[2] else "None"
    if lo == "None" and hi == "None":
        return one(n, n.inputs[0])
    return one(n, "torch.clamp(%s, %s, %s)" % (n.inputs[0], lo, hi))


@_op("Cast")
def _cast(n: Node) -> list[str]:
    to = n.attr("to")
    if to not in TORCH_DTYPES:
        raise Unsupported("Cast '%s': to=%s has no torch dtype here" % (n.name, to))
    return one(n, "%s.to(%s)" % (n.inputs[0], TORCH_DTYPES[to]))


@_op("Gemm")
def _gemm(n: Node) -> list[str]:
    a = n.inputs[0] + (".t()" if n.attr("transA", 0) else "")
    b = n.inputs[1] + (".t()" if n.attr("transB", 0) else "")
    expr = "torch.matmul(%s, %s)" % (a, b)
    alpha, beta = n.attr("alpha", 1.0), n.attr("beta", 1.0)
    if alpha != 1.0:
        expr = "%s * %r" % (expr, alpha)
    if len(n.inputs) > 2 and n.input_names[2]:
        c = n.inputs[2] if beta == 1.0 else "%s * %r" % (n.inputs[2], beta)
        expr = "%s + %s" % (expr, c)
    return one(n, expr)


def _torch_pad_order(pads: list[int], k: int) -> tuple[int, ...]:
    """ONNX [b1..bk, e1..ek] -> torch.nn.functional.pad's (bk, ek, ..., b1, e1)."""
    out: list[int] = []
    for d in reversed(range(k)):
        out += [pads[d], pads[d + k]]
    return tuple(out)


@_op("Conv")
def _conv(n: Node) -> list[str]:
    k = spatial_rank(n)
    strides = list(n.attr("strides", [1] * k))
    dil = list(n.attr("dilations", [1] * k))
    pads = explicit_pads(n, k)
    x = n.inputs[0]
    lines: list[str] = []
    if pads[:k] != pads[k:]:
        lines.append("%s = torch.nn.functional.pad(%s, %r)" % (n.outputs[0], x,
                                                           _torch_pad_order(pads, k)))
        x, pad = n.outputs[0], [0] * k
    else:
        pad = pads[:k]
    bias = n.inputs[2] if len(n.inputs) > 2 and n.input_names[2] else "None"
    lines.append("%s = torch.nn.functional.conv%dd(%s, %s, %s, stride=%r, padding=%r, "
                 "dilation=%r, groups=%d)" % (n.outputs[0], k, x, n.inputs[1], bias,
                                              tuple(strides), tuple(pad), tuple(dil),
                                              n.attr("group", 1)))
    return lines


@_op("ConvTranspose")
def _conv_transpose(n: Node) -> list[str]:
    k = spatial_rank(n)
    if n.attr("output_shape") is not None or n.attr("auto_pad", "NOTSET") not in ("NOTSET", ""):
        raise Unsupported("ConvTranspose '%s': output_shape/auto_pad need the input shape" % n.name)
    strides = list(n.attr("strides", [1] * k))
    dil = list(n.attr("dilations", [1] * k))
    pads = list(n.attr("pads", [0] * (2 * k)))
    out_pad = list(n.attr("output_padding", [0] * k))
    bias = n.inputs[2] if len(n.inputs) > 2 and n.input_names[2] else "None"
    symmetric = pads[:k] == pads[k:]
    lines = ["%s = torch.nn.functional.conv_transpose%dd(%s, %s, %s, stride=%r, padding=%r, "
             "output_padding=%r, groups=%d, dilation=%r)"
             % (n.outputs[0], k, n.inputs[0], n.inputs[1], bias, tuple(strides),
                tuple(pads[:k]) if symmetric else (0,) * k, tuple(out_pad), n.attr("group", 1),
                tuple(dil))]
    if not symmetric:  # torch pads symmetrically: compute the full output, then crop
        o = n.outputs[0]
        for d in range(k):
            lines.append("%s = %s.narrow(%d, %d, %s.shape[%d] - %d)"
                         % (o, o, d + 2, pads[d], o, d + 2, pads[d] + pads[d + k]))
    return lines


def _pool_common(n: Node) -> tuple[int, list[int], list[int], list[int], list[int]]:
    k = spatial_rank(n)
    if n.attr("ceil_mode", 0):
        raise Unsupported("%s '%s': ceil_mode=1 (torch drops a last window that ONNX keeps)"
                          % (n.op, n.name))
    kernel = list(n.attr("kernel_shape"))
    strides = list(n.attr("strides", [1] * k))
    dil = list(n.attr("dilations", [1] * k))
    pads = explicit_pads(n, k)
    return k, kernel, strides, dil, pads


@_op("MaxPool")
def _max_pool(n: Node) -> list[str]:
    if len(n.outputs) > 1:
        raise Unsupported("MaxPool '%s': the Indices output" % n.name)
    k, kernel, strides, dil, pads = _pool_common(n)
    x, lines = n.inputs[0], []
    half_ok = all(pads[d] <= kernel[d] // 2 for d in range(k))  # torch's own limit
    # 3-D pooling also wants the unpadded input at least as large as the kernel: pad first.
    if pads[:k] != pads[k:] or not half_ok or (k == 3 and any(pads)):
        lines.append("%s = torch.nn.functional.pad(%s, %r, value=float('-inf'))"
                     % (n.outputs[0], x, _torch_pad_order(pads, k)))
        x, pad = n.outputs[0], [0] * k
    else:
        pad = pads[:k]
    if n.dtypes[0] not in FLOAT_TYPES and any(pads):
        raise Unsupported("MaxPool '%s': padded integer input" % n.name)
    lines.append("%s = torch.nn.functional.max_pool%dd(%s, %r, stride=%r, padding=%r, "
                 "dilation=%r)" % (n.outputs[0], k, x, tuple(kernel), tuple(strides),
                                   tuple(pad), tuple(dil)))
    return lines


@_op("AveragePool")
def _avg_pool(n: Node) -> list[str]:
    k, kernel, strides, dil, pads = _pool_common(n)
    if any(d != 1 for d in dil):
        raise Unsupported("AveragePool '%s': dilations (torch's avg_pool has none)" % n.name)
    include = bool(n.attr("count_include_pad", 0))
    x, lines = n.inputs[0], []
    half_ok = all(pads[d] <= kernel[d] // 2 for d in range(k))
    if pads[:k] != pads[k:] or not half_ok or (k == 3 and any(pads)):  # as in MaxPool
        if not include and any(pads):  # sum of the window / count of its real elements
            o, order = n.outputs[0], _torch_pad_order(pads, k)
            pool = "torch.nn.functional.avg_pool%dd(torch.nn.functional.pad(%%s, %r), %r, " \
                   "stride=%r)" % (k, order, tuple(kernel), tuple(strides))
            return ["%s = %s / %s" % (o, pool % x, pool % ("torch.ones_like(%s)" % x))]
        lines.append("%s = torch.nn.functional.pad(%s, %r)" % (n.outputs[0], x,
                                                           _torch_pad_order(pads, k)))
        x, pad = n.outputs[0], [0] * k
    else:
        pad = pads[:k]
    lines.append("%s = torch.nn.functional.avg_pool%dd(%s, %r, stride=%r, padding=%r, "
                 "count_include_pad=%r)" % (n.outputs[0], k, x, tuple(kernel), tuple(strides),
                                            tuple(pad), include))
    return lines


@_op("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(n: Node) -> list[str]:
    k = spatial_rank(n)
    dims = tuple(range(2, 2 + k))
    fn = "torch.mean" if n.op == "GlobalAveragePool" else "torch.amax"
    return one(n, "%s(%s, dim=%r, keepdim=True)" % (fn, n.inputs[0], dims))


@_op("BatchNormalization")
def _batch_norm(n: Node) -> list[str]:
    if n.attr("training_mode", 0) or len(n.outputs) > 1:
        raise Unsupported("BatchNormalization '%s': training mode" % n.name)
    x, s, b, m, v = n.inputs[:5]
    return one(n, "torch.nn.functional.batch_norm(%s, %s, %s, %s, %s, training=False, "
                  "eps=%r)" % (x, m, v, s, b, n.attr("epsilon", 1e-5)))


@_op("InstanceNormalization")
def _instance_norm(n: Node) -> list[str]:
    # By hand: torch's instance_norm refuses a single spatial element, ONNX allows it.
    r = n.ranks[0]
    if r is None or r < 3:
        raise Unsupported("InstanceNormalization '%s': input rank %s" % (n.name, r))
    dims = tuple(range(2, r))
    view = "(1, -1" + ", 1" * (r - 2) + ")"
    x, o = n.inputs[0], n.outputs[0]
    # In float32 (float16 inputs cast back), like ref: a float16 variance loses the digits.
    return ["%s = %s.float()" % (o, x),
            "%s = (%s - %s.mean(dim=%r, keepdim=True)) / torch.sqrt(%s.var(dim=%r, keepdim=True, "
            "unbiased=False) + %r)" % (o, o, o, dims, o, dims, n.attr("epsilon", 1e-5)),
            "%s = (%s * %s.float().reshape%s + %s.float().reshape%s).to(%s.dtype)"
            % (o, o, n.inputs[1], view, n.inputs[2], view, x)]


@_op("LayerNormalization")
def _layer_norm(n: Node) -> list[str]:
    if len([o for o in n.outputs if o]) > 1:
        raise Unsupported("LayerNormalization '%s': Mean/InvStdDev outputs" % n.name)
    r = n.ranks[0]
    if r is None:
        raise Unsupported("LayerNormalization '%s': unknown input rank" % n.name)
    axis = n.attr("axis", -1) % r
    dims = tuple(range(axis, r))
    if n.attr("stash_type", 1) != 1:
        raise Unsupported("LayerNormalization '%s': stash_type" % n.name)
    x, o = n.inputs[0], n.outputs[0]
    bias = n.inputs[2] if len(n.inputs) > 2 and n.input_names[2] else None
    # ONNX computes in float32 (stash_type 1) and casts back.
    lines = ["%s = %s.float()" % (o, x),
             "%s = (%s - %s.mean(dim=%r, keepdim=True)) / torch.sqrt(%s.var(dim=%r, "
             "keepdim=True, unbiased=False) + %r)" % (o, o, o, dims, o, dims,
                                                     n.attr("epsilon", 1e-5)),
             "%s = (%s.to(%s.dtype) * %s)" % (o, o, x, n.inputs[1])]
    if bias:
        lines.append("%s = %s + %s" % (o, o, bias))
    return lines


@_op("Softmax", "LogSoftmax")
def _softmax(n: Node) -> list[str]:
    fn = "softmax" if n.op == "Softmax" else "log_softmax"
    return one(n, "torch.nn.functional.%s(%s, dim=%d)" % (fn, n.inputs[0], n.attr("axis", -1)))


@_op("Flatten")
def _flatten(n: Node) -> list[str]:
    r = n.ranks[0]
    if r is None:
        raise Unsupported("Flatten '%s': unknown input rank" % n.name)
    axis = n.attr("axis", 1)
    axis = axis + r if axis < 0 else axis
    x = n.inputs[0]
    if axis == 0:
        return one(n, "%s.reshape(1, -1)" % x)
    if axis == r:
        return one(n, "%s.reshape(-1, 1)" % x)
    return one(n, "%s.flatten(%d).flatten(0, %d)" % (x, axis, axis - 1))


@_op("Reshape")
def _reshape(n: Node) -> list[str]:
    shape = n.const(1, "shape")
    assert shape is not None
    dims = [int(d) for d in shape.tolist()]
    x = n.inputs[0]
    if 0 in dims and not n.attr("allowzero", 0):
        parts = ["%s.shape[%d]" % (x, i) if d == 0 else str(d) for i, d in enumerate(dims)]
        return one(n, "%s.reshape(%s)" % (x, ", ".join(parts) or "()"))
    return one(n, "%s.reshape(%r)" % (x, tuple(dims)))


@_op("Transpose")
def _transpose(n: Node) -> list[str]:
    perm = n.attr("perm")
    if perm is None:
        r = n.ranks[0]
        if r is None:
            raise Unsupported("Transpose '%s': unknown rank" % n.name)
        perm = list(reversed(range(r)))
    return one(n, "%s.permute(%r)" % (n.inputs[0], tuple(perm)))


@_op("Squeeze")
def _squeeze(n: Node) -> list[str]:
    axes = reduce_axes(n, 1)
    if axes is None:
        return one(n, "torch.squeeze(%s)" % n.inputs[0])
    return one(n, "torch.squeeze(%s, %r)" % (n.inputs[0], tuple(axes)))


@_op("Unsqueeze")
def _unsqueeze(n: Node) -> list[str]:
    expr = n.inputs[0]
    for a in unsqueeze_positions(n):
        expr = "torch.unsqueeze(%s, %d)" % (expr, a)
    return one(n, expr)


@_op("Concat")
def _concat(n: Node) -> list[str]:
    return one(n, "torch.cat([%s], dim=%d)" % (", ".join(n.inputs), n.attr("axis")))


@_op("Split")
def _split(n: Node) -> list[str]:
    axis = n.attr("axis", 0)
    split = n.const(1, "split") if len(n.inputs) > 1 else None
    x = n.inputs[0]
    targets = ", ".join(o or "_" for o in n.outputs)
    if split is not None:
        return ["%s, = torch.split(%s, %r, dim=%d)" % (targets, x, tuple(int(s) for s in split),
                                                       axis)]
    count = n.attr("num_outputs", len(n.outputs))
    # ONNX: equal chunks, the last smaller (ceil division), like torch.split by ceil(dim/count).
    return ["%s, = torch.split(%s, -(-%s.shape[%d] // %d), dim=%d)" % (targets, x, x, axis,
                                                                       count, axis)]


@_op("Slice")
def _slice(n: Node) -> list[str]:
    starts, ends = n.const(1, "starts"), n.const(2, "ends")
    axes = n.const(3, "axes") if len(n.inputs) > 3 else None
    steps = n.const(4, "steps") if len(n.inputs) > 4 else None
    assert starts is not None and ends is not None
    count = len(starts)
    ax = [int(a) for a in (axes.tolist() if axes is not None else range(count))]
    st = [int(s) for s in (steps.tolist() if steps is not None else [1] * count)]
    args = ", ".join("(%d, %d, %d, %d)" % (a, int(b), int(e), s)
                     for a, b, e, s in zip(ax, starts.tolist(), ends.tolist(), st))
    return one(n, "onnx_slice(%s, [%s])" % (n.inputs[0], args))


@_op("Gather")
def _gather(n: Node) -> list[str]:
    return one(n, "onnx_gather(%s, %s, %d)" % (n.inputs[0], n.inputs[1], n.attr("axis", 0)))


@_op("Expand")
def _expand(n: Node) -> list[str]:
    shape = n.const(1, "shape")
    assert shape is not None
    x = n.inputs[0]
    return one(n, "torch.broadcast_to(%s, torch.broadcast_shapes(%s.shape, %r))"
               % (x, x, tuple(int(d) for d in shape.tolist())))


@_op("Pad")
def _pad(n: Node) -> list[str]:
    pads = n.const(1, "pads")
    assert pads is not None
    value = n.const(2, "constant_value") if len(n.inputs) > 2 else None
    axes = n.const(3, "axes") if len(n.inputs) > 3 else None
    r = n.ranks[0]
    if r is None:
        raise Unsupported("Pad '%s': unknown rank" % n.name)
    p = [int(v) for v in pads.tolist()]
    ax = [int(a) % r for a in axes.tolist()] if axes is not None else list(range(r))
    full = [0] * (2 * r)
    for i, a in enumerate(ax):
        full[a], full[a + r] = p[i], p[i + len(ax)]
    mode = n.attr("mode", "constant")
    torch_pads = _torch_pad_order(full, r)
    # Trailing all-zero pairs of F.pad's order (leading dims) can be dropped.
    while len(torch_pads) > 2 and torch_pads[-2:] == (0, 0):
        torch_pads = torch_pads[:-2]
    if mode == "constant":
        v = float(value.reshape(-1)[0]) if value is not None and value.size else 0.0
        if n.dtypes[0] not in FLOAT_TYPES:
            v = int(v)
        return one(n, "torch.nn.functional.pad(%s, %r, value=%r)" % (n.inputs[0], torch_pads, v))
    if mode not in ("reflect", "edge", "wrap") or any(v < 0 for v in p):
        raise Unsupported("Pad '%s': mode %s with pads %s" % (n.name, mode, p))
    # Gather along each padded axis with indices the mode computes (any rank and dtype).
    o, x, lines = n.outputs[0], n.inputs[0], []
    for a in range(r):
        b, e = full[a], full[a + r]
        if b or e:
            lines.append("%s = onnx_pad_axis(%s, %d, %d, %d, %r)" % (o, x, a, b, e, mode))
            x = o
    return lines or one(n, x)


@_op("Resize")
def _resize(n: Node) -> list[str]:
    mode = n.attr("mode", "nearest")
    ctm = n.attr("coordinate_transformation_mode", "half_pixel")
    nearest = n.attr("nearest_mode", "round_prefer_floor")
    r = n.ranks[0] or 0
    if not 3 <= r <= 5 or n.attr("antialias", 0) or n.attr("axes") is not None \
            or n.attr("exclude_outside", 0):
        raise Unsupported("Resize '%s': rank %d (torch resizes 1-3 spatial dims), or antialias/"
                          "axes/exclude_outside" % (n.name, r))
    linear = {3: "linear", 4: "bilinear", 5: "trilinear"}[r]
    if mode == "nearest" and ctm == "asymmetric" and nearest == "floor":
        how = "mode='nearest'"
    elif mode == "linear" and ctm in ("half_pixel", "align_corners"):
        how = "mode='%s', align_corners=%r" % (linear, ctm == "align_corners")
    elif mode == "cubic" and r == 4 and ctm in ("half_pixel", "align_corners") \
            and n.attr("cubic_coeff_a", -0.75) == -0.75:
        how = "mode='bicubic', align_corners=%r" % (ctm == "align_corners")
    else:
        raise Unsupported("Resize '%s': mode=%s coordinate_transformation_mode=%s nearest_mode=%s "
                          "has no torch.nn.functional.interpolate equivalent" % (n.name, mode,
                                                                                 ctm, nearest))
    scales = n.const(2, "scales") if len(n.inputs) > 2 else None
    sizes = n.const(3, "sizes") if len(n.inputs) > 3 else None
    if sizes is not None and sizes.size:
        spec = "size=%r" % (tuple(int(v) for v in sizes[2:]),)
    elif scales is not None and scales.size:
        if float(scales[0]) != 1.0 or float(scales[1]) != 1.0:
            raise Unsupported("Resize '%s': scales on N or C" % n.name)
        spec = "scale_factor=%r, recompute_scale_factor=False" % (
            tuple(float(v) for v in scales[2:]),)
    else:
        raise Unsupported("Resize '%s': neither scales nor sizes" % n.name)
    return one(n, "torch.nn.functional.interpolate(%s, %s, %s)" % (n.inputs[0], spec, how))


_REDUCE = {"ReduceSum": "torch.sum({x}, dim={d}, keepdim={k}).to({x}.dtype)",
           "ReduceMean": "torch.mean({x}, dim={d}, keepdim={k})",
           "ReduceMax": "torch.amax({x}, dim={d}, keepdim={k})",
           "ReduceMin": "torch.amin({x}, dim={d}, keepdim={k})",
           "ReduceL2": "torch.sqrt(torch.sum({x} * {x}, dim={d}, keepdim={k}))",
           "ReduceProd": "onnx_prod({x}, {d}, {k})"}


@_op(*_REDUCE)
def _reduce(n: Node) -> list[str]:
    axes = reduced_axes(n)
    if axes is None:
        return one(n, n.inputs[0])
    keep = bool(n.attr("keepdims", 1))
    x = n.inputs[0]
    if n.op == "ReduceMean" and n.dtypes[0] not in FLOAT_TYPES:  # integer sum / count
        count = " * ".join("%s.shape[%d]" % (x, a) for a in axes)
        return one(n, "torch.div(torch.sum(%s, dim=%r, keepdim=%r), %s, rounding_mode='trunc')"
                      ".to(%s.dtype)" % (x, tuple(axes), keep, count, x))
    return one(n, _REDUCE[n.op].format(x=x, d=tuple(axes), k=keep))


@_op("ArgMax", "ArgMin")
def _arg(n: Node) -> list[str]:
    fn = "torch.argmax" if n.op == "ArgMax" else "torch.argmin"
    axis, keep = n.attr("axis", 0), bool(n.attr("keepdims", 1))
    x = n.inputs[0]
    if n.attr("select_last_index", 0):
        return one(n, "%s.shape[%d] - 1 - %s(torch.flip(%s, [%d]), dim=%d, keepdim=%r)"
                   % (x, axis, fn, x, axis, axis, keep))
    return one(n, "%s(%s, dim=%d, keepdim=%r)" % (fn, x, axis, keep))


@_op("TopK")
def _topk(n: Node) -> list[str]:
    # ONNX orders ties by index (the lower first); torch.topk leaves ties unspecified, a stable
    # sort does not.
    k = n.const(1, "K")
    assert k is not None
    values, indices = (n.outputs + [""])[:2]
    axis = n.attr("axis", -1)
    lines = ["%s, %s = torch.sort(%s, dim=%d, descending=%r, stable=True)"
             % (values or "_", indices or "_", n.inputs[0], axis, bool(n.attr("largest", 1)))]
    return lines + ["%s = %s.narrow(%d, 0, %d)" % (o, o, axis, int(k.reshape(-1)[0]))
                    for o in (values, indices) if o]


_PRELUDE = '''import torch


def onnx_slice(x, specs):
    """ONNX Slice: (axis, start, end, step) per axis, clamped as the spec says."""
    for axis, start, end, step in specs:
        dim = x.shape[axis]
        if start < 0:
            start += dim
        if end < 0:
            end += dim
        if step > 0:
            start, end = min(max(start, 0), dim), min(max(end, 0), dim)
            x = x.narrow(axis, start, max(end - start, 0))[
                (slice(None),) * (axis % x.dim()) + (slice(None, None, step),)]
        else:
            start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
            index = torch.arange(start, end, step, device=x.device)
            x = x.index_select(axis, index)
    return x


def onnx_gather(x, indices, axis):
    """ONNX Gather: negative indices count from the end."""
    axis %= x.dim()
    flat = indices.reshape(-1).long()
    flat = torch.where(flat < 0, flat + x.shape[axis], flat)
    out = x.index_select(axis, flat)
    return out.reshape(tuple(x.shape[:axis]) + tuple(indices.shape) + tuple(x.shape[axis + 1:]))


def onnx_pad_axis(x, axis, before, after, mode):
    """ONNX Pad's reflect / edge / wrap along one axis, as a gather."""
    n = x.shape[axis]
    i = torch.arange(-before, n + after, device=x.device)
    if mode == "edge":
        i = i.clamp(0, n - 1)
    elif mode == "wrap":
        i = i % n
    else:
        i = (n - 1) - ((n - 1) - i.abs()).abs()
    return x.index_select(axis, i)


def onnx_prod(x, dims, keepdim):
    for d in sorted((d % x.dim() for d in dims), reverse=True):
        x = torch.prod(x, dim=d, keepdim=keepdim).to(x.dtype)
    return x
'''


def emit(model: Any) -> Emitted:
    """Emits `model` (an onnx.ModelProto, opset 13..21, default domain only) as PyTorch source."""
    code = emit_graph(model, _TABLE)
    lines = [_PRELUDE, "", "class Model(torch.nn.Module):",
             "    def __init__(self, params):", "        super().__init__()",
             "        for name, value in params.items():",
             "            self.register_buffer(name, torch.from_numpy(value.copy()))", "",
             "    def forward(%s):" % ", ".join(["self"] + code.args)]
    lines += ["        " + line for line in code.body]
    lines.append("        return (%s,)" % ", ".join(code.returns))
    return Emitted("\n".join(lines) + "\n", code.params, code.input_names, code.output_names)
