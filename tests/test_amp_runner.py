"""The AMP runner (JAX), end to end: a real short training on Walker2d-v5 against a reference
motion generated here, its outputs the seed's way (stdout line, TensorBoard tags, pickles,
expert caches), a viewer hot-swapping pickles and refusing bad ones, eval/record, resume and
bad input. Real processes and files, no mocks.

Budget: JAX compiles in every process; the processes share a JAX compilation cache (one per
test session), so only the first training pays the full compile.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("flax")
pytest.importorskip("optax")
pytest.importorskip("gymnasium")
pytest.importorskip("mujoco")

from conftest import REPO, text_of, wait_until  # noqa: E402
from runners.protocol import (ProcessSpec, RunPaths, RunRecord, create_run_dir,  # noqa: E402
                              now_iso, parse_metric_line, read_index, read_preview,
                              read_video_index, read_viewer_status, write_run_record,
                              write_state)
from runners.protocol.pickle_checkpoints import load_pickle_checkpoint  # noqa: E402
from runners.protocol.safe_pickle import basic_allow_list, numpy_allow_list, safe_load  # noqa: E402,E501
from tui.core.metrics.line_patterns import compile_patterns  # noqa: E402
from tui.core.metrics.sources import TensorBoardDirSource  # noqa: E402
from tui.core.profiles import resolve_profile  # noqa: E402

PROFILE = "locomujoco/walker2d_amp"
# 4 envs x 128 steps = 512 samples an iteration, 4 iterations, small nets
SMALL = ["ppo.total_timesteps=2048", "ppo.num_envs=4", "ppo.steps_per_iter=128",
         "ppo.update_epochs=4", "ppo.minibatch_size=256", "model.actor_hidden_layers=[32,32]",
         "model.critic_hidden_layers=[32,32]", "model.disc_hidden_layers=[32,32]",
         "model.disc_init_scale=0.1", "optim.learning_rate=0.001", "disc.batch_size=128",
         "disc.buffer_size=1024", "disc.replay_samples=128", "train.save_interval=2"]
LINE = re.compile(r"^\[(\d+)/(\d+)\] samples=(\d+) reward=-?\d+\.\d{3} (?:ep_r=-?\d+\.\d{3} )?"
                  r"disc_r=-?\d+\.\d{3} actor=-?\d+\.\d{4} value=-?\d+\.\d{4} "
                  r"disc=-?\d+\.\d{4} kl=-?\d+\.\d{4} clip=-?\d+\.\d{3} \d+ samples/s "
                  r"\d+\.\d{2}s/iter$", re.M)
SEED_TAGS = {"reward/total_mean", "reward/task_mean", "reward/disc_mean", "reward/episode_mean",
             "reward/episode_count", "reward/best_episode_mean", "loss/actor", "loss/value",
             "loss/disc", "stats/approx_kl", "stats/clip_frac", "perf/samples_per_s",
             "perf/iter_time_s"}
SEED_KEYS = {"config", "params", "obs_norm", "disc_norm", "action_mean", "action_std"}


@pytest.fixture(scope="session", autouse=True)
def jax_cache(tmp_path_factory):
    """One persistent JAX compilation cache for the session's processes."""
    keys = ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS")
    old = {k: os.environ.get(k) for k in keys}
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(tmp_path_factory.mktemp("jax_cache"))
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "walker_gait.npz"
    r = subprocess.run([sys.executable, "-m", "runners.amp.reference_motion", "--env-id",
                        "Walker2d-v5", "--out", str(out), "--seconds", "3"], cwd=str(REPO),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "scripted gait" in r.stdout
    return out


def make_run(root: Path, overrides: List[str]) -> Path:
    rp = resolve_profile(PROFILE, overrides)
    run = create_run_dir(root, rp.experiment)
    write_run_record(run, RunRecord(
        name=run.name, experiment=rp.experiment, profile_name=rp.name, backend="amp",
        params=rp.params, processes=[ProcessSpec(role="train", argv=["python"], cwd=str(run))],
        created_at=now_iso(), profile_path=str(rp.path), overrides=list(overrides),
        profile=rp.profile.model_dump(mode="json")))
    return run


def runner(run: Path, *args: str, role: str = "train", timeout: float = 240
           ) -> subprocess.CompletedProcess:
    log = RunPaths(run).log_file(role)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        r = subprocess.run([sys.executable, "-m", "runners.amp", args[0], "--run-dir", str(run)]
                           + list(args[1:]), cwd=str(REPO), stdin=subprocess.DEVNULL,
                           stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    return r


def metrics(run: Path) -> List[Any]:
    raw = RunPaths(run).metrics_jsonl.read_bytes().split(b"\n")
    return [parse_metric_line(x) for x in raw if x.strip()]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, reference) -> Path:
    run = make_run(tmp_path_factory.mktemp("runs"), SMALL + ["env.custom_traj_path=%s"
                                                            % reference])
    r = runner(run, "train")
    assert r.returncode == 0, text_of(RunPaths(run).log_file("train"))[-3000:]
    return run


# --------------------------------------------------------------------------- training

def test_training_prints_logs_and_saves_what_the_seed_does(trained, reference):
    log = text_of(RunPaths(trained).log_file("train"))
    lines = [m.group(0) for m in LINE.finditer(log)]
    assert [int(m.group(1)) for m in LINE.finditer(log)] == [1, 2, 3, 4], log[-2000:]
    assert [int(m.group(3)) for m in LINE.finditer(log)] == [512, 1024, 1536, 2048]
    assert "Saved best checkpoint: episode_mean=" in log

    # the stdout preset reads the line as the TensorBoard scalars of the same step
    tb = TensorBoardDirSource(trained / "tensorboard").poll().scalars
    assert SEED_TAGS <= set(tb), sorted(SEED_TAGS - set(tb))
    pat = compile_patterns("skeleton_steering", [])[0]
    decimals = {"perf/samples_per_s": 0, "perf/iter_time_s": 2, "loss/actor": 4,
                "loss/value": 4, "loss/disc": 4, "stats/approx_kl": 4}
    for line in lines:
        m = pat.match(line)
        assert m is not None and m.bad_values == 0, line
        for tag, value in m.metrics:
            if tag in tb:
                i = list(tb[tag].steps).index(m.step)
                tol = 0.5 * 10.0 ** -decimals.get(tag, 3) + 1e-6 * abs(value)   # as printed
                assert abs(tb[tag].values[i] - value) <= tol, (tag, tb[tag].values[i], value)

    recs = metrics(trained)
    assert [r.step for r in recs] == [512, 1024, 1536, 2048]
    last = recs[-1].metrics
    assert {"reward/episode_task_mean", "reward/disc_demo_mean", "reward/disc_agent_mean",
            "stats/disc_demo_acc", "stats/grad_penalty"} <= set(last)
    # the discriminator tells the reference from the agent's motion
    assert last["reward/disc_demo_mean"] > last["reward/disc_agent_mean"]


def test_pickles_in_the_seeds_layout_through_the_protocol(trained):
    nn = RunPaths(trained).nn_dir
    names = sorted(p.name for p in nn.glob("*.pkl"))
    assert names == ["amp_ppo_jax_000001024.pkl", "amp_ppo_jax_000002048.pkl",
                     "amp_ppo_jax_best.pkl", "latest.pkl"]
    assert os.path.samefile(nn / "latest.pkl", nn / "amp_ppo_jax_000002048.pkl")
    idx, bad = read_index(nn)
    assert bad == 0 and idx["amp_ppo_jax_000002048.pkl"].step == 2048
    assert idx["amp_ppo_jax_best.pkl"].metrics["reward/episode_mean"] > -1e9
    d = load_pickle_checkpoint(nn / "amp_ppo_jax_best.pkl")
    assert SEED_KEYS <= set(d)
    assert set(d["params"]) == {"actor", "critic", "disc"}
    assert set(d["params"]["actor"]) == {"Dense_0", "Dense_1", "Dense_2"}
    assert d["params"]["actor"]["Dense_0"]["kernel"].shape == (17, 32)
    assert set(d["obs_norm"]) == {"mean", "mean_sq", "std", "count", "clip", "min_std"}
    assert d["action_mean"].shape == d["action_std"].shape == (6,)
    assert d["config"]["model"]["actor_hidden_layers"] == [32, 32]
    assert {"env", "ppo", "model", "optim", "disc", "disc_obs", "reward", "normalizer",
            "train"} <= set(d["config"])
    # numpy only: readable without jax (the seed's pickles hold jax arrays; ours do not)
    plain = basic_allow_list()
    plain.update(numpy_allow_list())
    assert safe_load(nn / "amp_ppo_jax_best.pkl", plain)["step"] > 0
    conf = (trained / "amp_ppo_jax_conf.yaml").read_text()
    assert "actor_hidden_layers" in conf and "task_weight" in conf


def test_expert_caches_hold_the_reference_and_its_discriminator_observations(trained,
                                                                             reference):
    from runners.amp.config import load_config
    from runners.amp.disc_features import KinematicsProbe, build_spec, clip_windows
    from runners.amp.disc_obs import make_disc_obs_fn
    from runners.amp.networks import MLP, apply_norm, norm_from_dict

    import gymnasium

    ref = np.load(reference)
    cached = np.load(trained / "expert_traj.npz")
    np.testing.assert_array_equal(cached["qpos"], ref["qpos"].astype(np.float32))
    cfg = load_config(trained)
    env = gymnasium.make("Walker2d-v5")
    spec = build_spec(env.unwrapped.model, cfg.disc_obs.key_bodies)
    probe = KinematicsProbe(env.unwrapped.model, spec)
    fn = make_disc_obs_fn(spec, cfg.disc_obs.global_obs, cfg.disc_obs.root_height_obs)
    frames = probe.frames(ref["qpos"], ref["qvel"])
    want = np.asarray(fn(clip_windows(frames, ref["split_points"][:-1], 2)))
    with np.load(trained / "expert_disc_obs.npz") as z:
        got = z["disc_obs"]
        sig = json.loads(str(z["signature"]))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert sig["history_len"] == 2 and sig["env_id"] == "Walker2d-v5"

    # the trained discriminator, from the pickle: the reference scores higher than the
    # motion of the policy it was trained against (rolled out here from the same pickle)
    from runners.amp.policy import load_policy

    path = RunPaths(trained).nn_dir / "latest.pkl"
    d = load_pickle_checkpoint(path)
    disc = MLP((32, 32), 1, "relu")
    norm, clip = norm_from_dict(d["disc_norm"], got.shape[1], path, "disc_norm")

    def reward(obs):
        logits = np.asarray(disc.apply({"params": d["params"]["disc"]},
                                       apply_norm(norm, obs, clip)))[:, 0]
        p = 1.0 / (1.0 + np.exp(-logits))
        return -np.log(np.maximum(1.0 - p, 1e-4)) * cfg.disc.reward_scale

    policy, step = load_policy(path, cfg, 17, 6, deterministic=False, seed=1)
    assert step == 2048
    obs, _ = env.reset(seed=1)
    data = env.unwrapped.data
    qpos, qvel = [data.qpos.copy()], [data.qvel.copy()]
    for _ in range(300):
        obs, _r, term, trunc, _ = env.step(policy.act(obs))
        if term or trunc:
            break
        qpos.append(data.qpos.copy())
        qvel.append(data.qvel.copy())
    agent = np.asarray(fn(clip_windows(probe.frames(np.array(qpos), np.array(qvel)), [0], 2)))
    assert reward(got).mean() > reward(agent).mean()
    env.close()


# --------------------------------------------------------------------------- viewer

class Evil(object):
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def ack_of(run: Path) -> Any:
    return read_viewer_status(run, "viewer-1")


def test_viewer_hot_swaps_pickles_acks_and_refuses_bad_files(trained, tmp_path):
    nn = RunPaths(trained).nn_dir
    marker = tmp_path / "pwned"
    (nn / "evil.pkl").write_bytes(pickle.dumps({"params": Evil(str(marker))}))
    good = (nn / "amp_ppo_jax_000001024.pkl").read_bytes()
    (nn / "torn.pkl").write_bytes(good[: len(good) // 2])
    log = RunPaths(trained).log_file("viewer-1")
    with open(log, "ab") as out:
        p = subprocess.Popen([sys.executable, "-m", "runners.amp", "play", "--run-dir",
                              str(trained), "--viewer-id", "viewer-1", "--display", "none",
                              "--preview-hz", "20"], cwd=str(REPO), start_new_session=True,
                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        first = wait_until(lambda: (lambda a: a if a and a.checkpoint_step == 2048 else None)(
            ack_of(trained)), timeout=120, what="the viewer loading latest.pkl")
        assert first.state == "running" and first.checkpoint_path.endswith("latest.pkl")
        st = write_state(trained, "manual", nn / "amp_ppo_jax_000001024.pkl")
        a = wait_until(lambda: (lambda a: a if a.seq == st.seq else None)(ack_of(trained)),
                       timeout=30, what="the ack of the manual switch")
        assert a.checkpoint_step == 1024 and a.error is None
        assert a.checkpoint_path.endswith("amp_ppo_jax_000001024.pkl")
        for bad, why in (("evil.pkl", "outside the allow-list"), ("torn.pkl", "")):
            st = write_state(trained, "manual", nn / bad)
            a = wait_until(lambda: (lambda a: a if a.seq == st.seq and a.error else None)(
                ack_of(trained)), timeout=30, what="the refusal of %s" % bad)
            assert bad in a.error and why in a.error
            assert a.checkpoint_step == 1024 and a.state == "running"   # the policy stays
        assert not marker.exists()
        st = write_state(trained, "auto", latest_relpath="nn/latest.pkl")
        a = wait_until(lambda: (lambda a: a if a.seq == st.seq and a.checkpoint_step == 2048
                                else None)(ack_of(trained)), timeout=30, what="auto again")
        frame = wait_until(lambda: read_preview(trained, "viewer-1"), timeout=30,
                           what="a preview frame")
        assert frame.width == 256 and frame.meta["env_id"] == "Walker2d-v5"
        assert wait_until(lambda: (ack_of(trained).episode or 0) >= 1, timeout=60,
                          what="an episode in the ack")
    finally:
        p.send_signal(signal.SIGINT)
        rc = p.wait(timeout=30)
        for name in ("evil.pkl", "torn.pkl"):
            (nn / name).unlink()
    assert rc == 0, text_of(log)[-2000:]
    assert "checkpoint refused, keeping the current policy" in text_of(log)
    assert ack_of(trained).state == "stopped"


def test_eval_and_record_write_indexed_videos(trained):
    r = runner(trained, "eval", "--n-steps", "60", "--deterministic", "--record",
               "--size", "128x96", role="eval")
    log = text_of(RunPaths(trained).log_file("eval"))
    assert r.returncode == 0, log[-2000:]
    assert "Evaluating" in log and "recorded videos/" in log
    r = runner(trained, "record", "--episodes", "1", "--max-steps", "20", "--size", "64x64",
               role="recorder")
    assert r.returncode == 0, text_of(RunPaths(trained).log_file("recorder"))[-2000:]
    entries, bad = read_video_index(trained)
    assert bad == 0 and len(entries) == 2
    ev, rec = entries
    assert ev.checkpoint.endswith("amp_ppo_jax_000002048.pkl") and ev.step == 2048
    assert (ev.width, ev.height) == (128, 96) and ev.frames >= 61 and ev.env_id == "Walker2d-v5"
    assert rec.lengths == [20] and rec.capped == [True] and (rec.width, rec.height) == (64, 64)
    for e in entries:
        assert (trained / "videos" / e.file).stat().st_size == e.size > 0


def test_resume_continues_from_a_pickle(trained, reference, tmp_path):
    run = make_run(tmp_path, [o.replace("2048", "3072") for o in SMALL]
                   + ["env.custom_traj_path=%s" % reference])
    ckpt = RunPaths(trained).nn_dir / "amp_ppo_jax_000002048.pkl"
    r = runner(run, "train", "--resume", str(ckpt))
    log = text_of(RunPaths(run).log_file("train"))
    assert r.returncode == 0, log[-2000:]
    assert "resumed from %s" % ckpt in log
    assert [int(m.group(3)) for m in LINE.finditer(log)] == [2560, 3072]
    # the reference's caches in the new results dir are recomputed from the same file
    assert (run / "expert_disc_obs.npz").exists()


# --------------------------------------------------------------------------- bad input

def check(params: Dict[str, Any], tmp_path: Path) -> Dict[str, Any]:
    f = tmp_path / "params.json"
    f.write_text(json.dumps(params))
    r = subprocess.run([sys.executable, "-m", "runners.amp", "check", "--params-json", str(f)],
                       cwd=str(REPO), capture_output=True, text=True, timeout=60)
    out = json.loads(r.stdout)
    assert (r.returncode == 0) == out["ok"]
    return out


def test_bad_parameters_name_the_field(tmp_path):
    from runners.amp.config import parse_params
    from runners.protocol import ProtocolError

    base = resolve_profile(PROFILE, SMALL).params
    ok = check(base, tmp_path)
    assert ok["ok"] and ok["capabilities"]["checkpoint_format"] == "pickle"
    assert set(ok["capabilities"]["verbs"]) >= {"train", "play", "record", "eval"}
    bad = json.loads(json.dumps(base))
    bad["ppo"]["minibatch_size"] = 99999
    out = check(bad, tmp_path)
    assert not out["ok"] and out["errors"][0]["field"] == "params.ppo.minibatch_size"
    for patch, field in (({"model": {"activation": "gelu"}}, "params.model.activation"),
                         ({"optim": {"type": "rmsprop"}}, "params.optim.type"),
                         ({"disc_obs": {"history_len": 0}}, "params.disc_obs.history_len"),
                         ({"disc_obs": {"key_bodies": "foot"}}, "params.disc_obs.key_bodies"),
                         ({"env": {"backend": "isaac"}}, "params.env.backend")):
        params = json.loads(json.dumps(base))
        for k, v in patch.items():
            params[k].update(v)
        with pytest.raises(ProtocolError) as e:
            parse_params(params, "run.json")
        assert e.value.field == field and "run.json" in str(e.value)


def test_bad_reference_and_key_bodies_stop_before_training(tmp_path, reference):
    from runners.amp.config import load_config
    from runners.amp.train import Trainer
    from runners.protocol import ProtocolError

    bad = tmp_path / "hopper.npz"
    z = dict(np.load(reference))
    z["qpos"] = z["qpos"][:, :6]
    np.savez(bad, **z)
    nan = tmp_path / "nan.npz"
    z = dict(np.load(reference))
    z["qvel"][5, 2] = np.nan
    np.savez(nan, **z)
    cases = (("env.custom_traj_path=%s" % bad, "%s: field 'qpos': has 6 columns" % bad),
             ("env.custom_traj_path=%s" % nan, "%s: field 'qvel': holds NaN" % nan),
             ("env.custom_traj_path=%s" % (tmp_path / "none.npz"),
              "reference motion file does not exist"),
             ("disc_obs.key_bodies=[foot,hand]",
              "field 'params.disc_obs.key_bodies': 'hand' is not in the model"))
    for extra, want in cases:
        run = make_run(tmp_path / "runs", SMALL + ["env.custom_traj_path=%s" % reference,
                                                   extra])
        with pytest.raises(ProtocolError) as e:
            Trainer(run, load_config(run))
        assert want in str(e.value)
        assert not RunPaths(run).nn_dir.exists()
    # the command line: exit 2 and the same message in the role's log
    r = runner(run, "train", timeout=120)
    assert r.returncode == 2 and cases[-1][1] in text_of(RunPaths(run).log_file("train"))
