"""Compare, zoom and the machine view: the core pieces on their own, then the keys in a pilot
at 80x24 (marking runs, a whole sweep, sorting the table, zooming and panning a plot), and the
GPU monitor with a fake NVML (two GPUs) and, for real, on this box without a driver."""
from __future__ import annotations

import asyncio
import datetime as _dt
import json
import os
import subprocess
import sys

import psutil
import pytest

from runners.protocol import read_run_record, write_run_record
from tui.app import PitwallApp
from tui.core.compare_model import CompareRow, differing, sort_rows
from tui.core.gpu_monitor import GpuMonitor, GpuProcess
from tui.core.plot_window import XWindow
from tui.core.run_view_model import RunsModel
from tui.core.system_model import match_gpu_processes

from tui_testing import FROZEN, FakeNvml, FixedHost, NoNvml, make_run, sleeper, wait_for


# ====================================================================== core

def test_x_window_zooms_about_the_newest_end_pans_and_clamps():
    w = XWindow().zoom(0.5)
    assert (w.lo, w.hi) == (0.5, 1.0) and w.follows and w.describe() == "2x"
    w = w.zoom(0.5).pan(-1)                      # 4x, then a quarter of a width left
    assert w.hi == pytest.approx(1 - 0.25 * 0.25) and not w.follows
    assert w.span(0.0, 100.0) == pytest.approx((68.75, 93.75))
    for _ in range(20):
        w = w.pan(-1)
    assert w.lo == 0.0 and w.hi == pytest.approx(0.25)          # stops at the left end
    assert XWindow().zoom(2).zoom(2) == XWindow()               # cannot zoom out past all
    w = XWindow(0.2, 0.4).zoom(0.5)                             # about the centre
    assert (w.lo, w.hi) == (pytest.approx(0.25), pytest.approx(0.35))


def test_differing_params_and_sorting_with_missing_values_last():
    keys, same = differing([{"lr": 3e-4, "ppo": {"clip": 0.2}, "seed": 0},
                            {"lr": 1e-3, "ppo": {"clip": 0.2}, "seed": 0},
                            {"lr": 1e-3, "ppo": {"clip": 0.1}}])
    assert keys == ["lr", "ppo.clip", "seed"] and same == 0
    rows = [CompareRow("a", None, "", "", "", {"lr": "0.001"}, best=3.0),
            CompareRow("b", None, "", "", "", {"lr": "—"}, best=None),
            CompareRow("c", None, "", "", "", {"lr": "0.0003"}, best=7.0)]
    assert [r.name for r in sort_rows(rows, "best", reverse=True)] == ["c", "a", "b"]
    assert [r.name for r in sort_rows(rows, "best")] == ["a", "c", "b"]
    assert [r.name for r in sort_rows(rows, "lr")] == ["c", "a", "b"]


def test_gpu_processes_belong_to_the_role_whose_process_group_they_are_in():
    """A trainer in its own process group with a child worker; the worker is on the GPU."""
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', " \
           "'import time; time.sleep(60)']); time.sleep(60)"
    lead = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        kids = wait_for_children(lead.pid)
        procs = [GpuProcess(kids[0], 0, 5 << 30, 40.0), GpuProcess(os.getpid(), 1, 1, 1.0)]
        owner = match_gpu_processes(procs, {("run", "train"): (lead.pid, lead.pid)})
        assert [p.pid for p in owner[("run", "train")]] == [kids[0]]   # not ours
    finally:
        os.killpg(lead.pid, 9)
        lead.wait()


def wait_for_children(pid: int) -> list[int]:
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        kids = psutil.Process(pid).children()
        if kids:
            return [k.pid for k in kids]
        time.sleep(0.05)
    raise AssertionError("no child")


def test_gpu_monitor_with_two_fake_gpus_and_without_a_driver(capfd):
    fake = FakeNvml(procs=[(1234, 0, 3 << 30, 55), (1235, 1, None, None)])
    m = GpuMonitor(fake)
    s = m.sample()
    assert [d.name for d in s.devices] == ["NVIDIA H200"] * 2
    g0, g1 = s.devices
    assert (g0.util, g0.temperature, g0.power, g0.power_limit) == (87.0, 62.0, 350.0, 700.0)
    assert g1.power_limit is None                       # "Not Supported" on that device
    assert {(p.pid, p.gpu, p.used_memory, p.sm_util) for p in s.processes} == {
        (1234, 0, 3 << 30, 55.0), (1235, 1, None, None)}
    m.sample()
    assert fake.inits == 1
    # no driver: one reason, no retry, nothing printed
    for nv in (NoNvml(), None):              # None: the real nvidia-ml-py on this machine
        m = GpuMonitor(nv)
        if nv is None and _has_gpu():
            continue
        assert m.sample() is None and m.sample() is None
        assert m.unavailable and "GPU" in m.unavailable
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def _has_gpu() -> bool:
    try:
        import pynvml

        pynvml.nvmlInit()
        return True
    except Exception:
        return False


# ====================================================================== pilot

def _runs(root):
    """Two runs of one sweep, one other run, and a live one."""
    a = make_run(root, "SweepA", _dt.datetime(2026, 3, 14, 10, 0, 0), steps=30)
    b = make_run(root, "SweepB", _dt.datetime(2026, 3, 14, 10, 0, 1), steps=20)
    c = make_run(root, "Other", _dt.datetime(2026, 3, 14, 9, 0, 0), steps=10,
                 profile_name="mujoco/half_cheetah")
    for run, lr in ((a, 3e-4), (b, 1e-3)):
        rec = read_run_record(run)
        rec.sweep_id = "sw1"
        rec.params["lr"] = lr
        write_run_record(run, rec)
    return a, b, c


def test_marking_a_sweep_comparing_sorting_and_zooming(tmp_path):
    root = tmp_path / "runs"
    a, b, c = _runs(root)

    async def scenario():
        model = RunsModel(root, clock=lambda: FROZEN, use_watchdog=False, host=FixedHost(),
                          nvml=NoNvml())
        app = PitwallApp(root, cursor_blink=False, tick=0.1, clock=lambda: FROZEN,
                         model=model)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: len(app.model.runs.rows) == 3, what="3 runs")
            screen = app.screen
            screen.table.select_name(a.name)
            await pilot.press("asterisk")                  # the whole sweep sw1
            assert set(screen.marks) == {a.name, b.name}
            assert "2 marked" in str(screen.query_one("#runs-status").render())
            await pilot.press("u")
            assert screen.marks == {}
            screen.table.select_name(c.name)
            await pilot.press("asterisk")                  # not in a sweep: its profile
            assert set(screen.marks) == {c.name}
            await pilot.press("c")                         # one run: not enough
            assert type(app.screen).__name__ == "RunsScreen"
            screen.table.select_name(a.name)
            await pilot.press("space")
            await pilot.press("c")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "CompareScreen",
                           what="compare")
            cmp = app.screen
            await wait_for(pilot, lambda: app.model.comparison is not None and
                           all(r.best is not None for r in app.model.comparison.rows),
                           what="final and best")
            snap = app.model.comparison
            assert snap.param_keys == ("lr", "total_steps")     # what differs
            assert {r.name: r.best for r in snap.rows} == {c.name: 1000.0, a.name: 1000.0}
            await pilot.press("2")
            table = cmp.query_one("#compare-table")
            await wait_for(pilot, lambda: table.row_count == 2, what="table rows")
            assert cmp.query_one("#compare-tabs").active == "table", app.focused
            await pilot.press("s", "s")                         # best -> final -> name
            assert cmp.sort_by == "name" and not cmp.reverse
            assert table._keys == sorted([a.name, c.name])
            await pilot.press("r")
            assert table._keys == sorted([a.name, c.name], reverse=True)
            await pilot.press("1", "z", "z", "h")
            assert cmp.window.factor == pytest.approx(4) and not cmp.window.follows
            plot = next(iter(cmp._plots.values()))
            await wait_for(pilot, lambda: plot.data is not None and plot.data.overlays,
                           what="overlay drawn")
            assert len(plot.data.overlays) == 2
            await pilot.press("0", "escape")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "RunsScreen",
                           what="back")
            await wait_for(pilot, lambda: not app.model.compare.wanted, what="released")
    asyncio.run(scenario())


def test_the_machine_view_without_a_gpu_is_one_quiet_line(tmp_path, capfd):
    """The real NVML binding on this box (no driver here): one line, nothing on stderr; the
    live run's role gets its CPU and RSS."""
    if _has_gpu():
        pytest.skip("this machine has an NVIDIA GPU")
    root = tmp_path / "runs"
    live = sleeper()
    try:
        run = make_run(root, "Live", _dt.datetime(2026, 3, 14, 10, 0, 0), outcome="running",
                       proc=live)

        async def scenario():
            app = PitwallApp(root, cursor_blink=False, tick=0.1)
            async with app.run_test(size=(80, 24)) as pilot:
                await wait_for(pilot, lambda: "no gpu" in str(
                    app.screen.query_one("#runs-title").render()), what="machine line")
                await pilot.press("m")
                await wait_for(pilot, lambda: any(r.cpu is not None for r in
                                                  app.model.machine.roles), what="cpu")
                text = str(app.screen.query_one("#system-machine").render())
                assert "no NVIDIA GPU" in text and text.count("\n") == 3
                (r,) = app.model.machine.roles
                assert (r.run, r.role, r.pid) == (run.name, "train", live.pid)
                assert r.rss > 0 and r.gpu_mem is None
                await pilot.press("escape")
                await wait_for(pilot, lambda: not app.model.system._detail, what="released")
        asyncio.run(scenario())
    finally:
        live.kill()
        live.wait()
    out, err = capfd.readouterr()
    assert "NVML" not in err and "nvml" not in err.lower()
    json.dumps(err)
