"""A live viewer (the toolkit's player, on the test backend of tests/fixtures) under hostile
state files and checkpoints: a state file nested 200k levels deep, a symlink re-pointed outside
the run after it was accepted, ``latest.pth`` turned into such a symlink, a FIFO named as the
checkpoint. Each time the viewer refuses, keeps its policy, says why in its ack, and keeps its
heartbeat. Real processes."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from runners.protocol import RunPaths, atomic_write_bytes, atomic_write_json, read_viewer_status
from tui.core.launch import launch
from tui.core.registry import load_run
from tui.core.run_checkpoints import select_checkpoint
from tui.core.viewers import start_viewer

from conftest import TEST_PROFILES, kill_all_runs, wait_until


@pytest.fixture(scope="module")
def viewer(tmp_path_factory):
    root = tmp_path_factory.mktemp("viewer-chaos") / "runs"
    run = launch(str(TEST_PROFILES / "tiny.yaml"), ["iterations=8"], runs_root=root).run_dir
    try:
        wait_until(lambda: load_run(run).status == "finished", 60, what="the tiny training")
        vid = start_viewer(run, "none").viewer_id
        wait_until(lambda: ack(run, vid, lambda a: a.state == "running"), 30, what="the viewer")
        yield run, vid
    finally:
        kill_all_runs(root)


def ack(run: Path, vid: str, cond=lambda a: True):
    a = read_viewer_status(run, vid)
    return a if a is not None and cond(a) else None


def alive_and_beating(run: Path, vid: str) -> None:
    """The viewer process lives and its heartbeat moves on."""
    before = ack(run, vid).updated_at
    wait_until(lambda: ack(run, vid, lambda a: a.updated_at > before), 10, what="a heartbeat")
    assert load_run(run).role(vid).alive


def pin(run: Path, vid: str, ref: str):
    req = select_checkpoint(run, "manual", ref)
    return wait_until(lambda: ack(run, vid, lambda a: a.seq == req.seq), 10, what="the pin")


def test_a_state_file_nested_too_deep_keeps_the_policy(viewer):
    run, vid = viewer
    step = pin(run, vid, "4").checkpoint_step
    state = RunPaths(run).state_file
    atomic_write_bytes(state, b'{"a": ' + b"[" * 200000 + b"]" * 200000 + b"}")
    a = wait_until(lambda: ack(run, vid, lambda a: a.error and "state file" in a.error), 10,
                   what="the refusal")
    assert a.checkpoint_step == step and ".checkpoint_state.json" in a.error
    alive_and_beating(run, vid)
    atomic_write_json(state, {"mode": "auto", "checkpoint_path": str(RunPaths(run).latest),
                              "last_update": "2030-01-01T00:00:00", "seq": 50})
    wait_until(lambda: ack(run, vid, lambda a: a.seq == 50 and a.checkpoint_step == 8), 10,
               what="a valid state again")


def test_a_symlink_repointed_outside_after_it_was_accepted(viewer, tmp_path):
    run, vid = viewer
    nn = RunPaths(run).nn_dir
    link = nn / "chosen.pth"
    link.symlink_to(nn / "ckpt_000000005.pth")
    assert pin(run, vid, "chosen.pth").checkpoint_step == 5
    outside = tmp_path / "outside.pth"
    shutil.copy(nn / "ckpt_000000002.pth", outside)
    tmp = nn / ".chosen.tmp"
    tmp.symlink_to(outside)
    os.replace(tmp, link)                                  # the same name, now pointing out
    a = wait_until(lambda: ack(run, vid, lambda a: a.error and "outside" in a.error), 10,
                   what="the refusal")
    assert a.checkpoint_step == 5
    alive_and_beating(run, vid)
    # latest.pth itself turned into such a link, in auto mode
    select_checkpoint(run, "auto")
    wait_until(lambda: ack(run, vid, lambda a: a.checkpoint_step == 8 and a.mode == "auto"), 10,
               what="auto")
    latest = RunPaths(run).latest
    saved = nn / "latest.saved"
    os.replace(latest, saved)
    latest.symlink_to(outside)
    try:
        a = wait_until(lambda: ack(run, vid, lambda a: a.error and "outside" in a.error), 10,
                       what="the refusal of latest")
        assert a.checkpoint_step == 8
        alive_and_beating(run, vid)
    finally:
        latest.unlink()
        os.replace(saved, latest)


def test_a_fifo_named_as_the_checkpoint_is_never_opened(viewer):
    run, vid = viewer
    step = pin(run, vid, "3").checkpoint_step
    fifo = RunPaths(run).nn_dir / "ckpt_000000777.pth"
    os.mkfifo(fifo)
    atomic_write_json(RunPaths(run).state_file, {
        "mode": "manual", "checkpoint_path": str(fifo), "seq": 90,
        "last_update": "2031-01-01T00:00:00"})
    a = wait_until(lambda: ack(run, vid, lambda a: a.seq == 90), 10, what="the answer")
    assert a.checkpoint_step == step and "not a regular file" in (a.error or "")
    t0 = time.monotonic()
    alive_and_beating(run, vid)
    assert time.monotonic() - t0 < 10
