"""The `pitwall` CLI end to end, as a user types it (a separate process each time)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TEST_PROFILES, text_of, wait_until
from runners.protocol import save_checkpoint


def pw(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**__import__("os").environ, "PITWALL_CONFIGS": str(TEST_PROFILES)}
    return subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(root), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def launched(root: Path, *args: str) -> Path:
    out = pw(root, "launch", *args, "--json")
    assert out.returncode == 0, out.stderr
    return root / json.loads(out.stdout)["run"]


def test_launch_ls_logs_stop(runs_root):
    run = launched(runs_root, "one_role", "exit_after=120")
    wait_until(lambda: "tick" in text_of(run / "logs" / "main.log"), what="first output")
    ls = json.loads(pw(runs_root, "ls", "--json").stdout)
    assert [r["name"] for r in ls] == [run.name] and ls[0]["status"] == "running"
    assert ls[0]["roles"]["main"]["state"] == "running"
    table = pw(runs_root, "ls").stdout
    assert run.name in table and "running" in table and "1/1" in table
    logs = pw(runs_root, "logs", "OneRole", "-n", "3")
    assert logs.returncode == 0 and "tick" in logs.stdout
    assert "launched profile one_role" in pw(runs_root, "logs", "OneRole", "pitwall").stdout
    stop = pw(runs_root, "stop", "OneRole")
    assert stop.returncode == 0 and "main: stopped by SIGINT (exit code 0)" in stop.stdout
    assert json.loads(pw(runs_root, "ls", "--json").stdout)[0]["status"] == "stopped"
    assert "main: not running" in pw(runs_root, "stop", "OneRole").stdout


def test_bad_input_gives_one_clear_line(runs_root):
    out = pw(runs_root, "launch", "one_role", "code=three")
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "one_role.yaml" in out.stderr and "params.code expects an integer" in out.stderr
    out = pw(runs_root, "launch", "one_rol")
    assert out.returncode == 2 and "Did you mean" in out.stderr
    out = pw(runs_root, "stop", "NoSuchRun")
    assert out.returncode == 2 and "no run 'NoSuchRun'" in out.stderr
    assert list(runs_root.iterdir()) == []


def test_ckpt_lists_switches_and_refuses(runs_root):
    run = launched(runs_root, "one_role", "exit_after=0.2")
    for step in (10, 20, 100):
        save_checkpoint(run, lambda f: f.write(b"weights"), step, metrics={"r/ret": step * 1.0})
    listing = pw(runs_root, "ckpt", run.name)
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert lines[0] == "mode: auto (no state file)"
    assert [ln.split()[0] for ln in lines[2:]] == ["ckpt_000000010.pth", "ckpt_000000020.pth",
                                                   "ckpt_000000100.pth", "latest.pth"]
    out = pw(runs_root, "ckpt", run.name, "--use", "20")
    assert out.returncode == 0 and "manual" in out.stdout and "seq 1" in out.stdout
    state = json.loads((run / ".checkpoint_state.json").read_text())
    assert state["checkpoint_path"] == str(run / "nn" / "ckpt_000000020.pth")
    out = pw(runs_root, "ckpt", run.name, "--use", "/etc/passwd")
    assert out.returncode == 2 and "outside the run directory" in out.stderr
    out = pw(runs_root, "ckpt", run.name, "--use", "ckpt_999.pth")
    assert out.returncode == 2 and "no checkpoint 'ckpt_999.pth'" in out.stderr
    out = pw(runs_root, "ckpt", run.name, "--auto")
    assert out.returncode == 0 and "seq 2" in out.stdout
    (run / ".checkpoint_state.json").write_text("{torn")
    listing = pw(runs_root, "ckpt", run.name)
    assert "state file unreadable" in listing.stdout and "not valid JSON" in listing.stdout
    data = json.loads(pw(runs_root, "ckpt", run.name, "--json").stdout)
    assert data["checkpoints"][1]["step"] == 20 and data["state"] is None


def test_profiles_lists_shipped_and_test_profiles(runs_root):
    out = pw(runs_root, "profiles", "--json")
    names = {p["name"] for p in json.loads(out.stdout)}
    assert {"one_role", "two_roles", "mujoco/inverted_pendulum"} <= names


def test_ls_survives_a_closed_pipe(runs_root):
    """`pitwall ls | head -1` on a big root: no traceback, no 'Exception ignored' noise."""
    for i in range(1500):
        d = runs_root / ("Broken_2026-01-01_00-00-00-%d" % (i + 2))
        d.mkdir()
        (d / "run.json").write_text("{}")
    env = {**__import__("os").environ, "PITWALL_CONFIGS": str(TEST_PROFILES)}
    p = subprocess.run("%s -m tui.cli --root %s ls | head -n 1" % (sys.executable, runs_root),
                       shell=True, capture_output=True, text=True, env=env, timeout=120)
    assert p.stdout.startswith("RUN ") and p.stderr == ""


def test_stop_with_viewers_and_delete(runs_root):
    run = launched(runs_root, "one_role", "exit_after=120")
    out = pw(runs_root, "play", run.name, "--display", "none")
    assert out.returncode == 0, out.stdout + out.stderr
    wait_until(lambda: "tick" in text_of(run / "logs" / "viewer-1.log"), what="viewer output")
    assert " 1/1+1 " in pw(runs_root, "ls").stdout        # the role and its live viewer
    refused = pw(runs_root, "delete", run.name, "--yes")
    assert refused.returncode == 2 and "still has live processes" in refused.stderr
    assert pw(runs_root, "delete", run.name).returncode == 2  # no terminal, no --yes: refused
    stop = pw(runs_root, "stop", run.name, "--viewers")
    assert "main: stopped" in stop.stdout and "viewer-1: stopped" in stop.stdout
    assert run.exists()
    gone = pw(runs_root, "delete", run.name, "--yes")
    assert gone.returncode == 0 and not run.exists()
    assert [p.name for p in runs_root.iterdir()] == []
