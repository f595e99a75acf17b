// The matrix page's behaviour: filters, and a pair's details from the embedded matrix JSON on click or
// from a #cell-<id> permalink. Every text from the data goes through textContent, never innerHTML.
"use strict";
(function () {
  const matrix = JSON.parse(document.getElementById("matrix-data").textContent);
  const cells = new Map(matrix.cells.map((cell) => [cell.id, cell]));
  const dialog = document.getElementById("details");
  const body = document.getElementById("details-body");
  const rows = Array.from(document.querySelectorAll("#grid tr.pair"));
  const filters = Array.from(document.querySelectorAll("#filters select"));
  const BAD = ["error", "fail", "flaky", "setup", "xfail"];
  const UPSTREAM_ISSUE = /^([\w.-]+\/[\w.-]+)#(\d+)$/;
  const MODES = ["with", "without"];

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
    add("pins", "transformers " + cell.pins.transformers + ", torch " + cell.pins.torch);
    if (cell.note) add("note", cell.note);
    add("layout", cell.layout || "not run");
    add("StaticLayer init", cell.static_layer_init || "—");
    const regressions = cell.compat_regressions || [];
    const one = regressions.length === 1;
    add("compat regressions", regressions.length ? regressions.length + (one ? " test passes" : " tests pass")
      + " with transformers alone and " + (one ? "fails" : "fail") + " after compat.register() (cause: compat)"
      : "none");
    add("python", cell.python || "—");
    const resolved = Object.entries(cell.resolved || {}).map(([k, v]) => k + " " + v).join(", ");
    add("resolved", resolved || "—");
    add("install", seconds(cell.install_duration_s));
    add("total duration", seconds(cell.duration_s));
    for (const mode of MODES) {
      const run = (cell.runs || {})[mode];
      const count = (run && run.tests || []).length;
      if (run) add("run " + mode, "pytest exit " + run.exit_code + " in " + seconds(run.duration_s)
        + ", " + count + (count === 1 ? " test" : " tests"));
    }
    const exportTimes = (cell.metrics || {}).export_s;
    if (exportTimes) add("export time", "median " + seconds(exportTimes.median) + ", max "
      + seconds(exportTimes.max) + " over " + exportTimes.n + " exports");
    const link = el("a", { href: "#cell-" + cell.id }, "#cell-" + cell.id);
    add("permalink", link);
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

  function suitesTable(cell) {
    return table(["suite", ...MODES.map((m) => m + " registration")], matrix.suites.map((suite) => [
      suite, ...MODES.map((mode) => {
        const summary = ((cell.suites || {})[suite] || {})[mode] || {};
        const counts = summary.counts || {};
        const text = Object.entries(counts).filter(([, n]) => n).map(([v, n]) => n + " " + v).join(", ");
        return el("span", {}, chip(summary.verdict), " ", text || "no test");
      }),
    ]));
  }

  function testsOf(cell) {
    const all = [];
    for (const mode of MODES) {
      for (const test of ((cell.runs || {})[mode] || {}).tests || []) all.push({ mode, test });
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

  function problem(test) {
    // a flaky test's reason holds its rate and its first error
    const text = test.verdict === "flaky" ? test.reason : test.error || test.reason;
    return text || "no message recorded";
  }

  function failing(cell) {
    const rowsOut = testsOf(cell).filter(({ test }) => BAD.includes(test.verdict))
      .sort((a, b) => BAD.indexOf(a.test.verdict) - BAD.indexOf(b.test.verdict))
      .map(({ mode, test }) => [
        chip(test.verdict), test.suite, el("code", {}, test.name), mode,
        el("td", { class: "error" }, problem(test)),
        cause(test), reruns(test),
      ]);
    const section = el("section", { id: "details-failing" },
      el("h3", {}, "Failing, erroring, flaky, setup and xfail tests"));
    section.append(rowsOut.length
      ? table(["verdict", "suite", "test", "mode", "error / reason", "cause", "re-runs"], rowsOut)
      : el("p", {}, "None."));
    return section;
  }

  function metrics(cell) {
    const rowsOut = testsOf(cell).filter(({ test }) => test.metrics && Object.keys(test.metrics).length)
      .map(({ mode, test }) => [test.suite, el("code", {}, test.name), mode,
        Object.entries(test.metrics).map(([k, v]) => k + " = " + v).join(", ")]);
    if (!rowsOut.length) return null;
    return el("section", { id: "details-metrics" }, el("h3", {}, "Metrics"),
      table(["suite", "test", "mode", "metrics"], rowsOut));
  }

  function allTests(cell) {
    const byKey = new Map();
    for (const { mode, test } of testsOf(cell)) {
      const key = test.suite + "\u0000" + test.name;
      if (!byKey.has(key)) byKey.set(key, { suite: test.suite, name: test.name });
      byKey.get(key)[mode] = test;
    }
    if (!byKey.size) return null;
    const rowsOut = Array.from(byKey.values()).map((t) => [t.suite, el("code", {}, t.name),
      ...MODES.map((mode) => (t[mode] ? el("span", {}, chip(t[mode].verdict), " " + seconds(t[mode].duration_s))
        : "—"))]);
    return el("details", {}, el("summary", {}, "All tests with durations (" + byKey.size + ")"),
      table(["suite", "test", ...MODES], rowsOut));
  }

  function registration(cell) {
    if (!(cell.registration_report || []).length) return null;
    return el("details", {}, el("summary", {}, "Registration report (" + cell.registration_report.length + " classes)"),
      table(["class", "status", "owner", "reason"], cell.registration_report.map((entry) => [
        entry.class, entry.status, entry.owner || "—", entry.reason || "—"])));
  }

  function freeze(cell) {
    if (!(cell.freeze || []).length) return null;
    return el("details", { id: "details-freeze" }, el("summary", {}, "Resolved environment (" + cell.freeze.length + " packages)"),
      el("pre", {}, cell.freeze.join("\n")));
  }

  function logs(cell) {
    const blocks = MODES.filter((mode) => ((cell.runs || {})[mode] || {}).log_tail)
      .map((mode) => el("details", {}, el("summary", {}, "pytest log tail, " + mode + " registration"),
        el("pre", {}, cell.runs[mode].log_tail)));
    return blocks.length ? el("div", {}, ...blocks) : null;
  }

  function open(id) {
    const cell = cells.get(id);
    if (!cell) return false;
    body.replaceChildren(
      el("h2", { id: "details-title" }, cell.id),
      repro(cell), facts(cell), el("h3", {}, "Suites"), suitesTable(cell), failing(cell),
      metrics(cell) || "", allTests(cell) || "", registration(cell) || "", freeze(cell) || "", logs(cell) || "",
    );
    if (!dialog.open) dialog.showModal();
    return true;
  }

  function fromHash() {
    const hash = decodeURIComponent(location.hash.slice(1));
    if (hash.startsWith("cell-")) open(hash.slice(5));
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
