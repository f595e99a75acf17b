"""What a cell's installed set (its `freeze`) says: each package's version, which torch build ran, what
changed between two runs, and the constraints file that installs the same set again.

Pure functions of `uv pip freeze` lines (`name==version`, or `name @ url` for a direct reference); no
torch, no network.
"""

from __future__ import annotations

import re

from packaging.utils import canonicalize_name

DIRECT = " @ "
LOCAL_BUILDS = (
    (re.compile(r"cpu(?:\.cxx11\.abi)?"), lambda match: "cpu"),
    (re.compile(r"cu(\d+)(\d)"), lambda match: f"cuda {match[1]}.{match[2]}"),
    (re.compile(r"rocm(\d[\d.]*)"), lambda match: f"rocm {match[1]}"),
    (re.compile(r"xpu"), lambda match: "xpu"),
)
"""torch's local version tag (`2.5.1+cu121`) to the build it names: `cpu`, `cuda 12.1`, `rocm 6.2`, `xpu`."""
CUDA_RUNTIME = re.compile(r"nvidia-cuda-runtime(?:-cu\d+)?")
"""The CUDA runtime a torch build without a local tag (PyPI's Linux wheels) depends on, whose version is
the CUDA version of that build: `nvidia-cuda-runtime-cu12==12.4.127`, `nvidia-cuda-runtime==13.0.96`."""


def versions(freeze: list[str]) -> dict[str, str]:
    """Each package of `freeze` by canonical name: its version, or for a direct reference its URL."""
    found = {}
    for line in freeze:
        name, separator, version = line.partition(DIRECT) if DIRECT in line else line.partition("==")
        if separator and name.strip():
            found[canonicalize_name(name.strip())] = version.strip()
    return found


def package_changes(before: list[str], after: list[str]) -> list[dict[str, str | None]]:
    """The packages whose version differs between two freezes, by name: `{"package", "before", "after"}`,
    with None on the side where the package was not installed; [] when both sets are the same."""
    old, new = versions(before), versions(after)
    return [
        {"package": name, "before": old.get(name), "after": new.get(name)}
        for name in sorted(old.keys() | new.keys())
        if old.get(name) != new.get(name)
    ]


def torch_build(freeze: list[str]) -> str | None:
    """Which torch build `freeze` holds: from its local version tag (`cpu`, `cuda 12.1`, `rocm 6.2`,
    `xpu`), else for an untagged wheel the CUDA runtime it pulled in (`cuda 12.4`), else `cpu` (PyPI's
    wheels without CUDA: macOS, Linux on ARM); None when torch is not installed."""
    installed = versions(freeze)
    version = installed.get("torch")
    if version is None:
        return None
    local = version.partition("+")[2]
    if local:
        return next((label(match) for pattern, label in LOCAL_BUILDS if (match := pattern.fullmatch(local))),
                    local)
    runtime = next((v for name, v in installed.items() if CUDA_RUNTIME.fullmatch(name)), None)
    return f"cuda {'.'.join(runtime.split('.')[:2])}" if runtime else "cpu"


def constraints_text(freeze: list[str]) -> str:
    """A constraints file (`uv pip install -c FILE`) that pins every package of `freeze` to the version
    it had, one line each, sorted: installing a cell's pins with it replays the cell's exact set."""
    return "".join(f"{line.strip()}\n" for line in sorted(freeze, key=str.lower) if line.strip())
