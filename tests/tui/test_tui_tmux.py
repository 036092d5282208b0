"""Smoke test through a real terminal: ``pitwall`` inside tmux, driven with send-keys.

Launch the default profile from the launch screen, wait for a checkpoint, switch to it, quit,
start ``pitwall`` again and find the run there with the switch it was given.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import kill_all_runs

TMUX = shutil.which("tmux")
PITWALL = Path(sys.executable).with_name("pitwall")
pytestmark = [pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
              pytest.mark.timeout(240)]


class Tmux:
    def __init__(self, cwd: Path):
        self.socket = "pitwall-test-%d" % os.getpid()
        self.cwd = cwd

    def run(self, *args: str) -> str:
        out = subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True,
                             timeout=20)
        return out.stdout

    def start(self, name: str) -> None:
        cmd = "cd %s && %s; echo PITWALL-EXITED $?; sleep 120" % (self.cwd, PITWALL)
        self.run("new-session", "-d", "-s", name, "-x", "100", "-y", "30", cmd)
        self.name = name

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.name, *keys)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", self.name, "-l", text)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name)

    def wait(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen()
            if text in s:
                return s
            if time.monotonic() > deadline:
                raise AssertionError("%r not on screen after %.0f s:\n%s" % (text, timeout, s))
            time.sleep(0.2)

    def kill(self) -> None:
        self.run("kill-server")


def test_launch_switch_quit_relaunch_in_tmux(tmp_path):
    runs = tmp_path / "runs"
    tmux = Tmux(tmp_path)
    try:
        tmux.start("first")
        tmux.wait("No runs under this root yet")
        tmux.keys("l")
        tmux.wait("✓ valid")
        tmux.keys("Tab")                               # into the parameter editor
        tmux.type("total_steps=20000")
        tmux.keys("Enter")
        tmux.type("save_every=1")
        tmux.keys("Enter")
        tmux.wait("overrides: total_steps=20000")
        tmux.keys("C-l")
        tmux.wait("1 Metrics")
        (run,) = list(runs.iterdir())
        tmux.keys("3")
        tmux.wait("ckpt_000002048.pth", 90)          # a second checkpoint is listed
        tmux.keys("End", "Enter")                      # the oldest one
        tmux.wait("MANUAL")
        state = json.loads((run / ".checkpoint_state.json").read_text())
        assert state["mode"] == "manual"
        assert state["checkpoint_path"] == str(run / "nn" / "ckpt_000001024.pth")
        tmux.keys("q")
        tmux.wait("PITWALL-EXITED 0")
        # again: the run is there, with its whole history and the switch it was given
        tmux.start("second")
        s = tmux.wait("InvertedPendulum")
        assert "1 run, " in s
        tmux.keys("Enter", "3")
        s = tmux.wait("MANUAL")
        assert "ckpt_000001024.pth" in s
        tmux.keys("q")
        tmux.wait("PITWALL-EXITED 0")
    finally:
        tmux.kill()
        kill_all_runs(runs)
