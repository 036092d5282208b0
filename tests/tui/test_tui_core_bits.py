"""UI-free pieces the TUI builds on: process stats, log following and search, key=value
parameters, deleting runs, the keymap file."""
from __future__ import annotations

import datetime as _dt
import subprocess
import sys
import time

import psutil
import pytest

from tui.core.logs import LogFollower, find_line, is_error_line
from tui.core.overrides import OverrideError, overrides_from_text, params_text
from tui.core.proc_stats import ProcStats
from tui.core.run_control import ControlError, delete_run
from tui.keymap import KeymapError, load_keymap

from tui_testing import make_run, sleeper


def test_proc_stats_measure_a_busy_process():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        ct = psutil.Process(busy.pid).create_time()
        stats = ProcStats()
        first = stats.sample(busy.pid, ct)
        assert first.alive and first.cpu_percent is None  # one look gives no rate yet
        used0 = sum(psutil.Process(busy.pid).cpu_times()[:2])
        time.sleep(1.0)
        s = stats.sample(busy.pid, ct)
        used = sum(psutil.Process(busy.pid).cpu_times()[:2]) - used0
        # percent of a core, whatever share of the box the busy loop got (a loaded CI box)
        assert s.alive and s.cpu_percent is not None and s.cpu_percent > 1
        assert abs(s.cpu_percent - 100.0 * used) < 30, (s.cpu_percent, used)
        assert s.rss is not None and s.rss > 1_000_000 and s.uptime_s > 0.9
        assert not stats.sample(busy.pid, ct + 100).alive   # another create_time: not ours
    finally:
        busy.kill()
        busy.wait()
    assert not ProcStats().sample(busy.pid, ct).alive


def test_log_follower_backlog_appends_and_partial_lines(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("".join("line %d\n" % i for i in range(50)) + "partial")
    f = LogFollower(log, backlog=10, poll=0.02).start()
    try:
        deadline = time.monotonic() + 3
        got = []
        while len(got) < 10 and time.monotonic() < deadline:
            got += f.drain()
            time.sleep(0.02)
        assert got == ["line %d" % i for i in range(40, 50)]   # no partial line yet
        with open(log, "a") as fh:
            fh.write(" end\nTraceback (most recent call last):\n")
        while len(got) < 12 and time.monotonic() < deadline:
            got += f.drain()
            time.sleep(0.02)
        assert got[10:] == ["partial end", "Traceback (most recent call last):"]
    finally:
        f.stop()
    assert find_line(got, 0, is_error_line) == 11
    assert find_line(got, 11, is_error_line) == 11          # wraps around to itself
    assert find_line(got, 5, lambda s: "line 4" in s, forward=False) == 4
    assert is_error_line("ValueError: bad") and is_error_line("error: no such file")
    assert not is_error_line("update 3 step 1024 ep_return 5.0")


def test_params_text_round_trip_and_errors():
    params = {"total_steps": 1000, "ppo": {"lr": 0.0003, "hidden": [64, 64]}, "name": "x"}
    text = params_text(params)
    assert "ppo.lr=0.0003\n" in text and "ppo.hidden=[64, 64]\n" in text
    assert overrides_from_text(text, params) == []
    edited = "total_steps=20\n" + text.replace("ppo.lr=0.0003", "ppo.lr=0.001") + "+extra=1\n"
    assert overrides_from_text(edited, params) == ["total_steps=20", "ppo.lr=0.001", "+extra=1"]
    with pytest.raises(OverrideError, match="line 2"):
        overrides_from_text("total_steps=3\nnot a pair\n", params)


def test_delete_run_refuses_a_live_run_and_removes_a_dead_one(tmp_path):
    when = _dt.datetime(2026, 1, 1, 9, 0, 0)
    proc = sleeper()
    try:
        live = make_run(tmp_path, "Live", when, outcome="running", proc=proc)
        with pytest.raises(ControlError, match="live processes: train"):
            delete_run(live)
        assert live.is_dir()
    finally:
        proc.kill()
        proc.wait()
    dead = make_run(tmp_path, "Dead", when, outcome="failed")
    delete_run(dead)
    assert not dead.exists() and not any(p.name.startswith(".deleting") for p in tmp_path.iterdir())


def test_keymap_file_validation(tmp_path):
    known = {"runs.launch": "Launch", "app.quit": "Quit"}
    path = tmp_path / "keymap.yaml"
    path.write_text("runs.launch: ctrl+n\napp.quit: [q, ctrl+q]\n")
    assert load_keymap(path, known) == {"runs.launch": "ctrl+n", "app.quit": "q,ctrl+q"}
    path.write_text("runs.lanch: n\n")
    with pytest.raises(KeymapError) as e:
        load_keymap(path, known)
    assert str(path) in str(e.value) and "'runs.lanch'" in str(e.value)
    assert "runs.launch" in str(e.value)   # the hint and the known ids
    path.write_text("runs.launch: {a: 1}\n")
    with pytest.raises(KeymapError, match="runs.launch"):
        load_keymap(path, known)
    assert load_keymap(tmp_path / "missing.yaml", known) == {}
