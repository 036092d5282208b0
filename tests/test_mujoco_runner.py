"""The embedded MuJoCo runner, end to end: real processes, real files, no mocks.

Run directories are made the way the control center makes them (profile + overrides →
``RunRecord`` → ``create_run_dir`` + ``write_run_record``); the runner is started as a
subprocess in its own session with its output in ``logs/<role>.log``. Every wait is a short
polling loop with a generous timeout.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

torch = pytest.importorskip("torch")  # the mujoco extra: torch, gymnasium[mujoco]
pytest.importorskip("gymnasium")
pytest.importorskip("mujoco")

from runners.protocol import (CKPT_FORMAT, ProcessSpec, RunPaths, RunRecord, create_run_dir,
                              list_checkpoints, now_iso, parse_metric_line, read_index,
                              read_run_record, read_viewer_status, save_checkpoint,
                              write_run_record, write_state)
from tui.core.profiles import resolve_profile

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "configs" / "mujoco" / "inverted_pendulum.yaml"

# small and fast: 4 envs x 64 steps = 256 steps per update, 8 updates, a checkpoint every 2
SHORT = ["total_steps=2048", "num_envs=4", "rollout_steps=64", "save_every=2",
         "ppo.epochs=2", "ppo.minibatches=2"]


# --------------------------------------------------------------------------- helpers

def make_run(root: Path, overrides: list[str], profile: Path = PROFILE) -> Path:
    rp = resolve_profile(str(profile), overrides)
    run_dir = create_run_dir(root, rp.experiment)
    argv = [sys.executable, "-m", "runners.mujoco", "train", "--run-dir", str(run_dir)]
    record = RunRecord(name=run_dir.name, experiment=rp.experiment, profile_name=rp.name,
                       backend=rp.profile.backend, params=rp.params,
                       processes=[ProcessSpec(role="train", argv=argv, cwd=str(REPO))],
                       created_at=now_iso(), profile_path=str(rp.path),
                       overrides=list(overrides))
    write_run_record(run_dir, record)
    return run_dir


class Procs:
    """Starts runner processes the supervisor's way and kills leftovers at teardown."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, run_dir: Path, mode: str, *args: str, role: str = "train"
              ) -> tuple[subprocess.Popen[bytes], Path]:
        log = RunPaths(run_dir).log_file(role)
        log.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "runners.mujoco", mode, "--run-dir", str(run_dir)]
        argv += list(args)
        with open(log, "ab") as out:
            p = subprocess.Popen(argv, cwd=str(REPO), start_new_session=True,
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        self.started.append(p)
        return p, log

    def cleanup(self) -> None:
        for p in self.started:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=10)


@pytest.fixture
def procs():
    ps = Procs()
    yield ps
    ps.cleanup()


def tail(log: Path, n: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "<no log>"


def wait_for(cond: Callable[[], Any], timeout: float, what: str,
             proc: subprocess.Popen[bytes] | None = None, log: Path | None = None,
             interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            value = cond()
            if value:
                return value
            pytest.fail("%s: the process exited (rc %s) first; log:\n%s"
                        % (what, proc.returncode, tail(log) if log else ""))
        if time.monotonic() > deadline:
            pytest.fail("timed out after %.0f s waiting for %s; log:\n%s"
                        % (timeout, what, tail(log) if log else ""))
        time.sleep(interval)


def finish(proc: subprocess.Popen[bytes], log: Path, timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("process did not exit within %.0f s; log:\n%s" % (timeout, tail(log)))


def metric_records(run_dir: Path) -> list[Any]:
    path = RunPaths(run_dir).metrics_jsonl
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    return [parse_metric_line(raw) for raw in lines[:-1] if raw.strip()]


def ack(run_dir: Path, viewer: str):
    return read_viewer_status(run_dir, viewer)


def copy_checkpoints(src: Path, dst: Path) -> None:
    shutil.copytree(RunPaths(src).nn_dir, RunPaths(dst).nn_dir)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One short real training shared by the tests that need checkpoints."""
    root = tmp_path_factory.mktemp("trained")
    run_dir = make_run(root, SHORT)
    ps = Procs()
    try:
        p, log = ps.start(run_dir, "train")
        rc = finish(p, log, 180)
    finally:
        ps.cleanup()
    assert rc == 0, tail(log)
    return run_dir


# --------------------------------------------------------------------------- training

def test_short_training_writes_checkpoints_index_and_metrics(trained):
    paths = RunPaths(trained)
    log = paths.log_file("train").read_text()
    assert "Training started: InvertedPendulum-v5" in log
    assert "Training finished at step 2048" in log

    history = [c for c in list_checkpoints(paths.nn_dir) if not c.is_latest]
    assert [c.name for c in history] == ["ckpt_%09d.pth" % s for s in (512, 1024, 1536, 2048)]
    assert [c.step for c in history] == [512, 1024, 1536, 2048]
    latest = [c for c in list_checkpoints(paths.nn_dir) if c.is_latest]
    assert len(latest) == 1 and latest[0].step == 2048
    assert os.path.samefile(paths.latest, paths.nn_dir / "ckpt_000002048.pth")

    index, bad = read_index(paths.nn_dir)
    assert bad == 0
    assert sorted(e.step for e in index.values()) == [512, 1024, 1536, 2048]
    assert [index[c.name].epoch for c in history] == [2, 4, 6, 8]
    for e in index.values():  # random-ish policies fall over fast: episodes have finished
        assert 1 <= e.metrics["rollout/ep_return"] <= 1000
        assert e.metrics["rollout/ep_length"] >= 1

    # the payload is plain data: it loads with weights_only=True and holds what resume needs
    data = torch.load(str(paths.latest), map_location="cpu", weights_only=True)
    assert data["format"] == CKPT_FORMAT and data["runner"] == "mujoco"
    assert (data["env_id"], data["obs_dim"], data["act_dim"]) == ("InvertedPendulum-v5", 4, 1)
    assert data["step"] == 2048 and data["update"] == 8 and data["hidden"] == [64, 64]
    for key in ("model", "optimizer", "obs_norm", "reward_norm", "torch_rng"):
        assert key in data
    assert data["obs_norm"]["count"] > 2048  # running stats over every collected obs
    assert len(data["obs_norm"]["mean"]) == 4

    records = metric_records(trained)
    assert [r.step for r in records] == list(range(256, 2049, 256))
    assert {r.role for r in records} == {"train"}
    for tag in ("rollout/ep_return", "rollout/ep_length", "loss/policy", "loss/value",
                "loss/entropy", "train/approx_kl", "train/clip_frac", "train/lr",
                "perf/steps_per_s"):
        assert tag in records[-1].metrics, tag
    lrs = [r.metrics["train/lr"] for r in records]
    assert lrs[0] == pytest.approx(3e-4) and lrs == sorted(lrs, reverse=True)  # annealed
    assert any(n.startswith("events.out.tfevents") for n in os.listdir(paths.tb_dir))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stop_signal_mid_training_saves_a_final_checkpoint_and_exits_0(tmp_path, procs, sig):
    # checkpoints only at the end: whatever is saved, the stop signal saved it
    run_dir = make_run(tmp_path, ["total_steps=10000000", "save_every=0", "num_envs=4",
                                  "rollout_steps=64"])
    p, log = procs.start(run_dir, "train")
    wait_for(lambda: len(metric_records(run_dir)) >= 2, 120, "two updates", p, log)
    assert not RunPaths(run_dir).latest.exists()
    p.send_signal(sig)
    assert finish(p, log, 60) == 0, tail(log)

    index, _ = read_index(RunPaths(run_dir).nn_dir)
    assert len(index) == 1
    (entry,) = index.values()
    last = metric_records(run_dir)[-1]
    assert entry.step == last.step and 0 < entry.step < 10000000
    data = torch.load(str(RunPaths(run_dir).latest), map_location="cpu", weights_only=True)
    assert data["step"] == entry.step
    assert "stopped by %s at step %d" % (sig.name, entry.step) in log.read_text()


def test_resume_restores_counters_optimizer_and_obs_stats(tmp_path, procs, trained):
    run_dir = make_run(tmp_path, SHORT)
    nn = RunPaths(run_dir).nn_dir
    nn.mkdir()
    for name in ("ckpt_000000512.pth", "ckpt_000001024.pth"):  # a run stopped at step 1024
        shutil.copy2(str(RunPaths(trained).nn_dir / name), str(nn / name))
    before = torch.load(str(nn / "ckpt_000001024.pth"), weights_only=True)

    p, log = procs.start(run_dir, "train", "--resume", str(nn / "ckpt_000001024.pth"))
    assert finish(p, log, 180) == 0, tail(log)

    text = log.read_text()
    assert "step 1024/2048, resumed from" in text
    records = metric_records(run_dir)
    assert [r.step for r in records] == [1280, 1536, 1792, 2048]  # the counter continues
    assert [r.metrics["train/update"] for r in records] == [5.0, 6.0, 7.0, 8.0]
    after = torch.load(str(nn / "latest.pth"), weights_only=True)
    assert after["step"] == 2048 and after["update"] == 8
    # Adam's step count and the obs statistics carried on from the checkpoint
    adam_steps = lambda d: max(float(s["step"]) for s in d["optimizer"]["state"].values())
    assert adam_steps(after) == 2 * adam_steps(before)
    assert after["obs_norm"]["count"] > before["obs_norm"]["count"] + 1000
    assert after["episodes"] > before["episodes"]
    index, _ = read_index(nn)
    assert sorted(e.step for e in index.values()) == [1536, 2048]
    assert [index[n].epoch for n in ("ckpt_000001536.pth", "ckpt_000002048.pth")] == [6, 8]


def test_resume_from_another_envs_checkpoint_is_refused(tmp_path, procs, trained):
    run_dir = make_run(tmp_path, SHORT + ["env_id=HalfCheetah-v5"])
    ckpt = RunPaths(trained).nn_dir / "ckpt_000001024.pth"
    p, log = procs.start(run_dir, "train", "--resume", str(ckpt))
    assert finish(p, log, 60) == 2
    assert "trained on InvertedPendulum-v5, this run uses HalfCheetah-v5" in log.read_text()
    assert not RunPaths(run_dir).nn_dir.exists() and not metric_records(run_dir)


def test_bad_params_fail_with_a_message_naming_run_json_and_the_field(tmp_path, procs):
    run_dir = make_run(tmp_path, SHORT)
    rec = read_run_record(run_dir)
    rec.params["ppo"]["lr"] = -1.0
    write_run_record(run_dir, rec)
    p, log = procs.start(run_dir, "train")
    assert finish(p, log, 60) == 2
    text = log.read_text()
    assert "run.json: field 'params.ppo.lr': must be > 0, found -1" in text, text


# --------------------------------------------------------------------------- play

def _running(run_dir: Path, viewer: str) -> Callable[[], Any]:
    def cond():
        st = ack(run_dir, viewer)
        return st if st is not None and st.state == "running" else None
    return cond


def test_play_waits_for_the_first_checkpoint(tmp_path, procs, trained):
    run_dir = make_run(tmp_path, SHORT + ["play.realtime=false"])
    p, log = procs.start(run_dir, "play", "--viewer-id", "v1", role="play-v1")
    def waiting():
        st = ack(run_dir, "v1")
        return st is not None and st.state == "waiting"

    wait_for(waiting, 60, "the viewer to wait", p, log)
    data = (RunPaths(trained).nn_dir / "ckpt_000001024.pth").read_bytes()
    save_checkpoint(run_dir, lambda f: f.write(data), 1024)
    st = wait_for(_running(run_dir, "v1"), 30, "the first checkpoint to load", p, log)
    assert Path(st.checkpoint_path) == RunPaths(run_dir).latest and st.checkpoint_step == 1024
    wait_for(lambda: ack(run_dir, "v1").episode >= 2, 30, "episodes", p, log)
    p.send_signal(signal.SIGINT)
    assert finish(p, log, 30) == 0, tail(log)
    assert ack(run_dir, "v1").state == "stopped"


def test_play_swaps_to_a_manual_checkpoint_and_back_to_auto_in_real_time(tmp_path, procs,
                                                                          trained):
    run_dir = make_run(tmp_path, SHORT)  # the profile's play: deterministic, real time
    copy_checkpoints(trained, run_dir)
    paths = RunPaths(run_dir)
    p, log = procs.start(run_dir, "play", "--viewer-id", "v1", role="play-v1")
    st = wait_for(_running(run_dir, "v1"), 60, "the viewer to load latest", p, log)
    t_running = time.monotonic()
    assert Path(st.checkpoint_path) == paths.latest and st.checkpoint_step == 2048
    assert st.mode == "auto" and st.error is None and st.pid == p.pid

    manual = paths.nn_dir / "ckpt_000000512.pth"
    req = write_state(run_dir, "manual", manual)
    st = wait_for(lambda: ack(run_dir, "v1").seq == req.seq and ack(run_dir, "v1"), 10,
                  "the manual switch ack", p, log)
    assert Path(st.checkpoint_path) == manual and st.checkpoint_step == 512
    assert st.mode == "manual" and st.error is None and st.state == "running"

    req = write_state(run_dir, "auto")
    st = wait_for(lambda: ack(run_dir, "v1").seq == req.seq and ack(run_dir, "v1"), 10,
                  "the auto switch ack", p, log)
    assert Path(st.checkpoint_path) == paths.latest and st.checkpoint_step == 2048
    assert st.mode == "auto" and st.error is None

    # real-time pacing: never faster than the env's dt (0.04 s), and not far slower
    wait_for(lambda: ack(run_dir, "v1").extra.get("env_steps", 0) >= 50, 30,
             "50 env steps (2 s of simulated time)", p, log)
    p.send_signal(signal.SIGINT)
    assert finish(p, log, 30) == 0, tail(log)
    elapsed = time.monotonic() - t_running
    final = ack(run_dir, "v1")
    assert final.state == "stopped"
    rate = final.extra["env_steps"] / elapsed
    assert 0.4 * 25 < rate <= 1.1 * 25, "env steps/s %.1f, expected about 25" % rate
    text = log.read_text()
    assert text.count("loaded ") == 3  # latest, manual, latest again: no reload in between


def test_play_refuses_a_truncated_checkpoint_and_keeps_running(tmp_path, procs, trained):
    run_dir = make_run(tmp_path, SHORT + ["play.realtime=false"])
    copy_checkpoints(trained, run_dir)
    paths = RunPaths(run_dir)
    good = paths.nn_dir / "ckpt_000001024.pth"
    broken = paths.nn_dir / "ckpt_000009999.pth"
    data = good.read_bytes()
    broken.write_bytes(data[: len(data) // 2])  # a save cut off half way (deliberately bad)

    p, log = procs.start(run_dir, "play", "--viewer-id", "v1", role="play-v1")
    wait_for(_running(run_dir, "v1"), 60, "the viewer to load latest", p, log)
    req = write_state(run_dir, "manual", broken)
    st = wait_for(lambda: ack(run_dir, "v1").seq == req.seq and ack(run_dir, "v1"), 15,
                  "the refusal ack", p, log)
    assert st.error is not None and "refused ckpt_000009999.pth" in st.error
    assert "truncated" in st.error
    assert st.state == "running" and Path(st.checkpoint_path) == paths.latest
    assert st.checkpoint_step == 2048

    episodes = st.episode
    wait_for(lambda: ack(run_dir, "v1").episode >= episodes + 3, 30,
             "episodes to keep counting with the old policy", p, log)
    assert p.poll() is None

    req = write_state(run_dir, "manual", good)  # a good file after a bad one still loads
    st = wait_for(lambda: ack(run_dir, "v1").seq == req.seq and ack(run_dir, "v1"), 10,
                  "the next switch", p, log)
    assert Path(st.checkpoint_path) == good and st.error is None and st.checkpoint_step == 1024
    p.send_signal(signal.SIGTERM)
    assert finish(p, log, 30) == 0, tail(log)
    assert "checkpoint refused, keeping the current policy" in log.read_text()


# --------------------------------------------------------------------------- learning

@pytest.mark.slow
def test_inverted_pendulum_learns_with_the_shipped_profile(tmp_path, procs):
    run_dir = make_run(tmp_path, [])
    params = read_run_record(run_dir).params
    p, log = procs.start(run_dir, "train")
    t0 = time.monotonic()

    def best_return() -> float:
        return max((r.metrics.get("rollout/ep_return", 0.0) for r in metric_records(run_dir)),
                   default=0.0)

    wait_for(lambda: best_return() >= 950, 240, "mean return >= 950", p, log, interval=0.5)
    reached = time.monotonic() - t0
    assert finish(p, log, 240) == 0, tail(log)
    total = time.monotonic() - t0
    records = metric_records(run_dir)
    assert records[-1].step >= params["total_steps"]
    assert records[-1].metrics["rollout/ep_return"] >= 950

    from runners.mujoco.evaluate import evaluate_checkpoint

    returns = evaluate_checkpoint(RunPaths(run_dir).latest, episodes=5)
    print("\nInvertedPendulum: >= 950 after %.1f s, run done in %.1f s, eval %s"
          % (reached, total, returns))
    assert sum(returns) / len(returns) >= 950, returns


# --------------------------------------------------------------------------- constraints

def test_runner_imports_neither_tui_nor_textual():
    code = ("import sys, runners.mujoco.__main__, runners.mujoco.train, runners.mujoco.play, "
            "runners.mujoco.evaluate; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('tui', 'textual', 'rich')]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=str(REPO), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_runner_keeps_python_38_syntax():
    vermin = shutil.which("vermin") or str(Path(sys.executable).parent / "vermin")
    if not os.path.exists(vermin):
        pytest.skip("vermin is not installed (dev extra)")
    r = subprocess.run([vermin, "-t=3.8-", "--no-tips", "--violations", "--eval-annotations",
                        str(REPO / "runners" / "mujoco"),
                        str(REPO / "runners" / "sdk")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    for f in (REPO / "runners" / "mujoco").glob("*.py"):
        assert "from __future__ import annotations" in f.read_text() or \
            f.name == "__init__.py", f
