"""Render the matrix as one self-contained static page (`reports/index.html`, docs/page.md).

The links between the published matrices, the filters (over every table) and the TICO toggle, the by-use
and by-model sections (kvmatrix.render.by_use, by_model), the grid of (transformers, torch) pairs × suites,
newest pairs first, the legend and the changes since the last run are rendered here; the page's own script
(kvmatrix/render/page/page.js, inlined with page.css) reads the matrix, a trimmed, capped extract of each
cell's detail (kvmatrix.render.page_data) and the answer tables (kvmatrix.render.page_answers), embedded as
JSON, to draw the answer tables and each pair's verdicts in the grid (written once, as data, they keep the
page small as the matrix grows) and to show a pair's details on click, Enter or a `#cell-<id>` permalink. Nothing is loaded from outside the file; the details link to the cell's full detail
file, which also gives a test's traceback where the page is served over HTTP.
"""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path
from typing import Any

from packaging.version import Version

from kvmatrix.record.answers import DATASETS
from kvmatrix.record.causes import CAUSE_MEANINGS
from kvmatrix.record.verdicts import MEANINGS, MODES, RAN
from kvmatrix.render.badges import LAYOUTS, PAGES_URL, badge_snippet
from kvmatrix.render.by_model import by_model_html
from kvmatrix.render.by_use import ANSWER_LABELS, by_use_html
from kvmatrix.render.page_answers import answer_views
from kvmatrix.render.page_data import capped, page_data
from kvmatrix.render.page_uses import newest_cells_first, picture_css

PAGE_ASSETS = Path(__file__).parent / "page"
NOT_RUN = "not run"
CHANGES_TITLE = "<h2>Changes since last run</h2>"
TEST_CHANGE_HEADERS = "".join(
    f"<th>{name}</th>" for name in ("cell", "mode", "suite", "test", "verdict", "error")
)


def _attr(value: Any) -> str:
    return escape(str(value), quote=True)


def embedded_data(matrix: dict[str, Any], details: dict[str, dict[str, Any]], uses: dict[str, Any]) -> dict[str, Any]:
    """What the page embeds for its script: `page_data` and the answer tables of `uses` (`views`)."""
    return {**page_data(matrix, details), "views": answer_views(uses)}


def _data_script(matrix: dict[str, Any], details: dict[str, dict[str, Any]], uses: dict[str, Any]) -> str:
    """`embedded_data` as JSON inside a non-executed script element; `<`, `>` and `&` are escaped so no text
    in the data can close the element."""
    text = json.dumps(embedded_data(matrix, details, uses), ensure_ascii=False, separators=(",", ":"))
    text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return f'<script type="application/json" id="matrix-data">{text}</script>'


def _css_class(verdict: str | None) -> str:
    return "v-" + (verdict or "error").replace("/", "")


def _chip(verdict: str | None, extra: str = "") -> str:
    return f'<span class="chip {_attr(_css_class(verdict))}">{escape(verdict or "error")}{extra}</span>'


VERSUS_TICO = {"tico-ahead": "TICO passes tests compat does not", "compat-as-good": "compat does at least as well",
               "none": "not compared"}
"""The row's `data-tico` values (and the filter's options): how compat.register() compares with TICO's own
registration in the cell (kvmatrix.record.causes.compare_with_tico)."""


def _versus_tico(cell: dict[str, Any]) -> str:
    """The cell's VERSUS_TICO value: not compared without a TICO run."""
    if "tico_advantages" not in cell:
        return VERSUS_TICO["none"]
    return VERSUS_TICO["tico-ahead" if cell["tico_advantages"] else "compat-as-good"]


def _row(cell: dict[str, Any], suites: list[str]) -> str:
    layout = cell["layout"] or NOT_RUN
    static_init = cell["static_layer_init"] or "—"
    pins = cell["pins"]
    attempt = cell.get("latest_attempt")
    stale_text = _stale_text(attempt) if attempt else ""
    stale = (f' <span class="stale-mark" title="{_attr(stale_text)}">⚠ {escape(stale_text)}</span>'
             if attempt else "")
    head = (
        f'<tr id="cell-{_attr(cell["id"])}" class="pair" tabindex="0" data-cell="{_attr(cell["id"])}" '
        f'data-layout="{_attr(layout)}" data-torch="{_attr(pins["torch"])}" '
        f'data-tico="{_attr(_versus_tico(cell))}" '
        f'data-transformers="{_attr(pins["transformers"])}">'
        f'<th scope="row"><a href="#cell-{_attr(cell["id"])}">{escape(pins["transformers"])}</a>{stale}</th>'
        f'<td>{escape(pins["torch"])}</td><td class="layout">{escape(layout)}</td>'
        f'<td class="static-init">{escape(static_init)}</td>'
    )
    if cell["status"] != RAN:
        reason = cell["status_reason"] or "no reason recorded"
        css, span = _attr(_css_class(cell["status"])), 2 * len(suites)
        body = (
            f'<td class="verdict status {css}" colspan="{span}" title="{_attr(reason)}">'
            f'{_chip(cell["status"])} <span class="reason">{escape(reason)}</span></td>'
        )
    else:
        body = ""  # each suite's verdict in each mode: drawn by the page's script from the cell's `suites`
    return head + body + "</tr>"


def _grid(matrix: dict[str, Any]) -> str:
    suites = matrix["suites"]
    top = "".join(f'<th colspan="2" scope="colgroup">{escape(suite)}</th>' for suite in suites)
    sub = "".join(f'<th scope="col" class="mode">{mode}</th>' for _ in suites for mode in MODES)
    rows = "\n".join(_row(cell, suites) for cell in newest_cells_first(matrix["cells"]))
    empty = (
        "" if matrix["cells"] else f'<tr><td colspan="{4 + 2 * len(suites)}">No cell has run yet.</td></tr>'
    )
    return (
        '<div class="scroll" id="grid-box"><table id="grid"><thead>'
        f'<tr><th rowspan="2" scope="col">transformers</th><th rowspan="2" scope="col">torch</th>'
        f'<th rowspan="2" scope="col">layout</th>'
        f'<th rowspan="2" scope="col" class="static-init">StaticLayer init</th>'
        f"{top}</tr><tr>{sub}</tr>"
        f"</thead><tbody>\n{rows}{empty}\n</tbody></table></div>"
    )


def _select(name: str, label: str, values: list[str] | dict[str, str], css: str = "") -> str:
    """A filter's select: `values` (or value -> label), after `all`."""
    labels = values if isinstance(values, dict) else {value: value for value in values}
    options = "".join(f'<option value="{_attr(value)}">{escape(text)}</option>' for value, text in labels.items())
    attrs = f' class="{css}"' if css else ""
    return (f'<label{attrs}>{escape(label)} <select id="filter-{name}" data-filter="{name}">'
            f'<option value="">all</option>{options}</select></label>')


def _filters(matrix: dict[str, Any], uses: dict[str, Any]) -> str:
    """The filters, which apply to every table of the page (page.js applyFilters), and the TICO toggle: the
    versions newest first, as the tables order them; the answers the uses and model families give, in the
    order of the by-use legend."""
    cells = matrix["cells"]
    layouts = list(LAYOUTS) + ([NOT_RUN] if any(cell["layout"] is None for cell in cells) else [])
    torches = sorted({cell["pins"]["torch"] for cell in cells}, key=Version, reverse=True)
    transformers = sorted({cell["pins"]["transformers"] for cell in cells}, key=Version, reverse=True)
    given = {found["answer"] for entry in [*uses["uses"], *uses.get("families", [])]
             for found in entry["answers"].values()}
    answers = [word for word in ANSWER_LABELS if word in given] + sorted(given - set(ANSWER_LABELS))
    return (
        '<form id="filters" class="filters" onsubmit="return false">'
        + _select("transformers", "transformers", transformers)
        + _select("torch", "torch", torches)
        + _select("use", "use", {use["key"]: use["title"] for use in uses["uses"]})
        + _select("answer", "answer", answers)
        + _select("layout", "layout", layouts)
        + _select("tico", "vs TICO registration", list(VERSUS_TICO.values()), css="tico-only")
        + '<label class="toggle"><input type="checkbox" id="show-tico"> show TICO\'s registration side by side'
        "</label>"
        + f'<output id="shown">{len(cells)} of {len(cells)} pairs</output>'
        + f'<output id="shown-uses">{len(uses["uses"])} of {len(uses["uses"])} uses</output></form>'
    )


DATASET_TITLES = {"default": "default matrix (the pinned pairs)", "latest": "latest releases",
                  "full": "full grid (every minor from transformers 4.46 and torch 2.5)"}
"""What each published matrix (kvmatrix.record.answers.DATASETS) is called in the page's links between them."""


def _datasets(current: str) -> str:
    """Links between the published matrices: the default page is reports/index.html, the others
    reports/<name>/index.html; the page's own is marked current."""
    up = "" if current == DATASETS[0] else "../"
    links = []
    for name in DATASETS:
        title = escape(DATASET_TITLES.get(name, name))
        if name == current:
            links.append(f'<a href="index.html" aria-current="page"><strong>{title}</strong></a>')
        else:
            links.append(f'<a href="{up}{"index.html" if name == DATASETS[0] else f"{name}/index.html"}">{title}</a>')
    return f'<nav id="datasets" aria-label="published matrices">Matrices: {" · ".join(links)}</nav>'


def _badge_snippets(matrix: dict[str, Any], uses: dict[str, Any]) -> str:
    """Markdown a maintainer copies into a README: the badge of each pair (uses that work there) and of each
    use (in how many pairs it works), from this matrix's folder, newest pair first."""
    nested = uses["dataset"] != DATASETS[0]
    folder, page = (f"reports/{uses['dataset']}", f"{PAGES_URL}{uses['dataset']}/") if nested else ("reports", PAGES_URL)
    pairs = [(f"pair-{cell['id']}.json", f"kv caches on {cell['id']}", f"#cell-{cell['id']}")
             for cell in newest_cells_first(matrix["cells"])]
    by_use = [(f"use-{use['key']}.json", use["title"], f"#use-{use['key']}") for use in uses["uses"]]
    items = "".join(f'<li><code>{escape(badge_snippet(name, alt, page + anchor, folder))}</code></li>'
                    for name, alt, anchor in [*pairs, *by_use])
    return (f'<details id="badge-snippets"><summary>Badges for your README (copy the Markdown)</summary>'
            f"<ul>{items}</ul></details>")


def _legend() -> str:
    items = "".join(f"<li>{_chip(verdict)} {escape(meaning)}</li>" for verdict, meaning in MEANINGS.items())
    causes = "".join(
        f'<li><code class="cause">{escape(cause)}</code> {escape(meaning)}</li>'
        for cause, meaning in CAUSE_MEANINGS.items()
    )
    return (
        f'<section id="legend"><h2>Legend</h2><p>Each suite shows its verdict with and without '
        f'<code>compat.register()</code>, and tests passed / tests run.</p><ul class="legend">{items}</ul>'
        "<h3>Causes</h3><p>Why a test did not pass (a pair's details show each test's cause, its detail, "
        f'any known upstream issue and its re-runs):</p><ul class="legend causes">{causes}</ul></section>'
    )


def _compat_regressions(matrix: dict[str, Any]) -> str:
    """The banner at the top of the page: green when no test anywhere passes with transformers alone and
    fails after `compat.register()`, else a red list of those tests."""
    found = [(cell, entry) for cell in matrix["cells"] for entry in cell["compat_regressions"]]
    if not found:
        return (
            '<section id="compat-regressions" class="banner ok" role="status"><strong>No compat '
            "regressions</strong>: in every cell, every test that passes with transformers alone also "
            "passes with <code>compat.register()</code>.</section>"
        )
    items = "".join(
        f"<li>{_cell_link(cell['id'])} · {escape(entry['suite'])} · <code>{escape(entry['name'])}</code>: "
        f'{_chip(entry["verdict"])} <span class="error">{_error(entry, cell)}</span></li>'
        for cell, entry in found
    )
    noun = "regression" if len(found) == 1 else "regressions"
    return (
        f'<section id="compat-regressions" class="banner bad" role="alert"><strong>{len(found)} compat '
        f"{noun}</strong>: these tests pass with transformers alone and fail after "
        f"<code>compat.register()</code>.<ul>{items}</ul></section>"
    )


def _compat_vs_tico(matrix: dict[str, Any]) -> str:
    """The compat vs TICO registration section: per cell with a TICO run, how many tests pass only with one
    of the two registrations, and each test that passes with TICO's and not with compat's, with compat's
    error (each is a bug or a stated design choice)."""
    compared = [cell for cell in matrix["cells"] if "tico_advantages" in cell]
    if not compared:
        return ('<section id="compat-vs-tico" class="tico-only"><h2>compat vs TICO registration</h2><p>No cell has run the suites '
                "under TICO's registration yet.</p></section>")
    items = "".join(
        f"<li>{_cell_link(cell['id'])}: {len(cell['tico_advantages'])} pass only with TICO's registration, "
        f"{cell['compat_advantages']} only with <code>compat.register()</code>"
        + ("<ul>" + "".join(
            f"<li>{escape(entry['suite'])} · <code>{escape(entry['name'])}</code>: {_chip(entry['verdict'])} with "
            f'compat <span class="error">{_error(entry, cell)}</span></li>'
            for entry in cell["tico_advantages"]) + "</ul>" if cell["tico_advantages"] else "")
        + "</li>"
        for cell in compared
    )
    return (f'<section id="compat-vs-tico" class="tico-only"><h2>compat vs TICO registration</h2><p>The core suites run a third '
            "time with TICO's own cache registration instead of <code>compat.register()</code>; compat must "
            f"do at least as well on every test.</p><ul>{items}</ul></section>")


def _error(entry: dict[str, Any], cell: dict[str, Any]) -> str:
    """A listed test's error, capped as the page data caps it (kvmatrix.render.page_data.capped)."""
    return escape(capped(entry.get("error"), cell.get("detail", "")) or "no message recorded")


ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
"""A terminal colour code (SGR), as torch.onnx's messages carry: no content, and invisible junk on a page."""


def _error_code(error: str | None) -> str:
    """A test's error as the program printed it, without its terminal colour codes: code, as its test's name
    is (its backticks, asterisks and links are the tool's, not Markdown to render); empty where it has none."""
    return f"<code>{escape(ANSI_COLOUR.sub('', error))}</code>" if error else ""


def _cell_link(cell_id: str) -> str:
    return f'<a href="#cell-{_attr(cell_id)}">{escape(cell_id)}</a>'


def _transition(entry: dict[str, Any]) -> str:
    return f"{_chip(entry['before'] or 'none')} → {_chip(entry['after'])}"


def _stale_text(attempt: dict[str, Any]) -> str:
    """What a cell's `latest_attempt` means for the verdicts shown in its row."""
    return (f"latest run not installed ({attempt['status']}: {attempt.get('reason') or 'no reason recorded'}); "
            "verdicts from its previous run")


def _changes(changes: dict[str, Any] | None) -> str:
    """The changes section: suite-level moves in lists, test-level moves in collapsible tables, then the
    packages that changed in the cells whose verdicts moved."""
    if changes is None:
        return f'<section id="changes">{CHANGES_TITLE}<p>Not recorded for this matrix.</p></section>'
    since = changes["previous_generated_at"]
    parts = [
        f"<p>Compared with the matrix generated at <time>{escape(since)}</time>.</p>"
        if since
        else "<p>First published run: there is no previous matrix to compare with.</p>"
    ]
    items = [f'<li class="new">new cell {_cell_link(cell_id)}</li>' for cell_id in changes["new_cells"]]
    items += [
        f'<li class="removed">removed cell {escape(cell_id)}</li>' for cell_id in changes["removed_cells"]
    ]
    for key, title in (("newly_failing", "newly failing"), ("newly_passing", "newly passing")):
        items += [
            f'<li class="{key}">{title}: {_cell_link(e["cell"])} · {escape(e["suite"])} '
            f"({escape(e['mode'])}): {_transition(e)}</li>"
            for e in changes[key]
        ]
    if items:
        parts.append(f"<ul>{''.join(items)}</ul>")
    for key, title in (
        ("tests_newly_failing", "Tests newly failing"),
        ("tests_newly_passing", "Tests newly passing"),
    ):
        if changes[key]:
            rows = "".join(
                f"<tr><td>{_cell_link(e['cell'])}</td><td>{escape(e['mode'])}</td>"
                f"<td>{escape(e['suite'])}</td><td><code>{escape(e['name'])}</code></td>"
                f"<td>{_transition(e)}</td><td>{_error_code(e.get('error'))}</td></tr>"
                for e in changes[key]
            )
            parts.append(
                f'<details class="{key}"><summary>{title} ({len(changes[key])})</summary>'
                f'<table class="small"><thead><tr>{TEST_CHANGE_HEADERS}</tr></thead>'
                f"<tbody>{rows}</tbody></table></details>"
            )
    moved_packages = [
        f"<li>packages that changed with the verdicts of {_cell_link(e['cell'])}: "
        + ", ".join(f"<code>{escape(c['package'])}</code> {escape(c['before'] or 'absent')} → "
                    f"{escape(c['after'] or 'absent')}" for c in e["packages"]) + "</li>"
        for e in changes.get("packages_changed", [])
    ]
    if moved_packages:
        parts.append(f'<ul class="packages_changed">{"".join(moved_packages)}</ul>')
    if len(parts) == 1:
        parts.append("<p>No change.</p>")
    return f'<section id="changes">{CHANGES_TITLE}{"".join(parts)}</section>'


def _not_run(matrix: dict[str, Any]) -> str:
    """A collapsed list of the planned cells the matrix does not publish; empty when it publishes all."""
    not_run = matrix.get("not_run", [])
    if not not_run:
        return ""
    planned = len(not_run) + len(matrix["cells"])
    items = "".join(f"<li><code>{escape(cell)}</code></li>" for cell in not_run)
    return (f'<details id="not-run"><summary>{len(matrix["cells"])} of the {planned} planned cells are published; '
            f"{len(not_run)} have not run yet</summary><ul>{items}</ul></details>\n")


def _index_as_of(matrix: dict[str, Any]) -> str:
    """`, package index as of <time>` for a matrix with an index snapshot (nothing for an older one)."""
    snapshot = matrix.get("index_snapshot")
    if not snapshot:
        return ""
    return (f', package index as of <time id="index-as-of" datetime="{escape(snapshot)}">{escape(snapshot)}</time>')


def render_page(matrix: dict[str, Any], details: dict[str, dict[str, Any]], uses: dict[str, Any]) -> str:
    """The complete HTML page of `matrix`, whose cells' detail records by cell id are `details`: inline
    CSS and script, `page_data` embedded as JSON, no external resource; the by-use view from `uses`
    (the answers file, uses.json), which also says which published matrix this is (its `dataset`) for the
    links between them. Deterministic: the same matrix and details always give the same page."""
    css = (PAGE_ASSETS / "page.css").read_text(encoding="utf-8") + picture_css()
    script = (PAGE_ASSETS / "page.js").read_text(encoding="utf-8")
    stamp = escape(matrix["generated_at"])
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>KV-cache compatibility matrix</title>
<style>
{css}</style>
</head>
<body>
<header>
<h1>KV-cache compatibility matrix</h1>
{_datasets(uses.get("dataset") or DATASETS[0])}
<p class="stamp">Generated at <time id="generated-at" datetime="{stamp}">{stamp}</time>{_index_as_of(matrix)} from
<code>{escape(matrix["pins_file"])}</code> (schema version {escape(str(matrix["schema_version"]))}).
Pairs are newest first. Click a pair (or press Enter on its row) for its failing tests, repro command, resolved
environment and metrics.</p>
{_not_run(matrix)}</header>
<main>
{_compat_regressions(matrix)}
{_filters(matrix, uses)}
{by_use_html(uses)}
{by_model_html(uses)}
<h2 id="suites">By suite</h2>
{_grid(matrix)}
{_compat_vs_tico(matrix)}
{_changes(matrix.get("changes"))}
{_legend()}
{_badge_snippets(matrix, uses)}
</main>
<dialog id="details" aria-labelledby="details-title">
<form method="dialog" class="close"><button value="close" aria-label="Close details">Close ✕</button></form>
<div id="details-body"></div>
</dialog>
{_data_script(matrix, details, uses)}
<script>
{script}</script>
</body>
</html>
"""
