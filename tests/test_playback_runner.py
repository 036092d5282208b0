"""Playback end to end on a real short training: videos recorded during training (counted in
episodes), `pitwall record` (mp4 + index), a headless viewer's preview frames following a
checkpoint switch, and `pitwall play --display` falling back to headless. Real processes through
the starter/wrapper machinery; no mocks."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("mujoco")
imageio = pytest.importorskip("imageio")

from runners.protocol import (RunPaths, read_preview, read_run_record, read_video_index,
                              read_viewer_status, write_state)
from tui.cli import main as cli
from tui.core.launch import build_process_specs, launch
from tui.core.profiles import resolve_profile
from tui.core.registry import load_run
from tui.core.run_control import stop_run
from tui.core.viewers import start_viewer

from conftest import REPO, kill_all_runs, wait_until

PROFILE = REPO / "configs" / "mujoco" / "inverted_pendulum.yaml"
SHORT = ["total_steps=2048", "num_envs=4", "rollout_steps=64", "save_every=2", "ppo.epochs=2",
         "ppo.minibatches=2"]
VIDEO = ["record_video=true", "video_record_interval=60", "max_video_steps=30",
         "video_width=96", "video_height=64"]
INTERVAL = 60


def make_profiled_run(root: Path, overrides: list[str]) -> Path:
    """A run directory exactly as `pitwall launch` writes it, without starting anything."""
    from runners.protocol import RunRecord, create_run_dir, now_iso, write_run_record

    rp = resolve_profile(str(PROFILE), overrides)
    run_dir = create_run_dir(root, rp.experiment)
    record = RunRecord(name=run_dir.name, experiment=rp.experiment, profile_name=rp.name,
                       backend=rp.profile.backend, params=rp.params,
                       processes=build_process_specs(rp, run_dir), created_at=now_iso(),
                       profile_path=str(rp.path), overrides=list(rp.overrides),
                       profile=rp.profile.model_dump(mode="json"))
    write_run_record(run_dir, record)
    return run_dir


def mp4_frames(path: Path) -> list:
    reader = imageio.get_reader(str(path), "ffmpeg")
    try:
        return [f for f in reader]
    finally:
        reader.close()


def log_tail(run: Path, role: str) -> str:
    try:
        return "\n".join(RunPaths(run).log_file(role).read_text().splitlines()[-30:])
    except OSError:
        return "<no log>"


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    """One short training with videos every 60 episodes, run through `launch` (detached)."""
    root = tmp_path_factory.mktemp("playback") / "runs"
    res = launch(str(PROFILE), SHORT + VIDEO, runs_root=root)
    run = res.run_dir
    try:
        wait_until(lambda: load_run(run).status not in ("starting", "running"), 240,
                   what="the training to end")
        assert load_run(run).status == "finished", log_tail(run, "train")
        yield run
    finally:
        kill_all_runs(root)


def test_training_records_a_video_every_n_episodes_not_steps(launched):
    import torch

    entries, bad = read_video_index(launched)
    log = RunPaths(launched).log_file("train").read_text()
    assert bad == 0, log
    episodes = torch.load(str(RunPaths(launched).latest), weights_only=True)["episodes"]
    assert episodes >= 2 * INTERVAL, "too few episodes to test: %d" % episodes
    skipped = log.count("skipped")
    assert all(e.source == "training" for e in entries)
    # one video per 60 finished episodes (a step count would give 2048 // 60 = 34)
    assert len(entries) + skipped == episodes // INTERVAL, (len(entries), skipped, episodes)
    assert sorted(e.train_episode for e in entries)[0] == INTERVAL
    assert all(e.train_episode % INTERVAL == 0 for e in entries)
    steps = [e.step for e in entries]
    assert steps == sorted(steps) and steps[-1] < 2048
    for e in entries:
        frames = mp4_frames(RunPaths(launched).videos_dir / e.file)
        assert len(frames) == e.frames == sum(e.lengths) + e.episodes
        assert frames[0].shape == (64, 96, 3) and (e.width, e.height) == (96, 64)
        assert e.checkpoint == "" and e.lengths[0] <= 30
    snaps = RunPaths(launched).videos_dir / ".snapshots"
    assert not snaps.exists() or os.listdir(snaps) == []        # every snapshot was used up


def test_record_cli_writes_an_mp4_with_overlay_and_an_index_entry(launched, capsys):
    root = str(launched.parent)
    before = len(read_video_index(launched)[0])
    rc = cli(["--root", root, "record", launched.name, "--checkpoint", "ckpt_000001024.pth",
              "--episodes", "2", "--size", "128x96", "--wait", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0, out
    v = out["video"]
    assert v["source"] == "record" and v["step"] == 1024 and len(v["returns"]) == 2
    assert v["checkpoint"].endswith("nn/ckpt_000001024.pth")
    # +1 per step the pole stands (the step it falls earns 0)
    assert all(r in (n, n - 1) for r, n in zip(v["returns"], v["lengths"])), v
    path = RunPaths(launched).videos_dir / v["file"]
    frames = mp4_frames(path)
    assert len(frames) == v["frames"] == sum(v["lengths"]) + 2
    assert frames[0].shape == (96, 128, 3) and v["size"] == path.stat().st_size
    # the overlay: white text on a dark box at the top; nothing white below it
    top, below = frames[3][2:24, 2:60], frames[3][48:, :]
    assert (top.min(axis=2) > 180).sum() > 30 and (below.min(axis=2) > 180).sum() == 0
    entries, _ = read_video_index(launched)
    assert len(entries) == before + 1 and entries[-1].file == v["file"]

    assert cli(["--root", root, "videos", launched.name, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["file"] == v["file"] and listed[0]["exists"]


def test_headless_viewer_writes_preview_frames_that_follow_a_switch(launched):
    paths = RunPaths(launched)
    vid = start_viewer(launched, "none").viewer_id
    try:
        first = wait_until(lambda: read_preview(launched, vid), 60,
                           what="a first preview frame")
        assert first.step == 2048 and first.width == 256 and first.height == 256
        assert len(set(first.rgb)) > 4                                 # not a blank frame
        later = wait_until(lambda: (lambda f: f if f and f.frame > first.frame + 2 else None)(
            read_preview(launched, vid)), 10, what="newer frames")
        assert later.time > first.time and 2.0 <= (later.frame - first.frame) / (
            later.time - first.time) <= 6.0                           # ~4 frames a second
        t0 = time.time()
        write_state(launched, "manual", paths.nn_dir / "ckpt_000000512.pth")
        switched = wait_until(lambda: (lambda f: f if f and f.step == 512 else None)(
            read_preview(launched, vid)), 10, what="a frame of the new checkpoint")
        assert switched.checkpoint.endswith("ckpt_000000512.pth")
        assert switched.time - t0 < 2.0                  # promptly (the benchmark measures it)
        assert read_viewer_status(launched, vid).display == "none"
    finally:
        write_state(launched, "auto")
        stop_run(launched, [vid])
    assert read_viewer_status(launched, vid).state == "stopped"


def test_play_falls_back_to_headless_with_a_message_when_the_display_is_dead(
        launched, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PITWALL_CONFIG_DIR", str(tmp_path / "config"))
    dead = ":%d" % _free_display_number()
    rc = cli(["--root", str(launched.parent), "play", launched.name, "--display", dead,
              "--json"])
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert rc == 0 and out["display"] == "none"
    assert "display %s does not work" % dead in captured.err
    assert "runs headless" in captured.err
    vid = out["viewer"]
    try:
        st = wait_until(lambda: (lambda a: a if a and a.state == "running" else None)(
            read_viewer_status(launched, vid)), 60, what="the headless viewer")
        assert st.display == "none"
        rec = load_run(launched).role(vid).record
        assert rec.argv[rec.argv.index("--display") + 1] == "none"
        assert not (tmp_path / "config" / "displays.json").exists()   # a failure is not kept
    finally:
        stop_run(launched, [vid])


def _free_display_number() -> int:
    for n in range(150, 400):
        if not os.path.exists("/tmp/.X11-unix/X%d" % n) and not os.path.exists(
                "/tmp/.X%d-lock" % n):
            return n
    raise RuntimeError("no free display number")


def test_recorder_role_is_listed_with_the_run(launched):
    """A recording runs as a role of its own (its log, its procs record) like a viewer."""
    info = load_run(launched)
    recs = [v for v in info.viewers if v.role.startswith("record-")]
    assert recs and recs[0].state == "finished" and recs[0].record.kind == "aux"
    assert read_run_record(launched).process(recs[0].role) is None


def test_recordings_name_the_numbered_checkpoint_latest_links_to(launched, capsys):
    """latest.pth is a hard link to the newest numbered file: a recording of either names the
    numbered file (it stays put; latest moves on)."""
    from runners.protocol import latest_link_target

    root = str(launched.parent)
    newest = latest_link_target(RunPaths(launched).latest)
    assert newest is not None and newest.name.startswith("ckpt_")
    for ref in ("latest.pth", newest.name):
        rc = cli(["--root", root, "record", launched.name, "--checkpoint", ref,
                  "--episodes", "1", "--size", "64x64", "--wait", "--json"])
        v = json.loads(capsys.readouterr().out)["video"]
        assert rc == 0 and v["checkpoint"] == str(newest), (ref, v["checkpoint"])
        assert "latest" not in v["file"], v["file"]
