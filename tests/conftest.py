"""Shared test fixtures: a runs root per test, and no process left behind."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
TEST_PROFILES = FIXTURES / "profiles"
REPO = Path(__file__).resolve().parents[1]


def wait_until(cond: Callable[[], object], timeout: float = 20.0, poll: float = 0.05,
               what: str = "condition") -> object:
    """Poll ``cond`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(poll)


def text_of(path: Path) -> str:
    """A file's text, or "" while it does not exist yet."""
    try:
        return Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return ""


@pytest.fixture
def runs_root(tmp_path: Path):
    """A fresh runs root; every run still alive under it is killed at teardown."""
    root = tmp_path / "runs"
    root.mkdir()
    yield root
    kill_all_runs(root)


def kill_all_runs(root: Path) -> None:
    import signal

    from runners.protocol import list_proc_roles, read_proc_record

    from tui.core.liveness import is_alive

    for run in root.iterdir() if root.exists() else []:
        for role in list_proc_roles(run):
            try:
                rec = read_proc_record(run, role)
            except Exception:
                continue
            if rec and rec.pid > 0 and is_alive(rec.pid, rec.create_time):
                try:
                    os.killpg(rec.pgid, signal.SIGKILL)
                except OSError:
                    pass


@pytest.fixture
def test_profiles(monkeypatch) -> Path:
    """Profiles of tests/fixtures/profiles are found by name (and the shipped ones too)."""
    monkeypatch.setenv("PITWALL_CONFIGS", str(TEST_PROFILES))
    return TEST_PROFILES
