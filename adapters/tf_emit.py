"""ONNX graph -> TensorFlow program, written as Python source (the TensorFlow twin of
torch_emit.py): the fuzzer's generated models run on TensorFlow eagerly, as tf.function, under
XLA (jit_compile) and, through TensorFlow's own TFLite converter, on the LiteRT interpreter, so
a difference between eager and XLA or LiteRT names the compiler or converter.

emit(model) returns an Emitted whose `source` defines `class Model(tf.Module)`: Model(params)
holds the initializers as tf.constant, and `Model.__call__(*inputs)` returns the graph outputs
as a tuple. TensorFlow's convolutions and pools run channels-last on the CPU, so Conv,
ConvTranspose and the pools transpose NCHW -> NHWC and back around the op (what every ONNX ->
TF converter does). Ops or attributes it cannot write exactly raise Unsupported naming the node.
"""

from __future__ import annotations

from typing import Any

from onnx_emit import (FLOAT_TYPES, Emitted, Node, OpTable, Unsupported, emit_graph,
                       explicit_pads, instantiate, one, reduce_axes, reduced_axes, spatial_rank,
                       unsqueeze_positions)

__all__ = ["Emitted", "Unsupported", "emit", "instantiate", "supported_ops", "TF_DTYPES"]

TF_DTYPES = {1: "tf.float32", 2: "tf.uint8", 3: "tf.int8", 5: "tf.int16", 6: "tf.int32",
             7: "tf.int64", 9: "tf.bool", 10: "tf.float16", 11: "tf.float64",
             16: "tf.bfloat16"}
_TABLE = OpTable("TensorFlow")
_op = _TABLE.op


def supported_ops() -> list[str]:
    return sorted(_TABLE.handlers)


_UNARY = {"Abs": "tf.abs({})", "Acos": "tf.math.acos({})", "Asin": "tf.math.asin({})",
          "Ceil": "tf.math.ceil({})", "Cos": "tf.math.cos({})", "Erf": "tf.math.erf({})",
          "Exp": "tf.math.exp({})", "Floor": "tf.math.floor({})", "Log": "tf.math.log({})",
          "Neg": "tf.math.negative({})", "Reciprocal": "tf.math.reciprocal({})",
          "Relu": "tf.nn.relu({})", "Round": "tf.math.round({})",
          "Sigmoid": "tf.math.sigmoid({})", "Sign": "tf.math.sign({})", "Sin": "tf.math.sin({})",
          "Sqrt": "tf.math.sqrt({})", "Tanh": "tf.math.tanh({})",
          "Softsign": "tf.nn.softsign({})", "Not": "tf.math.logical_not({})",
          "Identity": "tf.identity({})",
          "HardSwish": "({0} * tf.nn.relu6({0} + 3) / 6)",
          # stable (x where exp(x) would overflow float16); exact to rounding elsewhere
          "Softplus": "tf.math.softplus({0})"}


@_op(*_UNARY)
def _unary(n: Node) -> list[str]:
    return one(n, _UNARY[n.op].format(n.inputs[0]))


@_op("Elu")
def _elu(n: Node) -> list[str]:
    x = n.inputs[0]
    alpha = n.attr("alpha", 1.0)
    return one(n, "tf.where(%s > 0, %s, tf.cast(%r, %s.dtype) * tf.math.expm1(%s))"
               % (x, x, alpha, x, x))


@_op("LeakyRelu")
def _leaky(n: Node) -> list[str]:
    return one(n, "tf.nn.leaky_relu(%s, alpha=%r)" % (n.inputs[0], n.attr("alpha", 0.01)))


@_op("HardSigmoid")
def _hard_sigmoid(n: Node) -> list[str]:
    x = n.inputs[0]
    return one(n, "tf.clip_by_value(%s * tf.cast(%r, %s.dtype) + tf.cast(%r, %s.dtype), 0, 1)"
               % (x, n.attr("alpha", 0.2), x, n.attr("beta", 0.5), x))


_BINARY = {"Add": "tf.math.add({}, {})", "Sub": "tf.math.subtract({}, {})",
           "Mul": "tf.math.multiply({}, {})", "Equal": "tf.math.equal({}, {})",
           "Greater": "tf.math.greater({}, {})", "GreaterOrEqual": "tf.math.greater_equal({}, {})",
           "Less": "tf.math.less({}, {})", "LessOrEqual": "tf.math.less_equal({}, {})",
           "And": "tf.math.logical_and({}, {})", "Or": "tf.math.logical_or({}, {})",
           "Xor": "tf.math.logical_xor({}, {})", "MatMul": "onnx_matmul({}, {})"}


@_op(*_BINARY)
def _binary(n: Node) -> list[str]:
    return one(n, _BINARY[n.op].format(n.inputs[0], n.inputs[1]))


@_op("Div")
def _div(n: Node) -> list[str]:
    fn = "tf.math.divide" if n.dtypes[0] in FLOAT_TYPES else "tf.truncatediv"
    return one(n, "%s(%s, %s)" % (fn, n.inputs[0], n.inputs[1]))


@_op("Pow")
def _pow(n: Node) -> list[str]:
    if n.dtypes[0] not in FLOAT_TYPES:
        raise Unsupported("Pow '%s': integer base (TensorFlow refuses negative exponents)" % n.name)
    return one(n, "tf.math.pow(%s, tf.cast(%s, %s.dtype))" % (n.inputs[0], n.inputs[1],
                                                             n.inputs[0]))


@_op("Max", "Min")
def _max_min(n: Node) -> list[str]:
    fn = "tf.math.maximum" if n.op == "Max" else "tf.math.minimum"
    expr = n.inputs[0]
    for x in n.inputs[1:]:
        expr = "%s(%s, %s)" % (fn, expr, x)
    return one(n, expr)


@_op("Where")
def _where(n: Node) -> list[str]:
    return one(n, "tf.where(%s, %s, %s)" % tuple(n.inputs[:3]))


@_op("Clip")
def _clip(n: Node) -> list[str]:
    expr = n.inputs[0]
    if n.has(1):
        expr = "tf.math.maximum(%s, %s)" % (expr, n.inputs[1])
    if n.has(2):
        expr = "tf.math.minimum(%s, %s)" % (expr, n.inputs[2])
    return one(n, expr)


@_op("Cast")
def _cast(n: Node) -> list[str]:
    to = n.attr("to")
    if to not in TF_DTYPES:
        raise Unsupported("Cast '%s': to=%s has no TensorFlow dtype here" % (n.name, to))
    return one(n, "tf.cast(%s, %s)" % (n.inputs[0], TF_DTYPES[to]))


@_op("Gemm")
def _gemm(n: Node) -> list[str]:
    expr = "tf.linalg.matmul(%s, %s, transpose_a=%r, transpose_b=%r)" % (
        n.inputs[0], n.inputs[1], bool(n.attr("transA", 0)), bool(n.attr("transB", 0)))
    a = n.inputs[0]
    alpha, beta = n.attr("alpha", 1.0), n.attr("beta", 1.0)
    if alpha != 1.0:
        expr = "%s * tf.cast(%r, %s.dtype)" % (expr, alpha, a)
    if n.has(2):
        c = n.inputs[2] if beta == 1.0 else "%s * tf.cast(%r, %s.dtype)" % (n.inputs[2], beta, a)
        expr = "%s + %s" % (expr, c)
    return one(n, expr)


def _to_last(k: int) -> tuple[int, ...]:
    return (0,) + tuple(range(2, 2 + k)) + (1,)


def _to_first(k: int) -> tuple[int, ...]:
    return (0, k + 1) + tuple(range(1, k + 1))


def _nhwc_pads(pads: list[int], k: int) -> list[list[int]]:
    return [[0, 0]] + [[pads[d], pads[d + k]] for d in range(k)] + [[0, 0]]


@_op("Conv")
def _conv(n: Node) -> list[str]:
    k = spatial_rank(n)
    strides = list(n.attr("strides", [1] * k))
    dil = list(n.attr("dilations", [1] * k))
    if any(s > 1 for s in strides) and any(d > 1 for d in dil):
        raise Unsupported("Conv '%s': strides and dilations both > 1 (tf.nn.convolution "
                          "refuses it)" % n.name)
    pads = explicit_pads(n, k)
    group = n.attr("group", 1)
    o = n.outputs[0]
    lines = ["%s = tf.transpose(%s, %r)" % (o, n.inputs[0], _to_last(k))]
    if any(pads):
        lines.append("%s = tf.pad(%s, %r)" % (o, o, _nhwc_pads(pads, k)))
    w = "tf.transpose(%s, %r)" % (n.inputs[1], tuple(range(2, 2 + k)) + (1, 0))
    conv = ("tf.nn.convolution(%%s, %%s, strides=%r, padding='VALID', dilations=%r)"
            % (tuple(strides), tuple(dil)))
    if group == 1:
        lines.append("%s = %s" % (o, conv % (o, w)))
    else:  # grouped: split channels and kernels, convolve each group, concatenate
        lines.append("%s = tf.concat([%s for _x, _w in zip(tf.split(%s, %d, axis=-1), "
                     "tf.split(%s, %d, axis=-1))], axis=-1)" % (o, conv % ("_x", "_w"), o, group,
                                                               w, group))
    if n.has(2):
        lines.append("%s = %s + %s" % (o, o, n.inputs[2]))
    lines.append("%s = tf.transpose(%s, %r)" % (o, o, _to_first(k)))
    return lines


@_op("ConvTranspose")
def _conv_transpose(n: Node) -> list[str]:
    k = spatial_rank(n)
    if n.attr("output_shape") is not None or n.attr("auto_pad", "NOTSET") not in ("NOTSET", ""):
        raise Unsupported("ConvTranspose '%s': output_shape or auto_pad" % n.name)
    dil = list(n.attr("dilations", [1] * k))
    shape, wshape = n.shape(0), n.shape(1)
    group = n.attr("group", 1)
    strides = list(n.attr("strides", [1] * k))
    pads = list(n.attr("pads", [0] * (2 * k)))
    out_pad = list(n.attr("output_padding", [0] * k))
    # The full output (no pads) plus output_padding zeros at the end, then the pads cropped.
    full = [(shape[2 + d] - 1) * strides[d] + (wshape[2 + d] - 1) * dil[d] + 1 + out_pad[d]
            for d in range(k)]
    o = n.outputs[0]
    out_shape = [shape[0]] + full + [wshape[1]]
    w = "tf.transpose(%s, %r)" % (n.inputs[1], tuple(range(2, 2 + k)) + (1, 0))
    if any(d != 1 for d in dil):  # a dilated kernel is the kernel with zeros between its taps
        w = "onnx_dilate(%s, %r)" % (w, dil)
    x = "tf.transpose(%s, %r)" % (n.inputs[0], _to_last(k))
    op = "tf.nn.conv_transpose(%%s, %%s, %r, strides=%r, padding='VALID')" % (out_shape,
                                                                             tuple(strides))
    if group == 1:
        lines = ["%s = %s" % (o, op % (x, w))]
    else:  # ONNX W is [C_in, C_out / group, k...]: each group maps C_in / group channels
        lines = ["%s = tf.concat([%s for _x, _w in zip(tf.split(%s, %d, axis=-1), "
                 "tf.split(%s, %d, axis=-1))], axis=-1)" % (o, op % ("_x", "_w"), x, group, w,
                                                           group)]
    crop = ", ".join([":"] + ["%d:%d" % (pads[d], full[d] - pads[d + k]) for d in range(k)] +
                     [":"])
    lines.append("%s = %s[%s]" % (o, o, crop))
    if n.has(2):
        lines.append("%s = %s + %s" % (o, o, n.inputs[2]))
    lines.append("%s = tf.transpose(%s, %r)" % (o, o, _to_first(k)))
    return lines


def _pool(n: Node, avg: bool) -> list[str]:
    k = spatial_rank(n)
    dil = list(n.attr("dilations", [1] * k))
    strides = list(n.attr("strides", [1] * k))
    if n.attr("ceil_mode", 0) or (any(d != 1 for d in dil) and (avg or any(s != 1 for s in
                                                                            strides))):
        raise Unsupported("%s '%s': ceil_mode, or dilations (TensorFlow dilates max pools of "
                          "stride 1 only)" % (n.op, n.name))
    if len(n.outputs) > 1 and n.outputs[1]:
        raise Unsupported("MaxPool '%s': the Indices output" % n.name)
    kernel = list(n.attr("kernel_shape"))
    pads = explicit_pads(n, k)
    o = n.outputs[0]
    fn = "tf.nn.avg_pool" if avg else "tf.nn.max_pool"
    pool = "%s(%%s, %r, %r, 'VALID')" % (fn, tuple(kernel), tuple(strides))
    if any(d != 1 for d in dil):
        pool = "tf.nn.pool(%%s, %r, 'MAX', strides=None, padding='VALID', dilations=%r)" % (
            tuple(kernel), tuple(dil))
    x = "tf.transpose(%s, %r)" % (n.inputs[0], _to_last(k))
    lines = ["%s = %s" % (o, x)]
    if not any(pads):
        lines.append("%s = %s" % (o, pool % o))
    elif avg and not n.attr("count_include_pad", 0):  # window sum / count of real elements
        padded = "tf.pad(%%s, %r)" % _nhwc_pads(pads, k)
        lines.append("%s = %s / %s" % (o, pool % (padded % o),
                                       pool % (padded % ("tf.ones_like(%s)" % o))))
    else:
        if not avg and n.dtypes[0] not in FLOAT_TYPES:
            raise Unsupported("MaxPool '%s': padded integer input" % n.name)
        value = "0" if avg else "float('-inf')"
        lines.append("%s = %s" % (o, pool % ("tf.pad(%s, %r, constant_values=%s)"
                                              % (o, _nhwc_pads(pads, k), value))))
    lines.append("%s = tf.transpose(%s, %r)" % (o, o, _to_first(k)))
    return lines


@_op("MaxPool")
def _max_pool(n: Node) -> list[str]:
    return _pool(n, avg=False)


@_op("AveragePool")
def _avg_pool(n: Node) -> list[str]:
    return _pool(n, avg=True)


@_op("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(n: Node) -> list[str]:
    k = spatial_rank(n)
    fn = "tf.math.reduce_mean" if n.op == "GlobalAveragePool" else "tf.math.reduce_max"
    return one(n, "%s(%s, axis=%r, keepdims=True)" % (fn, n.inputs[0], list(range(2, 2 + k))))


def _channel(v: str, rank: int) -> str:
    return "tf.reshape(%s, [-1%s])" % (v, ", 1" * (rank - 2))


def _normalize(x: str, mean: str, var: str, scale: str, bias: str, eps: float) -> str:
    """(x - mean) / sqrt(var + eps) * scale + bias, in float32 (float16 inputs cast back):
    tf.nn.batch_normalization's x * inv + (bias - mean * inv) cancels badly in float16."""
    f = "tf.cast(%s, tf.float32)"
    return "tf.cast((%s - %s) / tf.math.sqrt(%s + %r) * %s + %s, %s.dtype)" % (
        f % x, f % mean, f % var, eps, f % scale, f % bias, x)


@_op("BatchNormalization")
def _batch_norm(n: Node) -> list[str]:
    if n.attr("training_mode", 0) or len([o for o in n.outputs if o]) > 1:
        raise Unsupported("BatchNormalization '%s': training mode" % n.name)
    r = n.ranks[0] or 0
    if r < 2:
        raise Unsupported("BatchNormalization '%s': rank %d" % (n.name, r))
    x, s, b, m, v = n.inputs[:5]
    return one(n, _normalize(x, _channel(m, r), _channel(v, r), _channel(s, r), _channel(b, r),
                             n.attr("epsilon", 1e-5)))


@_op("InstanceNormalization")
def _instance_norm(n: Node) -> list[str]:
    r = n.ranks[0] or 0
    if r < 3:
        raise Unsupported("InstanceNormalization '%s': rank %d" % (n.name, r))
    x, o = n.inputs[0], n.outputs[0]
    axes = list(range(2, r))
    return ["_mean, _var = tf.nn.moments(tf.cast(%s, tf.float32), axes=%r, keepdims=True)"
            % (x, axes),
            "%s = %s" % (o, _normalize(x, "_mean", "_var", _channel(n.inputs[1], r),
                                       _channel(n.inputs[2], r), n.attr("epsilon", 1e-5)))]


@_op("LayerNormalization")
def _layer_norm(n: Node) -> list[str]:
    if len([o for o in n.outputs if o]) > 1 or n.attr("stash_type", 1) != 1:
        raise Unsupported("LayerNormalization '%s': extra outputs or stash_type" % n.name)
    r = n.ranks[0]
    if r is None:
        raise Unsupported("LayerNormalization '%s': unknown rank" % n.name)
    axis = n.attr("axis", -1) % r
    x, o = n.inputs[0], n.outputs[0]
    lines = ["_x = tf.cast(%s, tf.float32)" % x,
             "_mean, _var = tf.nn.moments(_x, axes=%r, keepdims=True)" % list(range(axis, r)),
             "%s = tf.cast((_x - _mean) / tf.math.sqrt(_var + %r), %s.dtype) * %s"
             % (o, n.attr("epsilon", 1e-5), x, n.inputs[1])]
    if n.has(2):
        lines.append("%s = %s + %s" % (o, o, n.inputs[2]))
    return lines


@_op("Softmax", "LogSoftmax")
def _softmax(n: Node) -> list[str]:
    fn = "tf.nn.softmax" if n.op == "Softmax" else "tf.nn.log_softmax"
    return one(n, "%s(%s, axis=%d)" % (fn, n.inputs[0], n.attr("axis", -1)))


@_op("Flatten")
def _flatten(n: Node) -> list[str]:
    shape = n.shape(0)
    axis = n.attr("axis", 1)
    axis = axis + len(shape) if axis < 0 else axis
    lead = 1
    for d in shape[:axis]:
        lead *= d
    rest = 1
    for d in shape[axis:]:
        rest *= d
    return one(n, "tf.reshape(%s, [%d, %d])" % (n.inputs[0], lead, rest))


@_op("Reshape")
def _reshape(n: Node) -> list[str]:
    shape = n.const(1, "shape")
    assert shape is not None
    dims = [int(d) for d in shape.tolist()]
    if 0 in dims and not n.attr("allowzero", 0):
        src = n.shape(0)
        dims = [src[i] if d == 0 else d for i, d in enumerate(dims)]
    return one(n, "tf.reshape(%s, %r)" % (n.inputs[0], dims))


@_op("Transpose")
def _transpose(n: Node) -> list[str]:
    perm = n.attr("perm")
    if perm is None:
        perm = list(reversed(range(len(n.shape(0)))))
    return one(n, "tf.transpose(%s, %r)" % (n.inputs[0], list(perm)))


@_op("Squeeze")
def _squeeze(n: Node) -> list[str]:
    axes = reduce_axes(n, 1)
    if axes is None:
        return one(n, "tf.squeeze(%s)" % n.inputs[0])
    return one(n, "tf.squeeze(%s, axis=%r)" % (n.inputs[0], axes))


@_op("Unsqueeze")
def _unsqueeze(n: Node) -> list[str]:
    expr = n.inputs[0]
    for a in unsqueeze_positions(n):
        expr = "tf.expand_dims(%s, %d)" % (expr, a)
    return one(n, expr)


@_op("Concat")
def _concat(n: Node) -> list[str]:
    return one(n, "tf.concat([%s], axis=%d)" % (", ".join(n.inputs), n.attr("axis")))


@_op("Split")
def _split(n: Node) -> list[str]:
    axis = n.attr("axis", 0)
    split = n.const(1, "split") if n.has(1) else None
    dim = n.shape(0)[axis]
    if split is None:
        count = n.attr("num_outputs", len(n.outputs))
        size = -(-dim // count)
        sizes = [size] * (dim // size) + ([dim % size] if dim % size else [])
    else:
        sizes = [int(s) for s in split.tolist()]
    targets = ", ".join(o or "_" for o in n.outputs)
    return ["%s, = tf.split(%s, %r, axis=%d)" % (targets, n.inputs[0], sizes, axis)]


@_op("Slice")
def _slice(n: Node) -> list[str]:
    starts, ends = n.const(1, "starts"), n.const(2, "ends")
    axes = n.const(3, "axes") if n.has(3) else None
    steps = n.const(4, "steps") if n.has(4) else None
    assert starts is not None and ends is not None
    shape = n.shape(0)
    r = len(shape)
    count = len(starts)
    ax = [int(a) % r for a in (axes.tolist() if axes is not None else range(count))]
    st = [int(s) for s in (steps.tolist() if steps is not None else [1] * count)]
    index = [":"] * r
    for a, b, e, s in zip(ax, starts.tolist(), ends.tolist(), st):
        dim = shape[a]
        b, e = int(b), int(e)
        b += dim if b < 0 else 0
        e += dim if e < 0 else 0
        if s > 0:
            b, e = min(max(b, 0), dim), min(max(e, 0), dim)
            index[a] = "%d:%d:%d" % (b, e, s)
        else:
            b, e = min(max(b, 0), dim - 1), min(max(e, -1), dim - 1)
            index[a] = "%d:%s:%d" % (b, "" if e < 0 else str(e), s)
    return one(n, "%s[%s]" % (n.inputs[0], ", ".join(index)))


@_op("Gather")
def _gather(n: Node) -> list[str]:
    axis = n.attr("axis", 0) % len(n.shape(0))
    dim = n.shape(0)[axis]
    i = n.inputs[1]
    return one(n, "tf.gather(%s, tf.where(%s < 0, %s + %d, %s), axis=%d)"
               % (n.inputs[0], i, i, dim, i, axis))


@_op("Expand")
def _expand(n: Node) -> list[str]:
    import numpy as np
    shape = n.const(1, "shape")
    assert shape is not None
    target = np.broadcast_shapes(tuple(n.shape(0)), tuple(int(d) for d in shape.tolist()))
    return one(n, "tf.broadcast_to(%s, %r)" % (n.inputs[0], list(target)))


@_op("Pad")
def _pad(n: Node) -> list[str]:
    pads = n.const(1, "pads")
    assert pads is not None
    value = n.const(2, "constant_value") if n.has(2) else None
    axes = n.const(3, "axes") if n.has(3) else None
    shape = n.shape(0)
    r = len(shape)
    p = [int(v) for v in pads.tolist()]
    ax = [int(a) % r for a in axes.tolist()] if axes is not None else list(range(r))
    pairs = [[0, 0] for _ in range(r)]
    for i, a in enumerate(ax):
        pairs[a] = [p[i], p[i + len(ax)]]
    mode = n.attr("mode", "constant")
    x = n.inputs[0]
    if any(v < 0 for v in p):
        raise Unsupported("Pad '%s': negative pads" % n.name)
    if mode == "constant":
        v = float(value.reshape(-1)[0]) if value is not None and value.size else 0.0
        cv = repr(v) if n.dtypes[0] in FLOAT_TYPES else repr(int(v))
        if n.dtypes[0] == 9:
            cv = repr(bool(v))
        return one(n, "tf.pad(%s, %r, constant_values=%s)" % (x, pairs, cv))
    if mode == "reflect":
        return one(n, "tf.pad(%s, %r, mode='REFLECT')" % (x, pairs))
    if mode not in ("edge", "wrap"):
        raise Unsupported("Pad '%s': mode %s" % (n.name, mode))
    o, lines = n.outputs[0], []
    for a, (b, e) in enumerate(pairs):
        if b or e:
            lines.append("%s = onnx_pad_axis(%s, %d, %d, %d, %d, %r)" % (o, x, a, b, e, shape[a],
                                                                        mode))
            x = o
    return lines or one(n, x)


@_op("Resize")
def _resize(n: Node) -> list[str]:
    mode = n.attr("mode", "nearest")
    ctm = n.attr("coordinate_transformation_mode", "half_pixel")
    nearest = n.attr("nearest_mode", "round_prefer_floor")
    shape = n.shape(0)
    if len(shape) != 4 or n.attr("antialias", 0) or n.attr("axes") is not None or \
            n.attr("exclude_outside", 0):
        raise Unsupported("Resize '%s': only 4-D, no antialias/axes/exclude_outside" % n.name)
    out = n.out_shapes[0] if n.out_shapes else None
    if out is None or any(d is None for d in out) or list(out[:2]) != shape[:2]:
        raise Unsupported("Resize '%s': output shape unknown or resizes N/C" % n.name)
    scales = n.const(2, "scales") if n.has(2) else None
    if scales is not None and scales.size and any(
            abs(shape[d] * float(scales[d]) - out[d]) > 1e-6 for d in (2, 3)):  # type: ignore
        raise Unsupported("Resize '%s': scales with a fractional output size (TensorFlow maps "
                          "coordinates by the size ratio)" % n.name)
    size = [int(out[2]), int(out[3])]  # type: ignore
    if mode == "nearest" and ctm == "asymmetric" and nearest == "floor":
        fn = "tf.compat.v1.image.resize_nearest_neighbor(%%s, %r, align_corners=False, " \
             "half_pixel_centers=False)" % size
    elif mode == "linear" and ctm == "half_pixel":
        fn = "tf.image.resize(%%s, %r, method='bilinear')" % size
    elif mode == "linear" and ctm == "align_corners":
        fn = "tf.compat.v1.image.resize_bilinear(%%s, %r, align_corners=True)" % size
    else:
        raise Unsupported("Resize '%s': mode=%s coordinate_transformation_mode=%s nearest_mode=%s "
                          "has no TensorFlow equivalent" % (n.name, mode, ctm, nearest))
    x = "tf.transpose(%s, (0, 2, 3, 1))" % n.inputs[0]
    return one(n, "tf.cast(tf.transpose(%s, (0, 3, 1, 2)), %s.dtype)" % (fn % x, n.inputs[0]))


_REDUCE = {"ReduceSum": "tf.math.reduce_sum({x}, axis={d}, keepdims={k})",
           "ReduceMean": "tf.math.reduce_mean({x}, axis={d}, keepdims={k})",
           "ReduceMax": "tf.math.reduce_max({x}, axis={d}, keepdims={k})",
           "ReduceMin": "tf.math.reduce_min({x}, axis={d}, keepdims={k})",
           "ReduceProd": "tf.math.reduce_prod({x}, axis={d}, keepdims={k})",
           "ReduceL2": "tf.math.sqrt(tf.math.reduce_sum({x} * {x}, axis={d}, keepdims={k}))"}


@_op(*_REDUCE)
def _reduce(n: Node) -> list[str]:
    axes = reduced_axes(n)
    if axes is None:
        return one(n, "tf.identity(%s)" % n.inputs[0])
    keep = bool(n.attr("keepdims", 1))
    return one(n, _REDUCE[n.op].format(x=n.inputs[0], d=list(axes), k=keep))


@_op("ArgMax", "ArgMin")
def _arg(n: Node) -> list[str]:
    fn = "tf.math.argmax" if n.op == "ArgMax" else "tf.math.argmin"
    axis = n.attr("axis", 0) % len(n.shape(0))
    x = n.inputs[0]
    dim = n.shape(0)[axis]
    if n.attr("select_last_index", 0):
        expr = "%d - %s(tf.reverse(%s, [%d]), axis=%d, output_type=tf.int64)" % (
            dim - 1, fn, x, axis, axis)
    else:
        expr = "%s(%s, axis=%d, output_type=tf.int64)" % (fn, x, axis)
    if n.attr("keepdims", 1):
        expr = "tf.expand_dims(%s, %d)" % (expr, axis)
    return one(n, expr)


@_op("TopK")
def _topk(n: Node) -> list[str]:
    k = n.const(1, "K")
    assert k is not None
    r = len(n.shape(0))
    axis = n.attr("axis", -1) % r
    largest = bool(n.attr("largest", 1))
    values, indices = (n.outputs + [""])[:2]
    x = n.inputs[0]
    perm = list(range(r))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    if axis != r - 1:
        x = "tf.transpose(%s, %r)" % (x, perm)
    # tf.math.top_k orders ties by index (the lower first), as ONNX does. Smallest-k as the
    # largest of the negation changes the order of ties, so it is refused for duplicates below.
    if not largest:
        raise Unsupported("TopK '%s': largest=0" % n.name)
    lines = ["_v, _i = tf.math.top_k(%s, k=%d, sorted=True)" % (x, int(k.reshape(-1)[0]))]
    for o, src, cast in ((values, "_v", ""), (indices, "_i", "tf.int64")):
        if o:
            expr = src if axis == r - 1 else "tf.transpose(%s, %r)" % (src, perm)
            lines.append("%s = %s" % (o, "tf.cast(%s, %s)" % (expr, cast) if cast else expr))
    return lines


_PRELUDE = '''import tensorflow as tf


def onnx_matmul(a, b):
    """ONNX MatMul (numpy semantics: 1-D operands are promoted and the dim removed)."""
    squeeze = []
    if len(a.shape) == 1:
        a, squeeze = tf.expand_dims(a, 0), squeeze + [-2]
    if len(b.shape) == 1:
        b, squeeze = tf.expand_dims(b, -1), squeeze + [-1]
    out = tf.linalg.matmul(a, b)
    return tf.squeeze(out, squeeze) if squeeze else out


def onnx_dilate(w, dilations):
    """A channels-last kernel [k..., out, in] with dilation - 1 zeros between its taps."""
    for axis, d in enumerate(dilations):
        if d == 1:
            continue
        k = w.shape[axis]
        spread = tf.stack([w] + [tf.zeros_like(w)] * (d - 1), axis=axis + 1)
        shape = list(w.shape)
        shape[axis] = k * d
        w = tf.gather(tf.reshape(spread, shape), tf.range((k - 1) * d + 1), axis=axis)
    return w


def onnx_pad_axis(x, axis, before, after, n, mode):
    """ONNX Pad's edge / wrap along one axis, as a gather."""
    i = tf.range(-before, n + after)
    i = tf.clip_by_value(i, 0, n - 1) if mode == "edge" else tf.math.floormod(i, n)
    return tf.gather(x, i, axis=axis)
'''


def emit(model: Any) -> Emitted:
    """Emits `model` (an onnx.ModelProto, opset 13..21, default domain only) as TensorFlow
    source."""
    code = emit_graph(model, _TABLE)
    lines = [_PRELUDE, "", "class Model(tf.Module):",
             "    def __init__(self, params):", "        super().__init__()",
             "        for name, value in params.items():",
             "            setattr(self, name, tf.constant(value))", "",
             "    def __call__(%s):" % ", ".join(["self"] + code.args)]
    lines += ["        " + line for line in code.body]
    lines.append("        return (%s,)" % ", ".join(code.returns))
    return Emitted("\n".join(lines) + "\n", code.params, code.input_names, code.output_names)
