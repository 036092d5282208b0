"""The checkpoint index: a new checkpoint is seen within 200 ms (watchdog), by polling where
inotify is blind (NFS), and unchanged runs are not re-listed."""
from __future__ import annotations

import datetime as _dt
import threading
import time

from runners.protocol import save_checkpoint
from tui.core.checkpoint_index import CheckpointIndex

from tui_testing import make_run


def _saver(run, step):
    return save_checkpoint(run, lambda f: f.write(b"\1" * 200_000), step,
                           metrics={"rollout/ep_return": float(step)})


def _watch(index_kwargs, run):
    seen = {}
    changed = threading.Event()

    def on_change(path):
        snap = index.get(path)
        for c in snap.history:
            seen.setdefault(c.name, time.monotonic())
        changed.set()

    index = CheckpointIndex(on_change=on_change, **index_kwargs).start()
    index.track(run)
    return index, seen


def test_each_new_checkpoint_is_reported_with_its_step_and_metrics(tmp_path):
    """Watchdog reports every save (the fallback poll is an hour away here), each with its
    step and metrics. (How fast: benchmarks/bench_checkpoint_listed.py, goal p95 <= 200 ms.)"""
    run = make_run(tmp_path, "Ckpt", _dt.datetime(2026, 1, 1, 10, 0, 0), checkpoints=1)
    index, seen = _watch({"poll_interval": 3600.0}, run)
    try:
        assert index.watchdog_error is None
        for k in range(6):
            step = 100_000 + k
            name = _saver(run, step).name
            deadline = time.monotonic() + 10.0
            while name not in seen and time.monotonic() < deadline:
                time.sleep(0.002)
            assert name in seen, "checkpoint %s never reported" % name
            snap = index.get(run)
            entry = next(c for c in snap.history if c.name == name)
            assert entry.step == step and entry.metrics["rollout/ep_return"] == float(step)
            time.sleep(0.05)
    finally:
        index.stop()


def test_checkpoint_dir_created_after_tracking_is_followed(tmp_path):
    run = make_run(tmp_path, "Late", _dt.datetime(2026, 1, 1, 10, 0, 0), checkpoints=0)
    assert not (run / "nn").exists()
    index, seen = _watch({}, run)
    try:
        t0 = time.monotonic()
        name = _saver(run, 512).name
        while name not in seen and time.monotonic() - t0 < 2:
            time.sleep(0.005)
        assert name in seen and seen[name] - t0 < 0.3
    finally:
        index.stop()


def test_polling_finds_checkpoints_without_inotify(tmp_path):
    """NFS: no inotify events from other hosts; the poll (signature check) still sees it."""
    run = make_run(tmp_path, "Nfs", _dt.datetime(2026, 1, 1, 10, 0, 0), checkpoints=1)
    index, seen = _watch({"use_watchdog": False, "poll_interval": 0.3}, run)
    try:
        t0 = time.monotonic()
        name = _saver(run, 777).name
        while name not in seen and time.monotonic() - t0 < 3:
            time.sleep(0.01)
        assert name in seen and 0 < seen[name] - t0 < 1.0
    finally:
        index.stop()


def test_scan_relists_only_on_change(tmp_path):
    run = make_run(tmp_path, "Cache", _dt.datetime(2026, 1, 1, 10, 0, 0), checkpoints=3)
    index = CheckpointIndex(use_watchdog=False)
    a = index.scan(run)
    b = index.scan(run)
    assert a is b and [c.step for c in a.history] == [6826, 13652, 20478]
    assert a.newest is not None and a.newest.name == a.history[-1].name
    _saver(run, 99_999)
    c = index.scan(run)
    assert c is not a and c.version == a.version + 1
    assert c.newest.name == "ckpt_000099999.pth"
    assert c.checkpoints[-1].is_latest and c.checkpoints[-1].step == 99_999
