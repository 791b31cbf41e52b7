"""What the adapters know about this machine's NVIDIA GPUs, without importing a framework.

cuda_devices() asks the driver itself (libcuda.so.1 through ctypes: cuInit, cuDeviceGetCount,
cuDeviceGetName, cuDeviceTotalMem), so an env reports the GPU that really exists, and a machine
without one gets a reason ("libcuda.so.1 not found: no NVIDIA driver") instead of a silent CPU
run. gpu_memory_mb() reads the memory this process holds on the GPU through NVML (the
nvidia-ml-py module when importable, else libnvidia-ml.so.1 directly), the figure nvidia-smi
shows per process; None where NVML cannot tell.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from typing import Any, Optional


@dataclass(frozen=True)
class CudaDevice:
    index: int
    name: str
    memory_mib: int

    def describe(self) -> str:
        return "cuda:%d %s (%d MiB)" % (self.index, self.name, self.memory_mib)


_probe: Optional[tuple[list[CudaDevice], str]] = None


def _probe_driver() -> tuple[list[CudaDevice], str]:
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return [], "libcuda.so.1 not found: no NVIDIA driver on this machine"
    if cuda.cuInit(0) != 0:
        return [], "the NVIDIA driver found no usable GPU (cuInit failed)"
    count = ctypes.c_int(0)
    if cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
        return [], "the NVIDIA driver reports no CUDA device"
    devices = []
    for i in range(count.value):
        handle = ctypes.c_int(0)
        cuda.cuDeviceGet(ctypes.byref(handle), i)
        name = ctypes.create_string_buffer(256)
        cuda.cuDeviceGetName(name, 256, handle)
        total = ctypes.c_size_t(0)
        cuda.cuDeviceTotalMem_v2(ctypes.byref(total), handle)
        devices.append(CudaDevice(i, name.value.decode(errors="replace"),
                                  total.value // (1024 * 1024)))
    return devices, ""


def cuda_devices() -> tuple[list[CudaDevice], str]:
    """The CUDA devices the driver reports, and why there are none ("" when there are)."""
    global _probe
    if _probe is None:
        _probe = _probe_driver()
    return _probe


def first_cuda_device() -> Optional[CudaDevice]:
    devices, _ = cuda_devices()
    return devices[0] if devices else None


def no_cuda_reason() -> str:
    """"" when a CUDA device exists; else the sentence an env's error carries."""
    devices, why = cuda_devices()
    return "" if devices else "no CUDA device: " + why


def _nvml() -> Any:
    try:
        import pynvml  # type: ignore[import-not-found,import-untyped,unused-ignore]
        pynvml.nvmlInit()
        return pynvml
    except Exception:
        return None


def gpu_memory_mb(pid: Optional[int] = None) -> Optional[float]:
    """GPU memory held by process `pid` (default: this one) on any GPU, in MiB, as NVML reports
    it; None where NVML is unavailable or the process holds no context."""
    pid = os.getpid() if pid is None else pid
    nvml = _nvml()
    if nvml is None:
        return None
    used = 0
    found = False
    try:
        for i in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            for proc in nvml.nvmlDeviceGetComputeRunningProcesses(handle):
                if proc.pid == pid and proc.usedGpuMemory is not None:
                    used += proc.usedGpuMemory
                    found = True
    except Exception:
        return None
    return used / (1024.0 * 1024.0) if found else None


def device_memory_used_mb(index: int = 0) -> Optional[float]:
    """Memory in use on GPU `index` (all processes), in MiB; None without NVML."""
    nvml = _nvml()
    if nvml is None:
        return None
    try:
        info = nvml.nvmlDeviceGetMemoryInfo(nvml.nvmlDeviceGetHandleByIndex(index))
        return float(info.used) / (1024.0 * 1024.0)
    except Exception:
        return None


class GpuMemoryMeter:
    """The GPU memory a session holds: NVML's figure for this process where the driver shows
    per-process use, else the device's use now minus its use when the meter started (exact
    when no other process uses the GPU meanwhile; the source says which)."""

    def __init__(self) -> None:
        self.baseline = device_memory_used_mb()

    def stats(self) -> dict[str, Any]:
        own = gpu_memory_mb()
        if own is not None:
            return {"gpu_memory_mb": round(own, 1), "gpu_memory_source": "nvml process"}
        now = device_memory_used_mb()
        if now is None or self.baseline is None:
            return {}
        return {"gpu_memory_mb": round(now - self.baseline, 1),
                "gpu_memory_source": "nvml device use minus the use before the session"}
