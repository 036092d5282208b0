"""Hostile file contents in real runs, read through the real CLI (issue 15, items 1 and 4).

Before the fix, JSON nested 200k levels deep made ``pitwall ls`` and ``pitwall ckpt`` die with a
``RecursionError`` (one bad run hid every run), and one step >= 2^63 made ``pitwall metrics``
die with an ``OverflowError`` that threw away every good point read with it.
"""
from __future__ import annotations

import json
from pathlib import Path

from runners.protocol import RunPaths, read_state

from .conftest import copy_run, one_line_error, pw

DEEP = 200_000


def nested(levels: int = DEEP) -> str:
    return '{"a": ' + "[" * levels + "]" * levels + "}"


def test_nested_and_huge_json_is_reported_per_file_and_every_run_listed(trained_run, chaos_root):
    good = copy_run(trained_run, chaos_root, 2)
    bad_state = copy_run(trained_run, chaos_root, 3)
    RunPaths(bad_state).state_file.write_text(nested())
    bad_run = copy_run(trained_run, chaos_root, 4)
    RunPaths(bad_run).run_json.write_text(nested())
    bad_proc = copy_run(trained_run, chaos_root, 5)
    RunPaths(bad_proc).proc_file("train").write_text(nested())
    bad_index = copy_run(trained_run, chaos_root, 6)
    with open(RunPaths(bad_index).ckpt_index, "a") as f:
        f.write(nested() + "\n")
    huge_state = copy_run(trained_run, chaos_root, 7)
    RunPaths(huge_state).state_file.write_text(json.dumps(
        {"mode": "auto", "checkpoint_path": "nn/latest.pth", "last_update": "x",
         "pad": " " * (8 << 20)}))

    out = pw(chaos_root, "ls", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert len(rows) == 6
    for run in (good, bad_state, bad_index, huge_state):
        assert rows[run.name]["status"] == "finished", rows[run.name]
    assert rows[bad_run.name]["status"] == "invalid"
    assert str(RunPaths(bad_run).run_json) in rows[bad_run.name]["error"]
    assert rows[bad_proc.name]["status"] == "lost"
    assert str(RunPaths(bad_proc).proc_file("train")) in rows[bad_proc.name]["error"]
    assert rows[bad_index.name]["checkpoint"] == "ckpt_000002048.pth"

    out = pw(chaos_root, "ckpt", bad_state.name)
    assert out.returncode == 0 and "state file unreadable" in out.stdout, out.stderr
    assert str(RunPaths(bad_state).state_file) in out.stdout and "nested" in out.stdout
    out = pw(chaos_root, "ckpt", huge_state.name)
    assert out.returncode == 0 and "refused unread" in out.stdout, out.stderr
    out = pw(chaos_root, "ckpt", bad_index.name)
    assert out.returncode == 0, out.stderr
    assert "ckpt_000001024.pth  1024" in out.stdout and "ckpt_000002048.pth  2048" in out.stdout
    assert "run.json" in one_line_error(pw(chaos_root, "ckpt", bad_run.name))

    # the CLI repairs a bad state file by overwriting it, in both modes
    assert pw(chaos_root, "ckpt", bad_state.name, "--auto").returncode == 0
    assert read_state(bad_state).mode == "auto"
    out = pw(chaos_root, "ckpt", huge_state.name, "--use", "ckpt_000001024.pth")
    assert out.returncode == 0, out.stderr
    st = read_state(huge_state)
    assert st.mode == "manual" and st.checkpoint_path.endswith("nn/ckpt_000001024.pth")


def _points(out, tag: str) -> tuple[list[int], dict]:
    assert out.returncode == 0, out.stderr
    run = json.loads(out.stdout)["runs"][0]
    skipped: dict = {}
    for s in run["sources"]:
        for k, v in s["skipped"].items():
            skipped[k] = skipped.get(k, 0) + v
    return run["tags"][tag]["steps"], skipped


def test_steps_beyond_64_bits_are_skipped_and_counted(trained_run, chaos_root, tmp_path):
    run = copy_run(trained_run, chaos_root, 2)
    with open(RunPaths(run).metrics_jsonl, "a") as f:
        f.write(json.dumps({"step": 1 << 63, "time": 1.0, "role": "train",
                            "metrics": {"rollout/ep_return": 1.0}}) + "\n")
        f.write(json.dumps({"step": 10 ** 6, "time": 2.0, "role": "train",
                            "metrics": {"rollout/ep_return": 7.0}}) + "\n")
    steps, skipped = _points(pw(chaos_root, "metrics", run.name, "--json"), "rollout/ep_return")
    assert steps == [1024, 2048, 10 ** 6] and skipped == {"not a metrics record": 1}

    csv = tmp_path / "progress.csv"
    csv.write_text("step,reward\n1,1.0\n%d,2.0\n3,3.0\n1e30,4.0\n%d,5.0\n"
                   % (1 << 63, (1 << 63) - 1))
    steps, skipped = _points(pw(chaos_root, "metrics", str(csv), "--json"), "reward")
    assert steps == [1, 3, (1 << 63) - 1]
    assert skipped == {"step outside the 64-bit range": 2}

    log = tmp_path / "train.log"
    line = ("fps step: 100 fps step and policy inference: 90 fps total: 80 epoch: %d/10 "
            "frames: %d\n")
    log.write_text(line % (1, 100) + line % (2, 1 << 64) + line % (3, 300))
    steps, skipped = _points(pw(chaos_root, "metrics", str(log), "--preset", "rl_games",
                                "--json"), "performance/step_fps")
    assert steps == [100, 300] and skipped["step outside the 64-bit range"] >= 1
