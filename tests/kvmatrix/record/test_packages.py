"""kvmatrix.record.packages: a cell's installed set read back from real `uv pip freeze` lines: the torch
build that ran, the packages that changed between two runs, the constraints file that replays a run."""

from __future__ import annotations

import pytest

from kvmatrix.record.packages import constraints_text, package_changes, torch_build, versions

# As `uv pip freeze` printed them in cells of this project (PyPI's CUDA build and the CPU index's build).
CUDA_CELL = ["filelock==3.16.1", "nvidia-cuda-runtime-cu12==12.4.127", "numpy==2.1.3", "torch==2.5.1",
             "transformers==4.46.3", "triton==3.1.0"]
CPU_CELL = ["filelock==3.20.0", "numpy==2.1.3", "torch==2.5.1+cpu", "transformers==4.46.3"]


def test_changed_packages_are_listed_by_name_with_both_versions() -> None:
    assert package_changes(CUDA_CELL, CPU_CELL) == [
        {"package": "filelock", "before": "3.16.1", "after": "3.20.0"},
        {"package": "nvidia-cuda-runtime-cu12", "before": "12.4.127", "after": None},
        {"package": "torch", "before": "2.5.1", "after": "2.5.1+cpu"},
        {"package": "triton", "before": "3.1.0", "after": None},
    ]


def test_a_package_that_appeared_has_no_before_version() -> None:
    assert package_changes(["torch==2.5.1"], ["torch==2.5.1", "Jinja2==3.1.6"]) == [
        {"package": "jinja2", "before": None, "after": "3.1.6"}]


def test_the_same_set_in_another_order_or_spelling_has_no_changes() -> None:
    assert package_changes(["PyYAML==6.0.2", "torch==2.5.1"], ["torch==2.5.1", "pyyaml==6.0.2"]) == []


def test_a_direct_reference_is_kept_with_its_url() -> None:
    assert versions(["kv-cache-compat @ file:///work/repo", "six==1.17.0", "x @ https://h/x.whl?v==2"]) == {
        "kv-cache-compat": "file:///work/repo", "six": "1.17.0", "x": "https://h/x.whl?v==2"}


@pytest.mark.parametrize(
    ("freeze", "build"),
    [
        (CPU_CELL, "cpu"),
        (["torch==2.1.2+cpu.cxx11.abi"], "cpu"),
        (["torch==2.5.1+cu121"], "cuda 12.1"),
        (["torch==2.7.1+cu118"], "cuda 11.8"),
        (["torch==2.9.0+cu130"], "cuda 13.0"),
        (["torch==2.5.1+rocm6.2"], "rocm 6.2"),
        (["torch==2.8.0+xpu"], "xpu"),
        (CUDA_CELL, "cuda 12.4"),
        (["nvidia-cuda-runtime==13.0.96", "torch==2.10.0"], "cuda 13.0"),
        (["numpy==2.1.3", "torch==2.5.1"], "cpu"),
        (["numpy==2.1.3"], None),
    ],
    ids=["cpu-index", "cxx11-abi", "cu121", "cu118", "cu130", "rocm", "xpu", "pypi-cuda12", "pypi-cuda13",
         "pypi-untagged-without-cuda", "no-torch"],
)
def test_torch_build_is_read_from_the_local_tag_or_the_cuda_runtime(freeze: list[str], build: str | None) -> None:
    assert torch_build(freeze) == build


def test_constraints_pin_every_package_of_the_freeze_one_per_line() -> None:
    assert constraints_text(["torch==2.5.1+cpu", "", "Jinja2==3.1.6", "filelock==3.20.0"]) == (
        "filelock==3.20.0\nJinja2==3.1.6\ntorch==2.5.1+cpu\n")
