"""Any trainer, any viewer: a trainer that is not ours (numbered checkpoints written in place, no
latest file) with (a) a viewer that is not ours either, reading only ``checkpoint_path`` and
``last_update`` of the state file, and (b) Pitwall's player over the user's own functions.
The profiles (tests/fixtures/profiles/foreign*.yaml) use only what docs/profiles.md documents.
Real processes."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from runners.protocol import RunPaths, read_preview, read_run_record, read_viewer_status
from tui.core.launch import launch
from tui.core.registry import load_run
from tui.core.run_checkpoints import list_run_checkpoints, select_checkpoint
from tui.core.run_control import stop_run
from tui.core.run_profile import run_capabilities
from tui.core.videos import start_recording
from tui.core.viewers import start_viewer

from conftest import TEST_PROFILES, kill_all_runs, text_of, wait_until

torch = pytest.importorskip("torch")
AUTO_DEADLINE_S = 2.0     # a newer complete checkpoint is loaded within this


def completes(run: Path) -> dict[str, float]:
    """When the trainer finished writing each checkpoint (its own log line)."""
    return {m[0]: float(m[1]) for m in re.findall(r"^complete (\S+) ([\d.]+)$",
                                                  text_of(RunPaths(run).log_file("train")), re.M)}


def loads(run: Path, vid: str) -> list[tuple[str, float]]:
    return [(Path(p).name, float(t)) for p, t in re.findall(
        r"^loaded (\S+) step \d+ at ([\d.]+)$", text_of(RunPaths(run).log_file(vid)), re.M)]


def test_foreign_viewer_follows_a_foreign_trainer_in_auto_and_loads_a_manual_pin(tmp_path):
    root = tmp_path / "runs"
    run = launch(str(TEST_PROFILES / "foreign.yaml"), ["iterations=6"], runs_root=root).run_dir
    try:
        rec = read_run_record(run)
        assert [(p.role, p.kind) for p in rec.processes] == [("train", "train"), ("relay", "aux")]
        caps = run_capabilities(rec)
        assert caps.can("play") and not caps.can("record") and "own program" in caps.reason(
            "record")
        vid = start_viewer(run).viewer_id
        wait_until(lambda: completes(run), 30, what="a first checkpoint")
        # every newer checkpoint is loaded within 2 s of becoming complete
        wait_until(lambda: load_run(run).role("train").record.ended, 60, what="training")
        done = completes(run)
        assert len(done) == 6
        got = wait_until(lambda: (lambda ls: ls if {n for n, _ in ls} >= set(done) else None)(
            loads(run, vid)), 20, what="the viewer loading every checkpoint")
        first_load = {}
        for name, t in got:
            first_load.setdefault(name, t)
        late = {n: round(first_load[n] - done[n], 2) for n in done
                if first_load[n] - done[n] > AUTO_DEADLINE_S}
        assert not late, late
        assert [n for n, _ in got] == sorted(done, key=lambda n: done[n])   # in order, once each
        # the listing sorts the numbered files numerically; auto marks the newest
        listed = list_run_checkpoints(run)
        assert [c.name for c in listed] == ["model_%d.pt" % (100 * i) for i in range(1, 7)]
        assert listed[-1].same_as_latest and listed[-1].step == 600
        # a manual pin reaches the foreign viewer
        select_checkpoint(run, "manual", "model_200.pt")
        wait_until(lambda: loads(run, vid)[-1][0] == "model_200.pt", 10, what="the pin")
        select_checkpoint(run, "auto")
        wait_until(lambda: loads(run, vid)[-1][0] == "model_600.pt", 10, what="auto again")
        stop_run(run, [vid])
        relay = wait_until(lambda: (lambda r: r if r.ended else None)(
            load_run(run).role("relay").record), 30, what="the relay ending by itself")
        assert relay.exit_code == 0
    finally:
        kill_all_runs(root)


def test_pitwall_player_over_the_users_own_functions(tmp_path):
    root = tmp_path / "runs"
    run = launch(str(TEST_PROFILES / "foreign_byo.yaml"), ["iterations=3", "period=0.5"],
                 runs_root=root).run_dir
    try:
        caps = run_capabilities(read_run_record(run))
        assert caps.can("record") and caps.can("preview")
        wait_until(lambda: load_run(run).role("train").record.ended, 60, what="training")
        vid = start_viewer(run, "none").viewer_id
        a = wait_until(lambda: (lambda a: a if a and a.state == "running" else None)(
            read_viewer_status(run, vid)), 30, what="the viewer")
        assert Path(a.checkpoint_path).name == "model_300.pt" and a.checkpoint_step == 300
        assert wait_until(lambda: read_preview(run, vid), 20, what="a frame").width == 64
        req = select_checkpoint(run, "manual", "model_100.pt")
        a = wait_until(lambda: (lambda a: a if a and a.seq == req.seq else None)(
            read_viewer_status(run, vid)), 10, what="the switch")
        assert a.checkpoint_step == 100 and a.error is None
        started = start_recording(run, "model_200.pt", 1)
        started.starter.wait(30)
        from runners.protocol import read_video_index

        entry = wait_until(lambda: read_video_index(run)[0], 60, what="the video")[-1]
        assert entry.step == 200 and entry.frames == 51 and os.path.getsize(
            RunPaths(run).videos_dir / entry.file) > 0
    finally:
        kill_all_runs(root)
