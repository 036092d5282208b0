"""Chaos fixtures: real runs of the default profile, the real CLI, a small real filesystem.

Every test here does to real processes and files what an unkind user or a failing machine
would (issue 15): nested or huge JSON, steps beyond 64 bits, records deleted under a live run,
a full disk. Processes left alive, even ones whose records were deleted, are killed at
teardown (found by ``PITWALL_RUN_DIR`` in their environment).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import kill_all_runs, wait_until

PROFILE = "mujoco/inverted_pendulum"


def pw(root: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    """``pitwall ARGS --root ROOT`` as a user types it (the global option after the command)."""
    return subprocess.run([sys.executable, "-m", "tui.cli", *args, "--root", str(root)],
                          capture_output=True, text=True, timeout=timeout)


def one_line_error(out: subprocess.CompletedProcess) -> str:
    """The CLI failed with one line on stderr and no traceback; returns that line."""
    assert out.returncode != 0, out.stdout
    assert "Traceback" not in out.stderr, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, out.stderr
    return lines[0]


def launch(root: Path, *overrides: str) -> Path:
    out = pw(root, "launch", PROFILE, *overrides, "--json")
    assert out.returncode == 0, out.stderr
    return root / json.loads(out.stdout)["run"]


def status(root: Path, run: Path) -> dict:
    rows = json.loads(pw(root, "ls", "--json").stdout)
    return next(r for r in rows if r["name"] == run.name)


def kill_run_processes(root: Path) -> None:
    """Kill what still runs under ``root``: by records, and by environment (no record)."""
    from tui.core.run_processes import groups, live_found, scan

    kill_all_runs(root)
    found = [p for p in live_found(scan(max_age=0).found)
             if Path(p.run_dir).resolve().is_relative_to(root.resolve())]
    for pgid in groups(found):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass


@pytest.fixture
def chaos_root(tmp_path: Path):
    root = tmp_path / "runs"
    root.mkdir()
    yield root
    kill_run_processes(root)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A finished real training of the default profile: 2 updates, a checkpoint after each.
    Read-only: tests work on copies (:func:`copy_run`)."""
    root = tmp_path_factory.mktemp("trained") / "runs"
    root.mkdir()
    try:
        run = launch(root, "total_steps=2048", "num_envs=4", "rollout_steps=256",
                     "save_every=1")
        from tui.core.registry import load_run

        wait_until(lambda: not load_run(run).live, timeout=120, poll=0.2,
                   what="the training to end")
        assert load_run(run).status == "finished", (run / "logs" / "train.log").read_text()
    finally:
        kill_run_processes(root)
    return run


def copy_run(src: Path, root: Path, suffix: int) -> Path:
    """A copy of a finished run under ``root`` named ``<name>-<suffix>`` (a collision name)."""
    dst = root / ("%s-%d" % (src.name, suffix))
    shutil.copytree(src, dst)
    return dst


class SmallDisk(object):
    """A tmpfs of a few MiB mounted for one test (root only), and a way to fill it up."""

    def __init__(self, path: Path):
        self.path = path
        self.filler = path / ".filler"

    def fill(self) -> None:
        """Take every free byte: a file grown until ENOSPC, down to the last partial page."""
        fd = os.open(str(self.filler), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            for size in (1 << 16, 4096, 512, 1):
                try:
                    while os.write(fd, b"\0" * size):
                        pass
                except OSError:
                    pass
        finally:
            os.close(fd)

    def free(self) -> None:
        try:
            self.filler.unlink()
        except FileNotFoundError:
            pass


@pytest.fixture
def small_disk(tmp_path: Path):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk is simulated with a tmpfs mount, which needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % r.stderr.strip())
    disk = SmallDisk(mnt)
    try:
        yield disk
    finally:
        kill_run_processes(mnt)
        disk.free()
        for _ in range(50):
            if subprocess.run(["umount", str(mnt)], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
