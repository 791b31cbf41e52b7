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

import os
import signal
import sys
import time

import worker


def misbehave(fault, stage):
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
        os.write(worker.PROTOCOL_OUT_FD, b"this is not a Concord frame at all\n" * 4)
        time.sleep(3600)
    else:
        raise ValueError("unknown CONCORD_TEST_FAULT '%s'" % fault)


class FaultyAdapter:
    def __init__(self, inner, fault):
        self.inner = inner
        self.fault = fault
        self.supports_taps = inner.supports_taps

    def versions(self):
        return self.inner.versions()

    def prepare(self, model_bytes, device, options):
        misbehave(self.fault, "prepare")
        return self.inner.prepare(model_bytes, device, options)

    def run(self, inputs):
        misbehave(self.fault, "run")
        return self.inner.run(inputs)

    def run_taps(self, inputs):
        return self.inner.run_taps(inputs)


def factory(name, args):
    return FaultyAdapter(worker.make_adapter(name, args), os.environ.get("CONCORD_TEST_FAULT", ""))
