"""The runner toolkit end to end with a backend written only under tests/fixtures/
(tiny_backend.py, profiles/tiny.yaml): launch-time parameter checks, train, the capabilities the
control center records, a headless viewer that hot-swaps and acks, preview frames, record, and
what is refused with a reason (a window from a backend that opens none). Real processes."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from runners.protocol import (RunPaths, read_preview, read_run_record, read_video_index,
                              read_viewer_status, write_state)
from tui.cli import main as cli
from tui.core.launch import launch
from tui.core.profiles import ProfileError
from tui.core.registry import load_run
from tui.core.run_checkpoints import list_run_checkpoints, select_checkpoint
from tui.core.run_profile import run_capabilities
from tui.core.videos import record_unavailable, start_recording
from tui.core.viewers import ViewerError, choose_viewer_display, start_viewer

from conftest import TEST_PROFILES, text_of, wait_until

TINY = str(TEST_PROFILES / "tiny.yaml")


def acked(run: Path, vid: str, cond):
    def check():
        a = read_viewer_status(run, vid)
        return a if a is not None and cond(a) else None
    return check


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from conftest import kill_all_runs

    root = tmp_path_factory.mktemp("toolkit") / "runs"
    run = launch(TINY, ["iterations=12"], runs_root=root).run_dir
    try:
        wait_until(lambda: load_run(run).status == "finished", 60, what="the tiny training")
        yield run
    finally:
        kill_all_runs(root)


def test_the_runner_refuses_bad_params_before_anything_is_created(tmp_path, capsys):
    root = tmp_path / "runs"
    with pytest.raises(ProfileError) as e:
        launch(TINY, ["iterations=0"], runs_root=root)
    assert "params.iterations" in str(e.value) and "must be >= 1" in str(e.value)
    assert "tiny.yaml" in str(e.value) and not any(root.glob("*/run.json"))
    # the embedded runner's own rules, at launch too (issue: values refused a second later)
    for bad, field in (("total_steps=-5", "params.total_steps"), ("num_envs=0", "params.num_envs")):
        code = cli(["--root", str(root), "launch", "mujoco/inverted_pendulum", bad])
        err = capsys.readouterr().err
        assert code == 2 and field in err and "inverted_pendulum.yaml" in err, err
    assert not any(root.glob("*/run.json"))


def test_train_capabilities_play_switch_preview_and_record(tiny_run):
    run = tiny_run
    names = [c.name for c in list_run_checkpoints(run)]
    assert names[-2:] == ["ckpt_000000012.pth", "latest.pth"] and len(names) == 13
    caps = run_capabilities(read_run_record(run))
    assert caps.backend == "tiny" and caps.can("record") and caps.can("preview")
    assert not caps.can("window") and "opens no window" in caps.reason("window")

    # a window is refused with the backend's reason; auto runs headless and says why
    with pytest.raises(ViewerError, match="opens no window"):
        start_viewer(run, ":0")
    choice = choose_viewer_display(run, "auto")
    assert choice.display == "none" and "opens no window" in choice.message

    vid = start_viewer(run, "none").viewer_id
    first = wait_until(acked(run, vid, lambda a: a.state == "running"), 30, what="the viewer")
    assert first.checkpoint_step == 12 and first.display == "none"
    frame = wait_until(lambda: read_preview(run, vid), 20, what="a preview frame")
    assert frame.width == 64 and frame.height == 32 and frame.step == 12
    # a manual switch, acked with its seq; the preview follows without a restart
    req = select_checkpoint(run, "manual", "3")
    a = wait_until(acked(run, vid, lambda a: a.seq == req.seq), 10, what="the switch")
    assert a.checkpoint_step == 3 and a.error is None and a.pid == first.pid
    wait_until(lambda: (read_preview(run, vid) or frame).step == 3, 10, what="a new frame")
    # a torn file is refused; the viewer keeps step 3 and says so
    bad = RunPaths(run).nn_dir / "ckpt_000000099.pth"
    bad.write_text('{"gains": [1.0')
    req = write_state(run, "manual", bad)
    a = wait_until(acked(run, vid, lambda a: a.seq == req.seq and a.error), 15,
                   what="the refusal")
    assert a.checkpoint_step == 3 and "ckpt_000000099.pth" in a.error
    wait_until(lambda: "checkpoint refused, keeping the current policy" in text_of(
        RunPaths(run).log_file(vid)), 5, what="the refusal in the log")

    # record: the backend's frames, the toolkit's mp4 and index
    assert record_unavailable(run) is None
    started = start_recording(run, "ckpt_000000012.pth", 2)
    started.starter.wait(30)
    entries = wait_until(lambda: read_video_index(run)[0], 60, what="the video")
    e = entries[-1]
    assert Path(e.checkpoint).name == "ckpt_000000012.pth" and e.episodes == 2
    assert e.frames == 2 * 51 and (e.width, e.height) == (64, 32)
    assert (RunPaths(run).videos_dir / e.file).stat().st_size > 0
    rec = read_run_record(run)
    assert rec.backend == "tiny" and json.dumps(rec.capabilities)


def test_a_headless_viewer_nobody_watches_ends(tiny_run):
    """``play.idle_exit``: a headless viewer unwatched for that long ends itself (exit 0)."""
    run = tiny_run
    from runners.protocol import read_proc_record
    from runners.protocol.preview import mark_preview_watched

    select_checkpoint(run, "auto")
    vid = start_viewer(run, "none", extra_args=["--idle-exit", "3"]).viewer_id
    wait_until(acked(run, vid, lambda a: a.state == "running"), 30, what="the viewer")
    t0 = time.monotonic()
    watched_until = t0 + 6
    while time.monotonic() < watched_until:       # watched: it stays
        mark_preview_watched(run, vid)
        time.sleep(0.5)
    rec = read_proc_record(run, vid)
    assert rec is not None and not rec.ended
    rec = wait_until(lambda: (lambda r: r if r and r.ended else None)(read_proc_record(run, vid)),
                     20, what="the unwatched viewer ending")
    assert rec.exit_code == 0
    assert "nobody has watched this headless viewer" in text_of(RunPaths(run).log_file(vid))
