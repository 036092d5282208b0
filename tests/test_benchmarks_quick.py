"""Every benchmark runs in its quick mode, so none can rot (issue 15, item 10).

Parametrized over the ``benchmarks/bench_*.py`` files found, so a new benchmark is covered the
day it is added. Each runs as a subprocess with ``--quick`` (tiny sizes, seconds), must exit 0
and print its results as a table (Markdown, or text with a dashed rule under the header). A
benchmark that lists ``OPTIONAL_DEPENDENCIES`` (an extra: ``bench``, ``jax``, ``serl``) is
skipped, saying which, when one is not installed.
"""
from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

BENCHMARKS = sorted((REPO / "benchmarks").glob("bench_*.py"))


def optional_dependencies(path: Path) -> list[str]:
    """The module-level ``OPTIONAL_DEPENDENCIES = [...]`` of a benchmark (read, not run)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "OPTIONAL_DEPENDENCIES" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return []


def tables(text: str) -> list[list[list[str]]]:
    """The tables in ``text``, as rows of cells: a Markdown table (header, ``|---|`` rule, rows
    of as many cells; what ``benchmarks/markdown_table.py`` prints) or a text table (header, a
    rule of dash runs under its columns, rows)."""
    lines = [ln.rstrip() for ln in text.splitlines()]
    out = []
    for i in range(len(lines) - 2):
        head, rule = lines[i].strip(), lines[i + 1].strip()
        if head.startswith("|") and head.endswith("|") and rule.startswith("|-"):
            n = head.count("|")
            if rule.count("|") != n or set(rule) - set("|-: "):
                continue
            rows = []
            for ln in lines[i + 2:]:
                ln = ln.strip()
                if not (ln.startswith("|") and ln.count("|") == n):
                    break
                rows.append([c.strip() for c in ln.strip("|").split("|")])
        elif rule and not set(rule) - set("- ") and len(rule.split()) >= 2 \
                and len(head.split()) >= 2:
            rows = []
            for ln in lines[i + 2:]:
                if not ln.strip():
                    break
                rows.append(ln.split())
        else:
            continue
        if rows:
            out.append(rows)
    return out


def test_benchmarks_are_found():
    assert len(BENCHMARKS) >= 8, BENCHMARKS


def test_tables_are_recognised():
    good = "title\n\n| a | b |\n|---|--:|\n| x | 1 |\n| y | 2 |\nfooter\n"
    assert tables(good) == [[["x", "1"], ["y", "2"]]]
    assert tables("env  steps/s\n---  -------\nAnt  2600\n\n") == [[["Ant", "2600"]]]
    assert tables("| a | b |\n|---|---|\n") == []        # no data row
    assert tables("a  b\nx  1\n") == []                  # not a table


@pytest.mark.parametrize("bench", BENCHMARKS, ids=[b.stem for b in BENCHMARKS])
def test_benchmark_quick_mode(bench: Path, tmp_path: Path):
    missing = [m for m in optional_dependencies(bench) if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip("%s needs %s, not installed (an extra of pyproject.toml; make test "
                    "installs them)" % (bench.name, ", ".join(missing)))
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONUNBUFFERED="1")
    out = subprocess.run([sys.executable, str(bench), "--quick"], cwd=str(tmp_path), env=env,
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, "%s --quick exited %d\n%s\n%s" % (
        bench.name, out.returncode, out.stdout[-3000:], out.stderr[-3000:])
    assert tables(out.stdout), "%s printed no table:\n%s" % (bench.name, out.stdout)
