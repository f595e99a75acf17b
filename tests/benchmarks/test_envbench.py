"""benchmarks.envbench: the link floor hard-links the same files."""

from __future__ import annotations

from benchmarks.envbench import link_tree


def test_the_link_floor_hard_links_the_same_files(tmp_path) -> None:
    source = tmp_path / "env"
    (source / "lib").mkdir(parents=True)
    (source / "lib" / "module.py").write_text("x = 1\n")
    assert link_tree(source, tmp_path / "copy")["total_s"] >= 0
    assert (tmp_path / "copy" / "lib" / "module.py").stat().st_ino == (source / "lib" / "module.py").stat().st_ino
