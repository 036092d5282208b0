"""A full disk (a real tmpfs filled to the last byte) under a real training and the real CLI
(issue 15, item 6).

Before the fix: the trainer died at its first save on a full disk, ``pitwall ckpt --use`` printed
a raw ``OSError`` traceback, ``pitwall restart`` printed "restarted" and exited 0 while its
starter had crashed with ENOSPC, and ``pitwall play`` pointed at an empty log.
"""
from __future__ import annotations

import json
import os

import pytest

from conftest import wait_until
from runners.protocol import (CheckpointSaveError, RunPaths, append_line, list_checkpoints,
                              load_torch_checkpoint, read_index, read_proc_record,
                              save_checkpoint)
from tui.core.liveness import is_alive
from tui.core.registry import load_run

from .conftest import launch, one_line_error, pw


def test_protocol_writes_fail_clean_on_a_full_disk(small_disk):
    run = small_disk.path / "run"
    nn = RunPaths(run).nn_dir
    save_checkpoint(run, lambda f: f.write(b"first" * 100), 1)
    index_before = RunPaths(run).ckpt_index.read_bytes()
    small_disk.fill()
    with pytest.raises(CheckpointSaveError) as e:
        save_checkpoint(run, lambda f: f.write(os.urandom(1 << 16)), 2)
    assert e.value.errno == 28 and e.value.filename == str(nn / "ckpt_000000002.pth")
    assert sorted(os.listdir(nn)) == ["ckpt_000000001.pth", "index.jsonl", "latest.pth"]
    assert (nn / "latest.pth").read_bytes() == b"first" * 100
    # a line longer than the room left in the file's last page: written in part, then cut off
    with pytest.raises(OSError) as e:
        append_line(RunPaths(run).ckpt_index, "x" * 8000)
    assert e.value.filename == str(RunPaths(run).ckpt_index)
    assert RunPaths(run).ckpt_index.read_bytes() == index_before
    small_disk.free()
    save_checkpoint(run, lambda f: f.write(b"second"), 2)
    assert sorted(read_index(nn)[0]) == ["ckpt_000000001.pth", "ckpt_000000002.pth"]


def test_training_survives_a_full_disk_and_the_cli_says_so(small_disk):
    root = small_disk.path / "runs"
    root.mkdir()
    run = launch(root, "total_steps=3072", "num_envs=4", "rollout_steps=64", "save_every=1")
    rec = wait_until(lambda: read_proc_record(run, "train"), timeout=60, what="the record")
    nn = RunPaths(run).nn_dir
    wait_until(lambda: list_checkpoints(nn), timeout=90, what="the first checkpoint")

    small_disk.fill()
    steps_full = {c.step for c in list_checkpoints(nn)}
    line = one_line_error(pw(root, "ckpt", run.name, "--use", "latest.pth"))
    assert str(RunPaths(run).state_file) in line and "No space left" in line
    wait_until(lambda: "NOT saved" in (run / "logs" / "train.log").read_text()
               or not is_alive(rec.pid, rec.create_time), timeout=60,
               what="a save on the full disk")
    # the log itself is on the full disk: the line that says so may be lost; the trainer lives
    assert is_alive(rec.pid, rec.create_time), (run / "logs" / "train.log").read_text()[-2000:]
    small_disk.free()

    wait_until(lambda: not load_run(run).live, timeout=120, what="the end of the training")
    assert load_run(run).status == "finished", (run / "logs" / "train.log").read_text()[-2000:]
    ckpts = list_checkpoints(nn)
    assert ckpts[-1].is_latest and ckpts[-1].step == 3072
    assert load_torch_checkpoint(nn / "latest.pth")["step"] == 3072
    index, bad = read_index(nn)
    history = {c.name for c in ckpts if not c.is_latest}
    assert bad == 0 and set(index) == history   # no torn line, no unindexed file
    assert not [n for n in os.listdir(nn) if n.startswith(".")]   # no temp file left
    assert len(history) < 3072 // 256 and steps_full <= {c.step for c in ckpts}
    text = (run / "logs" / "train.log").read_text()
    assert "Training finished at step 3072" in text

    small_disk.fill()
    out = pw(root, "restart", run.name)
    assert "No space left" in one_line_error(out) or "no space left" in out.stderr
    assert "restarted" not in out.stdout
    out = pw(root, "play", run.name, "--display", "none")
    line = one_line_error(out)
    assert "no space left" in line.lower() and "did not start" in line
    small_disk.free()
    assert json.loads(pw(root, "ls", "--json").stdout)[0]["status"] == "finished"
