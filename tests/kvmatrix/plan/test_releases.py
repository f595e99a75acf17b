"""kvmatrix.plan.releases against a real HTTP index on loopback serving trimmed copies of PyPI's answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from packaging.version import Version

from kvmatrix.plan.releases import (
    DEFAULT_INDEX_URL,
    INDEX_URL_VARIABLES,
    IndexUnavailable,
    PackageNotFound,
    index_url,
    installable_versions,
    list_releases,
)
from tests.support.index_server import JSON_SIMPLE, SimpleIndex, refused_url, serve_index


@pytest.fixture
def index() -> Iterator[SimpleIndex]:
    with serve_index() as running:
        yield running


@pytest.fixture
def no_index_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in INDEX_URL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def versions(*texts: str) -> list[Version]:
    return [Version(text) for text in texts]


def test_lists_final_releases_without_yanked_ones_in_ascending_order(index: SimpleIndex) -> None:
    # 4.46.0 is yanked with a reason, 4.52.0 yanked with `true`; 5.0.0rc3 is a pre-release.
    assert list_releases("transformers", index=index.url) == versions(
        "4.45.2", "4.46.1", "4.46.3", "4.52.4", "4.53.3", "5.0.0", "5.20.2", "5.24.0")


def test_asks_for_pep_691_json_at_the_normalized_project_path(index: SimpleIndex) -> None:
    list_releases("Transformers", index=index.url + "/")
    assert index.requests == [("/simple/transformers/", JSON_SIMPLE)]


def test_prereleases_are_listed_only_when_asked_for(index: SimpleIndex) -> None:
    listed = list_releases("transformers", prereleases=True, index=index.url)
    assert listed[5:7] == versions("5.0.0rc3", "5.0.0")
    assert Version("4.46.0") not in listed, "yanked stays out with pre-releases too"


def test_a_version_counts_while_one_of_its_files_is_not_yanked() -> None:
    project = {"files": [
        {"filename": "pkg-1.0-py3-none-any.whl", "yanked": "broken wheel"},
        {"filename": "pkg-1.0.tar.gz", "yanked": False},
        {"filename": "pkg-1.1.tar.gz", "yanked": True},
        {"filename": "pkg-1.2.exe"},
        {"filename": "pkg-not-a-version.tar.gz"},
        {"filename": "pkg-2.0.dev1.tar.gz"},
    ]}
    assert installable_versions(project) == versions("1.0")
    assert installable_versions(project, prereleases=True) == versions("1.0", "2.0.dev1")


def test_the_index_comes_from_uv_or_pip_settings(monkeypatch: pytest.MonkeyPatch, no_index_variables: None,
                                                 index: SimpleIndex) -> None:
    assert index_url() == DEFAULT_INDEX_URL
    monkeypatch.setenv("PIP_INDEX_URL", "http://pip.invalid/simple")
    monkeypatch.setenv("UV_INDEX_URL", index.url)
    assert index_url() == index.url, "uv's setting wins over pip's"
    assert list_releases("torch") == versions("2.13.0", "2.14.1", "2.15.0")
    monkeypatch.setenv("UV_DEFAULT_INDEX", "http://uv-default.invalid/simple")
    assert index_url() == "http://uv-default.invalid/simple"


def test_a_refused_connection_is_index_unavailable() -> None:
    url = refused_url()
    match = r"/transformers/: package index unavailable after 2 attempt"
    with pytest.raises(IndexUnavailable, match=match) as raised:
        list_releases("transformers", index=url, retries=2, backoff_s=0)
    assert url in str(raised.value)


def test_a_server_error_is_retried_then_index_unavailable(index: SimpleIndex) -> None:
    with pytest.raises(IndexUnavailable, match="HTTP 503"):
        list_releases("broken", index=index.url, retries=3, backoff_s=0)
    assert len(index.requests) == 3


def test_an_unknown_package_is_package_not_found_and_not_retried(index: SimpleIndex) -> None:
    with pytest.raises(PackageNotFound, match="no such project"):
        list_releases("no-such-package", index=index.url, retries=3, backoff_s=0)
    assert len(index.requests) == 1


def test_an_index_without_json_pages_is_index_unavailable(index: SimpleIndex) -> None:
    with pytest.raises(IndexUnavailable, match="answered 'text/html', not PEP 691 JSON"):
        list_releases("htmlonly", index=index.url)


def test_as_of_a_snapshot_only_files_uploaded_before_it_count() -> None:
    project = {"files": [
        {"filename": "pkg-1.0.tar.gz", "upload-time": "2026-11-01T08:00:00.123456Z"},
        {"filename": "pkg-1.1-py3-none-any.whl", "upload-time": "2026-12-06T23:59:59Z"},
        {"filename": "pkg-1.1.tar.gz", "upload-time": "2026-12-07T02:00:01Z"},
        {"filename": "pkg-1.2.tar.gz", "upload-time": "2026-12-08T00:00:00Z"},
        {"filename": "pkg-1.3.tar.gz"},
    ]}
    assert installable_versions(project) == versions("1.0", "1.1", "1.2", "1.3")
    assert installable_versions(project, snapshot="2026-12-07T02:00:00Z") == versions("1.0", "1.1"), (
        "a version counts from its first file before the snapshot; a file without an upload time never does")
