// The matrix page's behaviour: filters, and a pair's details from the embedded JSON (the matrix and each
// cell's trimmed detail, kvmatrix.render.html.page_data) on click or from a #cell-<id> permalink. Every text from
// the data goes through textContent, never innerHTML.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("matrix-data").textContent);
  const matrix = data.matrix;
  const details = data.details;
  const cells = new Map(matrix.cells.map((cell) => [cell.id, cell]));
  const dialog = document.getElementById("details");
  const body = document.getElementById("details-body");
  const rows = Array.from(document.querySelectorAll("#grid tr.pair"));
  const filters = Array.from(document.querySelectorAll("#filters select"));
  const BAD = ["error", "fail", "flaky", "setup", "xfail"];
  const UPSTREAM_ISSUE = /^([\w.-]+\/[\w.-]+)#(\d+)$/;
  const MODES = ["with", "without", "tico"];
  const MODE_TITLES = { with: "with registration", without: "without registration", tico: "TICO registration" };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
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
    if (cell.tico_advantages) {
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
    for (const mode of MODES) {
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
    return MODES.filter((mode) => Object.values(cell.suites || {}).some((summary) => summary[mode]));
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
      for (const mode of MODES) {
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

  // The recorded traceback of `test`, read from the cell's detail file when asked (it is not embedded).
  function showTraceback(cell, test, into) {
    into.textContent = "loading " + cell.detail + " ...";
    fetch(cell.detail).then((response) => response.json()).then((detail) => {
      const run = (detail.runs || {})[test.mode] || {};
      const record = (run.tests || []).find((t) => t.suite === test.suite && t.name === test.name) || {};
      into.textContent = record.traceback || "no traceback recorded for this test (recorded since schema 3 runs)";
    }).catch(() => {
      into.textContent = "this page cannot read " + cell.detail + " here (opened as a local file?): "
        + "open that file, or run the command above, which prints the full traceback";
    });
  }

  function rerunAlone(cell, test) {
    if (test.mode === "tico") return el("td", { class: "one-test" }, "—");
    const command = oneTest(cell, test);
    const copy = el("button", { type: "button", class: "copy-one" }, "Copy");
    copy.addEventListener("click", () => {
      if (navigator.clipboard) navigator.clipboard.writeText(command).catch(() => {});
    });
    const trace = el("pre", { class: "traceback", hidden: "" });
    const show = el("button", { type: "button", class: "show-traceback" }, "Traceback");
    show.addEventListener("click", () => {
      trace.hidden = false;
      showTraceback(cell, test, trace);
    });
    return el("td", { class: "one-test" }, el("code", {}, command), copy, show, trace);
  }

  function failing(cell) {
    const rowsOut = testsOf(cell).filter((test) => BAD.includes(test.verdict))
      .sort((a, b) => BAD.indexOf(a.verdict) - BAD.indexOf(b.verdict))
      .map((test) => [
        chip(test.verdict), test.suite, el("code", {}, test.name), test.mode,
        el("td", { class: "error" }, test.text || "no message recorded"),
        cause(test), reruns(test), rerunAlone(cell, test),
      ]);
    const section = el("section", { id: "details-failing" },
      el("h3", {}, "Failing, erroring, flaky, setup and xfail tests"));
    section.append(rowsOut.length
      ? table(["verdict", "suite", "test", "mode", "error / reason", "cause", "re-runs", "re-run alone"], rowsOut)
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
    const modes = MODES.filter((mode) => keys.some((key) => cell.tests[key][mode]));
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

  function fromHash() {
    const hash = decodeURIComponent(location.hash.slice(1));
    if (hash.startsWith("cell-")) open(hash.slice(5));
    const use = hash.startsWith("use-") ? document.getElementById(hash) : null;
    if (use && use.matches("details.since")) {  // a use's permalink opens its picture
      use.open = true;
      use.scrollIntoView();
    }
  }

  for (const row of rows) {
    const show = () => {
      history.replaceState(null, "", "#cell-" + row.dataset.cell);
      open(row.dataset.cell);
    };
    row.addEventListener("click", (event) => { event.preventDefault(); show(); });
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") show(); });
  }
  dialog.addEventListener("close", () => history.replaceState(null, "", location.pathname + location.search));
  window.addEventListener("hashchange", fromHash);

  function applyFilters() {
    let shown = 0;
    for (const row of rows) {
      row.hidden = !filters.every((select) => !select.value || row.dataset[select.dataset.filter] === select.value);
      if (!row.hidden) shown += 1;
    }
    document.getElementById("shown").textContent = shown + " of " + rows.length + " pairs";
  }
  for (const select of filters) select.addEventListener("change", applyFilters);

  fromHash();
}());
