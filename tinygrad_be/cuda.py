"""`tinygrad_be.cuda`, as torch.cuda: is a GPU at hand, how many, and waiting for it.

The GPU backend is CuPy, an optional extra (`pip install -e ".[cuda12]"` or `".[cuda13]"`):
`is_available()` is False on a CPU-only install or without a GPU, so torch code that checks it
takes its CPU branch. Nothing here imports CuPy before it is asked.
"""

from __future__ import annotations

from tinygrad_be import backend

__all__ = [
    "current_device",
    "device_count",
    "get_device_name",
    "is_available",
    "manual_seed",
    "manual_seed_all",
    "synchronize",
]


def is_available() -> bool:
    """True when CuPy is installed and sees a GPU."""
    return backend.cuda_available()


def device_count() -> int:
    """The number of GPUs CuPy sees (0 without CuPy or without a GPU)."""
    if not backend.cuda_available():
        return 0
    return backend._gpu_count(backend.cuda_module())


def current_device() -> int:
    """The GPU computations run on: always 0 (tinygrad_be uses one GPU)."""
    backend.cuda_module("cuda.current_device")
    return 0


def get_device_name(device: object = None) -> str:
    """The GPU's name, e.g. "NVIDIA H100 80GB HBM3"."""
    cupy = backend.cuda_module("cuda.get_device_name")
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def manual_seed(seed: int) -> None:
    """Accepted and ignored: random tensors are drawn on the host by the library's generator
    (`tinygrad_be.manual_seed`) and copied to the GPU, so "cuda" draws the same values as "cpu"."""


manual_seed_all = manual_seed


def synchronize(device: object = None) -> None:
    """Wait until the GPU has finished the work queued so far (for timing)."""
    backend.cuda_module("cuda.synchronize").cuda.Device().synchronize()
