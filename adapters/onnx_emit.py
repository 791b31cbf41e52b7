"""The framework-neutral half of emitting an ONNX graph as framework code (torch_emit.py,
tf_emit.py): the walk over the graph in order, the per-node view an op handler gets (inputs as
variable expressions, attributes, static shapes and dtypes, constant inputs as arrays), and the
result (source, weights, input and output names).

A framework module declares an OpTable of handlers, each writing the code lines that assign a
node's outputs, and a class template; emit_graph() does the rest. Anything a handler cannot
write exactly raises Unsupported naming the node, which the adapters report as "unsupported"
(never as a finding).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import numpy.typing as npt

NDArray = npt.NDArray[Any]
FLOAT_TYPES = {1, 10, 11, 16}  # ONNX float32, float16, double, bfloat16


class Unsupported(Exception):
    """The graph uses something the emitter cannot write exactly in the framework."""


@dataclass
class Emitted:
    source: str
    params: dict[str, NDArray]
    input_names: list[str]
    output_names: list[str]


@dataclass
class Node:
    op: str
    name: str
    inputs: list[str]  # variable expressions ("" for an omitted optional input)
    input_names: list[str]
    outputs: list[str]
    attrs: dict[str, Any]
    shapes: list[Optional[list[Optional[int]]]]  # static shape of each input where known
    dtypes: list[int]  # ONNX elem type of each input where known (0 unknown)
    consts: list[Optional[NDArray]]
    out_shapes: list[Optional[list[Optional[int]]]]

    @property
    def ranks(self) -> list[Optional[int]]:
        return [None if s is None else len(s) for s in self.shapes]

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def has(self, i: int) -> bool:
        """Whether optional input i is given."""
        return i < len(self.input_names) and bool(self.input_names[i])

    def const(self, i: int, what: str) -> Optional[NDArray]:
        """Input i as a constant array (None when omitted); Unsupported when it is computed."""
        if not self.has(i):
            return None
        c = self.consts[i]
        if c is None:
            raise Unsupported("%s '%s': %s (input %d) is computed at run time; the emitter "
                              "needs it constant" % (self.op, self.name, what, i))
        return c

    def shape(self, i: int) -> list[int]:
        """Input i's static shape; Unsupported when a dim is unknown."""
        s = self.shapes[i] if i < len(self.shapes) else None
        if s is None or any(d is None for d in s):
            raise Unsupported("%s '%s': input %d has no static shape" % (self.op, self.name, i))
        return [int(d) for d in s if d is not None]


Handler = Callable[[Node], list[str]]  # -> code lines assigning node.outputs


class OpTable:
    """Op type -> handler, filled with the @table.op("Relu", ...) decorator."""

    def __init__(self, framework: str) -> None:
        self.framework = framework
        self.handlers: dict[str, Handler] = {}

    def op(self, *names: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            for n in names:
                self.handlers[n] = fn
            return fn
        return register


def one(n: Node, expr: str) -> list[str]:
    return ["%s = %s" % (n.outputs[0], expr)]


def reduce_axes(n: Node, index: int) -> Optional[list[int]]:
    """The axes of a reduce/squeeze node: the attribute (older opsets) or constant input."""
    if n.attr("axes") is not None:
        return list(n.attr("axes"))
    c = n.const(index, "axes")
    return None if c is None else [int(a) for a in c.reshape(-1).tolist()]


def reduced_axes(n: Node) -> Optional[list[int]]:
    """The axes a Reduce* node reduces (every axis when none are given), or None when it is the
    identity (empty axes with noop_with_empty_axes, or a scalar input)."""
    axes = reduce_axes(n, 1)
    r = n.ranks[0]
    if not axes:
        if n.attr("noop_with_empty_axes", 0):
            return None
        if r is None:
            raise Unsupported("%s '%s': unknown rank" % (n.op, n.name))
        axes = list(range(r))
    return None if r == 0 else axes


def unsqueeze_positions(n: Node) -> list[int]:
    """Where an Unsqueeze node inserts its dims, non-negative and ascending (the order to insert
    them one by one)."""
    axes = reduce_axes(n, 1)
    r = n.ranks[0]
    if axes is None or r is None:
        raise Unsupported("Unsqueeze '%s': axes or rank unknown" % n.name)
    return sorted(a % (r + len(axes)) for a in axes)


def spatial_rank(n: Node) -> int:
    """The spatial dims of a conv/pool input (rank 3..5: 1-3 spatial dims)."""
    r = n.ranks[0]
    if r is None or r < 3 or r > 5:
        raise Unsupported("%s '%s': input rank %s (1-3 spatial dims supported)" % (n.op, n.name, r))
    return r - 2


def explicit_pads(n: Node, k: int) -> list[int]:
    """A conv/pool node's pads [b1..bk, e1..ek]; auto_pad SAME_* (which needs the input shape)
    is Unsupported."""
    auto = n.attr("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        return list(n.attr("pads", [0] * (2 * k)))
    if auto == "VALID":
        return [0] * (2 * k)
    raise Unsupported("%s '%s': auto_pad=%s needs the input shape" % (n.op, n.name, auto))


def attributes(node: Any) -> dict[str, Any]:
    import onnx
    out: dict[str, Any] = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, list):
            v = [x.decode() if isinstance(x, bytes) else x for x in v]
        elif hasattr(v, "dims"):  # a TensorProto attribute
            v = onnx.numpy_helper.to_array(v)
        out[a.name] = v
    return out


def _ident(name: str, taken: set[str]) -> str:
    base = "v_" + re.sub(r"\W", "_", name)[:40]
    ident, i = base, 1
    while ident in taken:
        i += 1
        ident = "%s_%d" % (base, i)
    taken.add(ident)
    return ident


@dataclass
class GraphCode:
    body: list[str]  # the forward's lines, in graph order
    params: dict[str, NDArray]  # weights by identifier (self.<identifier> in the body)
    args: list[str]  # the forward's argument identifiers, graph input order
    returns: list[str]  # identifiers of the graph outputs
    input_names: list[str]
    output_names: list[str]


def emit_graph(model: Any, table: OpTable) -> GraphCode:
    """Walks `model` (an onnx.ModelProto, opset 13..21, default domain only) in order and lets
    `table` write each node."""
    import onnx
    from onnx import numpy_helper
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if not 13 <= opset <= 21:
        raise Unsupported("opset %d: the emitter writes opset 13..21 semantics" % opset)
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception as e:  # the emitter needs shapes; the model is the fuzzer's, checked valid
        raise Unsupported("shape inference failed: %s" % e) from None
    g = model.graph
    consts: dict[str, NDArray] = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    info: dict[str, tuple[Optional[list[Optional[int]]], int]] = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        t = vi.type.tensor_type
        shape = ([d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
                 if t.HasField("shape") else None)
        info[vi.name] = (shape, t.elem_type)

    def add_const(name: str, arr: NDArray) -> None:
        consts[name] = arr
        info[name] = (list(arr.shape), int(onnx.helper.np_dtype_to_tensor_dtype(arr.dtype)))
        ident = _ident(name, taken)
        var[name] = "self.%s" % ident
        params[ident] = arr

    taken: set[str] = set()
    var: dict[str, str] = {}
    params: dict[str, NDArray] = {}
    for name, arr in list(consts.items()):
        add_const(name, arr)
    inputs = [i.name for i in g.input if i.name not in consts]
    for name in inputs:
        var[name] = _ident(name, taken)
    body: list[str] = []
    for node in g.node:
        if node.domain not in ("", "ai.onnx"):
            raise Unsupported("node '%s': domain %s" % (node.name, node.domain))
        if node.op_type == "Constant":
            value = attributes(node).get("value")
            if value is None:
                raise Unsupported("Constant '%s' without a tensor value" % node.name)
            add_const(node.output[0], np.asarray(value))
            continue
        handler = table.handlers.get(node.op_type)
        if handler is None:
            raise Unsupported("%s '%s': no %s emitter for this op" % (node.op_type, node.name,
                                                                    table.framework))
        outs = [_ident(o, taken) if o else "" for o in node.output]
        n = Node(node.op_type, node.name or node.op_type, [var.get(i, "") for i in node.input],
                 list(node.input), outs, attributes(node),
                 [info.get(i, (None, 0))[0] for i in node.input],
                 [info.get(i, (None, 0))[1] for i in node.input],
                 [consts.get(i) for i in node.input],
                 [info.get(o, (None, 0))[0] for o in node.output])
        body.append("# %s %s" % (node.op_type, node.name))
        body += handler(n)
        for o, ident in zip(node.output, outs):
            if o:
                var[o] = ident
    missing = [o.name for o in g.output if o.name not in var]
    if missing:
        raise Unsupported("graph outputs %s are never computed" % missing)
    return GraphCode(body, params, [var[i] for i in inputs], [var[o.name] for o in g.output],
                     inputs, [o.name for o in g.output])


def instantiate(emitted: Emitted) -> Any:
    """The emitted Model, built (the source imports its framework itself)."""
    scope: dict[str, Any] = {"__name__": "concord_emitted"}
    exec(compile(emitted.source, "<concord emitted model>", "exec"), scope)
    return scope["Model"](emitted.params)
