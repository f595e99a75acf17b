"""Check that the package index really lists a project before a resolver's "no version" is believed.

uv reads an index page that lists no files (an HTML login page answering 200, a mirror serving an empty
page) as a project without releases, and then "proves" that pins cannot coexist. A resolver failure only
counts as `not-installable` when every project it says has no matching version is listed, with at least
one wheel or sdist, by one of the indexes uv reads; otherwise the index did not answer properly (`infra`).
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from html.parser import HTMLParser
from http.client import HTTPException

from packaging.utils import canonicalize_name

from kvmatrix.plan.releases import DEFAULT_INDEX_URL, JSON_SIMPLE, TIMEOUT_S, version_of

NO_VERSION = re.compile(r"there (?:is no version|are no versions) of ([A-Za-z0-9][A-Za-z0-9._-]*)", re.IGNORECASE)
"""How uv names a project it found no (matching) version of: `there is no version of torch==9.9`, `there
are no versions of filelock`."""
ONLY_SOME = re.compile(r"only (?:the following versions of ([A-Za-z0-9][A-Za-z0-9._-]*)"
                       r"|([A-Za-z0-9][A-Za-z0-9._-]*)(?:\{[^}]*\})?[<>=!~]\S* is available)", re.IGNORECASE)
"""How uv names a project whose available versions all miss a requirement: `only exceptiongroup{python_full_version
< '3.11'}<1.0.0rc8 is available` (what uv says when a mirror answers 404 for a dependency: no version at all
is "below 1.0.0rc8"), `only the following versions of foo are available`."""
ACCEPT = f"{JSON_SIMPLE}, text/html;q=0.1"


def uv_indexes() -> list[str]:
    """The indexes uv reads: its default (UV_DEFAULT_INDEX, else UV_INDEX_URL, else PyPI), then the extra
    ones of UV_INDEX and UV_EXTRA_INDEX_URL (space-separated; `name=url` entries too)."""
    default = os.environ.get("UV_DEFAULT_INDEX") or os.environ.get("UV_INDEX_URL") or DEFAULT_INDEX_URL
    extra = [_url_of(entry) for name in ("UV_INDEX", "UV_EXTRA_INDEX_URL") for entry in os.environ.get(name, "").split()]
    return [default, *extra]


def _url_of(entry: str) -> str:
    """The URL of a UV_INDEX entry, which may be named (`pytorch=https://...`)."""
    name, named, url = entry.partition("=")
    return url if named and "://" not in name else entry


def claimed_projects(uv_output: str) -> list[str]:
    """The projects uv says have no (matching) version in `uv_output` (NO_VERSION, ONLY_SOME), in order,
    canonical names, each once."""
    names = [*NO_VERSION.findall(uv_output), *(a or b for a, b in ONLY_SOME.findall(uv_output))]
    return list(dict.fromkeys(canonicalize_name(name) for name in names))


def unlisted_projects(uv_output: str) -> str | None:
    """Why the indexes do not back uv's "there is no version of X" claims in `uv_output`: the first
    claimed project that no index lists with a distribution file, and what each index answered for it;
    None when every such project is listed (the resolver's proof stands) or uv claimed none."""
    for project in claimed_projects(uv_output):
        answers = []
        for index in uv_indexes():
            url = f"{index.rstrip('/')}/{project}/"
            count, answer = listed_files(url)
            if count:
                break
            answers.append(f"{url} {answer}")
        else:
            return f"the package index did not list project {project}: {'; '.join(answers)}"
    return None


def listed_files(url: str) -> tuple[int, str]:
    """(number of wheels and sdists, what the index answered) for the simple-index project page at
    `url`, read as PEP 691 JSON or PEP 503 HTML; 0 for an error status, an unreachable index or a page of
    another kind."""
    request = urllib.request.Request(url, headers={"Accept": ACCEPT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            content_type = response.headers.get_content_type()
            body = response.read()
    except urllib.error.HTTPError as exc:
        return 0, f"answered HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, HTTPException, OSError) as exc:
        return 0, f"could not be read: {getattr(exc, 'reason', None) or exc}"
    names = _json_filenames(body) if content_type == JSON_SIMPLE else (
        _html_filenames(body) if content_type == "text/html" else [])
    count = sum(version_of(name) is not None for name in names)
    return count, f"answered {content_type} listing {count} distribution file(s)"


def _json_filenames(body: bytes) -> list[str]:
    try:
        project = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return []
    files = project.get("files") if isinstance(project, dict) else None
    return [file.get("filename", "") for file in files if isinstance(file, dict)] if isinstance(files, list) else []


def _html_filenames(body: bytes) -> list[str]:
    links = _Links()
    links.feed(body.decode("utf-8", errors="replace"))
    return [href.split("#", 1)[0].rsplit("/", 1)[-1] for href in links.hrefs]


class _Links(HTMLParser):
    """The `href` of every anchor of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Keep an anchor's target."""
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)
