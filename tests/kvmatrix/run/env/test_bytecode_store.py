"""The machine-wide bytecode store (kvmatrix.run.env.bytecode_store), proven with this interpreter compiling and
importing a module in two environments that link the same source file, as uv's environments link torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kvmatrix.run.env.bytecode import bytecode_dir, bytecode_kept
from kvmatrix.run.env.bytecode_store import OFF, compiled_from, harvest, seed, store_dir

LIB = f"python{sys.version_info.major}.{sys.version_info.minor}"
MODULE = "kvcc_store_probe"


def environment(root: Path, source: Path | None = None) -> str:
    """A minimal environment at `root` (the layout the store reads: bin/python, lib/pythonX.Y/site-packages)
    whose module MODULE is a hardlink of `source`, or a new file; returns its python path."""
    site = root / "lib" / LIB / "site-packages"
    site.mkdir(parents=True)
    if source is None:
        (site / f"{MODULE}.py").write_text("ANSWER = 42\n")
    else:
        os.link(source, site / f"{MODULE}.py")
    return str(root / "bin" / "python")


def source_of(python: str) -> Path:
    """The environment's MODULE source file."""
    return Path(python).parent.parent / "lib" / LIB / "site-packages" / f"{MODULE}.py"


def kept_pyc(python: str) -> Path:
    """Where the environment's processes keep MODULE's bytecode."""
    source = source_of(python)
    return bytecode_dir(python) / source.parent.relative_to("/") / f"{MODULE}.{sys.implementation.cache_tag}.pyc"


def import_in(python: str) -> int:
    """Import MODULE with this interpreter as a process of `python`'s environment would (its bytecode kept
    there); returns the module's ANSWER."""
    env = bytecode_kept(python, {**os.environ, "PYTHONPATH": str(source_of(python).parent)})
    done = subprocess.run([sys.executable, "-c", f"import {MODULE}; print({MODULE}.ANSWER)"], env=env,
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_bytecode_compiled_in_one_environment_is_used_by_another_linking_the_same_source(tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = environment(tmp_path / "first")
    second = environment(tmp_path / "second", source=source_of(first))
    assert import_in(first) == 42
    assert harvest(first, store) >= 1
    assert seed(second, store) >= 1
    shared = kept_pyc(second)
    assert shared.stat().st_ino == kept_pyc(first).stat().st_ino
    assert import_in(second) == 42
    assert kept_pyc(second).stat().st_ino == shared.stat().st_ino  # CPython took it as it was: not recompiled


def test_an_environment_whose_source_is_another_file_gets_nothing_from_the_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = environment(tmp_path / "first")
    import_in(first)
    harvest(first, store)
    other = environment(tmp_path / "other")  # same path inside, same bytes, but its own file
    seed(other, store)
    assert not kept_pyc(other).exists()


def test_a_stored_file_is_never_changed_when_a_linked_source_changes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = environment(tmp_path / "first")
    second = environment(tmp_path / "second", source=source_of(first))
    import_in(first)
    harvest(first, store)
    seed(second, store)
    stored = {path: path.read_bytes() for path in store.rglob("*.pyc")}
    source = source_of(second)
    source.unlink()
    source.write_text("ANSWER = 7  # another release of the module\n")
    assert import_in(second) == 7
    assert {path: path.read_bytes() for path in store.rglob("*.pyc")} == stored


def test_stale_bytecode_is_not_harvested(tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = environment(tmp_path / "first")
    import_in(first)
    source = source_of(first)
    source.write_text("ANSWER = 43  # edited after it was compiled, size changed\n")
    assert not compiled_from(kept_pyc(first), source.stat())
    harvest(first, store)
    stale = kept_pyc(first).stat().st_ino
    assert all(path.stat().st_ino != stale for path in store.rglob("*.pyc"))


def test_the_store_lives_in_the_user_cache_unless_named_or_turned_off(tmp_path: Path) -> None:
    assert store_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "kv-cache-compat" / "bytecode"
    assert store_dir({"KVCC_BYTECODE_STORE": str(tmp_path / "here")}) == tmp_path / "here"
    assert store_dir({"KVCC_BYTECODE_STORE": OFF}) is None
    assert harvest("/nowhere/bin/python", None) == 0 and seed("/nowhere/bin/python", None) == 0
