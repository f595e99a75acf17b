"""kvmatrix.run.env.torch_index: the CPU wheel index for torch on a machine without a GPU, PyPI's default
wheels otherwise, decided from the machine, the environment and a real probe of the index. (uv taking only
PyTorch's packages from that index: tests/integration/test_torch_index.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from kvmatrix.run.env.install import uv_install_command
from kvmatrix.run.env.torch_index import CPU_BACKEND, backend_choice, has_gpu, index_reachable
from tests.support.index_server import NOT_FOUND, refused_url, serve_index


def reachable() -> bool:
    return True


def unreachable() -> bool:
    return False


def never_probed() -> bool:
    raise AssertionError("the index must not be probed when the CPU backend is not wanted")


def test_a_machine_without_a_gpu_installs_torch_from_the_cpu_index_only() -> None:
    command = uv_install_command("/venv/bin/python", ["torch==2.13.0"], backend_choice({}, False, reachable))
    assert command[:7] == ["uv", "pip", "install", "--python", "/venv/bin/python", "--torch-backend", "cpu"]
    assert "--extra-index-url" not in command and "--index-strategy" not in command


def test_an_unreachable_cpu_index_falls_back_to_pypi_default_wheels() -> None:
    assert backend_choice({}, False, unreachable) == ()


@pytest.mark.parametrize(
    ("env", "gpu"),
    [({}, True), ({"UV_TORCH_BACKEND": "cu126"}, False), ({"KVCC_CPU_WHEELS": "0"}, False)],
    ids=["gpu-present", "uv-torch-backend-set", "cpu-wheels-off"],
)
def test_the_cpu_backend_is_not_forced_where_a_gpu_or_the_user_chooses(env: dict[str, str], gpu: bool) -> None:
    assert backend_choice(env, gpu, never_probed) == ()


def test_without_a_gpu_and_a_reachable_index_the_backend_is_cpu() -> None:
    assert backend_choice({"KVCC_CPU_WHEELS": "1"}, False, reachable) == CPU_BACKEND == ("--torch-backend", "cpu")


def test_a_gpu_is_found_by_its_driver_file_or_declared_to_uv(tmp_path: Path) -> None:
    driver = tmp_path / "nvidia-version"
    assert not has_gpu({}, (str(driver),))
    assert has_gpu({"UV_CUDA_DRIVER_VERSION": "550.144.03"}, (str(driver),))
    driver.write_text("550.144.03\n")
    assert has_gpu({}, (str(driver),))


def test_the_probe_reads_a_real_index_and_fails_on_a_refused_or_missing_page() -> None:
    with serve_index() as index:
        assert index_reachable(f"{index.url}/torch/", timeout_s=5)
    with serve_index(NOT_FOUND) as index:
        assert not index_reachable(f"{index.url}/torch/", timeout_s=5)
    assert not index_reachable(refused_url(), timeout_s=5)
