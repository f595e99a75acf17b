"""A resolver's "no version of X" is only believed when an index really lists X: checked against a
loopback index that answers properly, and against broken ones."""

from __future__ import annotations

import pytest

from kvmatrix.run.env.index_check import claimed_projects, unlisted_projects, uv_indexes
from tests.support.index_server import FORBIDDEN, LOGIN_PAGE, NOT_FOUND, Answer, refused_url, serve_index

NO_TORCH_VERSION = ("Because there is no version of torch==9.9.9 and you require torch==9.9.9, we can conclude "
                    "that your requirements are unsatisfiable.")
NO_FILELOCK = ("Because there are no versions of filelock and all versions of torch depend on filelock, we "
               "can conclude that all versions of torch cannot be used.")

ONLY_OLD_EXCEPTIONGROUP = (
    "Because only exceptiongroup{python_full_version < '3.11'}<1.0.0rc8 is available and pytest==8.3.5 depends "
    "on exceptiongroup{python_full_version < '3.11'}>=1.0.0rc8, we can conclude that pytest==8.3.5 cannot be "
    "used. And because you require pytest==8.3.5, we can conclude that your requirements are unsatisfiable.")
"""What uv 0.9 said, resolving pytest for Python 3.10, when its index answered 404 for exceptiongroup."""
ONLY_OLD_TORCH = "Because only torch<2.0 is available and you require torch>=2.0, we can conclude that ..."


@pytest.fixture(autouse=True)
def no_uv_indexes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "UV_INDEX", "UV_EXTRA_INDEX_URL"):
        monkeypatch.delenv(name, raising=False)


def test_a_project_the_index_lists_backs_the_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_index() as index:
        monkeypatch.setenv("UV_DEFAULT_INDEX", index.url)
        assert unlisted_projects(NO_TORCH_VERSION) is None


@pytest.mark.parametrize(("answer", "said"), [(LOGIN_PAGE, "text/html listing 0 distribution file(s)"),
                                             (NOT_FOUND, "HTTP 404"), (FORBIDDEN, "HTTP 403")])
def test_a_project_a_broken_index_does_not_list_is_named_with_the_answer(
    monkeypatch: pytest.MonkeyPatch, answer: Answer, said: str
) -> None:
    with serve_index(answer) as index:
        monkeypatch.setenv("UV_DEFAULT_INDEX", index.url)
        problem = unlisted_projects(NO_FILELOCK)
    assert problem is not None
    assert problem.startswith("the package index did not list project filelock: ")
    assert f"{index.url}/filelock/ answered" in problem and said in problem


def test_an_unreachable_index_lists_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_DEFAULT_INDEX", refused_url())
    problem = unlisted_projects(NO_TORCH_VERSION)
    assert problem is not None and "could not be read" in problem


def test_a_project_listed_by_an_extra_index_backs_the_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_index(LOGIN_PAGE) as broken, serve_index() as working:
        monkeypatch.setenv("UV_DEFAULT_INDEX", broken.url)
        monkeypatch.setenv("UV_INDEX", f"pytorch={working.url}")
        assert unlisted_projects(NO_TORCH_VERSION) is None


def test_an_only_older_versions_claim_about_a_project_the_index_answers_404_for_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with serve_index() as index:  # lists torch and transformers; 404 for every other project
        monkeypatch.setenv("UV_DEFAULT_INDEX", index.url)
        problem = unlisted_projects(ONLY_OLD_EXCEPTIONGROUP)
    assert problem is not None and problem.startswith("the package index did not list project exceptiongroup: ")
    assert "HTTP 404" in problem


def test_an_only_older_versions_claim_about_a_listed_project_backs_the_resolver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with serve_index() as index:
        monkeypatch.setenv("UV_DEFAULT_INDEX", index.url)
        assert unlisted_projects(ONLY_OLD_TORCH) is None


def test_claimed_projects_reads_every_way_uv_names_a_project_without_a_matching_version() -> None:
    assert claimed_projects(ONLY_OLD_EXCEPTIONGROUP) == ["exceptiongroup"]
    assert claimed_projects(NO_FILELOCK + " " + NO_TORCH_VERSION) == ["filelock", "torch"]
    assert claimed_projects("only the following versions of Foo_Bar are available: 1.0") == ["foo-bar"]
    assert claimed_projects("pytest==8.3.5 cannot be used") == []


def test_output_without_a_no_version_claim_needs_no_index() -> None:
    assert unlisted_projects("error: Failed to build `foo==1.0`") is None


def test_uv_indexes_are_the_default_then_the_extra_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    assert uv_indexes() == ["https://pypi.org/simple"]
    monkeypatch.setenv("UV_INDEX_URL", "https://mirror.example/simple")
    monkeypatch.setenv("UV_INDEX", "pytorch=https://download.pytorch.org/whl/cpu https://extra.example/simple?a=b")
    monkeypatch.setenv("UV_EXTRA_INDEX_URL", "https://more.example/simple")
    assert uv_indexes() == ["https://mirror.example/simple", "https://download.pytorch.org/whl/cpu",
                            "https://extra.example/simple?a=b", "https://more.example/simple"]
