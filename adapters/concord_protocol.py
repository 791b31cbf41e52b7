"""Concord's runtime protocol in Python: the frame format of src/protocol/message.h.

A frame is: magic b"CNC1", type byte, 3 zero bytes, u32 meta_len, u64 body_len (little-endian),
then meta_len bytes of UTF-8 JSON (an object), then the body: blobs, each u64 length + bytes.
Values travel as ONNX TensorProto bytes (sequences as SequenceProto, an empty optional as an
empty blob), named and typed by meta["names"] / meta["kinds"] ("tensor" | "sequence" | "none"),
exactly as src/protocol/values.cc writes them. A sequence of maps (what ai.onnx.ml ZipMap returns,
and onnxruntime as a list of dicts) is a SequenceProto of elem_type MAP: one MapProto per dict,
its values a SequenceProto of scalar tensors (as numpy_helper.from_dict writes them); it decodes
to a list of dicts whose values are NumPy scalars, so their element type survives a round trip.

Between Concord and a local worker, tensors may travel in shared memory instead (SharedRegion:
a memory file Concord created, inherited by the worker as a descriptor named in HELLO): kind
"shm", an empty blob, and meta["shm"][i] = {"offset", "dtype" (ONNX data type), "shape"};
meta["shm_size"] is the region's size when the frame was sent. Element types outside
SHARED_DTYPES, strings and sequences keep travelling as blobs in the same message.

Decoding is strict (wrong magic, unknown type, non-zero padding, lengths over the limits, blobs
that do not exactly fill the body, meta that is not a JSON object): every violation raises
ProtocolError and nothing larger than the limits is ever allocated.
"""

from __future__ import annotations

import json
import mmap
import os
import select
import struct
import time
from typing import Any, Optional, Union

import numpy as np
import numpy.typing as npt

MAGIC = b"CNC1"
HEADER_SIZE = 20
VERSION = 1
MAX_META_BYTES = 16 << 20
MAX_FRAME_BYTES = 2 << 30

HELLO, MODEL, DATA, PROCESS, OUTPUT, STATS, OK, ERROR, TAPS, BYE = range(1, 11)
TYPE_NAMES = {HELLO: "HELLO", MODEL: "MODEL", DATA: "DATA", PROCESS: "PROCESS",
              OUTPUT: "OUTPUT", STATS: "STATS", OK: "OK", ERROR: "ERROR", TAPS: "TAPS", BYE: "BYE"}

_HEADER = struct.Struct("<4sB3sIQ")

JsonObject = dict[str, Any]


class ProtocolError(Exception):
    """A malformed frame or value: the peer does not speak the protocol correctly."""


class ConnectionClosed(Exception):
    """The peer closed the stream at a frame boundary (a clean end)."""


class Message:
    def __init__(self, type_: int, meta: Optional[JsonObject] = None,
                 blobs: Optional[list[bytes]] = None) -> None:
        self.type = type_
        self.meta: JsonObject = meta if meta is not None else {}
        self.blobs: list[bytes] = blobs if blobs is not None else []
        # The meta already encoded (UTF-8 JSON of exactly `meta`), when the sender has it.
        self.raw_meta: Optional[bytes] = None

    def __repr__(self) -> str:
        return "Message(%s, %r, %d blobs)" % (TYPE_NAMES.get(self.type, "?"), self.meta,
                                              len(self.blobs))


def encode_meta(meta: JsonObject) -> bytes:
    return json.dumps(meta, separators=(",", ":"), allow_nan=False).encode("utf-8")


def encode_frame(msg: Message) -> bytes:
    meta = msg.raw_meta if msg.raw_meta is not None else encode_meta(msg.meta)
    if len(meta) > MAX_META_BYTES:
        raise ProtocolError("metadata of %d bytes exceeds the %d-byte limit"
                            % (len(meta), MAX_META_BYTES))
    body_len = sum(8 + len(b) for b in msg.blobs)
    if HEADER_SIZE + len(meta) + body_len > MAX_FRAME_BYTES:
        raise ProtocolError("frame of %d bytes exceeds the %d-byte limit"
                            % (HEADER_SIZE + len(meta) + body_len, MAX_FRAME_BYTES))
    parts = [_HEADER.pack(MAGIC, msg.type, b"\0\0\0", len(meta), body_len), meta]
    for b in msg.blobs:
        parts.append(struct.pack("<Q", len(b)))
        parts.append(b)
    return b"".join(parts)


def decode_header(header: bytes, max_frame_bytes: int = MAX_FRAME_BYTES) -> tuple[int, int, int]:
    """Returns (type, meta_len, body_len) of a 20-byte header."""
    if len(header) != HEADER_SIZE:
        raise ProtocolError("truncated header")
    magic, type_, pad, meta_len, body_len = _HEADER.unpack(header)
    if magic != MAGIC:
        raise ProtocolError("bad magic (not a Concord frame)")
    if type_ not in TYPE_NAMES:
        raise ProtocolError("unknown message type %d" % type_)
    if pad != b"\0\0\0":
        raise ProtocolError("non-zero reserved header bytes")
    if meta_len > MAX_META_BYTES:
        raise ProtocolError("metadata of %d bytes exceeds the %d-byte limit"
                            % (meta_len, MAX_META_BYTES))
    if body_len > max_frame_bytes or HEADER_SIZE + meta_len + body_len > max_frame_bytes:
        raise ProtocolError("frame of %d bytes exceeds the %d-byte limit"
                            % (HEADER_SIZE + meta_len + body_len, max_frame_bytes))
    return type_, meta_len, body_len


def decode_body(type_: int, meta: bytes, body: bytes) -> Message:
    if meta:
        try:
            parsed = json.loads(meta.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ProtocolError("metadata is not a JSON object (%s)" % e) from None
        if not isinstance(parsed, dict):
            raise ProtocolError("metadata is not a JSON object")
    else:
        parsed = {}
    blobs = []
    view = memoryview(body)
    pos = 0
    while pos < len(body):
        if len(body) - pos < 8:
            raise ProtocolError("truncated blob length")
        (n,) = struct.unpack_from("<Q", body, pos)
        pos += 8
        if n > len(body) - pos:
            raise ProtocolError("blob of %d bytes runs past the frame" % n)
        blobs.append(bytes(view[pos:pos + n]))
        pos += n
    return Message(type_, parsed, blobs)


def decode_frame(frame: bytes, max_frame_bytes: int = MAX_FRAME_BYTES) -> Message:
    """Decodes a whole frame held in one buffer (tests)."""
    if len(frame) < HEADER_SIZE:
        raise ProtocolError("truncated header")
    type_, meta_len, body_len = decode_header(frame[:HEADER_SIZE], max_frame_bytes)
    if len(frame) != HEADER_SIZE + meta_len + body_len:
        raise ProtocolError("frame is %d bytes, header says %d"
                            % (len(frame), HEADER_SIZE + meta_len + body_len))
    return decode_body(type_, frame[HEADER_SIZE:HEADER_SIZE + meta_len],
                       frame[HEADER_SIZE + meta_len:])


class FdChannel:
    """Blocking frame I/O over two raw file descriptors (no Python-level buffering)."""

    def __init__(self, read_fd: int, write_fd: int,
                 max_frame_bytes: int = MAX_FRAME_BYTES, spin_s: float = 0.0) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.max_frame_bytes = max_frame_bytes
        # Before blocking for a frame, poll for up to spin_s: a request that follows the last
        # reply that soon (a client running in a loop) is read without a wake-up from sleep.
        self.spin_s = spin_s
        # The last PROCESS's meta, raw and parsed: a client running the same inputs again sends
        # the same bytes, and they are not parsed again (the receiver must not change it).
        self.last_process: tuple[bytes, JsonObject] = (b"", {})

    def _read_exact(self, n: int, at_frame_start: bool) -> bytes:
        chunks = []
        got = 0
        while got < n:
            chunk = os.read(self.read_fd, min(n - got, 1 << 24))
            if not chunk:
                if at_frame_start and got == 0:
                    raise ConnectionClosed()
                raise ProtocolError("stream closed in the middle of a frame (truncated)")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _spin_until_readable(self) -> None:
        end = time.perf_counter() + self.spin_s
        fds = [self.read_fd]
        while time.perf_counter() < end:
            if select.select(fds, [], [], 0)[0]:
                return

    def receive(self) -> Message:
        if self.spin_s > 0:
            self._spin_until_readable()
        header = self._read_exact(HEADER_SIZE, True)
        type_, meta_len, body_len = decode_header(header, self.max_frame_bytes)
        meta = self._read_exact(meta_len, False) if meta_len else b""
        body = self._read_exact(body_len, False) if body_len else b""
        if type_ == PROCESS and meta and meta == self.last_process[0]:
            msg = decode_body(type_, b"", body)
            msg.meta = self.last_process[1]
            return msg
        msg = decode_body(type_, meta, body)
        if type_ == PROCESS:
            self.last_process = (meta, msg.meta)
        return msg

    def send(self, msg: Message) -> None:
        data = memoryview(encode_frame(msg))
        while data:
            n = os.write(self.write_fd, data)
            data = data[n:]


NDArray = npt.NDArray[Any]


# ONNX's sub-byte element types (uint4, int4, float4e2m1, uint2, int2, float6e2m3, float6e3m2)
# -> bits per element. Their tensors are packed as one bit stream, first element in the low bits
# of the first byte (a 6-bit element may straddle two bytes).
PACKED_BITS = {21: 4, 22: 4, 23: 4, 25: 2, 26: 2, 27: 6, 28: 6}


def packed_nbytes(onnx_elem_type: int, count: int) -> int:
    """Bytes that `count` elements of a packed sub-byte type take."""
    per = PACKED_BITS[onnx_elem_type]
    return (count * per + 7) // 8


def pack_codes(codes: NDArray, bits: int) -> NDArray:
    """Packs one code per element (its low `bits` bits) into ONNX's LSB-first bit stream."""
    flat = np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1) & np.uint8((1 << bits) - 1)
    stream = np.unpackbits(flat[:, None], axis=1, bitorder="little")[:, :bits].reshape(-1)
    return np.packbits(stream, bitorder="little")


class OnnxBitsArray:
    """A tensor whose ONNX element type NumPy lacks (bfloat16, float8*, float8e8m0, and the packed
    4-, 2- and 6-bit types): its raw bit patterns (`bits`: uint16 or uint8 in the tensor's shape;
    for packed types the packed bytes, 1-D) plus the TensorProto data type and the tensor's
    `shape`, carried through unchanged."""

    def __init__(self, bits: NDArray, onnx_elem_type: int,
                 shape: Optional[tuple[int, ...]] = None) -> None:
        self.bits = bits
        self.onnx_elem_type = onnx_elem_type
        self.shape = bits.shape if shape is None else tuple(shape)

    @property
    def packed(self) -> bool:
        return self.onnx_elem_type in PACKED_BITS


# A value on the wire: a tensor, a tensor NumPy cannot hold, a sequence of tensors, a sequence
# of maps, or an empty optional.
class MapSequence(list[dict[Any, Any]]):
    """A sequence of maps: a list of dicts, marked as such so that an empty one still travels as
    a sequence of maps. encode_value also takes a plain non-empty list of dicts."""


Value = Union[NDArray, OnnxBitsArray, list[NDArray], list[dict[Any, Any]], None]
ValueMap = dict[str, Value]
NamedValues = list[tuple[str, Value]]


# ONNX data type -> NumPy dtype of the tensors that travel in shared memory (src/protocol/
# values.cc TravelsShared): bfloat16 and float8 as their bit patterns (OnnxBitsArray).
SHARED_DTYPES: dict[int, np.dtype[Any]] = {
    1: np.dtype("<f4"), 2: np.dtype("u1"), 3: np.dtype("i1"), 4: np.dtype("<u2"),
    5: np.dtype("<i2"), 6: np.dtype("<i4"), 7: np.dtype("<i8"), 9: np.dtype("?"),
    10: np.dtype("<f2"), 11: np.dtype("<f8"), 12: np.dtype("<u4"), 13: np.dtype("<u8"),
    14: np.dtype("<c8"), 15: np.dtype("<c16"), 16: np.dtype("<u2"), 17: np.dtype("u1"),
    18: np.dtype("u1"), 19: np.dtype("u1"), 20: np.dtype("u1")}
_BITS_SHARED = frozenset((16, 17, 18, 19, 20))  # held as OnnxBitsArray
_SHARED_CODE = {np.dtype(np.float32): 1, np.dtype(np.uint8): 2, np.dtype(np.int8): 3,
                np.dtype(np.uint16): 4, np.dtype(np.int16): 5, np.dtype(np.int32): 6,
                np.dtype(np.int64): 7, np.dtype(np.bool_): 9, np.dtype(np.float16): 10,
                np.dtype(np.float64): 11, np.dtype(np.uint32): 12, np.dtype(np.uint64): 13,
                np.dtype(np.complex64): 14, np.dtype(np.complex128): 15}
SHARED_ALIGNMENT = 64
SHARED_MAX_BYTES = 8 << 30


def _align(n: int) -> int:
    return (n + SHARED_ALIGNMENT - 1) // SHARED_ALIGNMENT * SHARED_ALIGNMENT


class SharedRegion:
    """The worker's side of src/protocol/shared_region.h: the memory file `fd`, mapped
    read-write. The file is sealed against shrinking, so a mapping never outlives its bytes;
    every range is checked against the mapped size (ProtocolError when outside)."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = 0
        self.map: Optional[mmap.mmap] = None
        self.refresh(size)

    def refresh(self, claimed: int) -> None:
        """Maps `claimed` bytes (the peer grew the region); ProtocolError when the file is
        smaller than that."""
        if claimed <= self.size:
            return
        if claimed > SHARED_MAX_BYTES:
            raise ProtocolError("shared memory of %d bytes exceeds the %d-byte limit"
                                % (claimed, SHARED_MAX_BYTES))
        actual = os.fstat(self.fd).st_size
        if actual < claimed:
            raise ProtocolError("the peer says shared memory is %d bytes, but it is %d"
                                % (claimed, actual))
        # The old mapping stays alive while arrays still view it (mmap refuses to close then).
        self.map = mmap.mmap(self.fd, claimed)
        self.size = claimed

    def grow(self, size: int) -> None:
        if size <= self.size:
            return
        page = mmap.PAGESIZE
        size = max(size, 2 * self.size)
        size = min((size + page - 1) // page * page, SHARED_MAX_BYTES)
        if os.fstat(self.fd).st_size < size:
            os.ftruncate(self.fd, size)
        self.refresh(size)

    def array(self, offset: int, dtype: np.dtype[Any], shape: tuple[int, ...],
              what: str) -> NDArray:
        """A view of the bytes at `offset` as an array (no copy)."""
        count = 1
        for d in shape:
            count *= d
        n = count * dtype.itemsize
        if offset < 0 or offset > self.size or n > self.size - offset:
            raise ProtocolError("%s: bytes [%d, %d) lie outside the %d-byte shared memory"
                                % (what, offset, offset + n, self.size))
        assert self.map is not None
        return np.frombuffer(self.map, dtype=dtype, count=count, offset=offset).reshape(shape)


def _shared_value(desc: Any, region: Optional[SharedRegion], what: str) -> Value:
    if region is None:
        raise ProtocolError(what + " is in shared memory, but this connection has none")
    if (not isinstance(desc, dict) or not isinstance(desc.get("offset"), int)
            or not isinstance(desc.get("dtype"), int) or not isinstance(desc.get("shape"), list)
            or not all(isinstance(d, int) and d >= 0 for d in desc["shape"])):
        raise ProtocolError(what + ": its shared-memory descriptor is not {offset, dtype, shape}")
    code = desc["dtype"]
    dtype = SHARED_DTYPES.get(code)
    if dtype is None:
        raise ProtocolError("%s: element type %d cannot travel in shared memory" % (what, code))
    arr = region.array(desc["offset"], dtype, tuple(desc["shape"]), what)
    return OnnxBitsArray(arr, code) if code in _BITS_SHARED else arr


def _shared_code(value: Value) -> Optional[tuple[int, NDArray]]:
    """(ONNX data type, array) of a value that can travel in shared memory, else None."""
    if isinstance(value, OnnxBitsArray):
        code = value.onnx_elem_type
        return (code, value.bits) if code in _BITS_SHARED else None
    if isinstance(value, np.ndarray):
        found = _SHARED_CODE.get(value.dtype.newbyteorder("="))
        return (found, value) if found is not None else None
    return None


def _bits_types() -> dict[int, type[np.generic]]:
    onnx, _ = _onnx()
    T = onnx.TensorProto
    types: dict[int, type[np.generic]] = {T.BFLOAT16: np.uint16}
    for name in ("FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "FLOAT8E8M0",
                 "UINT4", "INT4", "FLOAT4E2M1", "UINT2", "INT2", "FLOAT6E2M3", "FLOAT6E3M2"):
        if hasattr(T, name):
            types[getattr(T, name)] = np.uint8
    return types


def _bits_from_proto(t: Any, bits_dtype: type[np.generic]) -> OnnxBitsArray:
    shape = tuple(t.dims)
    count = int(np.prod(shape, dtype=np.int64))
    if t.raw_data:
        bits = np.frombuffer(t.raw_data, dtype=bits_dtype)
    elif PACKED_BITS.get(t.data_type) == 6:  # one code per int32 element (bits 0-5)
        codes = np.array(t.int32_data, dtype=np.uint32).astype(np.uint8)
        if codes.size != count:
            raise ProtocolError("tensor '%s' holds %d values for shape %s"
                                % (t.name, codes.size, shape))
        bits = pack_codes(codes, 6)
    else:  # stored one value (4- and 2-bit types: one packed byte) per int32 element
        bits = np.array(t.int32_data, dtype=np.uint32).astype(bits_dtype)
    if t.data_type in PACKED_BITS:
        want = packed_nbytes(t.data_type, count)
        if bits.size != want:
            raise ProtocolError("tensor '%s' holds %d packed bytes for shape %s (needs %d)"
                                % (t.name, bits.size, shape, want))
        return OnnxBitsArray(bits.copy(), t.data_type, shape)
    if bits.size != count:
        raise ProtocolError("tensor '%s' holds %d values for shape %s" % (t.name, bits.size, shape))
    return OnnxBitsArray(bits.reshape(shape).copy(), t.data_type)


def _onnx() -> tuple[Any, Any]:
    import onnx  # imported lazily so the framing above works without onnx
    from onnx import numpy_helper
    return onnx, numpy_helper


def _map_proto(d: dict[Any, Any], string_keys: bool) -> Any:
    """A MapProto of one dict: string or int64 keys (NumPy integer keys keep their type), values
    as scalar tensors of the values' common NumPy type (float32 for an empty dict)."""
    onnx, numpy_helper = _onnx()
    m = onnx.MapProto()
    keys = list(d)
    if string_keys:
        m.key_type = onnx.TensorProto.STRING
        m.string_keys.extend(k.encode("utf-8") if isinstance(k, str) else bytes(k) for k in keys)
    else:
        key_type = np.asarray(keys).dtype if keys and isinstance(keys[0], np.integer) else None
        m.key_type = (onnx.helper.np_dtype_to_tensor_dtype(key_type) if key_type is not None
                      else onnx.TensorProto.INT64)
        m.keys.extend(int(k) for k in keys)
    values = np.asarray(list(d.values())) if d else np.zeros((0,), np.float32)
    m.values.elem_type = onnx.SequenceProto.TENSOR
    for v in values:
        m.values.tensor_values.append(numpy_helper.from_array(np.asarray(v, values.dtype)))
    return m


def _map_sequence_proto(name: str, maps: list[Any]) -> Any:
    onnx, _ = _onnx()
    seq = onnx.SequenceProto()
    seq.name = name
    seq.elem_type = onnx.SequenceProto.MAP
    first = next((k for d in maps for k in d), "")
    for d in maps:
        seq.map_values.append(_map_proto(d, isinstance(first, (str, bytes))))
    return seq


def _map_from_proto(m: Any, what: str) -> dict[Any, Any]:
    onnx, numpy_helper = _onnx()
    if m.key_type == onnx.TensorProto.STRING:
        keys: list[Any] = [k.decode("utf-8") for k in m.string_keys]
    else:
        keys = list(m.keys)
    tensors = m.values.tensor_values
    if len(keys) != len(tensors) or len(m.values.map_values) or len(m.values.sequence_values):
        raise ProtocolError("%s: a map must hold one scalar tensor per key" % what)
    values = []
    for t in tensors:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            raise ProtocolError(what + " uses external data")
        arr = numpy_helper.to_array(t)
        if arr.size != 1:
            raise ProtocolError("%s: a map value holds %d elements, not 1" % (what, arr.size))
        values.append(arr.reshape(())[()])
    return dict(zip(keys, values))


def encode_value(name: str, value: Value) -> tuple[str, bytes]:
    """Returns (kind, blob) for a numpy array, a list of arrays (sequence), a list of dicts
    (sequence of maps) or None."""
    onnx, numpy_helper = _onnx()
    if value is None:
        return "none", b""
    if isinstance(value, OnnxBitsArray):
        t = onnx.TensorProto()
        t.name = name
        t.data_type = value.onnx_elem_type
        t.dims.extend(value.shape)
        little = value.bits.dtype.newbyteorder("<")
        t.raw_data = np.ascontiguousarray(value.bits, dtype=little).tobytes()
        return "tensor", t.SerializeToString()
    if isinstance(value, MapSequence) or (isinstance(value, list) and value
                                          and isinstance(value[0], dict)):
        return "sequence", _map_sequence_proto(name, value).SerializeToString()
    if isinstance(value, (list, tuple)):
        seq = onnx.SequenceProto()
        seq.name = name
        seq.elem_type = onnx.SequenceProto.TENSOR
        for item in value:
            seq.tensor_values.append(numpy_helper.from_array(np.asarray(item)))
        return "sequence", seq.SerializeToString()
    arr = np.asarray(value)
    return "tensor", numpy_helper.from_array(arr, name).SerializeToString()


class Placement:
    """Where put_values placed one message's values in shared memory, kept so that the next
    message with the same names, element types and shapes from the same start (a run after a
    run) reuses the destinations and the meta instead of working them out again: the work done
    after the runtime returns is paid with cold caches, so less of it is faster."""

    def __init__(self) -> None:
        self.key: Any = None
        self.views: list[Optional[NDArray]] = []
        self.meta: JsonObject = {}
        self.encoded = ""  # `meta` as JSON without the braces
        self.end = 0

    @staticmethod
    def key_of(names: list[str], values: list[Value], region: SharedRegion, start: int) -> Any:
        parts: list[Any] = [start, region.size]
        for name, v in zip(names, values):
            if isinstance(v, np.ndarray):
                parts.append((name, v.dtype, v.shape))
            elif isinstance(v, OnnxBitsArray):
                parts.append((name, v.onnx_elem_type, v.bits.dtype, v.bits.shape))
            else:
                return None  # sequences, optionals: placed afresh every time
        return tuple(parts)


def put_values(msg: Message, names: list[str], values: list[Value],
               region: Optional[SharedRegion] = None, start: int = 0,
               placement: Optional[Placement] = None) -> int:
    """Appends the values to `msg`; with a region, the tensors of SHARED_DTYPES are placed in it
    from `start` on (aligned, growing the region as needed). Returns the end of the last one.
    `placement` remembers where they went, for the next call with values of the same form."""
    key = None
    if placement is not None and region is not None:
        key = Placement.key_of(names, values, region, start)
        if key is not None and key == placement.key:
            for view, name, value in zip(placement.views, names, values):
                if view is not None:
                    src = value.bits if isinstance(value, OnnxBitsArray) else value
                    np.copyto(view, src, casting="equiv")  # type: ignore[arg-type]
                    msg.blobs.append(b"")
                else:
                    msg.blobs.append(encode_value(name, value)[1])
            msg.meta.update(placement.meta)
            return placement.end
    kinds = []
    views: list[Optional[NDArray]] = []
    shared: list[Optional[JsonObject]] = []
    end = start
    for name, value in zip(names, values):
        placed = _shared_code(value) if region is not None else None
        if placed is not None and region is not None:
            code, arr = placed
            offset = _align(end)
            n = arr.size * arr.dtype.itemsize
            if offset + n <= SHARED_MAX_BYTES:
                region.grow(offset + n)
                dst = region.array(offset, SHARED_DTYPES[code], arr.shape, name)
                np.copyto(dst, arr, casting="equiv")
                shared.append({"offset": offset, "dtype": code, "shape": list(arr.shape)})
                kinds.append("shm")
                views.append(dst)
                msg.blobs.append(b"")
                end = offset + n
                continue
        kind, blob = encode_value(name, value)
        kinds.append(kind)
        shared.append(None)
        views.append(None)
        msg.blobs.append(blob)
    meta: JsonObject = {"names": list(names), "kinds": kinds}
    if region is not None and "shm" in kinds:  # zero-size values alone leave end == start
        meta["shm"] = shared
        meta["shm_size"] = region.size
    msg.meta.update(meta)
    if placement is not None and region is not None:
        # Keyed by the region's size after placing: a region that grows misses the next time.
        placement.key = Placement.key_of(names, values, region, start)
        placement.views, placement.meta, placement.end = views, meta, end
        placement.encoded = encode_meta(meta).decode("utf-8")[1:-1]
    return end


def shared_end(msg: Message) -> int:
    """The end of the last tensor `msg` placed in shared memory (0 when none): where a reply may
    start placing its own."""
    end = 0
    for d in msg.meta.get("shm") or []:
        if isinstance(d, dict) and isinstance(d.get("offset"), int):
            count = 1
            for x in d.get("shape", []):
                count *= int(x)
            dtype = SHARED_DTYPES.get(d.get("dtype", 0))
            end = max(end, d["offset"] + count * (dtype.itemsize if dtype is not None else 0))
    return end


def get_values(msg: Message, region: Optional[SharedRegion] = None) -> NamedValues:
    """Decodes meta names/kinds + blobs into [(name, value)]; ProtocolError on any mismatch.
    Tensors in shared memory come back as views of it (no copy)."""
    names = msg.meta.get("names", [])
    kinds = msg.meta.get("kinds", [])
    what_msg = TYPE_NAMES.get(msg.type, "?")
    if (not isinstance(names, list) or not isinstance(kinds, list)
            or len(names) != len(msg.blobs) or len(kinds) != len(msg.blobs)):
        raise ProtocolError("%s carries %d blobs but names/kinds do not match"
                            % (what_msg, len(msg.blobs)))
    shared = msg.meta.get("shm")
    if shared is not None and (not isinstance(shared, list) or len(shared) != len(msg.blobs)):
        raise ProtocolError("%s: shm must list one entry per value" % what_msg)
    if region is not None and "shm_size" in msg.meta:
        size = msg.meta["shm_size"]
        if not isinstance(size, int) or size < 0:
            raise ProtocolError("shm_size must be a byte count")
        region.refresh(size)
    out: NamedValues = []
    for i, (name, kind, blob) in enumerate(zip(names, kinds, msg.blobs)):
        if not isinstance(name, str) or not isinstance(kind, str):
            raise ProtocolError("names/kinds must be strings")
        what = "%s value '%s'" % (what_msg, name)
        if kind == "shm":
            if shared is None or blob:
                raise ProtocolError(what + " is in shared memory, but shm is missing or its "
                                    "blob is not empty")
            out.append((name, _shared_value(shared[i], region, what)))
        elif kind == "tensor":
            onnx, numpy_helper = _onnx()
            t = onnx.TensorProto()
            try:
                t.ParseFromString(blob)
            except Exception:  # protobuf's DecodeError
                raise ProtocolError(what + " is not a TensorProto") from None
            if t.data_location == onnx.TensorProto.EXTERNAL:
                raise ProtocolError(what + " uses external data")
            bits_dtype = _bits_types().get(t.data_type)
            if bits_dtype is not None:
                out.append((name, _bits_from_proto(t, bits_dtype)))
                continue
            try:
                out.append((name, numpy_helper.to_array(t)))
            except Exception as e:
                raise ProtocolError("%s cannot be read (%s)" % (what, e)) from None
        elif kind == "sequence":
            onnx, numpy_helper = _onnx()
            s = onnx.SequenceProto()
            try:
                s.ParseFromString(blob)
            except Exception:
                raise ProtocolError(what + " is not a SequenceProto") from None
            if s.elem_type == onnx.SequenceProto.MAP:
                out.append((name, MapSequence(_map_from_proto(m, what) for m in s.map_values)))
                continue
            items = []
            for t in s.tensor_values:
                if t.data_location == onnx.TensorProto.EXTERNAL:
                    raise ProtocolError(what + " uses external data")
                items.append(numpy_helper.to_array(t))
            out.append((name, items))
        elif kind == "none":
            out.append((name, None))
        else:
            raise ProtocolError("%s has unknown kind '%s'" % (what, kind))
    return out
