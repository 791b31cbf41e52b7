"""Entry point for tests: adapters/worker.py with the real adapter wrapped by
crash_adapter.FaultyAdapter ($CONCORD_TEST_FAULT picks the fault). Point CONCORD_ADAPTERS at
this folder to use it."""

import os
import sys

ADAPTERS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ADAPTERS)  # first: `import worker` is adapters/worker.py

import worker  # noqa: E402
from testing import crash_adapter  # noqa: E402

if __name__ == "__main__":
    sys.exit(worker.main(adapter_factory=crash_adapter.factory))
