"""Launch, readiness order, exit records without a control center, liveness, stop, restart."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from conftest import text_of, wait_until
from runners.protocol import (ProcRecord, read_history, read_proc_record, read_run_record,
                              write_proc_record)
from tui.core.launch import launch
from tui.core.liveness import is_alive
from tui.core.profiles import ProfileError
from tui.core.registry import Registry, RunNotFound, load_run, resolve_run
from tui.core.run_control import restart, stop_run


def role(run, name):
    return load_run(run).role(name)


def test_roles_start_in_order_after_readiness(runs_root, test_profiles):
    res = launch("two_roles", [], runs_root)
    run = res.run_dir
    wait_until(lambda: role(run, "actor").state == "running", what="actor running")
    learner, actor = read_proc_record(run, "learner"), read_proc_record(run, "actor")
    log = wait_until(lambda: (lambda t: t if "started actor" in t else None)(
        text_of(run / "logs" / "pitwall.log")), what="the starter's log line")
    assert log.index("learner is ready") < log.index("started actor")
    assert learner.pgid == learner.pid and actor.pgid == actor.pid != learner.pgid
    assert psutil.Process(learner.pid).terminal() is None  # own session, no controlling tty
    rec = read_run_record(run)
    assert [p.role for p in rec.processes] == ["learner", "actor"]
    assert rec.host and rec.created_at and rec.params["exit_after"] == 60.0
    info = load_run(run)
    assert info.status == "running" and all(r.alive for r in info.roles)


def test_exit_is_recorded_with_no_control_center_alive(runs_root, test_profiles):
    """The launching process exits at once; the wrapper still records exit code 3."""
    out = subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(runs_root), "launch",
                          "one_role", "exit_after=1.0", "code=3", "--json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    run = runs_root / json.loads(out.stdout)["run"]
    rec = wait_until(lambda: (lambda r: r if r and r.ended else None)(read_proc_record(run, "main")),
                     what="exit record")
    assert rec.exit_code == 3 and rec.signal is None
    info = load_run(run)
    assert info.status == "failed" and info.exit_code == 3 and info.status_text() == "failed (3)"
    assert read_history(run)[-1].exit_code == 3


def test_killing_the_launching_process_leaves_the_run_running(runs_root, test_profiles):
    code = ("import sys, time; from pathlib import Path; from tui.core.launch import launch; "
            "r = launch('one_role', [], Path(sys.argv[1])); print(r.run_dir, flush=True); "
            "time.sleep(300)")
    tui_like = subprocess.Popen([sys.executable, "-c", code, str(runs_root)],
                                stdout=subprocess.PIPE, text=True, start_new_session=True)
    run_dir = tui_like.stdout.readline().strip()
    os.killpg(tui_like.pid, signal.SIGKILL)
    tui_like.wait(10)
    rec = read_proc_record(run_dir, "main")
    time.sleep(0.5)
    assert is_alive(rec.pid, rec.create_time)
    assert Registry(runs_root).refresh()[0].status == "running"


def test_reused_pid_and_zombies_are_not_alive(runs_root, tmp_path):
    run = runs_root / "Fake_2026-01-01_00-00-00"
    (run / "procs").mkdir(parents=True)
    me = psutil.Process()
    write_proc_record(run, ProcRecord(role="train", kind="train", pid=me.pid, pgid=me.pid,
                                      create_time=me.create_time() - 100.0, started_at="t"))
    assert not is_alive(me.pid, me.create_time() - 100.0)  # same pid, another process
    assert is_alive(me.pid, me.create_time())
    z = subprocess.Popen([sys.executable, "-c", "pass"])
    ct = psutil.Process(z.pid).create_time()
    wait_until(lambda: psutil.Process(z.pid).status() == psutil.STATUS_ZOMBIE, what="zombie")
    assert not is_alive(z.pid, ct)
    z.wait()


def test_registry_reports_lost_for_a_reused_pid(runs_root, test_profiles):
    res = launch("one_role", [], runs_root)
    run = res.run_dir
    rec = wait_until(lambda: read_proc_record(run, "main"))
    os.killpg(rec.pgid, signal.SIGKILL)
    wait_until(lambda: read_proc_record(run, "main").ended, what="exit record")
    # forge what a crash of the whole machine leaves: a start record only, with a pid that now
    # belongs to another process (ours)
    me = psutil.Process()
    forged = read_proc_record(run, "main")
    forged.exited_at, forged.signal = None, None
    forged.pid, forged.create_time = me.pid, me.create_time() - 50
    forged.wrapper_pid = 0
    write_proc_record(run, forged)
    info = load_run(run)
    assert info.status == "lost" and "no exit was recorded" in info.error


def test_stop_escalates_and_goes_in_reverse_order(runs_root, test_profiles):
    res = launch("two_roles", [], runs_root)
    run = res.run_dir
    wait_until(lambda: "tick" in text_of(run / "logs" / "actor.log"), what="actor ticking")
    outcomes = stop_run(run)
    assert [o.role for o in outcomes] == ["actor", "learner"]
    assert all(o.stopped_by == "SIGINT" and o.exit_code == 0 for o in outcomes)
    info = load_run(run)
    assert info.status == "stopped" and [r.state for r in info.roles] == ["stopped", "stopped"]
    assert "interrupted" in (run / "logs" / "learner.log").read_text()


def test_stop_kills_a_process_that_ignores_sigint(runs_root, test_profiles):
    res = launch("stubborn", [], runs_root)
    rec = wait_until(lambda: read_proc_record(res.run_dir, "main"))
    wait_until(lambda: "tick" in text_of(res.run_dir / "logs" / "main.log"))
    (out,) = stop_run(res.run_dir)
    assert out.stopped_by == "SIGTERM" and out.signal == signal.SIGTERM
    assert not is_alive(rec.pid, rec.create_time)
    assert load_run(res.run_dir).status == "stopped"


def test_failed_readiness_stops_the_roles_already_started(runs_root, test_profiles):
    res = launch("never_ready", [], runs_root)
    run = res.run_dir
    info = wait_until(lambda: (lambda i: i if i.status not in ("starting", "running") else None)(
        load_run(run)), timeout=30, what="start to fail")
    assert info.status == "failed"
    states = {r.role: r.state for r in info.roles}
    assert states["first"] == "stopped" and states["second"] == "stopped"
    assert states["third"] == "failed" and "not ready after" in info.roles[2].error
    assert read_proc_record(run, "third") is None


def test_restart_starts_a_new_attempt(runs_root, test_profiles):
    res = launch("one_role", [], runs_root)
    first = wait_until(lambda: read_proc_record(res.run_dir, "main"))
    restart(res.run_dir).wait(30)
    second = wait_until(lambda: (lambda r: r if r and r.attempt == 2 else None)(
        read_proc_record(res.run_dir, "main")), what="attempt 2")
    assert second.pid != first.pid and is_alive(second.pid, second.create_time)
    assert load_run(res.run_dir).status == "running"
    assert [h.attempt for h in read_history(res.run_dir)] == [1]


def test_bad_override_starts_nothing(runs_root, test_profiles):
    with pytest.raises(ProfileError, match=r"one_role\.yaml.*params\.code expects an integer"):
        launch("one_role", ["code=three"], runs_root)
    assert list(runs_root.iterdir()) == []


def test_resolve_run_by_prefix_takes_the_newest(runs_root):
    for name in ("Ant_2026-01-01_00-00-00", "Ant_2026-03-01_00-00-00", "Hum_2026-05-01_00-00-00"):
        (runs_root / name).mkdir()
        (runs_root / name / "run.json").write_text("{}")
    assert resolve_run(runs_root, "Ant").name == "Ant_2026-03-01_00-00-00"
    assert resolve_run(runs_root, "Ant_2026-01").name == "Ant_2026-01-01_00-00-00"
    with pytest.raises(RunNotFound, match="no run 'Bee'"):
        resolve_run(runs_root, "Bee")
    infos = Registry(runs_root).refresh()
    assert [i.status for i in infos] == ["invalid"] * 3
    assert "run.json" in infos[0].error
