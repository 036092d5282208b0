"""What the TUI's data thread does with hostile files (issue 15, item 1).

Before the fix one run.json nested 200k levels deep made the whole runs list empty ("no runs"),
and the data thread retried the failing pass at once, forever, at 80-90 % of a core.
"""
from __future__ import annotations

import time

from runners.protocol import RunPaths
from tui.core.run_view_model import RunsModel

from .conftest import copy_run
from .test_chaos_files import nested


def test_one_bad_run_never_hides_the_others(trained_run, chaos_root):
    root = chaos_root
    good = copy_run(trained_run, root, 2)
    bad = copy_run(trained_run, root, 3)
    RunPaths(bad).run_json.write_text(nested())
    state = copy_run(trained_run, root, 4)
    RunPaths(state).state_file.write_text(nested())
    model = RunsModel(root, use_watchdog=False)
    model.refresh_now()
    rows = {r.name: r for r in model.runs.rows}
    assert rows[good.name].status == "finished" and rows[state.name].status == "finished"
    assert rows[bad.name].status == "invalid" and "run.json" in (rows[bad.name].error or "")
    model.focus(state)
    model.refresh_now()
    assert model.detail is not None and model.detail.status == "finished"
    assert model.detail.state_error is not None and "nested" in model.detail.state_error
    assert not [e for e in model.drain_events() if e.severity == "error"]


def test_a_failing_pass_waits_for_its_interval(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    model = RunsModel(root, interval=0.2, use_watchdog=False)
    calls = []

    def failing(*args, **kwargs) -> None:   # whatever a pass may still hit: not retried at once
        calls.append(time.monotonic())
        raise OSError("injected")
    model.runs_list.refresh = failing  # type: ignore[method-assign]
    model.start()
    try:
        time.sleep(1.0)
    finally:
        model.stop()
    assert 1 <= len(calls) <= 10, "%d passes in 1 s at a 0.2 s interval" % len(calls)
