"""The wheel built from pyproject.toml is the library users import, typed and with its requirements: compat
only (the matrix tooling runs from a checkout and is never installed)."""

from __future__ import annotations

import email
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "uv", "build", "--wheel", "--quiet", "--out-dir", str(out), str(ROOT)],
                   check=True, capture_output=True)
    (built,) = out.glob("kv_cache_compat-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_holds_compat_typed_and_nothing_else(wheel: zipfile.ZipFile) -> None:
    packages = {name.split("/")[0] for name in wheel.namelist() if not name.split("/")[0].endswith(".dist-info")}
    assert packages == {"compat"}
    assert "compat/py.typed" in wheel.namelist()


def test_the_wheel_states_its_version_python_and_requirements(wheel: zipfile.ZipFile) -> None:
    (metadata_name,) = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    metadata = email.message_from_bytes(wheel.read(metadata_name))
    source = (ROOT / "compat" / "__init__.py").read_text()
    assert f'__version__ = "{metadata["Version"]}"' in source
    assert metadata["Requires-Python"] == ">=3.10"
    requires = metadata.get_all("Requires-Dist")
    assert "torch>=2.5" in requires and "transformers>=4.46" in requires


def test_the_wheel_installs_kvcc_check_with_the_verified_pins_it_reads(wheel: zipfile.ZipFile) -> None:
    assert "compat/verified.json" in wheel.namelist()
    (entry_points,) = [name for name in wheel.namelist() if name.endswith(".dist-info/entry_points.txt")]
    assert "kvcc = compat.check:main" in wheel.read(entry_points).decode()
