"""A machine-wide store of compiled bytecode, shared by every environment whose sources are the same files.

uv links each installed file from its cache (hardlinks on Linux), so the torch of two environments with the
same torch is the same file on disk, one inode. The bytecode one environment's processes compile for it (kept
under that environment, kvmatrix.run.env.bytecode) would be valid in every other environment linking it, but
CPython finds bytecode by the source's path, which differs per environment: every new environment compiled
torch, transformers and the clients again: in the first process of each of a cell's environments, and
again in each process started beside it before that bytecode was written.

The store keeps each `.pyc` under its source file's identity (device, inode, modification time in
nanoseconds, size) and CPython's cache tag: `harvest` adds what an environment's processes compiled for its
own files, `seed` links into an environment's bytecode folder every stored `.pyc` whose source is the same
file there. CPython still checks a `.pyc` against its source's modification time and size before using it,
and replaces a stale one with a new file instead of writing into it, so a stored file can go unused but
never runs for another source, nor is it changed by an environment that linked it. Where the store and an
environment lie on different filesystems, the files are copied instead of linked.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from kvmatrix.run.env.bytecode import bytecode_dir
from kvmatrix.settings import setting

OFF = "off"
"""KVCC_BYTECODE_STORE value that turns the store off."""
PYC_NAME = re.compile(r"^(?P<stem>[^.]+)\.(?P<tag>cpython-\d+(?:-pytest-[\w.]+)?)\.pyc$")
"""A `.pyc` as PYTHONPYCACHEPREFIX names it: `<module>.<cache tag>.pyc`, the tag `cpython-311` or, for the
modules pytest rewrites (plugins such as hypothesis's, test files), `cpython-311-pytest-9.2.0`; optimized
(`.opt-1`) files are left out: the suites never run with -O."""
LIB_NAME = re.compile(r"^python(?P<major>\d+)\.(?P<minor>\d+)$")
"""An environment's `lib/pythonX.Y` folder."""
HEADER = struct.Struct("<4sIII")
"""The `.pyc` header (PEP 552): magic, flags, then the source's modification time (s) and size, or its hash."""
CHECKED_HASH = 0b11
"""PEP 552 flags of hash-based bytecode whose source hash is checked when it is loaded."""


def store_dir(env: Mapping[str, str] | None = None) -> Path | None:
    """The store's folder (KVCC_BYTECODE_STORE; empty: `kv-cache-compat/bytecode` under XDG_CACHE_HOME, else
    under ~/.cache); None when the setting is `off`."""
    env = os.environ if env is None else env
    named = setting("KVCC_BYTECODE_STORE", env) or ""
    if named == OFF:
        return None
    if named:
        return Path(named)
    cache = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "kv-cache-compat" / "bytecode"


def environment_root(python: str) -> Path:
    """The folder of `python`'s environment as its processes see it (absolute, symlinks kept: the paths
    CPython derives its bytecode paths from)."""
    return Path(os.path.abspath(python)).parent.parent


def identity(stat: os.stat_result) -> str:
    """The name a source file's bytecode has in the store: the file's device, inode, mtime (ns) and size."""
    return f"{stat.st_dev}-{stat.st_ino}-{stat.st_mtime_ns}-{stat.st_size}"


def compiled_from(pyc: Path, stat: os.stat_result) -> bool:
    """Whether `pyc` is bytecode its reader checks against the source whose stat is `stat`: timestamp-based
    with that source's modification time and size in its header (CPython's), or hash-based with its source
    checked on every load (pytest's rewritten modules). Unchecked hash-based bytecode is never shared."""
    try:
        with pyc.open("rb") as handle:
            _, flags, mtime, size = HEADER.unpack(handle.read(HEADER.size))
    except (OSError, struct.error):
        return False
    if flags == CHECKED_HASH:
        return True
    return flags == 0 and mtime == int(stat.st_mtime) & 0xFFFFFFFF and size == stat.st_size & 0xFFFFFFFF


def _place(source: Path, target: Path) -> bool:
    """Link `source` at `target` (copy across filesystems) unless `target` exists; whether it was placed."""
    if target.exists():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        os.link(source, temporary)
    except OSError:
        try:
            shutil.copyfile(source, temporary)
        except OSError:
            return False
    os.replace(temporary, target)
    return True


def _kept_pycs(kept: Path) -> Iterator[tuple[Path, Path, str]]:
    """(pyc, its source, cache tag) for every `.pyc` under the bytecode folder `kept` (PYC_NAME)."""
    for folder, _, names in os.walk(kept):
        for name in names:
            match = PYC_NAME.match(name)
            if match:
                source_dir = Path(kept.anchor) / Path(folder).relative_to(kept)
                yield Path(folder, name), source_dir / f"{match['stem']}.py", match["tag"]


def harvest(python: str, store: Path | None) -> int:
    """Add to `store` the bytecode that `python`'s environment kept (kvmatrix.run.env.bytecode), each only while
    its reader would still take it for its source (compiled_from); returns how many files were added (0 without a store)."""
    if store is None:
        return 0
    added = 0
    for pyc, source, tag in _kept_pycs(bytecode_dir(str(environment_root(python) / "bin" / "python"))):
        try:
            stat = source.stat()
        except OSError:
            continue
        if compiled_from(pyc, stat):
            added += _place(pyc, store / tag / f"{identity(stat)}.pyc")
    return added


def _base_lib(root: Path, lib_name: str) -> Path | None:
    """The standard library folder `lib_name` (`python3.11`) of the interpreter the environment at `root` was
    made from (pyvenv.cfg's `home`: that interpreter's `bin`); None when it cannot be told."""
    try:
        lines = (root / "pyvenv.cfg").read_text().splitlines()
    except OSError:
        return None
    homes = [value.strip() for key, _, value in (line.partition("=") for line in lines) if key.strip() == "home"]
    base = Path(homes[0]).parent / "lib" / lib_name if homes else None
    return base if base is not None and base.is_dir() else None


def _environment_sources(root: Path) -> Iterator[tuple[Path, str]]:
    """(source, CPython version tag such as `cpython-311`) for every `.py` file the environment at `root`
    imports from: its `lib/pythonX.Y` and its base interpreter's standard library (without that
    interpreter's own site-packages, which the environment does not see)."""
    for lib in sorted((root / "lib").glob("python*")):
        match = LIB_NAME.match(lib.name)
        if not match or not lib.is_dir():
            continue
        tag = f"cpython-{match['major']}{match['minor']}"
        for top in filter(None, (lib, _base_lib(root, lib.name))):
            for folder, dirs, names in os.walk(top):
                if top != lib:
                    dirs[:] = [name for name in dirs if name != "site-packages"]
                for name in names:
                    if name.endswith(".py"):
                        yield Path(folder, name), tag


def seed(python: str, store: Path | None) -> int:
    """Link into `python`'s bytecode folder every stored `.pyc` whose source is the same file in that
    environment and that the folder lacks; returns how many were linked (0 without a store)."""
    if store is None or not store.is_dir():
        return 0
    root = environment_root(python)
    kept = bytecode_dir(str(root / "bin" / "python"))
    stored = {tag.name: set(os.listdir(tag)) for tag in store.iterdir() if tag.is_dir()}
    linked = 0
    for source, version in _environment_sources(root):
        tags = [tag for tag in stored if tag == version or tag.startswith(f"{version}-")]
        try:
            name = f"{identity(source.stat())}.pyc" if tags else None
        except OSError:
            continue
        for tag in tags:
            if name in stored[tag]:
                target = kept / source.parent.relative_to(source.anchor) / f"{source.stem}.{tag}.pyc"
                linked += _place(store / tag / name, target)
    return linked
