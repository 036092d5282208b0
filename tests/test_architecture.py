"""The layering the style guide asks for, enforced."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_import_contracts_hold():
    """import-linter: runners never import tui; tui.core and runners never import Textual; the
    TUI's layers import one way (app, commands, screens, widgets, messages: no circle)."""
    exe = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(exe), "--no-cache"], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    import re

    kept = re.search(r"Contracts: (\d+) kept, 0 broken\.", out.stdout)
    assert kept and int(kept.group(1)) >= 5, out.stdout[-2000:]


SHARED = {"protocol", "sdk", "adapters", "rendering"}   # what every backend stands on


def test_every_backend_is_in_the_no_backend_import_contracts():
    """A new backend under runners/ must be named in both contracts, or they protect nothing."""
    import tomllib

    backends = {"runners." + p.parent.name for p in (REPO / "runners").glob("*/__init__.py")
                if p.parent.name not in SHARED}
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"]
    guarded = [c for c in contracts if "backend" in c["name"]]
    assert len(guarded) == 2
    for c in guarded:
        assert backends <= set(c["forbidden_modules"]), (c["name"], backends)


def test_core_and_runners_import_without_textual():
    """Deferred imports count too: loading every core and runner module pulls in no Textual."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import tui.core, runners\n"
        "for pkg in (tui.core, runners):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if m.name.endswith('__main__'):\n"
        "            continue\n"
        "        importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('textual', 'rich'))\n"
        "assert not bad, bad\n"
        "import tui.cli\n"
        "tui.cli.build_parser()\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('textual',))\n"
        "assert not bad, 'the CLI must not load Textual for plain commands: %s' % bad[:5]\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]


def test_runners_keep_python_38_syntax():
    """A runner may live in an Isaac Gym environment (Python <= 3.8)."""
    vermin = Path(sys.executable).with_name("vermin")
    out = subprocess.run([str(vermin), "--no-tips", "--violations", "--target=3.8-",
                          "--no-parse-comments", "--backport", "dataclasses", "runners"],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


def test_no_import_cycle_between_core_modules():
    """Deferred imports count: a module of tui.core never reaches back to one importing it."""
    import grimp

    graph = grimp.build_graph("tui", include_external_packages=False)
    core = sorted(m for m in graph.modules if m.startswith("tui.core"))
    cycles = sorted({tuple(sorted((m, b))) for m in core
                     for b in graph.find_modules_directly_imported_by(m)
                     if b.startswith("tui.core") and b != m
                     and graph.chain_exists(importer=b, imported=m)})
    assert not cycles, cycles
