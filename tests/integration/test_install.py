"""Install outcomes are told apart, for real: uv against PyPI and against a refusing loopback index."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kvmatrix.run.env.bytecode import bytecode_dir
from kvmatrix.run.env.install import classify, install, uv_install_command
from kvmatrix.run.inputs import compile_command
from tests.support.index_server import (
    CORRUPT_JSON,
    ERROR_JSON,
    FORBIDDEN,
    LOGIN_PAGE,
    NOT_FOUND,
    UNAUTHORIZED,
    Answer,
    serve_index,
    use_only,
)

needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="uv is installed by the nox session")


@pytest.fixture
def venv_python(tmp_path: Path) -> str:
    subprocess.run(["uv", "venv", "-q", str(tmp_path / "venv")], check=True)
    return str(tmp_path / "venv" / "bin" / "python")


@needs_uv
def test_a_version_that_does_not_exist_is_not_installable_with_the_resolver_reason(venv_python: str) -> None:
    outcome = install(venv_python, ["six==0.0.424242"], retries=3, backoff_s=0.01)
    assert outcome.status == "not-installable"
    assert outcome.attempts == 1, "resolver failures are final, never retried"
    assert "six" in outcome.reason and "0.0.424242" in outcome.reason


@needs_uv
def test_an_install_forgets_the_bytecode_its_environment_kept(venv_python: str) -> None:
    """A `.pyc` is checked against its source's time and size only, so it must not outlive an install that
    may replace the source (this one changes nothing: the bytecode goes before uv runs)."""
    kept = bytecode_dir(venv_python) / "some" / "module.cpython-311.pyc"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"compiled")
    install(venv_python, ["six==0.0.424242"], retries=1)
    assert not bytecode_dir(venv_python).exists()


@needs_uv
def test_a_refusing_index_is_infra_and_retried(venv_python: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("UV_NO_CACHE", "1")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    outcome = install(venv_python, ["six==1.16.0"], retries=2, backoff_s=0.01)
    assert outcome.status == "infra", outcome.reason
    assert outcome.attempts == 2


@needs_uv
@pytest.mark.parametrize("answer", [NOT_FOUND, FORBIDDEN, UNAUTHORIZED, LOGIN_PAGE, ERROR_JSON, CORRUPT_JSON],
                         ids=["404", "403", "401", "login-page", "error-json", "corrupt-json"])
def test_an_index_that_does_not_answer_properly_is_infra_and_retried(
    venv_python: str, monkeypatch: pytest.MonkeyPatch, answer: Answer
) -> None:
    with serve_index(answer) as index:
        use_only(monkeypatch, index.url)
        outcome = install(venv_python, ["torch==2.13.0"], retries=2, backoff_s=0.01)
    assert outcome.status == "infra", outcome.reason
    assert outcome.attempts == 2
    assert "torch" in outcome.reason


@needs_uv
def test_an_offline_install_with_an_empty_cache_is_infra_and_retried(
    venv_python: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """uv offline never asks the index, so its 'no solution' proves nothing about the pins."""
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("KVCC_CPU_WHEELS", "0")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    outcome = install(venv_python, ["six==1.16.0"], retries=2, backoff_s=0.01)
    assert outcome.status == "infra", outcome.reason
    assert outcome.attempts == 2
    assert "six was not found in the cache" in outcome.reason


@needs_uv
def test_a_version_a_working_index_does_not_list_is_not_installable(
    venv_python: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_index() as index:
        use_only(monkeypatch, index.url)
        outcome = install(venv_python, ["torch==9.9.9"], retries=2, backoff_s=0.01)
    assert outcome.status == "not-installable", outcome.reason
    assert outcome.attempts == 1
    assert "torch==9.9.9" in outcome.reason


def test_pip_find_links_is_passed_on_to_uv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_FIND_LINKS", "/opt/wheels /srv/more")
    command = uv_install_command("/venv/bin/python", ["torch==2.13.0"])
    assert command[-1] == "torch==2.13.0"
    assert command.count("--find-links") == 2 and "/opt/wheels" in command and "/srv/more" in command
    links = ["--find-links", "/opt/wheels", "--find-links", "/srv/more"]
    assert command[command.index("--find-links"):][:4] == links
    compiled = compile_command("/venv/bin/python", {"PIP_FIND_LINKS": "/opt/wheels /srv/more"})
    assert compiled[compiled.index("--find-links"):][:4] == links, "the inputs resolve from the same links"


@pytest.mark.parametrize(
    ("output", "status"),
    [
        ("× No solution found when resolving dependencies:\n╰─▶ Because torch==9.9 was not found", "not-installable"),
        ("error: Failed to fetch: `https://pypi.org/simple/torch/`\n Caused by: Connection refused", "infra"),
        ("error: Failed to build `foo==1.0`\n  Caused by: gcc exited with 1", "error"),
        ("error: No solution found when resolving dependencies\n  cause: Because torch was not found in the "
         "package registry and you require torch==2.13.0, we can conclude that your requirements are "
         "unsatisfiable.", "infra"),
        ("error: No solution found when resolving dependencies\n  cause: Because six was not found in the "
         "package registry and you require six==1.16.0, we can conclude that your requirements are "
         "unsatisfiable.\n\nhint: An index (http://127.0.0.1:8/simple) returned a 403 Forbidden error.",
         "infra"),
        # uv 0.13.9 with UV_OFFLINE=1 and an empty UV_CACHE_DIR
        ("error: No solution found when resolving dependencies\n  cause: Because torch was not found in the "
         "cache and you require torch==2.13.0, we can conclude that your requirements are unsatisfiable.\n\n"
         "hint: Packages were unavailable because the network was disabled. When the network is disabled, "
         "registry packages may only be read from the cache.", "infra"),
    ],
)
def test_failure_classes(output: str, status: str) -> None:
    assert classify(output) == status
