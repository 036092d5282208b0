"""The runs view-model: rows from the registry + metrics store + checkpoint index; the run in
focus with its viewers' acks (pending, no ack), processes and checkpoints."""
from __future__ import annotations

import datetime as _dt
import time

import psutil

from runners.protocol import write_proc_record, ProcRecord
from tui.core.run_checkpoints import select_checkpoint
from tui.core.run_view_model import RunsModel

from tui_testing import FROZEN, make_run, sleeper, write_ack


def test_rows_have_status_metrics_and_checkpoint(tmp_path):
    root = tmp_path / "runs"
    a = make_run(root, "Done", _dt.datetime(2026, 3, 14, 11, 0, 0), outcome="finished")
    b = make_run(root, "Broke", _dt.datetime(2026, 3, 14, 12, 0, 0), outcome="failed",
                 checkpoints=0)
    model = RunsModel(root, clock=lambda: FROZEN, use_watchdog=False)
    model.set_visible({a.name, b.name})
    model.refresh_now()                 # the metrics of visible runs start being read
    model.watcher.catch_up()
    model.refresh_now()
    rows = {r.name: r for r in model.runs.rows}
    assert [r.name for r in model.runs.rows] == [b.name, a.name]     # newest first
    ra, rb = rows[a.name], rows[b.name]
    assert ra.status == "finished" and ra.step == 40 * 512 and ra.headline == "rollout/ep_return"
    assert ra.headline_value == 1000.0 and len(ra.spark) > 3 and ra.spark[-1] == 1000.0
    assert ra.checkpoint == "ckpt_000020480.pth" and ra.checkpoint_step == 20480
    assert rb.status_text == "failed (1)" and rb.checkpoint is None
    assert ra.matches("done fin") and not ra.matches("broke")
    v = model.runs.version
    model.refresh_now()
    assert model.runs.version == v       # nothing changed, no new snapshot


def test_detail_flags_a_viewer_that_has_not_acked(tmp_path):
    root = tmp_path / "runs"
    proc = sleeper()
    viewer = sleeper()
    try:
        run = make_run(root, "Live", _dt.datetime(2026, 3, 14, 11, 0, 0), outcome="running",
                       proc=proc)
        ct = psutil.Process(viewer.pid).create_time()
        write_proc_record(run, ProcRecord(role="viewer-1", kind="viewer", pid=viewer.pid,
                                          pgid=viewer.pid, create_time=ct,
                                          started_at="2026-03-14T11:00:01"))
        first = select_checkpoint(run, "manual", "ckpt_000005120.pth")
        write_ack(run, "viewer-1", viewer.pid, first.seq, run / "nn" / "ckpt_000005120.pth",
                  5120)
        model = RunsModel(root, use_watchdog=False)
        model.focus(run)
        model.refresh_now()
        d = model.detail
        assert d is not None and d.status == "running" and d.mode == "manual"
        v = d.viewers[0]
        assert v.id == "viewer-1" and v.alive and not v.pending and v.checkpoint == \
            "ckpt_000005120.pth"
        shown = [c for c in d.checkpoints.checkpoints if d.viewers_on(c)]
        assert [c.name for c in shown] == ["ckpt_000005120.pth"]
        roles = {r.role: r for r in d.roles}
        assert roles["train"].alive and roles["viewer-1"].is_viewer
        # a new request the viewer does not apply: pending at once, "no ack" after a while
        select_checkpoint(run, "manual", "ckpt_000010240.pth")
        model.refresh_now()
        v = model.detail.viewers[0]
        assert v.pending and not v.no_ack
        model.clock = lambda: time.time() + 60
        model.refresh_now()
        v = model.detail.viewers[0]
        assert v.pending and v.no_ack and v.stale
        # the viewer catches up
        second = select_checkpoint(run, "manual", "ckpt_000010240.pth")
        write_ack(run, "viewer-1", viewer.pid, second.seq, run / "nn" / "ckpt_000010240.pth",
                  10240)
        model.clock = time.time
        model.refresh_now()
        v = model.detail.viewers[0]
        assert not v.pending and not v.no_ack and v.step == 10240
        # the processes pane gets CPU and RSS of live roles from the second sample on
        model.refresh_now()
        train = next(r for r in model.detail.roles if r.role == "train")
        assert train.rss and train.rss > 0 and train.cpu is not None and train.pid == proc.pid
    finally:
        for p in (proc, viewer):
            p.kill()
            p.wait()
    model.stop()


