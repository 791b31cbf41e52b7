"""A misbehaving adapter for tests of the worker backends' crash isolation.

It wraps the real adapter (ort or tvm) and misbehaves as $CONCORD_TEST_FAULT says:
  segv@prepare | segv@run     die by SIGSEGV
  exit3@prepare | exit3@run   exit with status 3
  hang@prepare | hang@run     sleep for an hour (the client must time out and kill us)
  garbage@run                 write bytes that are not a Concord frame to the protocol stream
  (empty)                     behave exactly like the real adapter
Every fault first writes a line naming itself to stderr, so tests can check the error quotes
the worker's last stderr lines.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

import worker
from adapter import Adapter, JsonDict
from concord_protocol import NamedValues, ValueMap


def misbehave(fault: str, stage: str, out_fd: int) -> None:
    kind, _, at = fault.partition("@")
    if at != stage:
        return
    print("crash_adapter: injecting fault '%s' now" % fault, file=sys.stderr, flush=True)
    if kind == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif kind == "exit3":
        os._exit(3)
    elif kind == "hang":
        time.sleep(3600)
    elif kind == "garbage":
        os.write(out_fd, b"this is not a Concord frame at all\n" * 4)
        time.sleep(3600)
    else:
        raise ValueError("unknown CONCORD_TEST_FAULT '%s'" % fault)


class FaultyAdapter(Adapter):
    def __init__(self, inner: Adapter, fault: str, out_fd: int) -> None:
        self.inner = inner
        self.fault = fault
        self.out_fd = out_fd  # the protocol stream, for garbage@run
        self.supports_taps = inner.supports_taps

    def capabilities(self) -> JsonDict:
        return self.inner.capabilities()

    def versions(self) -> dict[str, str]:
        return self.inner.versions()

    def prepare(self, model: bytes, device: str, options: dict[str, str]) -> JsonDict:
        misbehave(self.fault, "prepare", self.out_fd)
        return self.inner.prepare(model, device, options)

    def run(self, inputs: ValueMap) -> tuple[NamedValues, float]:
        misbehave(self.fault, "run", self.out_fd)
        return self.inner.run(inputs)

    def run_taps(self, inputs: ValueMap) -> NamedValues:
        return self.inner.run_taps(inputs)

    def runtime_stats(self) -> JsonDict:
        return self.inner.runtime_stats()

    def close(self) -> None:
        self.inner.close()


def factory(name: str, args: argparse.Namespace, out_fd: int) -> Adapter:
    inner = worker.make_adapter(name, args, out_fd)
    return FaultyAdapter(inner, os.environ.get("CONCORD_TEST_FAULT", ""), out_fd)
