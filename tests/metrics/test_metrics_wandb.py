"""W&B runs as a metric source: a real offline run (``WANDB_MODE=offline``) written by wandb
itself is read back, every logged scalar, also while the run is still writing it; the framing
holds up when the file arrives in arbitrary pieces, and bad bytes are skipped and counted."""
from __future__ import annotations

import datetime as _dt
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from runners.protocol import ProcessSpec, RunRecord, create_run_dir, write_run_record
from tui.core.metrics import MetricStore, RunMetrics
from tui.core.metrics.wandb_records import HEADER, scan
from tui.core.metrics.wandb_source import WandbSource

from conftest import wait_until

N1, N2 = 1500, 1500          # steps logged before and after the pause

WRITER = r"""
import json, os, sys, time
import wandb
out = sys.argv[1]
run = wandb.init(project="pitwall-test", dir=out, config={"lr": 3e-4, "ppo": {"clip": 0.2},
                                                        "env": "Ant-v5"})
def log(i):
    wandb.log({"train/loss": 1.0 / (i + 1), "rollout/ep_return": i * 0.5,
               "flags/done": i % 2 == 0, "nested": {"a": i, "b": -i},
               "note": "step %d" % i}, step=i)
for i in range(@N1@):
    log(i)
wandb.config.update({"batch": 256})
open(os.path.join(out, "phase1"), "w").close()
while not os.path.exists(os.path.join(out, "go")):
    time.sleep(0.05)
for i in range(@N1@, @N1@ + @N2@):
    log(i)
run.finish()
"""


def expected(i: int) -> dict[str, float]:
    return {"train/loss": 1.0 / (i + 1), "rollout/ep_return": i * 0.5,
            "flags/done": 1.0 if i % 2 == 0 else 0.0, "nested.a": float(i),
            "nested.b": float(-i)}


def pitwall_run(root: Path) -> Path:
    """A Pitwall run whose profile declares no metrics: its trainer's W&B files are read."""
    when = _dt.datetime(2026, 3, 14, 12, 0, 0)
    run = create_run_dir(root, "SerlLike", when)
    write_run_record(run, RunRecord(name=run.name, experiment="SerlLike",
                                    profile_name="serl/actor_learner", backend="external",
                                    params={}, processes=[ProcessSpec(role="train", argv=["x"],
                                                                      cwd=str(run))],
                                    created_at=when.isoformat(), profile={}))
    return run


def check_prefix(store: MetricStore, name: str, n: int) -> None:
    """Every tag holds exactly the steps 0..n-1 with the values logged."""
    for tag in expected(0):
        snap = store.snapshot(name, tag)
        assert snap is not None, tag
        assert list(snap.steps) == list(range(n)), (tag, snap.steps[:5], len(snap.steps))
        want = np.array([expected(i)[tag] for i in range(n)])
        np.testing.assert_allclose(snap.values, want, rtol=1e-12)
        assert np.isfinite(snap.walls).all()


def test_a_real_offline_run_is_read_back_while_it_is_written(tmp_path):
    pytest.importorskip("wandb")
    run = pitwall_run(tmp_path / "runs")
    script = tmp_path / "writer.py"
    script.write_text(WRITER.replace("@N1@", str(N1)).replace("@N2@", str(N2)))
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true",
               WANDB_DISABLE_GIT="true", WANDB_CONSOLE="off")
    proc = subprocess.Popen([sys.executable, str(script), str(run)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    store = MetricStore(recent=8192, history=8192)
    metrics = RunMetrics.for_run_dir(run)
    assert "wandb" in [s.kind for s in metrics.sources]
    try:
        wait_until(lambda: (run / "phase1").exists() or proc.poll() is not None, 120,
                   what="the first half logged")
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        # mid-run: whatever wandb has flushed so far is read, exactly, up to a whole step
        def some():
            metrics.catch_up(store)
            snap = store.snapshot(run.name, "train/loss")
            return snap is not None and len(snap.steps) >= 100
        wait_until(some, 60, what="points of the live run")
        n_mid = len(store.snapshot(run.name, "train/loss").steps)
        assert n_mid <= N1
        n_mid = min(len(store.snapshot(run.name, t).steps) for t in expected(0))
        for tag in expected(0):          # the tags of the last row read may lag by a step
            snap = store.snapshot(run.name, tag)
            want = np.array([expected(i)[tag] for i in range(len(snap.steps))])
            assert list(snap.steps) == list(range(len(snap.steps)))
            np.testing.assert_allclose(snap.values, want, rtol=1e-12)
        (run / "go").touch()
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    metrics.catch_up(store)
    check_prefix(store, run.name, N1 + N2)
    assert n_mid < N1 + N2
    hp = store.hparams(run.name)
    assert hp["lr"] == 3e-4 and hp["ppo.clip"] == 0.2 and hp["env"] == "Ant-v5"
    assert hp["batch"] == 256 and hp["wandb.project"] == "pitwall-test"
    st = store.status(run.name)
    wb = next(s for s in st.sources if s.kind == "wandb")
    assert wb.skipped["W&B value that is not a scalar"] == N1 + N2    # the "note" strings
    assert not wb.error


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished offline run with 400 steps (and lists, which are not scalars)."""
    pytest.importorskip("wandb")
    out = tmp_path_factory.mktemp("w")
    code = ("import wandb\nr = wandb.init(project='p', dir=OUT, config={'k': 1})\n"
            "for i in range(400):\n    wandb.log({'x': i * 1.5, 'big': list(range(i // 60))},"
            " step=i)\nr.finish()\n").replace("OUT", repr(str(out)))
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true",
               WANDB_DISABLE_GIT="true", WANDB_CONSOLE="off")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120,
                   capture_output=True)
    (f,) = list((out / "wandb").glob("offline-run-*/run-*.wandb"))
    return f


def test_a_file_that_arrives_in_pieces_gives_the_same_points(tmp_path, finished_run):
    src_file = finished_run
    data = src_file.read_bytes()
    whole = MetricStore(recent=4096)
    RunMetrics.for_file(src_file, name="r").catch_up(whole)
    assert len(whole.snapshot("r", "x").steps) == 400

    grow = tmp_path / "grow" / "run-x.wandb"
    grow.parent.mkdir()
    store = MetricStore(recent=4096)
    source = WandbSource(grow.parent)
    rng = np.random.default_rng(0)
    pos = 0
    with open(grow, "wb") as f:
        while pos < len(data):        # 1 to 9000 bytes at a time: headers and blocks split
            n = int(rng.integers(1, 9000))
            f.write(data[pos:pos + n])
            f.flush()
            pos += n
            res = source.poll()
            for tag, b in res.scalars.items():
                store.extend_many("r", {tag: b})
    res = source.poll()
    for tag, b in res.scalars.items():
        store.extend_many("r", {tag: b})
    for tag in ("x",):
        a, b = whole.snapshot("r", tag), store.snapshot("r", tag)
        assert list(a.steps) == list(b.steps) and np.array_equal(a.values, b.values)
    # nothing was lost or read twice: the only skips are the lists ('big'), once each
    assert dict(source.status.skipped) == {"W&B value that is not a scalar": 400}


def test_bad_bytes_are_skipped_and_counted(tmp_path, finished_run):
    src_file = finished_run
    data = bytearray(src_file.read_bytes())
    data[len(data) // 2] ^= 0xFF                 # one flipped byte in one record
    bad = tmp_path / "bad" / "run-b.wandb"
    bad.parent.mkdir()
    bad.write_bytes(bytes(data))
    store = MetricStore(recent=4096)
    run = RunMetrics.for_directory(bad.parent, "b")
    run.catch_up(store)
    st = run.sources[0].status
    assert st.skipped["W&B record with a bad checksum"] >= 1
    steps = list(store.snapshot("b", "x").steps)
    assert len(steps) >= 399 and steps[-1] == 399          # at most the one record lost,
    assert steps == sorted(set(steps))                       # and the reader went on after it
    # not a W&B file at all: said once, nothing read
    other = tmp_path / "other" / "run-o.wandb"
    other.parent.mkdir()
    other.write_bytes(b"not a wandb file" * 100)
    run = RunMetrics.for_directory(other.parent, "o")
    run.catch_up(store)
    assert run.sources[0].status.skipped["file that is not a W&B run log"] == 1


@settings(max_examples=150, deadline=None)
@given(hs.binary(max_size=3000), hs.integers(min_value=0, max_value=70000))
def test_scan_never_raises_on_garbage(data, base):
    for blob, off in ((data, base), (HEADER + data, 0)):
        sc = scan(blob, off)
        assert 0 <= sc.consumed <= len(blob)
