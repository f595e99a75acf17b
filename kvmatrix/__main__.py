"""One command line for the harness: `python -m kvmatrix COMMAND ARGS...` runs the command COMMAND names,
`python -m kvmatrix COMMAND --help` shows its own options, and its exit status is the command's.

Each command is the `main(argv)` of one module, imported only when it runs; its help and errors still name
the module's own command line until the modules move (issue 32). The modules still run on their own
(`python -m kvmatrix.plan.actions`, ...), as the workflows and older docs call them. docs/running.md
lists the commands as `commands_markdown()` gives them (a host test keeps the two in step).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import NamedTuple

PROG = "python -m kvmatrix"


class Command(NamedTuple):
    module: str  # its `main(argv)` runs the command
    help: str  # one line, for the listing and docs/running.md
    subcommand: tuple[str, ...] = ()  # the module's subcommand it runs (markdown's `render`)


COMMANDS: dict[str, Command] = {
    "plan": Command("kvmatrix.plan.actions",
                    "print the CI plan of a pins file as GitHub Actions outputs (`matrix=`, `cells=`)"),
    "toxgen": Command("kvmatrix.plan.toxgen", "write tox.ini from pins.toml (`--check`: only say whether it is up to date)"),
    "cell": Command("kvmatrix.run.cell_cli",
                    "run one cell (of pins.toml, resolved pins or an exact pair) and write its result"),
    "inputs": Command("kvmatrix.run.inputs_cli",
                      "a cell's inputs key, and whether its previous result can be reused or cached"),
    "one-test": Command("kvmatrix.run.one_test", "re-run one suite test alone in one pair, printing pytest's full traceback"),
    "markdown": Command("kvmatrix.render.markdown", "render a matrix.json (and its cell details) as Markdown", ("render",)),
    "verified": Command("kvmatrix.render.verified",
                        "write the verified pins bundled with kvcc (compat/verified.json) from uses.json"),
    "rerender": Command("kvmatrix.publish.rerender",
                        "re-derive the causes of published folders and re-render them with today's code (`--write`)"),
    "recover": Command("kvmatrix.publish.report_set", "finish or undo an interrupted publish in report folders", ("recover",)),
    "bisect": Command("kvmatrix.bisect.run", "find the release at which one test's verdict changes"),
    "changes": Command("kvmatrix.bisect.changes", "tabulate which tests changed verdict at which release"),
}


def listing() -> str:
    """What `python -m kvmatrix --help` prints: every command with its help line."""
    width = max(map(len, COMMANDS))
    lines = [f"usage: {PROG} COMMAND [ARGS...]", "",
             f"The harness's commands; `{PROG} COMMAND --help` shows a command's own options.", "",
             "commands:"]
    lines += [f"  {name:<{width}}  {command.help}" for name, command in COMMANDS.items()]
    return "\n".join(lines)


def commands_markdown() -> str:
    """The commands as docs/running.md lists them: a Markdown table."""
    rows = [f"| `{PROG} {name}` | {command.help} | `{module_command(command)}` |"
            for name, command in COMMANDS.items()]
    return "\n".join(["| Command | What it does | Also runs as |", "| --- | --- | --- |", *rows])


def module_command(command: Command) -> str:
    """The module's own command line for `command`, e.g. `python -m kvmatrix.publish.report_set recover`."""
    return " ".join((f"python -m {command.module}", *command.subcommand))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named by the first argument with the rest; returns its exit status (2 without one,
    or for a name that is not a command)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(listing(), file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    name, *rest = args
    command = COMMANDS.get(name)
    if command is None:
        print(f"{PROG}: unknown command {name!r}; the commands are {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    return importlib.import_module(command.module).main([*command.subcommand, *rest])


if __name__ == "__main__":
    raise SystemExit(main())
