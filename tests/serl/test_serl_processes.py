"""The SERL runner end to end: real learner and actor processes on loopback, started, killed,
restarted and stopped the way the control center does it (``tui.core``), no mocks.

Tiny settings (32-unit networks, batch 32, 300 warm-up steps, a checkpoint every 10 update
steps) keep it to seconds of training; every wait is a polling loop with a generous timeout.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("zmq")
pytest.importorskip("torch")
pytest.importorskip("mujoco")

import zmq

from conftest import FIXTURES, REPO, text_of, wait_until
from runners.protocol import (ProtocolError, list_checkpoints, parse_metric_line,
                              read_preview, read_proc_record, read_run_record,
                              read_viewer_status, write_state)
from runners.protocol.endpoints import Endpoints, read_endpoints, write_endpoints
from runners.protocol.safe_pickle import write_pickle
from runners.serl.wire import PROTOCOL, decode, encode
from tui.core.launch import launch
from tui.core.registry import load_run
from tui.core.run_checkpoints import select_checkpoint
from tui.core.run_control import restart, stop_run
from tui.core.run_profile import run_capabilities
from tui.core.videos import start_recording, wait_recording
from tui.core.viewers import start_viewer

SMALL = ["random_steps=300", "training_starts=300", "batch_size=32", "sac.hidden=[32,32]",
         "replay_buffer_capacity=20000", "checkpoint_period=10", "log_period=5",
         "actor_log_period=200", "steps_per_update=25", "eval_period=0", "heartbeat_s=0.5",
         "learner_timeout_s=2.0"]
T = 120.0  # seconds: a loaded 2-core box starts a torch process in 5-20 s


def records(run: Path, role: str):
    try:
        raw = (run / "metrics.jsonl").read_bytes().split(b"\n")[:-1]
    except FileNotFoundError:
        return []
    return [r for r in map(parse_metric_line, raw) if r.role == role]


def latest(run: Path, role: str, tag: str):
    vals = [r.metrics[tag] for r in records(run, role) if tag in r.metrics]
    return vals[-1] if vals else None


def log(run: Path, role: str) -> str:
    return text_of(run / "logs" / ("%s.log" % role))


def wait_log(run: Path, role: str, text: str, count: int = 1, timeout: float = T) -> str:
    return wait_until(lambda: (lambda t: t if t.count(text) >= count else None)(log(run, role)),
                      timeout=timeout, what="%r x%d in %s.log of %s" % (text, count, role,
                                                                       run.name))


def alive(run: Path, role: str) -> bool:
    return bool(load_run(run).role(role).alive)


def acked(run: Path, vid: str, cond):
    def check():
        ack = read_viewer_status(run, vid)
        return ack if ack is not None and cond(ack) else None
    return check


def test_learner_and_actor_train_survive_a_learner_kill_and_stop_in_order(runs_root):
    a = launch("serl/ant", SMALL, runs_root).run_dir
    b = launch("serl/ant", SMALL + ["env=InvertedPendulum-v5"], runs_root).run_dir  # at once
    try:
        _check_training(a, b)
        stop_run(b)  # frees the cores; its run dir serves the version check below
        _check_actor_refuses_another_protocol(b)
        _check_strangers_are_refused(a)
        _check_playback_hot_swap(a)
        _check_kill_and_restart(a)
        _check_stop(a)
    finally:
        for run in (a, b):
            stop_run(run)


def _check_training(a: Path, b: Path) -> None:
    for run in (a, b):
        wait_until(lambda: any(c.name == "checkpoint_10.pth"
                               for c in list_checkpoints(run / "nn")), timeout=T,
                   what="checkpoint_10.pth in %s" % run.name)
    ea, eb = read_endpoints(a, "learner"), read_endpoints(b, "learner")
    assert ea.host == "127.0.0.1" and ea.protocol == PROTOCOL
    assert not set(ea.ports.values()) & set(eb.ports.values())  # two runs, no collision
    for run in (a, b):
        # transitions flowed, weights reached the actor, both metric sets are there
        wait_until(lambda: (latest(run, "actor", "actor/weights_version") or 0) >= 1,
                   timeout=T, what="weights at the actor of %s" % run.name)
        assert latest(run, "learner", "learner/replay_buffer_size") >= 300
        for tag in ("sac/actor_loss", "sac/critic_loss", "sac/entropy", "sac/temperature",
                    "sac/temperature_loss", "learner/update_steps", "timer/sample_replay_buffer",
                    "timer/train", "timer/total"):
            assert latest(run, "learner", tag) is not None, tag
        for tag in ("actor/episode_reward", "actor/episode_length", "actor/episode_count",
                    "actor/total_steps", "actor/avg_action_magnitude", "actor/exploration_phase",
                    "actor/avg_episode_reward_10", "actor/max_episode_reward",
                    "actor/min_episode_reward", "actor/avg_episode_length_10",
                    "timer/step_env"):
            assert latest(run, "actor", tag) is not None, tag
    # each learner served its own actor only (the hello names the run)
    assert log(a, "learner").count("connected (env Ant-v5)") == 1
    assert log(b, "learner").count("connected (env InvertedPendulum-v5)") == 1


def _check_strangers_are_refused(run: Path) -> None:
    ep = read_endpoints(run, "learner")
    ctx = zmq.Context()
    try:
        push = ctx.socket(zmq.PUSH)
        push.connect(ep.address("transitions"))
        push.send(b"\x80\x04garbage that is not a frame")
        req = ctx.socket(zmq.REQ)
        req.connect(ep.address("requests"))
        req.send(encode("hello", {"run": run.name}, protocol="pitwall.serl/2"))
        assert req.poll(20000), "the learner did not answer"
        reply = decode(req.recv())
        assert reply.kind == "refused" and "pitwall.serl/2" in reply.meta["error"]
        req.send(encode("hello", {"run": "someone-else"}))
        assert req.poll(20000)
        assert "serves run %s" % run.name in decode(req.recv()).meta["error"]
        for s in (push, req):
            s.close(linger=1000)
    finally:
        ctx.term()
    text = wait_log(run, "learner", "refused a message", count=3)
    assert "not a Pitwall SERL message" in text and "speaks pitwall.serl/2" in text
    assert alive(run, "learner") and alive(run, "actor")


def _check_playback_hot_swap(run: Path) -> None:
    """A toolkit viewer (headless) follows manual switches without a restart; record works."""
    wait_until(lambda: any(c.name == "checkpoint_20.pth" for c in list_checkpoints(run / "nn")),
               timeout=T, what="checkpoint_20.pth")
    caps = run_capabilities(read_run_record(run))
    assert caps.backend == "serl" and caps.can("window") and caps.can("record")
    vid = start_viewer(run, "none").viewer_id
    try:
        first = wait_until(acked(run, vid, lambda a: a.state == "running"), T,
                           what="the viewer running")
        for step in (10, 20):
            req = select_checkpoint(run, "manual", str(step))
            ack = wait_until(acked(run, vid, lambda a: a.seq == req.seq), T,
                             what="the switch to %d" % step)
            assert ack.checkpoint_step == step and ack.error is None and ack.pid == first.pid
        frame = wait_until(lambda: (lambda f: f if f and f.step == 20 else None)(
            read_preview(run, vid)), T, what="a preview frame of step 20")
        assert frame.width == 256 and frame.height == 256
        bad = run / "nn" / "checkpoint_99.pth"
        bad.write_bytes(b"PK\x03\x04 torn")
        req = write_state(run, "manual", bad)
        ack = wait_until(acked(run, vid, lambda a: a.seq == req.seq and a.error), T,
                         what="the refusal")
        assert ack.checkpoint_step == 20 and "checkpoint_99.pth" in ack.error
        bad.unlink()
        select_checkpoint(run, "auto")
    finally:
        stop_run(run, [vid])
    started = start_recording(run, "checkpoint_10.pth", 1, ["--max-steps", "40"])
    code, entry, err = wait_recording(run, started, timeout=T)
    assert code == 0 and err is None and entry is not None
    assert entry.frames >= 40 and entry.step == 10 and entry.width == 256


def _check_kill_and_restart(run: Path) -> None:
    before = read_proc_record(run, "learner")
    os.kill(before.pid, signal.SIGKILL)
    wait_log(run, "actor", "waiting for learner")
    wait_until(lambda: latest(run, "actor", "actor/waiting_for_learner") == 1.0, timeout=T,
               what="actor/waiting_for_learner = 1")
    assert alive(run, "actor")  # waiting, not crashed
    saved = max(c.step for c in list_checkpoints(run / "nn") if c.name.startswith("checkpoint_"))
    restart(run, ["learner"])
    text = wait_log(run, "learner", "resumed from", count=1)
    assert "(update step %d)" % saved in text or "update step" in text
    wait_log(run, "actor", "connected to learner", count=2)
    assert read_proc_record(run, "learner").attempt == 2
    wait_until(lambda: (latest(run, "learner", "learner/update_steps") or 0) > saved + 5,
               timeout=T, what="training past update step %d after the restart" % saved)
    wait_until(lambda: latest(run, "actor", "actor/waiting_for_learner") == 0.0, timeout=T,
               what="actor/waiting_for_learner back to 0")


def _check_stop(run: Path) -> None:
    stop_run(run)
    learner, actor = read_proc_record(run, "learner"), read_proc_record(run, "actor")
    assert learner.exit_code == 0 and actor.exit_code == 0
    assert actor.exited_at <= learner.exited_at  # actor first, then the learner
    assert (run / "nn" / "final_model.pth").is_file()
    assert "final model saved" in log(run, "learner")
    assert read_endpoints(run, "learner").state == "stopped"
    assert load_run(run).status == "stopped"


def _check_actor_refuses_another_protocol(run: Path) -> None:
    """An actor whose learner speaks another protocol version ends with a clear error."""
    write_endpoints(run, Endpoints(role="learner", host="127.0.0.1",
                                   ports={"transitions": 1, "weights": 2, "requests": 3},
                                   protocol="pitwall.serl/2", session="x"))
    out = subprocess.run([sys.executable, "-m", "runners.serl", "train", "--run-dir", str(run),
                          "--role", "actor"], cwd=str(REPO), capture_output=True, text=True,
                         timeout=T)
    assert out.returncode == 2
    assert "speaks pitwall.serl/2" in out.stderr and PROTOCOL in out.stderr


def _demo_file(path: Path, n: int = 200) -> int:
    """Random-policy transitions of the fixture env, in the seed's format (dict obs)."""
    sys.path.insert(0, str(FIXTURES))
    try:
        from serl_envs import intervening_pendulum
    finally:
        sys.path.pop(0)
    env = intervening_pendulum(every=0)
    obs, _ = env.reset(seed=1)
    out = []
    while len(out) < n:
        a = env.action_space.sample()
        nxt, r, term, trunc, _ = env.step(a)
        out.append({"observations": obs, "actions": a, "next_observations": nxt,
                    "rewards": float(r), "masks": 1.0 - term, "dones": bool(term)})
        obs = env.reset()[0] if term or trunc else nxt
    write_pickle(path, out)
    return n


def test_hybrid_mode_samples_half_demos_and_counts_interventions(runs_root, monkeypatch,
                                                                  tmp_path):
    monkeypatch.setenv("PYTHONPATH", "%s:%s" % (FIXTURES, os.environ.get("PYTHONPATH", "")))
    n_demo = _demo_file(tmp_path / "demos.pkl")
    run = launch("serl/ant", SMALL + ["env=serl_envs:intervening_pendulum", "mode=hybrid",
                                      "demo_paths=[%s]" % (tmp_path / "demos.pkl"),
                                      "max_traj_length=60"], runs_root).run_dir
    try:
        wait_until(lambda: any(c.name == "checkpoint_20.pth"
                               for c in list_checkpoints(run / "nn")), timeout=T,
                   what="checkpoint_20.pth")
        wait_log(run, "learner", "loaded %d demo transitions" % n_demo)
        lines = [r.metrics for r in records(run, "learner") if "hybrid/demo_fraction" in r.metrics]
        assert lines and all(m["hybrid/demo_fraction"] == 0.5 for m in lines)  # online >= 16
        last = lines[-1]
        assert last["learner/interventions"] > 0
        assert last["learner/demo_buffer_size"] == n_demo + last["learner/interventions"]
        status = [r.metrics for r in records(run, "actor") if "actor/interventions" in r.metrics]
        assert status[-1]["actor/interventions"] == status[-1]["actor/total_steps"] // 7
        # the demos verb: a checkpoint's policy -> success and failure files in the seed format
        out = subprocess.run([sys.executable, "-m", "runners.serl", "demos", "--run-dir",
                              str(run), "--checkpoint", "nn/checkpoint_20.pth", "--episodes",
                              "3", "--out", str(tmp_path / "rec.pkl")], cwd=str(REPO),
                             capture_output=True, text=True, timeout=T, env=dict(os.environ))
        assert out.returncode == 0, out.stderr[-2000:]
        from runners.serl.demos import demo_arrays
        from runners.serl.env_spec import EnvSpec
        from runners.serl.obs_layout import ObsLayout

        spec = EnvSpec("x", ObsLayout([("pos", (2,)), ("vel", (2,))]), [-3.0], [3.0])
        m = re.search(r"wrote \S+ \((\d+) episodes, (\d+) transitions\) and \S+ \((\d+) "
                      r"episodes, (\d+) transitions\)", out.stdout)
        assert m, out.stdout
        ok_eps, ok_n, bad_eps, bad_n = map(int, m.groups())
        assert ok_eps + bad_eps == 3 and ok_n + bad_n > 0
        for name, n in (("rec_success.pkl", ok_n), ("rec_failure.pkl", bad_n)):
            if n:
                assert len(demo_arrays(tmp_path / name, spec)["rewards"]) == n
            else:  # every episode went to the other file: this one is an empty list
                with pytest.raises(ProtocolError, match="holds no transitions"):
                    demo_arrays(tmp_path / name, spec)
    finally:
        stop_run(run)
