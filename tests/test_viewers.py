"""Viewers started through the core: at the first checkpoint, by a waiter that outlives the CLI."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import TEST_PROFILES, text_of, wait_until
from runners.protocol import read_viewer_status
from tui.core.launch import launch
from tui.core.registry import load_run
from tui.core.viewers import start_viewer_at_first_checkpoint


def test_launch_play_starts_a_viewer_at_the_first_checkpoint_after_the_cli_exited(runs_root):
    out = subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(runs_root), "launch",
                          "mujoco/inverted_pendulum", "total_steps=12000", "save_every=1",
                          "--play", "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    run = runs_root / json.loads(out.stdout)["run"]
    ack = wait_until(lambda: read_viewer_status(run, "viewer-1"), timeout=90,
                     what="viewer-1 acks")
    wait_until(lambda: (read_viewer_status(run, "viewer-1").checkpoint_path or "")
               .endswith(".pth"), timeout=60, what="viewer loads a checkpoint")
    assert ack.pid > 0
    log = text_of(run / "logs" / "pitwall.log")
    assert "will start at the first checkpoint" in log and "first checkpoint: started viewer-1" \
        in log


def test_the_waiter_gives_up_when_the_run_ends_without_a_checkpoint(runs_root, monkeypatch):
    monkeypatch.setenv("PITWALL_CONFIGS", str(TEST_PROFILES))
    res = launch("one_role", ["exit_after=0.5"], runs_root)
    waiter = start_viewer_at_first_checkpoint(res.run_dir, "none")
    assert waiter.wait(30) == 1
    assert "ended before its first checkpoint" in text_of(res.run_dir / "logs" / "pitwall.log")
    assert load_run(res.run_dir).viewers == []


def test_a_viewer_that_cannot_start_leaves_no_claimed_name(runs_root, monkeypatch):
    import pytest

    from tui.core.viewers import ViewerError, start_viewer

    monkeypatch.setenv("PITWALL_CONFIGS", str(TEST_PROFILES))
    res = launch("stubborn", [], runs_root)          # a profile without a play command
    with pytest.raises(ViewerError, match="no play command"):
        start_viewer(res.run_dir, "none")
    assert not (res.run_dir / "logs" / "viewer-1.log").exists()
    assert load_run(res.run_dir).viewers == []
