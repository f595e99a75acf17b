"""The README a newcomer reads in one screen: its set-up commands near the top, at most three badges that
exist, few words, every link resolving, and every figure it quotes taken from or checked against the
published reports and benchmarks/RESULTS.md, never typed by hand and left to go stale."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

from kvmatrix.publish.publish_run import README_END, README_START, embed_in_readme

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS = ("python3 -m pip install nox uv && python3 -m nox -s matrix",
            "python3 -m pip install nox uv && python3 -m nox -t tests")
WRITTEN = README.partition(README_START)[0] + README.partition(README_END)[2]
"""The README without its generated block."""


def test_the_two_set_up_commands_are_within_the_first_60_lines() -> None:
    lines = README.splitlines()
    assert all(any(command in line for line in lines[:60]) for command in COMMANDS)


def test_it_has_at_most_three_badges_each_a_published_badge_file() -> None:
    badges = re.findall(r"\[!\[[^\]]*\]\((https://img\.shields\.io/endpoint\?url=[^)]+)\)", README)
    assert 0 < len(badges) <= 3
    for url in badges:
        name = unquote(url).rsplit("/reports/badges/", 1)[1]
        assert (ROOT / "reports" / "badges" / name).is_file(), name


def test_it_is_short() -> None:
    assert len(README.split()) < 2500


def test_every_relative_link_resolves() -> None:
    targets = [target.split("#")[0] for target in re.findall(r"\]\(([^)\s]+)\)", README)
               if not target.startswith(("http://", "https://", "#"))]
    assert targets and [target for target in targets if not (ROOT / target).exists()] == []


def test_its_generated_block_is_what_the_published_answers_give() -> None:
    matrix = json.loads((ROOT / "reports" / "matrix.json").read_text(encoding="utf-8"))
    uses = json.loads((ROOT / "reports" / "uses.json").read_text(encoding="utf-8"))
    assert embed_in_readme(README, matrix, uses) == README


def test_every_figure_it_quotes_is_checked_against_the_reports_or_the_benchmark_results() -> None:
    """A count of pinned pairs is the published matrix's; a duration, share or speed-up is one that
    benchmarks/RESULTS.md records. A figure of another kind must get a rule here before it can be quoted."""
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    cells = len(json.loads((ROOT / "reports" / "matrix.json").read_text(encoding="utf-8"))["cells"])
    text = re.sub(r"`[^`]*`", "", WRITTEN)  # commands and names, not figures
    text = re.sub(r"\]\([^)]*\)|https?://\S+", "", text)  # link targets
    text = re.sub(r"\b(?:Python|torch|transformers) \d+(?:\.\d+)+\+?", "", text)  # version floors
    pairs = [int(number) for number in re.findall(r"\b(\d+) pinned pairs", text)]
    assert pairs == [cells] * len(pairs)
    text = re.sub(r"\b\d+ pinned pairs", "", text)
    timed = re.findall(r"\b\d+(?:\.\d+)? ?(?:s|min|%|×)(?!\w)", text)
    assert [figure for figure in timed if figure not in results] == []
    assert re.findall(r"\b\d+(?:\.\d+)?\b", re.sub(r"\b\d+(?:\.\d+)? ?(?:s|min|%|×)(?!\w)", "", text)) == []
