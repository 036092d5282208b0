"""The user's own ManiSkill scripts, run unmodified through profiles: ManiSkill's PPO baseline
(``configs/maniskill/ppo_baseline.yaml``) and the seed's ``training.py``
(``configs/maniskill/seed_training.yaml``), against the scripts of ``tests/fixtures/`` that
write what those scripts write (``maniskill_ppo_baseline.py``: a real CPU training on
PushCube-v1 with ManiSkill's RecordEpisode; ``maniskill_seed_training.py``: the seed's CSV,
log lines and training videos). Output discovery by a new directory (no log line), checkpoints,
metrics, videos listed like ours, and Pitwall's viewer switching the baseline's checkpoints.
Real processes through the launcher."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("mani_skill")
pytest.importorskip("imageio")

from runners.protocol import read_artifacts, read_viewer_status
from tui.core.launch import launch
from tui.core.metrics.run_metrics import RunMetrics
from tui.core.metrics.store import MetricStore
from tui.core.registry import load_run
from tui.core.run_checkpoints import list_run_checkpoints, select_checkpoint
from tui.core.run_control import stop_run
from tui.core.videos import list_videos
from tui.core.viewers import start_viewer

from conftest import FIXTURES, REPO, TEST_PROFILES, kill_all_runs, wait_until
from test_maniskill_runner import ack_of, log_tail

BASELINE = REPO / "configs" / "maniskill" / "ppo_baseline.yaml"


def finished(run: Path, timeout: float) -> None:
    wait_until(lambda: load_run(run).status not in ("starting", "running"), timeout, poll=0.5,
               what="the trainer to end")
    assert load_run(run).status == "finished", log_tail(run, "train")


def tags(run: Path) -> list[str]:
    store = MetricStore()
    RunMetrics.for_run_dir(run).catch_up(store)
    return store.tags(run.name)


def test_ppo_baseline_is_found_listed_read_and_its_checkpoints_play(tmp_path):
    root, code = tmp_path / "runs", tmp_path / "ppo"
    code.mkdir()
    (code / "runs").mkdir()
    (code / "runs" / "PushCube-v1__ppo__1__1000").mkdir()   # an older run: never picked
    t0 = time.time()
    run = launch(str(BASELINE), ["ppo_dir=%s" % code, "python=%s" % sys.executable,
                                 "script=%s" % (FIXTURES / "maniskill_ppo_baseline.py"),
                                 "total_steps=100", "num_envs=2", "rollout_steps=25",
                                 "eval_freq=1"], runs_root=root).run_dir
    try:
        finished(run, 240)
        found = Path(read_artifacts(run).dir)
        assert found.parent == code / "runs" and found.name.startswith("PushCube-v1__ppo__1__")
        assert int(found.name.rsplit("__", 1)[1]) >= int(t0) - 1
        listed = list_run_checkpoints(run)
        assert [c.name for c in listed] == ["ckpt_1.pt", "ckpt_2.pt", "final_ckpt.pt"]
        assert [c.step for c in listed[:2]] == [1, 2] and listed[-1].same_as_latest
        got = tags(run)
        for tag in ("train/return", "train/success_once", "eval/return", "losses/value_loss",
                    "losses/policy_loss", "charts/SPS", "charts/learning_rate"):
            assert tag in got, (tag, got)
        videos, bad = list_videos(run)
        assert bad == 0 and sorted(v.name for v in videos) == ["videos/0.mp4", "videos/1.mp4"]
        assert all(v.exists and v.entry.width == 128 and v.entry.frames > 25 for v in videos)

        vid = start_viewer(run, "none").viewer_id
        try:
            # the state file and the acks live where the trainer writes
            st = wait_until(ack_of(found, vid, lambda s: s.state == "running"), 120, poll=0.2,
                            what="the viewer (log: %s)" % log_tail(run, vid))
            assert Path(st.checkpoint_path).name == "final_ckpt.pt"
            seq = select_checkpoint(run, "manual", "ckpt_1.pt").seq
            st = wait_until(ack_of(found, vid, lambda s: s.seq == seq), 20, poll=0.05,
                            what="the switch")
            assert Path(st.checkpoint_path).name == "ckpt_1.pt" and st.checkpoint_step == 1
            assert st.error is None
        finally:
            stop_run(run, [vid])
        assert read_viewer_status(found, vid).state == "stopped"
    finally:
        kill_all_runs(root)


def test_seed_training_is_found_and_its_csv_lines_and_videos_are_read(tmp_path):
    root, code = tmp_path / "runs", tmp_path / "project"
    code.mkdir()
    run = launch(str(TEST_PROFILES / "maniskill_seed.yaml"),
                 ["code_dir=%s" % code, "python=%s" % sys.executable,
                  "script=%s" % (FIXTURES / "maniskill_seed_training.py")],
                 runs_root=root).run_dir
    try:
        finished(run, 120)
        out = code / "logs" / "pendulum"
        assert Path(read_artifacts(run).dir) == out
        got = tags(run)
        for tag in ("avg_reward", "success_rate", "total_displacement", "actor_loss",
                    "critic_loss", "video_recorded", "episode"):
            assert tag in got, (tag, got)
        videos, bad = list_videos(run)
        names = sorted(v.name for v in videos)
        assert bad == 0 and names and all(n.startswith("training_videos/video_") for n in names)
        assert all(v.entry.source == "training" and v.entry.fps == 30.0 for v in videos)
        assert not any(n.endswith(".npz") for n in names)
    finally:
        kill_all_runs(root)
