"""Concord worker: serves one runtime (an adapter) over Concord's runtime protocol on stdio.

    python adapters/worker.py --backend ort|tvm|torch|tflite|openvino|tf|keras [--cache DIR]

This is the server side of the conversation documented in src/backends/protocol_session.h:
HELLO -> HELLO, MODEL -> OK, DATA -> OK, PROCESS -> OUTPUT [+ TAPS], STATS -> STATS,
BYE -> exit 0. Frames travel on the original stdin/stdout (binary, unbuffered); everything
else a library prints goes to stderr, because file descriptor 1 is redirected there before
any runtime is imported. A failure inside a request is answered ERROR {kind, message} and
the worker keeps serving; a malformed frame is answered ERROR and the worker exits with
status 2 (the stream can no longer be trusted). EOF at a frame boundary exits 0.

The MODEL request names the env as JSON {backend, device, options} (option values are the
env's strings) and carries the ONNX model as its one blob, or, for a framework model, no blob
and {"path": absolute path, "format": ModelFormatName}; the reply to the latter holds the
model's "signature" (adapter.py); the adapter (adapters/adapter.py) reads the options against its own
declaration, which HELLO sends back as "capabilities".

Shared memory: a local client may offer one in HELLO, {"shm": {"fd": N, "size": BYTES}} (a
memory file it created and this process inherited as descriptor N). The worker maps it and
answers capabilities {"shm": true}; from then on tensors travel in it (concord_protocol.py,
SharedRegion) and PROCESS carries the inputs itself (names/kinds/shm like DATA), so one round
trip serves a run. Outputs, then taps, are placed after the inputs. Without the offer (remote
clients, older clients) nothing changes.

Timing: the adapter measures the framework call itself (timing_ms.run), so neither IPC nor
value conversion pollutes latency.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import resource
import statistics
import sys
import time
import traceback
from typing import Any, Callable, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import concord_protocol as cp  # noqa: E402
from adapter import Adapter, AdapterError, JsonDict  # noqa: E402
import io_layout  # noqa: E402

MAX_RECORDED_RUNS = 100000

# Builds the adapter for a backend name: (backend, parsed arguments, the descriptor frames are
# written to) -> Adapter; AdapterError when it cannot.
AdapterFactory = Callable[[str, argparse.Namespace, int], Adapter]


def log(*args: object) -> None:
    print("concord-worker:", *args, file=sys.stderr, flush=True)


def make_adapter(name: str, args: argparse.Namespace, out_fd: int) -> Adapter:
    """Imports and constructs the adapter for `name` (its runtime is imported here)."""
    if name == "ort":
        import ort_adapter
        return ort_adapter.OrtAdapter()
    if name == "tvm":
        import tvm_adapter
        return tvm_adapter.TvmAdapter(cache_dir=args.cache)
    if name == "torch":
        import torch_adapter
        return torch_adapter.TorchAdapter()
    if name == "tflite":
        import tflite_adapter
        return tflite_adapter.TfliteAdapter()
    if name == "openvino":
        import openvino_adapter
        return openvino_adapter.OpenVinoAdapter()
    if name in ("tf", "keras"):
        import tf_adapter
        return tf_adapter.TfAdapter(name)
    raise AdapterError("usage", "unknown worker backend '%s' (known: ort, tvm, torch, tflite, "
                       "openvino, tf, keras)" % name)


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _env_of(meta: JsonDict) -> tuple[str, str, dict[str, str]]:
    """MODEL meta "env" {backend, device, options} -> (backend, device, options)."""
    env = meta.get("env")
    if not isinstance(env, dict):
        raise AdapterError("input", "MODEL meta 'env' must be an object {backend, device, options}")
    backend = env.get("backend")
    device = env.get("device", "cpu")
    options = env.get("options", {})
    if (not isinstance(backend, str) or not isinstance(device, str)
            or not isinstance(options, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in options.items())):
        raise AdapterError("input", "MODEL meta 'env' must hold strings backend and device and "
                           "an object of string options")
    return backend, device, dict(options)


class Worker:
    def __init__(self, backend: str, adapter: Optional[Adapter],
                 adapter_error: Optional[AdapterError]) -> None:
        self.backend = backend
        self.adapter = adapter
        self.adapter_error = adapter_error  # why the adapter could not be created, or None
        self.prepared = False
        self.inputs: cp.ValueMap = {}
        self.layout: Optional[io_layout.Layout] = None  # a converted model's sidecar
        self.inference_ms: list[float] = []
        # CPU use while serving runs: process CPU time and wall time from the first PROCESS on
        # (read at STATS; a per-run reading costs tens of microseconds on a busy machine).
        self.cpu_start: Optional[tuple[float, float]] = None
        self.shared: Optional[cp.SharedRegion] = None  # the client's shared memory, if any
        self.inputs_end = 0  # end of the inputs in shared memory: replies are placed after it
        self.output_placement = cp.Placement()  # where the last OUTPUT's tensors went
        self.heap_frozen = False  # gc.freeze() done (after the first MODEL)
        self.inputs_meta: Optional[cp.JsonObject] = None  # the request self.inputs came from
        self.handlers: dict[int, Callable[[cp.Message], list[cp.Message]]] = {
            cp.HELLO: self.on_hello, cp.MODEL: self.on_model, cp.DATA: self.on_data,
            cp.PROCESS: self.on_process, cp.STATS: self.on_stats}

    def require_adapter(self) -> Adapter:
        if self.adapter is None:
            assert self.adapter_error is not None
            raise self.adapter_error
        return self.adapter

    def on_hello(self, msg: cp.Message) -> list[cp.Message]:
        version = msg.meta.get("version")
        if version != cp.VERSION:
            raise AdapterError("input", "client speaks protocol version %r, this worker speaks %d"
                               % (version, cp.VERSION))
        adapter = self.require_adapter()
        capabilities = dict(adapter.capabilities())
        offer = msg.meta.get("shm")
        if isinstance(offer, dict):
            try:
                self.shared = cp.SharedRegion(int(offer["fd"]), int(offer["size"]))
                capabilities["shm"] = True
            except (KeyError, TypeError, ValueError, OSError, cp.ProtocolError) as e:
                log("shared memory offered but not usable, using the pipe:", e)
                self.shared = None
        return [cp.Message(cp.HELLO, {
            "version": cp.VERSION,
            "server": "concord-worker",
            "backend": self.backend,
            "capabilities": capabilities,
            "versions": adapter.versions(),
        })]

    def on_model(self, msg: cp.Message) -> list[cp.Message]:
        adapter = self.require_adapter()
        path = msg.meta.get("path")
        if path is not None and (not isinstance(path, str) or msg.blobs):
            raise AdapterError("input", "MODEL with a 'path' carries no blob and names the file "
                               "as a string")
        if path is None and len(msg.blobs) != 1:
            raise AdapterError("input", "MODEL carries %d blobs, expected 1 (the model bytes)"
                               % len(msg.blobs))
        backend, device, options = _env_of(msg.meta)
        if backend != self.backend:
            raise AdapterError("usage", "this worker serves '%s', not '%s'"
                               % (self.backend, backend))
        self.prepared = False
        self.inputs = {}
        self.inputs_meta = None
        self.layout = None
        start = time.perf_counter()
        if path is not None:
            meta = dict(adapter.prepare_file(path, str(msg.meta.get("format", "")), device,
                                             options))
            self.layout = io_layout.load(path)
            if self.layout is not None:
                meta["signature"] = self.layout.signature(dict(meta.get("signature", {})))
                meta["io_layout"] = self.layout.summary()
        else:
            meta = dict(adapter.prepare(msg.blobs[0], device, options))
        meta["prepare_ms"] = (time.perf_counter() - start) * 1000.0
        self.prepared = True
        if not self.heap_frozen:
            # The runtime's modules, imported by now, stay alive: keep the cyclic collector from
            # walking them again and again between runs (pauses of milliseconds in the round
            # trips). Once only, so a worker that prepares model after model pays it once.
            gc.collect()
            gc.freeze()
            self.heap_frozen = True
        return [cp.Message(cp.OK, meta)]

    def set_inputs(self, msg: cp.Message) -> int:
        if (msg.meta is self.inputs_meta and self.layout is None
                and not any(msg.blobs)):
            # The same request as last time (FdChannel hands back the same meta object for the
            # same bytes): the same views of shared memory, whose bytes the client rewrote.
            return len(self.inputs)
        self.inputs_meta = None
        try:
            values = cp.get_values(msg, self.shared)
        except cp.ProtocolError as e:
            raise AdapterError("input", str(e)) from None
        self.inputs = dict(values) if self.layout is None else self.layout.feed(dict(values))
        self.inputs_end = cp.shared_end(msg)
        if all(k == "shm" for k in msg.meta.get("kinds", [])):
            self.inputs_meta = msg.meta
        return len(values)

    def on_data(self, msg: cp.Message) -> list[cp.Message]:
        return [cp.Message(cp.OK, {"count": self.set_inputs(msg)})]

    def on_process(self, msg: cp.Message) -> list[cp.Message]:
        adapter = self.require_adapter()
        if not self.prepared:
            raise AdapterError("usage", "PROCESS before a successful MODEL")
        if "names" in msg.meta:  # the inputs came with the request (shared-memory clients)
            self.set_inputs(msg)
        taps = bool(msg.meta.get("taps", False))
        if taps and not adapter.supports_taps:
            raise AdapterError("unsupported", "%s cannot return intermediate tensors (taps)"
                               % self.backend)
        warmup = int(msg.meta.get("warmup", 0))
        repeat = max(1, int(msg.meta.get("repeat", 1)))
        for _ in range(max(0, warmup)):
            adapter.run(self.inputs)
        runs: list[float] = []
        outputs: cp.NamedValues = []
        if self.cpu_start is None:
            self.cpu_start = (time.process_time(), time.perf_counter())
        for _ in range(repeat):
            outputs, run_ms = adapter.run(self.inputs)
            runs.append(run_ms)
        if self.layout is not None:
            outputs = self.layout.results(outputs)
        self.inference_ms.extend(runs)
        if len(self.inference_ms) > 2 * MAX_RECORDED_RUNS:
            del self.inference_ms[:-MAX_RECORDED_RUNS]
        timing: dict[str, Any] = {"run": runs[-1] if repeat == 1 else statistics.median(runs)}
        if repeat > 1:
            timing["runs"] = runs
        out = cp.Message(cp.OUTPUT, {"timing_ms": timing})
        try:
            end = cp.put_values(out, [n for n, _ in outputs], [v for _, v in outputs],
                                self.shared, self.inputs_end, self.output_placement)
        except Exception as e:
            raise AdapterError("unsupported", "cannot send an output of %s: %s"
                               % (self.backend, e)) from None
        if self.shared is not None and self.output_placement.key is not None:
            # The meta is the timing plus the placement's meta, whose JSON is kept.
            # (a finite float's repr is JSON; this runs after every inference, with cold caches)
            run = timing["run"]
            timed = ('{"run":%r}' % run if repeat == 1 and math.isfinite(run)
                     else cp.encode_meta(timing).decode("utf-8"))
            out.raw_meta = ('{"timing_ms":%s,%s}' % (timed, self.output_placement.encoded)).encode()
        replies = [out]
        if taps:
            try:
                tapped = adapter.run_taps(self.inputs)
                tm = cp.Message(cp.TAPS, {})
                cp.put_values(tm, [n for n, _ in tapped], [v for _, v in tapped], self.shared,
                              end)
                replies.append(tm)
            except AdapterError as e:
                replies.append(error_message(e.kind, e.message))
            except Exception as e:
                replies.append(error_message(
                    "runtime", "taps failed: %s: %s" % (type(e).__name__, e)))
        return replies

    def on_stats(self, msg: cp.Message) -> list[cp.Message]:
        rss = _rss_bytes()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        cpu_percent = 0.0
        if self.cpu_start is not None:
            wall = time.perf_counter() - self.cpu_start[1]
            cpu_percent = 100.0 * (time.process_time() - self.cpu_start[0]) / wall if wall else 0.0
        meta: JsonDict = {
            "inference_ms": self.inference_ms,
            "count": len(self.inference_ms),
            "cpu_percent": cpu_percent,
            "rss_bytes": rss,
            "peak_rss_bytes": max(peak, rss),
        }
        if self.adapter is not None:
            meta.update(self.adapter.runtime_stats())
        return [cp.Message(cp.STATS, meta)]

    def handle(self, msg: cp.Message) -> list[cp.Message]:
        handler = self.handlers.get(msg.type)
        if handler is None:
            raise AdapterError("input", "a worker does not accept %s"
                               % cp.TYPE_NAMES.get(msg.type, "?"))
        return handler(msg)


def error_message(kind: str, message: str) -> cp.Message:
    return cp.Message(cp.ERROR, {"kind": kind, "message": message})


def serve(channel: cp.FdChannel, worker: Worker) -> int:
    """Serves until BYE or EOF (returns 0) or a malformed frame (returns 2)."""
    while True:
        try:
            msg = channel.receive()
        except cp.ConnectionClosed:
            return 0
        except cp.ProtocolError as e:
            log("malformed frame:", e)
            try:
                channel.send(error_message("input", "protocol error: %s" % e))
            except OSError:
                pass
            return 2
        if msg.type == cp.BYE:
            return 0
        try:
            replies = worker.handle(msg)
        except AdapterError as e:
            replies = [error_message(e.kind, e.message)]
        except Exception as e:  # a bug or an unexpected runtime failure: report, keep serving
            log(traceback.format_exc())
            replies = [error_message("runtime", "%s: %s" % (type(e).__name__, e))]
        for r in replies:
            channel.send(r)


def main(argv: Optional[list[str]] = None, adapter_factory: AdapterFactory = make_adapter) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--backend", required=True,
                        help="ort | tvm | torch | tflite | openvino | tf | keras")
    parser.add_argument("--cache", default=None, help="compiled-artifact cache folder (tvm)")
    args = parser.parse_args(argv)

    # Keep the protocol stream private: frames go to a duplicate of fd 1 and fd 1 itself now
    # points at stderr, so stray prints from runtimes (C or Python) cannot corrupt a frame.
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = sys.stderr

    adapter: Optional[Adapter] = None
    adapter_error: Optional[AdapterError] = None
    try:
        adapter = adapter_factory(args.backend, args, proto_out)
    except AdapterError as e:
        adapter_error = e
    except Exception as e:
        log(traceback.format_exc())
        adapter_error = AdapterError("unsupported", "cannot start the %s adapter: %s: %s"
                                     % (args.backend, type(e).__name__, e))
    worker = Worker(args.backend, adapter, adapter_error)
    try:
        try:
            spin_s = max(0.0, float(os.environ.get("CONCORD_WORKER_SPIN_US", "300"))) / 1e6
        except ValueError:
            log("CONCORD_WORKER_SPIN_US is not a number; polling 300 us")
            spin_s = 300e-6
        return serve(cp.FdChannel(proto_in, proto_out, spin_s=spin_s), worker)
    except BrokenPipeError:
        return 0  # the client went away while we were answering
    finally:
        if adapter is not None:
            adapter.close()


if __name__ == "__main__":
    sys.exit(main())
