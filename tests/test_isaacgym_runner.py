"""The IsaacGym runner (rl_games) on CPU: a real training through ``pitwall launch``, a viewer that
follows manual and auto switches and acknowledges them, resume, and allow-list loading.

Isaac Gym itself is not here (it needs an NVIDIA GPU): the runner's gymnasium backend stands in
for the env factory; everything else (rl_games Runner, observer, player, checkpoints) is real.
"""
from __future__ import annotations

import collections
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import text_of, wait_until
from runners.protocol import (CheckpointLoadError, read_index, read_proc_record,
                              read_viewer_status, save_checkpoint)
from runners.isaacgym.checkpoint_io import (check_compatible, load_rl_games_checkpoint,
                                            plain_numbers)
from runners.isaacgym.config import parse_params
from tui.core.launch import build_process_specs, launch
from tui.core.profiles import ProfileError, discover_profiles, resolve_profile
from tui.core.registry import load_run
from tui.core.run_checkpoints import list_run_checkpoints, select_checkpoint
from tui.core.run_control import resume, stop_run
from tui.core.viewers import start_viewer

pytest.importorskip("rl_games")
pytest.importorskip("gymnasium")

PROFILE = "isaacgym/cpu_inverted_pendulum"


# --------------------------------------------------------------------------- loading

def rl_games_state(reward=np.float32(12.5)):
    """What rl_games' ``get_full_state_weights`` returns (numpy scalar included)."""
    model = collections.OrderedDict([("a2c_network.mu.weight", torch.randn(1, 4)),
                                     ("a2c_network.mu.bias", torch.zeros(1))])
    return {"model": model, "epoch": 7, "frame": 1792,
            "optimizer": {"state": {}, "param_groups": [{"lr": 3e-4, "params": [0, 1]}]},
            "last_mean_rewards": reward, "env_state": None}


def as_numpy1_pickle(src: Path, dst: Path) -> None:
    """Rewrite a checkpoint as numpy 1.x pickles it (``numpy.core.multiarray.scalar``), the way
    files from an Isaac Gym (Python 3.8, numpy 1) environment look."""
    with zipfile.ZipFile(str(src)) as z:
        items = [(n, z.read(n)) for n in z.namelist()]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as w:
        for n, data in items:
            if n.endswith("data.pkl"):
                assert b"numpy._core.multiarray\nscalar" in data
                data = data.replace(b"numpy._core.multiarray\nscalar",
                                    b"numpy.core.multiarray\nscalar")
            w.writestr(n, data)
    dst.write_bytes(out.getvalue())


@pytest.mark.parametrize("old_torch", [False, True],
                         ids=["safe_globals", "restricted_unpickler"])
def test_rl_games_checkpoints_load_only_through_the_allow_list(tmp_path, monkeypatch, old_torch):
    if old_torch:  # as on torch < 2.5 (Isaac Gym's Python 3.8 envs): no safe_globals
        monkeypatch.delattr(torch.serialization, "safe_globals")
    loader = load_rl_games_checkpoint
    f = tmp_path / "Ant.pth"
    torch.save(rl_games_state(), f)
    with pytest.raises(Exception):
        torch.load(str(f), weights_only=True)  # the numpy scalar needs the allow-list
    state = loader(f)
    assert float(state["last_mean_rewards"]) == 12.5 and state["frame"] == 1792
    old = tmp_path / "numpy1.pth"
    as_numpy1_pickle(f, old)
    assert float(loader(old)["last_mean_rewards"]) == 12.5

    marker = tmp_path / "pwned"

    class Evil(object):
        def __reduce__(self):
            return (os.system, ("touch %s" % marker,))

    evil = tmp_path / "evil.pth"
    torch.save({"model": {}, "x": Evil()}, evil)
    with pytest.raises(CheckpointLoadError):
        loader(evil)
    assert not marker.exists()

    half = tmp_path / "half.pth"
    half.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.raises(CheckpointLoadError) as e:
        loader(half)
    assert "truncated" in str(e.value) or "cannot load" in str(e.value)


def test_compiled_names_are_stripped_and_other_networks_refused(tmp_path):
    state = rl_games_state()
    state["model"] = collections.OrderedDict(("_orig_mod." + k, v)
                                             for k, v in state["model"].items())
    f = tmp_path / "compiled.pth"
    torch.save(state, f)
    loaded = load_rl_games_checkpoint(f)
    assert list(loaded["model"]) == ["a2c_network.mu.weight", "a2c_network.mu.bias"]
    mine = {"a2c_network.mu.weight": torch.zeros(1, 4), "a2c_network.mu.bias": torch.zeros(1)}
    check_compatible(mine, loaded["model"], f)
    with pytest.raises(CheckpointLoadError, match="does not match"):
        check_compatible({"a2c_network.mu.weight": torch.zeros(2, 4),
                          "a2c_network.mu.bias": torch.zeros(2)}, loaded["model"], f)


def test_our_checkpoints_need_no_allow_list(tmp_path):
    state = plain_numbers(rl_games_state())
    assert type(state["last_mean_rewards"]) is float
    path = save_checkpoint(tmp_path, lambda f: torch.save(state, f), step=1792, epoch=7)
    again = torch.load(str(tmp_path / "nn" / "latest.pth"), weights_only=True)
    assert again["last_mean_rewards"] == 12.5 and path.name == "ckpt_000001792.pth"


# --------------------------------------------------------------------------- profiles

def test_shipped_profiles_resolve_and_the_runner_takes_their_params(tmp_path):
    from conftest import REPO

    names = sorted(n for n in discover_profiles([REPO / "configs"]) if n.startswith("isaacgym/"))
    assert {"isaacgym/ant", "isaacgym/humanoid", "isaacgym/ant_multigpu", "isaacgym/seed_ant",
            "isaacgym/seed_humanoid", "isaacgym/cpu_inverted_pendulum"} <= set(names)
    run = tmp_path / "run"
    run.mkdir()
    for name in names:
        rp = resolve_profile(name, ["isaacgymenvs_dir=%s" % tmp_path]
                             if "seed_" in name else [])
        specs = build_process_specs(rp, run)
        if rp.profile.backend == "isaacgym":
            cfg = parse_params(rp.params)
            assert cfg.unknown == [], (name, cfg.unknown)
            assert "runners.isaacgym" in specs[0].argv and specs[0].resume_args
        if name.startswith("isaacgym/seed_"):
            assert [(s.role, s.kind) for s in specs] == [("train", "train"), ("relay", "aux")]
            assert specs[0].cwd == str(tmp_path) and "mode=train" in specs[0].argv
            assert specs[0].resume_args == ["checkpoint={checkpoint}"]
            assert rp.profile.output_discovery.role == "train"
    multi = build_process_specs(resolve_profile("isaacgym/ant_multigpu", ["num_gpus=4"]), run)[0]
    assert multi.argv[1:4] == ["-m", "torch.distributed.run", "--standalone"]
    assert "--nproc_per_node=4" in multi.argv and multi.env["PYTHONPATH"].endswith("/../..")
    assert (Path(multi.env["PYTHONPATH"]) / "runners" / "isaacgym").is_dir()
    with pytest.raises(ProfileError, match=r"processes\[0\]\.cwd.*does not exist"):
        build_process_specs(resolve_profile("isaacgym/seed_ant"), run)  # the placeholder dir


# --------------------------------------------------------------------------- a real run

def ack(run, vid="viewer-1"):
    return read_viewer_status(run, vid)


def wait_ack(run, cond, what, timeout=60.0):
    return wait_until(lambda: (lambda a: a if a is not None and cond(a) else None)(ack(run)),
                      timeout=timeout, what=what)


def test_training_viewer_switches_and_resume(runs_root):
    res = launch(PROFILE, ["max_iterations=100000", "checkpoint_save_freq=4", "num_envs=8",
                           "rl_games.config.save_best_after=3",
                           "rl_games.config.save_frequency=10"], runs_root)
    run = res.run_dir
    nn = run / "nn"
    wait_until(lambda: len(list(nn.glob("ckpt_*.pth"))) >= 2, timeout=90,
               what="two checkpoints from the training")
    assert (nn / "latest.pth").is_file() and (run / "summaries").is_dir()

    viewer = start_viewer(run)
    first = wait_ack(run, lambda a: a.state == "running" and a.checkpoint_path, "first load",
                     timeout=90)
    assert first.checkpoint_path == str(nn / "latest.pth") and first.seq == 0
    assert first.extra["backend"] == "gymnasium" and first.extra["num_envs"] == 4
    # auto (no state file yet): a newer latest.pth is loaded with no request at all
    wait_ack(run, lambda a: a.checkpoint_step > first.checkpoint_step, "a newer latest.pth")

    # manual: an old history file; it stays pinned while training writes new latest files
    old = sorted(nn.glob("ckpt_*.pth"))[0]
    st = select_checkpoint(run, "manual", old.name)
    a = wait_ack(run, lambda a: a.seq == st.seq, "ack of the manual switch")
    assert a.mode == "manual" and a.checkpoint_path == str(old) and a.error is None
    assert a.checkpoint_step == int(old.stem.split("_")[1])
    newest = max(nn.glob("ckpt_*.pth"))
    wait_until(lambda: max(nn.glob("ckpt_*.pth")) != newest, what="another save")
    episodes = ack(run).episode
    b = wait_ack(run, lambda b: b.episode > episodes, "an episode of the weak old policy")
    assert b.checkpoint_path == str(old) and b.episode_return is not None

    # manual on rl_games' own best file (numpy scalar inside: the allow-list path)
    best = nn / "InvertedPendulum.pth"
    wait_until(best.is_file, what="rl_games' best file")
    st = select_checkpoint(run, "manual", best.name)
    a = wait_ack(run, lambda a: a.seq == st.seq, "ack of the best file")
    assert a.checkpoint_path == str(best) and a.error is None

    # a broken file is refused; the policy that runs stays
    broken = nn / "broken_000001.pth"
    broken.write_bytes(old.read_bytes()[:5000])
    os.utime(broken, (1, 1))  # old, so not "maybe still being written"
    st = select_checkpoint(run, "manual", broken.name)
    a = wait_ack(run, lambda a: a.seq == st.seq and a.error, "refusal of a broken file")
    assert a.state == "running" and a.checkpoint_path == str(best)
    assert "broken_000001.pth" in a.error

    # back to auto: latest.pth again, and it keeps following it
    st = select_checkpoint(run, "auto")
    a = wait_ack(run, lambda a: a.seq == st.seq and a.checkpoint_path == str(nn / "latest.pth"),
                 "ack of auto")
    assert a.mode == "auto" and a.error is None
    wait_ack(run, lambda b: b.checkpoint_step > a.checkpoint_step, "a later latest.pth")

    # stop: SIGINT, the trainer saves and exits 0
    stop_run(run, ["viewer-1"])
    assert ack(run).state == "stopped"
    viewer.starter.wait(10)
    stop_run(run)
    rec = read_proc_record(run, "train")
    log = text_of(run / "logs" / "train.log")
    assert rec.exit_code == 0, log[-3000:]
    assert "stop requested: checkpoint saved" in log and "fps step:" in log
    assert load_run(run).status == "stopped"

    index, bad = read_index(nn)
    assert bad == 0
    ours = sorted((e for e in index.values() if e.file.startswith("ckpt_")), key=lambda e: e.step)
    assert all(e.epoch and "rewards/step" in e.metrics for e in ours)
    assert index["InvertedPendulum.pth"].epoch is not None       # rl_games' files indexed too
    assert any(n.startswith("last_InvertedPendulum_ep_") for n in index)
    final = torch.load(str(nn / "latest.pth"), weights_only=True)
    assert final["epoch"] == ours[-1].epoch and final["frame"] == ours[-1].step
    lines = (run / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    tags = set().union(*(r["metrics"] for r in records))
    assert {"rewards/step", "episode_lengths/step", "losses/a_loss", "info/kl",
            "performance/step_fps"} <= tags
    assert all(r["role"] == "train" for r in records)
    assert list((run / "summaries").glob("events.out.tfevents.*"))
    listed = [c.name for c in list_run_checkpoints(run)]
    assert listed[-1] == "latest.pth" and "InvertedPendulum.pth" in listed

    # resume from an older checkpoint: weights, optimizer and counters continue from it
    start = ours[1]
    resume(run, nn / start.file).wait(60)
    wait_until(lambda: (lambda r: r if r and r.attempt == 2 else None)(
        read_proc_record(run, "train")), what="train attempt 2")
    resumed = "resumed from %s (epoch %d, frame %d)" % (nn / start.file, start.epoch, start.step)
    next_save = "(epoch %d, frame" % ((start.epoch // 4 + 2) * 4)
    wait_until(lambda: resumed in text_of(run / "logs" / "train.log"), timeout=60,
               what="the resume line")
    wait_until(lambda: next_save in text_of(run / "logs" / "train.log").split(resumed)[-1],
               timeout=60, what="saves after the resume")
    stop_run(run)
    assert read_proc_record(run, "train").exit_code == 0
    after = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert after[len(records)]["step"] == start.step   # the frame counter was restored
