"""Where a cell's torch comes from: the PyTorch CPU wheel index on a machine without a GPU, PyPI's default
wheels (CUDA builds on Linux) where a GPU is present or the CPU index cannot be reached.

uv's `--torch-backend cpu` takes torch and the other PyTorch packages from that index only and every
other package from the configured indexes, so no dependency is ever resolved across both. (`auto` is
not used: it picks a CUDA index newer than old pinned torch releases have wheels on, and an Intel display
adapter turns it to `xpu`.) UV_TORCH_BACKEND, when set, is uv's to apply and is left alone; KVCC_CPU_WHEELS=0
keeps PyPI's default wheels. The index is probed once per process, with a short timeout, and only when
the CPU backend would be chosen.
"""

from __future__ import annotations

import functools
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from http.client import HTTPException
from pathlib import Path

from kvmatrix.settings import setting

CPU_BACKEND = ("--torch-backend", "cpu")
CPU_INDEX_PROBE = "https://download.pytorch.org/whl/cpu/torch/"
"""The CPU index's torch page, the one uv reads first with `--torch-backend cpu`."""
PROBE_TIMEOUT_S = 3.0
GPU_MARKERS = ("/sys/module/nvidia/version", "/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/kfd")
"""Present where an NVIDIA driver (the files uv's own detection reads) or AMD's ROCm driver is loaded."""
GPU_VARIABLES = ("UV_CUDA_DRIVER_VERSION", "UV_AMD_GPU_ARCHITECTURE")
"""uv's variables that declare a GPU the machine does not show (containers, cross-builds)."""


def has_gpu(env: Mapping[str, str], markers: tuple[str, ...] = GPU_MARKERS) -> bool:
    """Whether this machine has an NVIDIA or AMD GPU driver loaded, or `env` declares one to uv."""
    return any(env.get(name) for name in GPU_VARIABLES) or any(Path(marker).exists() for marker in markers)


def index_reachable(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether the package index page at `url` answers with a success status within `timeout_s`."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            return 200 <= answer.status < 300
    except (urllib.error.URLError, HTTPException, OSError):
        return False


def backend_choice(env: Mapping[str, str], gpu: bool, reachable: Callable[[], bool]) -> tuple[str, ...]:
    """The `uv pip install` arguments that choose torch's index: the CPU backend without a GPU when the CPU
    index is reachable (`reachable` is called only then); nothing where UV_TORCH_BACKEND already chooses,
    KVCC_CPU_WHEELS=0, a GPU is present or the CPU index cannot be reached."""
    if env.get("UV_TORCH_BACKEND") or setting("KVCC_CPU_WHEELS", env) == "0" or gpu:
        return ()
    return CPU_BACKEND if reachable() else ()


@functools.cache
def cpu_index_reachable() -> bool:
    """Whether the CPU index answers, probed once per process; a one-line notice on stderr when not."""
    if index_reachable(CPU_INDEX_PROBE):
        return True
    print(f"notice: the PyTorch CPU wheel index ({CPU_INDEX_PROBE}) cannot be reached; installing PyPI's "
          "default torch wheels (CUDA builds on Linux)", file=sys.stderr)
    return False


def find_links_args(env: Mapping[str, str]) -> list[str]:
    """`--find-links` for each folder or URL in `env`'s PIP_FIND_LINKS (a local torch wheel, say): uv reads
    its own UV_* settings but not pip's, so every install and resolution of a cell passes them on."""
    return [arg for link in env.get("PIP_FIND_LINKS", "").split() for arg in ("--find-links", link)]


def torch_backend_args() -> tuple[str, ...]:
    """`backend_choice` for this process's environment and this machine."""
    return backend_choice(os.environ, has_gpu(os.environ), cpu_index_reachable)
