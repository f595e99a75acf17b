"""kvmatrix.record.paths: published text shows paths relative to the environment or the checkout, never the
machine's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvmatrix.record.paths import pins_file_name, relative_paths, relative_paths_in


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  /work/main/.nox/cell-tf4-46-3-torch2-5-1/lib/python3.11/site-packages/torch/fx/graph.py:1586: W",
         "  site-packages/torch/fx/graph.py:1586: W"),
        ("(/usr/local/lib/python3.11/site-packages/torch/x.py:12)", "(site-packages/torch/x.py:12)"),
        ("/usr/lib/python3/dist-packages/yaml/__init__.py", "dist-packages/yaml/__init__.py"),
        ("/root/.pyenv/versions/3.11.7/lib/python3.11/copyreg.py:105: FutureWarning",
         "lib/python3.11/copyreg.py:105: FutureWarning"),
        ('File "/home/runner/work/kv-cache-compat/kv-cache-compat/suites/test_export.py", line 3',
         'File "suites/test_export.py", line 3'),
        ("/work/main/compat/registry.py:38 and /work/main/tests/faults/x.py",
         "compat/registry.py:38 and tests/faults/x.py"),
        ("/work/main/.nox/cell-x/bin/python -m pytest", ".nox/cell-x/bin/python -m pytest"),
        ("FileNotFoundError: /tmp/pytest-of-root/pytest-3/test_saved0/program.pt2",
         "FileNotFoundError: …/program.pt2"),
        ("torch @ file:///root/wheels/torch-2.13.0-cp311.whl", "torch @ file://…/torch-2.13.0-cp311.whl"),
    ],
)
def test_an_absolute_path_becomes_relative_to_its_environment_or_checkout(text: str, expected: str) -> None:
    assert relative_paths(text) == expected
    assert relative_paths(expected) == expected  # idempotent: a publish may rewrite a record again


@pytest.mark.parametrize("text", [
    "see https://github.com/pytorch/pytorch/issues/152465",
    "3/5 runs did not pass; torch/fx/graph.py:12; suites/test_export.py::test_x[a/b]",
    "x / y",
])
def test_urls_relative_paths_and_fractions_are_left_alone(text: str) -> None:
    assert relative_paths(text) == text


def test_every_string_of_a_record_is_rewritten_and_nothing_else() -> None:
    record = {"/tmp/a/b": ["/tmp/x/y.py", 3, None, {"error": "at /usr/lib/python3.11/ast.py:50"}]}
    expected = {"/tmp/a/b": ["…/y.py", 3, None, {"error": "at lib/python3.11/ast.py:50"}]}
    assert relative_paths_in(record) == expected


def test_a_pins_file_is_published_by_its_name_in_the_checkout_never_its_absolute_path(tmp_path: Path) -> None:
    assert pins_file_name("pins-full.toml", tmp_path) == "pins-full.toml"
    assert pins_file_name(str(tmp_path / "pins" / "mine.toml"), tmp_path) == "pins/mine.toml"
    assert pins_file_name("/srv/elsewhere/mine.toml", tmp_path) == "…/mine.toml"
