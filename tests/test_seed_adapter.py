"""The adapter for the seed's unmodified ``train_play.py``: output-dir discovery, the auto-mode
relay, viewer kicks, and a seed-style viewer reloading from Pitwall's state file in both modes.

The seed itself is private and needs Isaac Gym; ``tests/fixtures/seed_train_play_cpu.py`` is a
CPU re-creation of its visible behaviour (a real rl_games training, in-place ``latest.pth``, a
play loop that reads only ``checkpoint_path`` and ``last_update``). That is what runs here.
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import FIXTURES, text_of, wait_until
from runners.protocol import (ProcessSpec, RunRecord, read_artifacts,
                              read_proc_record, read_state, write_run_record, write_state)
from tui.core.launch import launch
from runners.adapters.output_discovery import LogScanner, discover_output_dir, discovery_spec
from runners.adapters.relay import CheckpointWatcher, announce, reannounce
from runners.protocol import CheckpointLayout, CheckpointSpec
from tui.core.registry import load_run
from tui.core.run_checkpoints import layout, list_run_checkpoints, select_checkpoint
from tui.core.run_control import stop_run
from tui.core.viewers import start_viewer

SEED_FIXTURE = FIXTURES / "seed_train_play_cpu.py"
REGEX = r"Training will save to: (?P<dir>\S+)"


def watcher_of(out: Path, latest: str = "latest.pth", **kw) -> CheckpointWatcher:
    """What the relay watches for a seed-style trainer writing ``nn/<latest>`` in place."""
    spec = CheckpointSpec(dir="nn", latest=latest, atomic=False)
    return CheckpointWatcher(CheckpointLayout(out, out / "nn", spec), **kw)


def fake_run(tmp_path: Path, cwd: Path) -> Path:
    run = tmp_path / "runs" / "Ant_2026-01-01_00-00-00"
    (run / "logs").mkdir(parents=True)
    rec = RunRecord(name=run.name, experiment="Ant", profile_name="isaacgym/seed_ant",
                    backend="isaacgym-seed", params={}, created_at="t",
                    processes=[ProcessSpec(role="train", argv=["python"], cwd=str(cwd))],
                    profile={"output_discovery": {"role": "train", "regex": REGEX},
                             "checkpoints": {"dir": "nn", "latest": "latest.pth"}})
    write_run_record(run, rec)
    return run


def test_discovery_takes_the_newest_announcement_from_the_role_cwd(tmp_path):
    ige = tmp_path / "IsaacGymEnvs"
    ige.mkdir()
    run = fake_run(tmp_path, ige)
    log = run / "logs" / "train.log"
    log.write_text("Importing module 'gym_38'\nTraining will save to: runs/Ant_2026-01-01")
    assert discover_output_dir(run) is None            # half a line: not yet
    with open(log, "a") as f:
        f.write("_10-00-00\nfps step: 1 fps step and policy inference: 1 fps total: 1 "
                "epoch: 1/10 frames: 0\n")
    found = discover_output_dir(run)
    assert found == ige / "runs" / "Ant_2026-01-01_10-00-00"
    art = read_artifacts(run)
    assert Path(art.dir) == found and art.source == "logs/train.log"

    # the control center's lazy path: no artifacts.json yet -> layout() discovers it
    (run / "artifacts.json").unlink()
    lay = layout(run)
    assert lay.out_dir == found and lay.nn_dir == found / "nn"
    assert read_artifacts(run) is not None

    # a restarted trainer announcing a new (absolute) dir wins; a truncated log is re-read
    scanner = LogScanner(discovery_spec(run))
    assert scanner.poll() == found
    with open(log, "a") as f:
        f.write("Training will save to: %s/elsewhere\n" % tmp_path)
    assert scanner.poll() == tmp_path / "elsewhere"
    log.write_text("Training will save to: runs/Ant_x\n")
    assert scanner.poll() == ige / "runs" / "Ant_x"


def test_relay_announces_a_latest_only_once_complete_and_never_overrides_manual(tmp_path):
    out = tmp_path / "runs" / "Ant_2026-01-01_10-00-00"
    nn = out / "nn"
    nn.mkdir(parents=True)
    buf = tmp_path / "whole.pth"
    torch.save({"model": {"w": torch.randn(256, 256)}, "epoch": 1, "frame": 10}, buf)
    data = buf.read_bytes()
    latest = nn / "latest.pth"
    watcher = watcher_of(out, stable_for=0.3)
    assert watcher.poll() is None                        # nothing there

    with open(latest, "wb") as f:                        # the seed writes in place
        f.write(data[: len(data) // 2])
        f.flush()
        assert watcher.poll() is None                    # fresh: wait for it to settle
        time.sleep(0.5)
        assert watcher.poll() is None                    # settled, but half a zip archive
        f.write(data[len(data) // 2:])
    assert watcher.poll() is None                        # complete, but just changed
    time.sleep(0.4)
    first = wait_until(watcher.poll, timeout=3, what="the completed file")
    assert first == latest and watcher.poll() is None    # once per version

    st1 = announce(out, "nn/latest.pth")                 # no state yet: auto is created
    assert st1.mode == "auto" and st1.seq == 1 and st1.checkpoint_path == str(latest)
    assert st1.experiment_dir == str(out) and st1.written_by["tool"] == "pitwall-relay"
    st2 = announce(out, "nn/latest.pth")
    assert st2.seq == 2 and st2.last_update > st1.last_update

    older = nn / "last_Ant_ep_50_rew_1.0.pth"
    older.write_bytes(data)
    manual = write_state(out, "manual", older)
    assert announce(out, "nn/latest.pth") is None
    assert read_state(out).checkpoint_path == str(older) and read_state(out).mode == "manual"
    kicked = reannounce(out, "nn/latest.pth")             # a viewer started: same choice again
    assert (kicked.mode, kicked.checkpoint_path) == ("manual", str(older))
    assert kicked.seq == manual.seq + 1 and kicked.last_update > manual.last_update

    # a relay (re)started after the last announcement does not announce the same file again
    write_state(out, "auto")
    assert watcher_of(out, stable_for=0.0).poll() is None
    time.sleep(0.05)
    latest.write_bytes(data)                             # a new version is announced
    assert wait_until(watcher_of(out, stable_for=0.1).poll, timeout=3, what="the new version")


# --------------------------------------------------------------------------- end to end

def loads(log: Path) -> list[str]:
    """Checkpoints the seed-style viewer loaded, in order."""
    return re.findall(r"^Loaded checkpoint (\S+) \(last_update", text_of(log), re.M)


def same(a: str, b: Path) -> bool:
    return os.path.exists(a) and os.path.samefile(a, b)


def test_seed_train_play_managed_by_pitwall(tmp_path, runs_root):
    pytest.importorskip("rl_games")
    ige = tmp_path / "IsaacGymEnvs"                       # the user's checkout, with the seed
    (ige / "isaacgymenvs").mkdir(parents=True)
    shutil.copy(SEED_FIXTURE, ige / "isaacgymenvs" / "train_play.py")
    profile = tmp_path / "seed_cpu.yaml"                   # the shipped profile, params only
    profile.write_text("\n".join([
        "extends: isaacgym/seed_ant",
        "params:",
        "  isaacgymenvs_dir: %s" % ige,
        "  python: %s" % sys.executable,
        "  task: Cartpole",
        "  experiment: Cart",
        "  num_envs: 4",
        "  checkpoint_save_freq: 4",
        "  max_iterations: 100000",
        "  sim_device: cpu",
        "  rl_device: cpu",
        "  checkpoint_update_freq: 100",
        "relay:",
        "  kick_after: [3, 6, 10, 15, 25, 40]",
        ""]))
    run = launch(str(profile), [], runs_root).run_dir
    rec = load_run(run).record
    assert [(p.role, p.kind) for p in rec.processes] == [("train", "train"), ("relay", "aux")]

    # discovery by the relay: the seed's own run dir below its working directory
    art = wait_until(lambda: read_artifacts(run), timeout=60, what="artifacts.json")
    out = Path(art.dir)
    assert out.parent == ige / "runs" and out.name.startswith("Cart_")
    # the relay follows each completed latest.pth in auto mode
    st = wait_until(lambda: (lambda s: s if s and s.seq >= 2 else None)(read_state(out)),
                    timeout=60, what="two relayed latest.pth")
    assert st.mode == "auto" and st.checkpoint_path == str(out / "nn" / "latest.pth")
    listed = [c.name for c in list_run_checkpoints(run)]
    assert listed[-1] == "latest.pth"
    wait_until(lambda: any(n.startswith("last_Cart_ep_") for n in os.listdir(out / "nn")),
               what="rl_games' own last_ file")
    assert (out / "summaries").is_dir()
    assert "fps step:" in text_of(run / "logs" / "train.log")

    # a seed viewer (its play mode, unmodified) follows latest through the relay
    start_viewer(run).starter.wait(30)
    vlog = run / "logs" / "viewer-1.log"
    wait_until(lambda: any(same(p, out / "nn" / "latest.pth") for p in loads(vlog)),
               timeout=90, what="the seed viewer loading latest.pth")
    n_auto = len(loads(vlog))
    wait_until(lambda: len(loads(vlog)) > n_auto, timeout=60, what="a reload of a newer latest")

    # manual: Pitwall's state file, read by the seed's logic (checkpoint_path, last_update)
    chosen = sorted((out / "nn").glob("last_Cart_ep_*.pth"))[0]
    st = select_checkpoint(run, "manual", chosen.name)
    assert Path(st.checkpoint_path).is_absolute()
    wait_until(lambda: same(loads(vlog)[-1], chosen), timeout=30, what="the manual choice")
    relay_log = run / "logs" / "relay.log"
    wait_until(lambda: "state is manual" in text_of(relay_log), timeout=30,
               what="the relay leaving a manual choice alone")
    time.sleep(1.0)
    assert same(loads(vlog)[-1], chosen) and read_state(out).mode == "manual"

    # back to auto: latest again
    n = len(loads(vlog))
    select_checkpoint(run, "auto")
    wait_until(lambda: len(loads(vlog)) > n and same(loads(vlog)[-1], out / "nn" / "latest.pth"),
               timeout=30, what="auto after manual")

    # training stops; a viewer that starts now gets the state re-announced (the kick), so it
    # loads a checkpoint instead of running its random start policy forever
    stop_run(run, ["train"])
    assert read_proc_record(run, "train").exit_code == 0
    start_viewer(run).starter.wait(30)
    wait_until(lambda: loads(run / "logs" / "viewer-2.log"), timeout=90,
               what="the kicked viewer loading")
    assert "viewer-2 started" in text_of(relay_log)
    assert load_run(run).role("relay").state == "running"   # viewers alive: it stays

    stop_run(run, ["viewer-1", "viewer-2"])
    relay = wait_until(lambda: (lambda r: r if r and r.ended else None)(
        read_proc_record(run, "relay")), timeout=30, what="the relay ending by itself")
    assert relay.exit_code == 0 and "relay done" in text_of(relay_log)
    assert load_run(run).status == "stopped"


def test_relay_announces_a_latest_that_never_stops_changing(tmp_path):
    """Fast epochs rewrite latest.pth more often than ``stable_for``: after ``max_wait`` a
    complete archive is announced anyway; a half-written one never is."""
    import threading

    import torch

    out = tmp_path / "out"
    (out / "nn").mkdir(parents=True)
    path = out / "nn" / "latest.pth"
    stop = threading.Event()

    def rewrite():
        i = 0
        while not stop.is_set():
            torch.save({"w": torch.full((64,), float(i))}, str(path))  # in place, as the seed
            i += 1
            time.sleep(0.05)

    t = threading.Thread(target=rewrite, daemon=True)
    t.start()
    try:
        watcher = watcher_of(out, stable_for=0.5, max_wait=1.0)
        t0 = time.monotonic()
        found = wait_until(watcher.poll, timeout=10, poll=0.02, what="an overdue announcement")
        assert time.monotonic() - t0 >= 0.9
        assert found == path and path.stat().st_size > 0
    finally:
        stop.set()
        t.join(5)
    half = out / "nn" / "half.pth"
    torch.save({"w": torch.zeros(1000)}, str(half))
    half.write_bytes(half.read_bytes()[:300])
    w2 = watcher_of(out, "half.pth", stable_for=0.5, max_wait=0.0)
    assert w2.poll() is None
