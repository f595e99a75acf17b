"""Where a cell environment's processes keep their bytecode (kvmatrix.run.env.bytecode)."""

from __future__ import annotations

from pathlib import Path

from kvmatrix.run.env.bytecode import bytecode_dir, bytecode_kept, forget_bytecode


def test_the_bytecode_lives_beside_the_environment_s_bin(tmp_path: Path) -> None:
    python = str(tmp_path / "env" / "bin" / "python")
    assert bytecode_dir(python) == tmp_path / "env" / "kvcc-bytecode"


def test_a_process_writes_bytecode_under_its_environment_whatever_the_caller_said() -> None:
    env = bytecode_kept("/envs/cell/bin/python", {"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/bin",
                                                  "PYTHONPYCACHEPREFIX": "/elsewhere"})
    assert env == {"PATH": "/bin", "PYTHONPYCACHEPREFIX": "/envs/cell/kvcc-bytecode"}


def test_forgetting_removes_the_kept_bytecode_and_is_quiet_when_there_is_none(tmp_path: Path) -> None:
    python = str(tmp_path / "env" / "bin" / "python")
    compiled = bytecode_dir(python) / "torch" / "__init__.cpython-311.pyc"
    compiled.parent.mkdir(parents=True)
    compiled.write_bytes(b"compiled")
    forget_bytecode(python)
    assert not bytecode_dir(python).exists()
    forget_bytecode(python)
