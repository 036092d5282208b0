"""The ManiSkill3 runner end to end, for real: a short PushCube-v1 training on the CPU simulator
(SAPIEN on Mesa's lavapipe here) with checkpoints, metrics, the seed's CSV and training videos
from the long-lived recorder (settled, overlaid, with trajectories); a headless viewer that
switches checkpoint, refuses a torn one and acks; SAPIEN's viewer window under Xvfb.

Real processes through the launcher; no mocks. ``make test`` installs the Vulkan driver
(``scripts/vulkan_setup.sh``); without one these tests fail with its hint, on purpose.
"""
from __future__ import annotations

import csv
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mani_skill")
imageio = pytest.importorskip("imageio")

from runners.protocol import (RunPaths, list_checkpoints, parse_metric_line, read_preview,
                              read_video_index, read_viewer_status, write_state)
from runners.protocol.trajectories import read_trajectory, trajectory_path
from tui.core.launch import launch
from tui.core.registry import load_run
from tui.core.run_control import stop_run
from tui.core.viewers import start_viewer

from conftest import REPO, kill_all_runs, wait_until
from overlay_text import read_overlay_line
from test_displays import xvfb  # noqa: F401  (a fixture)

PROFILE = REPO / "configs" / "maniskill" / "push_cube.yaml"
INTERVAL = 8          # training episodes between videos
SETTLE = 5
ENVS, STEPS = 4, 50   # PushCube episodes last 50 steps: 4 finish per rollout of 50
TOTAL = 800           # 4 updates, 16 episodes -> videos at episodes 8 and 16
SHORT = ["total_steps=%d" % TOTAL, "num_envs=%d" % ENVS, "rollout_steps=%d" % STEPS,
         "save_every=2", "ppo.epochs=2", "ppo.minibatches=4", "ppo.hidden=[64,64]",
         "partial_reset=false", "record_video=true", "video_record_interval=%d" % INTERVAL,
         "settle_steps=%d" % SETTLE, "save_trajectory=true", "video_width=256",
         "video_height=256", "play.window_width=320", "play.window_height=240",
         "play.preview_hz=4"]


def log_tail(run: Path, role: str, n: int = 40) -> str:
    try:
        lines = RunPaths(run).log_file(role).read_text(errors="replace").splitlines()
        return "\n".join(line for line in lines if "WARN" not in line)[-4000:]
    except OSError:
        return "<no log>"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("maniskill") / "runs"
    run = launch(str(PROFILE), SHORT, runs_root=root).run_dir
    try:
        wait_until(lambda: load_run(run).status not in ("starting", "running"), 300,
                   poll=0.5, what="the ManiSkill training to end")
        assert load_run(run).status == "finished", log_tail(run, "train")
        yield run
    finally:
        kill_all_runs(root)


def test_training_writes_checkpoints_metrics_and_the_seed_csv(trained):
    paths = RunPaths(trained)
    ckpts = [c for c in list_checkpoints(paths.nn_dir) if not c.is_latest]
    assert [c.step for c in ckpts] == [400, 800], [c.name for c in ckpts]
    latest = [c for c in list_checkpoints(paths.nn_dir) if c.is_latest][0]
    assert latest.step == 800 and "train/return" in latest.metrics
    records = [parse_metric_line(x) for x in paths.metrics_jsonl.read_text().splitlines()]
    assert [r.step for r in records] == [200, 400, 600, 800]
    for tag in ("train/return", "train/success_once", "losses/policy_loss",
                "losses/value_loss", "losses/approx_kl", "charts/SPS", "charts/learning_rate",
                "time/rollout_fps"):
        assert tag in records[-1].metrics, (tag, sorted(records[-1].metrics))
    assert records[-1].metrics["train/episodes_total"] == TOTAL // STEPS
    assert any(p.name.startswith("events.out.tfevents") for p in paths.tb_dir.iterdir())
    with open(str(trained / "training_log.csv")) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "episode", "avg_reward", "success_rate", "steps",
                             "actor_loss", "critic_loss", "video_recorded"]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert [int(r["episode"]) for r in rows] == [4, 8, 12, 16]
    assert [int(r["steps"]) for r in rows] == [200, 400, 600, 800]
    assert [r["video_recorded"] for r in rows] == ["False", "True", "False", "True"]
    assert float(rows[-1]["avg_reward"]) == pytest.approx(records[-1].metrics["train/return"],
                                                          rel=1e-4)


def test_training_videos_every_n_episodes_settled_with_overlay_and_trajectory(trained):
    paths = RunPaths(trained)
    entries, bad = read_video_index(trained)
    assert bad == 0
    assert [e.train_episode for e in entries] == [INTERVAL, 2 * INTERVAL], log_tail(
        trained, "train")
    assert [e.step for e in entries] == [400, 800]   # episodes 8 and 16 end with updates 2, 4
    log = RunPaths(trained).log_file("train").read_text(errors="replace")
    assert log.count("video recorder ready") == 1    # one recorder for the whole training
    for e in entries:
        assert e.source == "training" and e.settle_steps == SETTLE and e.fps == 20.0
        assert e.lengths == [STEPS] and e.capped == [False]   # full episodes despite settling
        frames = imageio.v3.imread(str(paths.videos_dir / e.file), index=None)
        assert frames.shape == (STEPS + 1, 256, 256, 3) and e.frames == STEPS + 1
        scene = frames[:, 60:, :]
        assert scene.std() > 20 and len(np.unique(scene[-1].reshape(-1, 3), axis=0)) > 500
        assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).mean() > 0.5  # it moved
        first = [read_overlay_line(frames[0], i) for i in range(3)]
        last = [read_overlay_line(frames[-1], i) for i in range(3)]
        assert first[0] == "TRAINING EP %d  STEP %d" % (e.train_episode, e.step), first
        assert first[1] == "T 0  R -  RETURN 0.00", first
        m = re.fullmatch(r"T 50  R ([-+]\d+\.\d{3})  RETURN (-?\d+\.\d\d)", last[1])
        assert m, last
        assert float(m.group(2)) == pytest.approx(e.returns[0], abs=0.006), (last, e.returns)
        assert re.fullmatch(r"ACTION \d+\.\d\d  SUCCESS (YES|NO)", last[2]), last
        arrays, meta = read_trajectory(trajectory_path(paths.videos_dir / e.file))
        assert meta["video"] == e.file and meta["settle_steps"] == SETTLE
        assert arrays["actions"].shape == (STEPS, 8)
        assert arrays["obs"].shape[0] == arrays["env_states"].shape[0] == STEPS + 1
        assert float(arrays["rewards"].sum()) == pytest.approx(e.returns[0], rel=1e-4)
        assert float(arrays["rewards"][-1]) == pytest.approx(float(m.group(1)), abs=6e-4)
        # the env really stepped SETTLE times before the first recorded step
        assert arrays["elapsed"][0] == SETTLE + 1 and arrays["elapsed"][-1] == SETTLE + STEPS
    assert not list((paths.videos_dir / ".snapshots").glob("*.pt"))   # all used up


def ack_of(run: Path, vid: str, cond):
    def check():
        st = read_viewer_status(run, vid)
        return st if st is not None and cond(st) else None
    return check


def test_viewer_switches_checkpoint_refuses_a_torn_one_and_acks(trained):
    paths = RunPaths(trained)
    vid = start_viewer(trained, "none").viewer_id
    torn = paths.nn_dir / "ckpt_000000999.pth"
    try:
        st = wait_until(ack_of(trained, vid, lambda s: s.state == "running"), 90, poll=0.2,
                        what="the viewer to run (log: %s)" % log_tail(trained, vid))
        assert st.checkpoint_step == 800
        frame = wait_until(lambda: read_preview(trained, vid), 30, what="a preview frame")
        assert frame.step == 800 and len(set(frame.rgb)) > 50
        t0 = time.monotonic()
        seq = write_state(trained, "manual", paths.nn_dir / "ckpt_000000400.pth").seq
        st = wait_until(ack_of(trained, vid, lambda s: s.seq == seq), 20, poll=0.05,
                        what="the ack of the switch")
        assert st.checkpoint_path.endswith("ckpt_000000400.pth") and st.checkpoint_step == 400
        assert st.error is None and time.monotonic() - t0 < 10
        wait_until(lambda: (lambda f: f if f and f.step == 400 else None)(
            read_preview(trained, vid)), 20, what="a frame of the new checkpoint")
        torn.write_bytes((paths.nn_dir / "ckpt_000000800.pth").read_bytes()[:5000])
        seq = write_state(trained, "manual", torn).seq
        st = wait_until(ack_of(trained, vid, lambda s: s.seq == seq), 20, poll=0.05,
                        what="the ack of the refusal")
        assert "not a complete torch checkpoint" in (st.error or ""), st.error
        assert st.checkpoint_path.endswith("ckpt_000000400.pth")      # the policy stays
        assert st.state == "running" and st.episode is not None
    finally:
        write_state(trained, "auto")
        stop_run(trained, [vid])
        torn.unlink()
    assert read_viewer_status(trained, vid).state == "stopped"


@pytest.mark.skipif(not shutil.which("Xvfb"), reason="Xvfb is not installed")
def test_sapien_window_under_xvfb_shows_the_scene(trained, xvfb):
    from test_playback_window import screenshot

    x = xvfb()
    before = screenshot(x.name)
    vid = start_viewer(trained, x.name).viewer_id
    try:
        st = wait_until(ack_of(trained, vid, lambda s: s.state == "running"), 120, poll=0.2,
                        what="the window viewer to run (log: %s)" % log_tail(trained, vid))
        assert st.display == x.name and st.error is None
        wait_until(ack_of(trained, vid, lambda s: (s.extra or {}).get("env_steps", 0) > 3),
                   60, what="a few steps drawn")
        shot = screenshot(x.name)
        win = shot[:240, :320].astype(int)
        assert before.std() < 1 and win.std() > 20, (before.std(), win.std())
        r, g, b = win[..., 0], win[..., 1], win[..., 2]
        wood = (r > 120) & (r > g + 30) & (g > b + 10)           # the orange table top
        assert wood.mean() > 0.05, wood.mean()
        assert shot[250:, 330:].std() < 1                      # nothing outside the window
        log = RunPaths(trained).log_file(vid).read_text(errors="replace")
        assert "window open on display %s" % x.name in log
    finally:
        stop_run(trained, [vid])
    assert read_viewer_status(trained, vid).state == "stopped"
