// The matrix page's behaviour: the filters (over every table), the TICO toggle, each use's picture, and a pair's
// details from the embedded JSON (the matrix and each cell's trimmed detail, kvmatrix.render.page_data) on click,
// Enter or a #cell-<id> permalink. Every text from the data goes through textContent, never innerHTML.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("matrix-data").textContent);
  const matrix = data.matrix;
  const details = data.details;
  const TRACEBACK_LIMIT = 8000;  // a traceback's most characters shown, read from its detail file on demand
  // The page data writes each test key and message text once (data.keys, data.texts) and each verdict and
  // cause as one character (its index in data.verdicts, data.causes; "-": none): expand them back into matrix.json's shapes, a cell's
  // tests as key -> mode -> [verdict, cause, upstream] and its messages as mode -> key -> {text,
  // cause_detail, reruns}.
  const verdictOf = (code) => data.verdicts[data.codes.indexOf(code)];
  for (const cell of matrix.cells) {
    const tests = {};
    cell.tests.codes.forEach((codes, at) => Array.from(codes).forEach((code, key) => {
      if (code === "-") return;
      (tests[data.keys[key]] ||= {})[data.modes[at]] = [verdictOf(code)];
    }));
    cell.tests.causes.forEach((codes, at) => Array.from(codes).forEach((code, key) => {
      if (code !== "-") tests[data.keys[key]][data.modes[at]].push(data.causes[data.codes.indexOf(code)]);
    }));
    for (const [key, at, ...rest] of cell.tests.notes) tests[data.keys[key]][data.modes[at]].push(...rest);
    cell.tests = tests;
    const detail = details[cell.id];
    detail.messages = Object.fromEntries(Object.entries(detail.messages).map(([mode, listed]) => [mode,
      Object.fromEntries(listed.map(([key, text, causeDetail, reruns]) => [data.keys[key], {
        text: data.texts[text],
        ...(causeDetail !== undefined && causeDetail >= 0 ? { cause_detail: data.texts[causeDetail] } : {}),
        ...(reruns ? { reruns: Array.from(reruns, verdictOf) } : {}),
      }]))]));
  }
  const cells = new Map(matrix.cells.map((cell) => [cell.id, cell]));
  const dialog = document.getElementById("details");
  const body = document.getElementById("details-body");
  const rows = Array.from(document.querySelectorAll("#grid tr.pair"));
  const filters = Array.from(document.querySelectorAll("#filters select"));
  const ticoToggle = document.getElementById("show-tico");
  const LISTED = data.listed;  // kvmatrix.record.verdicts.LISTED
  const UPSTREAM_ISSUE = /^([\w.-]+\/[\w.-]+)#(\d+)$/;
  const ALL_MODES = ["with", "without", "tico"];
  const MODE_TITLES = { with: "with registration", without: "without registration", tico: "TICO registration" };

  // The registration modes shown: TICO's only while its toggle is on.
  function shownModes() {
    return ALL_MODES.filter((mode) => mode !== "tico" || ticoToggle.checked);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function chip(verdict, extra) {
    const name = verdict || "error";
    return el("span", { class: "chip v-" + name.replace("/", "") }, name, extra || null);
  }

  function table(headers, rowsOfCells, cls) {
    const head = el("tr", {}, ...headers.map((h) => el("th", {}, h)));
    const rowsEls = rowsOfCells.map((cellsOfRow) => el("tr", {}, ...cellsOfRow.map((c) => (
      c instanceof Node && c.tagName === "TD" ? c : el("td", {}, c)))));
    return el("table", { class: cls || "small" }, el("thead", {}, head), el("tbody", {}, ...rowsEls));
  }

  function seconds(value) {
    return typeof value === "number" ? value.toFixed(value < 10 ? 2 : 1) + " s" : "—";
  }

  function facts(cell) {
    const dl = el("dl");
    const add = (term, value) => dl.append(el("dt", {}, term), el("dd", {}, value));
    add("status", cell.status_reason ? el("span", {}, chip(cell.status), " ", cell.status_reason) : chip(cell.status));
    const detail = details[cell.id];
    if (detail.reused_from) {
      add("ran", detail.reused_from + " (reused: its inputs have not changed since; docs/incremental.md)");
    } else if (detail.finished_at) {
      add("ran", detail.finished_at);
    }
    if (cell.latest_attempt) {
      add("latest attempt", el("span", {}, chip(cell.latest_attempt.status), " ",
        (cell.latest_attempt.reason || "no reason recorded") + "; the verdicts shown are from the previous run"));
    }
    add("pins", "transformers " + cell.pins.transformers + ", torch " + cell.pins.torch);
    if (cell.note) add("note", cell.note);
    add("layout", cell.layout || "not run");
    add("StaticLayer init", cell.static_layer_init || "—");
    const regressions = cell.compat_regressions || [];
    const one = regressions.length === 1;
    add("compat regressions", regressions.length ? regressions.length + (one ? " test passes" : " tests pass")
      + " with transformers alone and " + (one ? "fails" : "fail") + " after compat.register() (cause: compat)"
      : "none");
    if (cell.tico_advantages && ticoToggle.checked) {
      add("compat vs TICO", cell.tico_advantages.length + " passing only with TICO's registration, "
        + cell.compat_advantages + " only with compat.register()");
    }
    const clients = Object.entries(cell.clients || {});
    if (clients.length) {
      add("clients", el("span", {}, ...clients.flatMap(([suite, client], at) => [at ? "; " : "", suite + " ",
        chip(client.status), (client.installed ? " " + client.installed : "") + (client.reason ? ": " + client.reason : "")])));
    }
    add("python", cell.python || "—");
    const resolved = Object.entries(cell.resolved || {}).map(([k, v]) => k + " " + v).join(", ");
    add("resolved", resolved || "—");
    add("install", seconds(cell.install_duration_s));
    add("total duration", seconds(cell.duration_s));
    for (const mode of shownModes()) {
      const run = details[cell.id].runs[mode];
      const count = testsOf(cell).filter((test) => test.mode === mode).length;
      if (run) add("run " + mode, "pytest exit " + run.exit_code + " in " + seconds(run.duration_s)
        + ", " + count + (count === 1 ? " test" : " tests"));
    }
    const exportTimes = (cell.metrics || {}).export_s;
    if (exportTimes) add("export time", "median " + seconds(exportTimes.median) + ", max "
      + seconds(exportTimes.max) + " over " + exportTimes.n + " exports");
    const link = el("a", { href: "#cell-" + cell.id }, "#cell-" + cell.id);
    add("permalink", link);
    add("full records", el("span", {}, el("a", { href: cell.detail, id: "detail-link" }, cell.detail),
      " (every test record with its duration and metrics, the pytest log tails)"));
    return dl;
  }

  function repro(cell) {
    const code = el("code", { id: "repro" }, cell.repro);
    const button = el("button", { type: "button" }, "Copy");
    button.addEventListener("click", () => {
      if (navigator.clipboard) navigator.clipboard.writeText(cell.repro).catch(() => {});
    });
    return el("div", { class: "repro" }, el("strong", {}, "Repro"), code, button);
  }

  // The modes the cell's suites were summarised in: with and without, and tico where the cell ran it.
  function modesOf(cell) {
    return shownModes().filter((mode) => Object.values(cell.suites || {}).some((summary) => summary[mode]));
  }

  function suitesTable(cell) {
    const modes = modesOf(cell);
    return table(["suite", ...modes.map((m) => MODE_TITLES[m])], matrix.suites.map((suite) => [
      suite, ...modes.map((mode) => {
        const summary = ((cell.suites || {})[suite] || {})[mode];
        if (!summary) return "—";
        const counts = summary.counts || {};
        const text = Object.entries(counts).filter(([, n]) => n).map(([v, n]) => n + " " + v).join(", ");
        return el("span", {}, chip(summary.verdict), " ", summary.reason || text || "no test");
      }),
    ]));
  }

  // [suite, name] of a compact-table key "<suite>::<name>"
  function splitKey(key) {
    const at = key.indexOf("::");
    return [key.slice(0, at), key.slice(at + 2)];
  }

  // Every test of a cell in each mode: its verdict, cause and upstream from the cell's compact table, its
  // text, cause_detail and reruns from the embedded detail (tests that did not pass only).
  function testsOf(cell) {
    const all = [];
    const messages = details[cell.id].messages;
    for (const [key, modes] of Object.entries(cell.tests)) {
      const [suite, name] = splitKey(key);
      for (const mode of shownModes()) {
        const entry = modes[mode];
        if (!entry) continue;
        all.push({
          mode, suite, name, verdict: entry[0], cause: entry[1], upstream: entry[2] || null,
          ...((messages[mode] || {})[key] || {}),
        });
      }
    }
    return all;
  }

  function upstream(reference) {
    const match = UPSTREAM_ISSUE.exec(reference);
    if (!match) return el("code", {}, reference);
    const href = "https://github.com/" + match[1] + "/issues/" + match[2];
    return el("a", { href, rel: "noreferrer" }, reference);
  }

  function cause(test) {
    if (!test.cause && !test.upstream) return el("td", { class: "cause" }, "—");
    return el("td", { class: "cause" },
      test.cause ? el("code", { class: "cause-name" }, test.cause) : null,
      test.cause_detail ? el("div", { class: "cause-detail" }, test.cause_detail) : null,
      test.upstream ? el("div", { class: "upstream" }, "upstream ", upstream(test.upstream)) : null);
  }

  function reruns(test) {
    const done = test.reruns || [];
    return el("td", { class: "reruns" }, done.length ? el("span", {}, ...done.map((v) => chip(v))) : "—");
  }

  // The one-line command that re-runs `test` alone in `cell` (kvmatrix.run.one_test), from the page data's
  // template; a quote in the test id is closed, escaped and reopened for the shell.
  function oneTest(cell, test) {
    const nodeid = "suites/test_" + test.suite + ".py::" + test.name;
    return data.one_test.replace("{cell}", cell.id).replace("{mode}", test.mode)
      .replace("{nodeid}", nodeid.replaceAll("'", "'\\''"));
  }

  // A text cut to `limit` characters, with a note naming the detail file that holds all of it.
  function capped(text, limit, source) {
    return text.length > limit ? text.slice(0, limit) + "… (full text in " + source + ")" : text;
  }

  // The recorded traceback of `test`, read from the cell's detail file when asked (it is not embedded) and
  // capped, so that no record can stall the page.
  function showTraceback(cell, test, into) {
    into.textContent = "loading " + cell.detail + " ...";
    fetch(cell.detail).then((response) => response.json()).then((detail) => {
      const run = (detail.runs || {})[test.mode] || {};
      const record = (run.tests || []).find((t) => t.suite === test.suite && t.name === test.name) || {};
      into.textContent = record.traceback ? capped(record.traceback, TRACEBACK_LIMIT, cell.detail)
        : "no traceback recorded for this test (recorded since schema 3 runs)";
    }).catch(() => {
      into.textContent = "this page cannot read " + cell.detail + " here (opened as a local file?): "
        + "open that file, or run the command above, which prints the full traceback";
    });
  }

  // The command that re-runs the test alone and its traceback, behind a <details> that loads the traceback
  // the first time it opens.
  function onDemand(cell, test) {
    const more = el("details", { class: "one-test" }, el("summary", {}, "Re-run alone, traceback"));
    if (test.mode !== "tico") {
      const command = oneTest(cell, test);
      const copy = el("button", { type: "button", class: "copy-one" }, "Copy");
      copy.addEventListener("click", () => {
        if (navigator.clipboard) navigator.clipboard.writeText(command).catch(() => {});
      });
      more.append(el("div", { class: "command" }, el("code", {}, command), copy));
    }
    const trace = el("pre", { class: "traceback" });
    more.append(trace);
    more.addEventListener("toggle", () => {
      if (more.open && !trace.textContent) showTraceback(cell, test, trace);
    });
    return more;
  }

  // One row per test: what it is (verdict, suite, mode, name), then its error or reason (wrapping), with the
  // command and traceback on demand under it, its cause and its re-runs.
  function failing(cell) {
    const rowsOut = testsOf(cell).filter((test) => LISTED.includes(test.verdict))
      .sort((a, b) => LISTED.indexOf(a.verdict) - LISTED.indexOf(b.verdict))
      .map((test) => [
        el("td", { class: "test" }, chip(test.verdict), " ", el("span", { class: "where" }, test.suite + " · " + test.mode),
          el("code", {}, test.name)),
        el("td", { class: "error" }, el("div", { class: "text" }, test.text || "no message recorded"),
          onDemand(cell, test)),
        cause(test), reruns(test),
      ]);
    const section = el("section", { id: "details-failing" },
      el("h3", {}, "Failing, erroring, flaky, setup and xfail tests"));
    section.append(rowsOut.length
      ? table(["test", "error / reason", "cause", "re-runs"], rowsOut, "small failing")
      : el("p", {}, "None."));
    return section;
  }

  function metrics(cell) {
    const loops = Object.entries((cell.metrics || {}).compile || {});
    if (!loops.length) return null;
    const rowsOut = loops.map(([name, values]) => [el("code", {}, name),
      Object.entries(values).map(([k, v]) => k + " = " + v).join(", ")]);
    return el("section", { id: "details-metrics" }, el("h3", {}, "Compiled decode loops (with registration)"),
      table(["test", "metrics"], rowsOut));
  }

  function allTests(cell) {
    const keys = Object.keys(cell.tests);
    if (!keys.length) return null;
    const modes = shownModes().filter((mode) => keys.some((key) => cell.tests[key][mode]));
    const rowsOut = keys.map((key) => {
      const [suite, name] = splitKey(key);
      return [suite, el("code", {}, name),
        ...modes.map((mode) => (cell.tests[key][mode] ? chip(cell.tests[key][mode][0]) : "—"))];
    });
    return el("details", { id: "details-all" }, el("summary", {}, "All tests (" + keys.length + ")"),
      table(["suite", "test", ...modes], rowsOut));
  }

  function registration(cell) {
    if (!(cell.registration_report || []).length) return null;
    return el("details", {}, el("summary", {}, "Registration report (" + cell.registration_report.length + " classes)"),
      table(["class", "status", "owner", "reason"], cell.registration_report.map((entry) => [
        entry.class, entry.status, entry.owner || "—", entry.reason || "—"])));
  }

  function freeze(cell) {
    const frozen = details[cell.id].freeze;
    if (!frozen.length) return null;
    const summary = el("summary", {}, "Resolved environment (" + frozen.length + " packages)");
    return el("details", { id: "details-freeze" }, summary, el("pre", {}, frozen.join("\n")));
  }

  function open(id) {
    const cell = cells.get(id);
    if (!cell) return false;
    body.replaceChildren(
      el("h2", { id: "details-title" }, cell.id),
      repro(cell), facts(cell), el("h3", {}, "Suites"), suitesTable(cell), failing(cell),
      metrics(cell) || "", allTests(cell) || "", registration(cell) || "", freeze(cell) || "",
    );
    if (!dialog.open) dialog.showModal();
    return true;
  }

  // The grid's verdict cells: each suite's verdict in each mode of data.grid, with tests passed / tests run,
  // from the cell's `suites` (a pair that did not run has its status across them, in the page already).
  for (const row of rows) {
    const cell = cells.get(row.dataset.cell);
    if (!cell || row.querySelector("td.status")) continue;
    for (const suite of matrix.suites) {
      for (const mode of data.grid.modes) {
        const summary = ((cell.suites || {})[suite] || {})[mode] || {};
        const counts = summary.counts || {};
        const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
        const verdict = summary.verdict || "error";
        const title = suite + " " + mode + " registration: " + verdict
          + (summary.reason ? " (" + summary.reason + ")" : "");
        const count = total ? el("span", { class: "count" }, (counts[data.grid.passed] || 0) + "/" + total) : null;
        row.append(el("td", { class: "verdict v-" + verdict.replace("/", ""), title },
          el("span", { class: "chip v-" + verdict.replace("/", "") }, verdict, count ? " " : null, count)));
      }
    }
  }

  // A use's picture (kvmatrix.render.page_uses.picture_placeholder): its data drawn as a table the first time
  // its <details> opens, each square lettered and named as in the picture legend.
  const legend = Array.from(document.querySelectorAll("#picture-legend li"), (item) => ({
    letter: item.querySelector(".square").textContent, name: item.dataset.name,
  }));
  function drawPicture(since) {
    const holder = since.querySelector(".picture");
    if (!holder || holder.firstChild) return;
    const rowsOf = holder.dataset.rows.split(" ");
    const columns = holder.dataset.columns.split(" ");
    const squares = holder.dataset.squares;
    const head = el("tr", {}, el("th", { scope: "col" }, "torch"),
      ...columns.map((torch) => el("th", { scope: "col" }, torch)));
    const lines = rowsOf.map((tf, row) => el("tr", {}, el("th", { scope: "row" }, "tf " + tf),
      ...columns.map((torch, column) => {
        const at = Number(squares[row * columns.length + column]);
        const group = legend[at];
        return el("td", { class: "square g" + at, title: "transformers " + tf + ", torch " + torch + ": " + group.name },
          group.letter);
      })));
    holder.append(el("table", { class: "picture-grid" }, el("thead", {}, head), el("tbody", {}, ...lines)));
  }
  for (const since of document.querySelectorAll("details.since")) {
    since.addEventListener("toggle", () => { if (since.open) drawPicture(since); });
  }

  function fromHash() {
    const hash = decodeURIComponent(location.hash.slice(1));
    if (hash.startsWith("cell-")) open(hash.slice(5));
    const use = hash.startsWith("use-") ? document.getElementById(hash) : null;
    if (use && use.matches("details.since")) {  // a use's permalink opens its picture
      use.open = true;
      drawPicture(use);
      use.scrollIntoView();
    }
    // a model family's row, drawn by this script after the browser looked for the fragment
    const family = hash.startsWith("model-") ? document.getElementById(hash) : null;
    if (family) family.scrollIntoView();
  }

  for (const row of rows) {
    const show = () => {
      history.replaceState(null, "", "#cell-" + row.dataset.cell);
      open(row.dataset.cell);
    };
    row.addEventListener("click", (event) => { event.preventDefault(); show(); });
    // Enter opens the details once: without preventDefault the same key press goes on to activate what
    // showModal() focused (the dialog's Close button), or the row's link, and closes the dialog again.
    row.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      event.preventDefault();
      show();
    });
  }
  dialog.addEventListener("close", () => history.replaceState(null, "", location.pathname + location.search));
  window.addEventListener("hashchange", fromHash);

  // The answer tables (by use, by model; kvmatrix.render.page_answers): one row per use or model family, one
  // column per pair, newest first; each chip its answer, label and tooltip from data.views.strings, the TICO
  // side (by use) hidden until the toggle shows it; each cell's answers as data for the filters.
  const views = data.views;
  function drawAnswers(view) {
    const table = document.getElementById(view.id);
    if (!table) return;
    const width = view.tico ? 6 : 3;
    const chipOf = ([answer, label, title], tico) => el("span", {
      class: "chip " + views.css[answer] + (tico ? " tico-only" : ""), title,
    }, (tico ? "TICO: " : "") + label);
    const head = el("tr", {}, el("th", { scope: "col" }, view.head), ...views.pairs.map((pair) => el("th",
      { scope: "col", "data-pair": pair }, el("a", { href: "#cell-" + pair }, pair))));
    const lines = view.rows.map(([key, title, ...chips]) => el("tr", { ["data-" + view.row]: key },
      el("th", { scope: "row", id: view.row === "use" ? null : view.anchor + key },
        el("a", { href: "#" + view.anchor + key }, title)),
      ...views.pairs.map((pair, at) => {
        const sides = [0, 3].slice(0, width / 3).map((offset) => chips.slice(at * width + offset,
          at * width + offset + 3).map((index) => views.strings[index]));
        const td = el("td", { "data-answer": sides[0][0] }, chipOf(sides[0], false));
        if (sides[1]) {
          td.dataset.ticoAnswer = sides[1][0];
          td.append(chipOf(sides[1], true));
        }
        return td;
      })));
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...lines));
  }
  views.tables.forEach(drawAnswers);

  // The filters apply to every table. A pair passes the pair filters (transformers, torch, layout and, with
  // TICO shown, the comparison with TICO); with an answer chosen, it stays in a table only where some row it
  // keeps has that answer in it. Each answer table shows those pairs' columns and the rows that have the
  // chosen answer in a shown pair, other answers faded (the use filter keeps one row of the by-use table);
  // the suite grid shows the pairs the by-use table shows, and each use's since line follows its row.
  const answerTables = views.tables.map((view) => {
    const table = document.getElementById(view.id);
    return {
      view,
      heads: table ? Array.from(table.querySelectorAll("thead th[data-pair]")) : [],
      lines: table ? Array.from(table.querySelectorAll("tbody tr")) : [],
    };
  });
  const [useTable, modelTable] = answerTables;

  function chosen(name) {
    const select = document.getElementById("filter-" + name);
    return select && (name !== "tico" || ticoToggle.checked) ? select.value : "";
  }

  // Whether a pair passes the pair filters, read from its grid row's data (a pair without a row passes
  // only while no pair filter is chosen).
  function pairPasses(pair) {
    const row = rows.find((r) => r.dataset.cell === pair);
    return ["transformers", "torch", "layout", "tico"].every((name) => !chosen(name)
      || (row !== undefined && row.dataset[name] === chosen(name)));
  }

  function answered(td, answer) {
    return td.dataset.answer === answer || (ticoToggle.checked && td.dataset.ticoAnswer === answer);
  }

  // One answer table filtered: the rows `keep` keeps, the pairs shown; returns pair -> shown.
  function filterTable(table, keep, answer) {
    const chips = (line) => Array.from(line.querySelectorAll("td"));
    const pairOf = (at) => table.heads[at].dataset.pair;
    const kept = table.lines.filter(keep);
    const pairShown = new Map(table.heads.map((th, at) => [th.dataset.pair, pairPasses(th.dataset.pair)
      && (!answer || kept.some((line) => answered(chips(line)[at], answer)))]));
    for (const line of table.lines) {
      line.hidden = !kept.includes(line)
        || Boolean(answer && !chips(line).some((td, at) => pairShown.get(pairOf(at)) && answered(td, answer)));
      chips(line).forEach((td, at) => {
        td.hidden = !pairShown.get(pairOf(at));
        td.classList.toggle("faded", Boolean(answer) && !answered(td, answer));
      });
    }
    table.heads.forEach((th) => { th.hidden = !pairShown.get(th.dataset.pair); });
    return pairShown;
  }

  function applyFilters() {
    const use = chosen("use");
    const answer = chosen("answer");
    const pairShown = filterTable(useTable, (line) => !use || line.dataset.use === use, answer);
    for (const line of useTable.lines) {
      const since = document.getElementById("use-" + line.dataset.use);
      if (since) since.hidden = line.hidden;
    }
    filterTable(modelTable, () => true, answer);
    let shown = 0;
    for (const row of rows) {
      const pair = row.dataset.cell;
      row.hidden = pairShown.has(pair) ? !pairShown.get(pair) : !pairPasses(pair) || Boolean(answer);
      if (!row.hidden) shown += 1;
    }
    document.getElementById("shown").textContent = shown + " of " + rows.length + " pairs";
    const usesShown = useTable.lines.filter((line) => !line.hidden).length;
    document.getElementById("shown-uses").textContent = usesShown + " of " + useTable.lines.length + " uses";
  }
  function applyToggle() {
    document.body.classList.toggle("show-tico", ticoToggle.checked);
    applyFilters();
  }
  for (const select of filters) select.addEventListener("change", applyFilters);
  ticoToggle.addEventListener("change", applyToggle);

  applyToggle();  // a reload keeps the controls' state: the page follows it
  fromHash();
}());
