"""List a package's installable released versions from a PEP 691 JSON simple index, with urllib only.

The index is the one uv and pip would use: `UV_DEFAULT_INDEX`, `UV_INDEX_URL` or `PIP_INDEX_URL`, else
PyPI. A version counts when at least one of its files is a wheel or sdist that is not yanked (PEP 592);
pre-releases and dev releases are left out unless asked for. As of an index snapshot, only files uploaded
before it count, as uv's `--exclude-newer` counts them (kvmatrix.run.env.snapshot). A network or index failure, after bounded
retries, raises IndexUnavailable, which callers report as the `infra` verdict.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from http.client import HTTPException
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from kvmatrix.plan.pins import parse_utc

DEFAULT_INDEX_URL = "https://pypi.org/simple"
INDEX_URL_VARIABLES = ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL")
JSON_SIMPLE = "application/vnd.pypi.simple.v1+json"
TIMEOUT_S = 30.0


class IndexUnavailable(OSError):
    """The package index could not be reached or gave no usable answer, after retries."""


class PackageNotFound(LookupError):
    """The package index has no project of that name (it answered 404)."""


def index_url() -> str:
    """The simple index to read: the first of UV_DEFAULT_INDEX, UV_INDEX_URL, PIP_INDEX_URL that is set,
    else PyPI."""
    return next((os.environ[name] for name in INDEX_URL_VARIABLES if os.environ.get(name)), DEFAULT_INDEX_URL)


def list_releases(package: str, prereleases: bool = False, index: str | None = None, retries: int = 3,
                  backoff_s: float = 1.0, snapshot: str | None = None) -> list[Version]:
    """`package`'s installable versions on `index` (default: `index_url()`), ascending; with `snapshot`
    (kvmatrix.plan.pins.UTC_FORMAT), only those with a file uploaded before it.

    Raises PackageNotFound for an unknown package and IndexUnavailable when the index cannot be reached,
    answers with an error status, or does not answer with PEP 691 JSON.
    """
    url = f"{(index or index_url()).rstrip('/')}/{canonicalize_name(package)}/"
    return installable_versions(_fetch_json(url, retries, backoff_s), prereleases, snapshot)


def releases_as_of(snapshot: str | None) -> Callable[[str, bool], Sequence[Version]]:
    """`list_releases` as a kvmatrix.plan.pins.ReleasesFn that sees the index as of `snapshot` (None: now)."""
    return partial(list_releases, snapshot=snapshot)


def installable_versions(project: dict[str, Any], prereleases: bool = False,
                         snapshot: str | None = None) -> list[Version]:
    """The versions of a PEP 691 project page that have a wheel or sdist that is not yanked, ascending;
    pre-releases and dev releases only when `prereleases`; with `snapshot`, only files whose PEP 700
    `upload-time` is before it (a file without one does not count, as for uv)."""
    before = None if snapshot is None else parse_utc(snapshot)
    versions: set[Version] = set()
    for file in project.get("files", []):
        version = version_of(file.get("filename", ""))
        if version is None or file.get("yanked") or (before is not None and not _uploaded_before(file, before)):
            continue
        if prereleases or not version.is_prerelease:
            versions.add(version)
    return sorted(versions)


def _uploaded_before(file: dict[str, Any], before: datetime) -> bool:
    """Whether a PEP 691 file entry's `upload-time` is before `before`; False without a readable one."""
    uploaded = file.get("upload-time")
    try:
        return isinstance(uploaded, str) and parse_utc(uploaded) < before
    except ValueError:
        return False


def version_of(filename: str) -> Version | None:
    """The version in a wheel or sdist file name; None for other or malformed files."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None


def _fetch_json(url: str, retries: int, backoff_s: float) -> dict[str, Any]:
    """GET `url` asking for PEP 691 JSON; retry connection failures and 5xx/429 answers."""
    request = urllib.request.Request(url, headers={"Accept": JSON_SIMPLE})
    attempts, problem = max(1, retries), ""
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                content_type = response.headers.get_content_type()
                body = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise PackageNotFound(f"{url}: the package index has no such project (HTTP 404)") from None
            problem = f"HTTP {exc.code} {exc.reason}"
            if exc.code < 500 and exc.code != 429:
                break
        except (urllib.error.URLError, HTTPException, OSError) as exc:
            problem = str(getattr(exc, "reason", None) or exc)
        else:
            return _decode(url, content_type, body)
        if attempt < attempts:
            time.sleep(backoff_s * 2 ** (attempt - 1))
    raise IndexUnavailable(f"{url}: package index unavailable after {attempt} attempt(s): {problem}")


def _decode(url: str, content_type: str, body: bytes) -> dict[str, Any]:
    if content_type != JSON_SIMPLE:
        raise IndexUnavailable(f"{url}: the index answered {content_type!r}, not PEP 691 JSON "
                               f"({JSON_SIMPLE})")
    try:
        project = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexUnavailable(f"{url}: the index answered invalid JSON: {exc}") from None
    if not isinstance(project, dict) or not isinstance(project.get("files"), list):
        raise IndexUnavailable(f"{url}: the index answer has no 'files' list")
    return project
