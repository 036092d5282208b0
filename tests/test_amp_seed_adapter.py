"""SkeletonSteering's own scripts, unmodified, managed by Pitwall (``locomujoco/seed_skeleton_walk``):
its results_dir as the run's output dir, its TensorBoard files and stdout line as curves, its
in-place pickles listed, and a viewer built from the user's own env and network functions that
hot-swaps those pickles (raw jax arrays inside) through the allow-list unpickler.

The seed needs LocoMuJoCo (not installable from PyPI); ``tests/fixtures/skeleton_steering/`` is
a CPU re-creation of its visible behaviour (same command line, files, pickle layout, stdout
line, TensorBoard tags; a real small JAX training on Walker2d-v5). That is what runs here.
"""
from __future__ import annotations

import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("jax")
pytest.importorskip("flax")
pytest.importorskip("optax")
pytest.importorskip("tensorboardX")

from conftest import FIXTURES, REPO, text_of, wait_until  # noqa: E402
from runners.protocol import read_proc_record, read_viewer_status  # noqa: E402
from runners.protocol.pickle_checkpoints import load_pickle_checkpoint  # noqa: E402
from tui.core.launch import launch  # noqa: E402
from tui.core.metrics.run_metrics import RunMetrics  # noqa: E402
from tui.core.metrics.store import MetricStore  # noqa: E402
from tui.core.run_checkpoints import list_run_checkpoints, select_checkpoint  # noqa: E402
from tui.core.run_control import stop_run  # noqa: E402
from tui.core.viewers import start_viewer  # noqa: E402

SEED = FIXTURES / "skeleton_steering"
SEED_TAGS = {"reward/total_mean", "reward/task_mean", "reward/disc_mean", "reward/episode_mean",
             "loss/actor", "loss/value", "loss/disc", "stats/approx_kl", "stats/clip_frac",
             "perf/samples_per_s", "perf/iter_time_s"}
LINE = re.compile(r"^\[(\d+)/6\] samples=(\d+) reward=\S+ (?:ep_r=\S+ )?disc_r=\S+ actor=\S+ "
                  r"value=\S+ disc=\S+ kl=\S+ clip=\S+ \d+ samples/s \d+\.\d\ds/iter$", re.M)


@pytest.fixture(scope="module", autouse=True)
def jax_cache(tmp_path_factory):
    keys = ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS")
    old = {k: os.environ.get(k) for k in keys}
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(tmp_path_factory.mktemp("jaxc")))
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def checkout(tmp_path: Path) -> Path:
    """The user's SkeletonSteering checkout: the seed's scripts, and its config pointing at a
    reference motion (custom_traj_path, as the seed allows)."""
    root = tmp_path / "SkeletonSteering"
    shutil.copytree(SEED / "training", root / "training")
    ref = tmp_path / "walker_gait.npz"
    r = subprocess.run([sys.executable, "-m", "runners.amp.reference_motion", "--env-id",
                        "Walker2d-v5", "--out", str(ref), "--seconds", "2"], cwd=str(REPO),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    conf_path = root / "training" / "amp_ppo_jax_conf.yaml"
    conf = yaml.safe_load(conf_path.read_text())
    conf["env"]["task_factory"]["params"]["custom_traj_path"] = str(ref)
    conf_path.write_text(yaml.safe_dump(conf))
    return root


def test_seed_scripts_managed_by_pitwall(tmp_path, runs_root):
    root = checkout(tmp_path)
    profile = tmp_path / "seed_cpu.yaml"
    profile.write_text("\n".join([
        "extends: locomujoco/seed_skeleton_walk",
        "params:",
        "  skeleton_steering_dir: %s" % root,
        "  python: %s" % sys.executable,
        "  experiment: Skel",
        "  jax_platforms: cpu",
        "  seed: 3",
        ""]))
    run = launch(str(profile), [], runs_root).run_dir
    log = run / "logs" / "train.log"

    # the seed writes into its results_dir = the run dir; its best pickle is listed as it lands
    wait_until(lambda: (run / "amp_ppo_jax_best.pkl").exists(), timeout=180,
               what="the seed's first best pickle")
    assert "amp_ppo_jax_best.pkl" in [c.name for c in list_run_checkpoints(run)]
    rec = wait_until(lambda: (lambda r: r if r and r.ended else None)(
        read_proc_record(run, "train")), timeout=180, what="the seed's training to end")
    assert rec.exit_code == 0, text_of(log)[-3000:]
    for f in ("amp_ppo_jax_conf.yaml", "expert_traj.npz", "expert_disc_obs.npz",
              "amp_ppo_jax.pkl"):
        assert (run / f).exists(), f
    listed = [c.name for c in list_run_checkpoints(run)]
    assert sorted(listed) == ["amp_ppo_jax.pkl", "amp_ppo_jax_best.pkl"]

    # curves: TensorBoard first, the stdout preset adds nothing twice; same steps and values
    out = text_of(log)
    assert [int(m.group(1)) for m in LINE.finditer(out)] == list(range(1, 7)), out[-2000:]
    store = MetricStore()
    metrics = RunMetrics.for_run_dir(run)
    metrics.catch_up(store)
    tags = set(store.tags(metrics.name))
    assert SEED_TAGS <= tags, sorted(SEED_TAGS - tags)
    shadowed = metrics.status().shadowed   # stdout values TensorBoard already gave
    assert shadowed["loss/actor"] == shadowed["perf/iter_time_s"] == 6
    snap = store.snapshot(metrics.name, "loss/actor")
    assert len(snap.x()) == 6 and "train/iteration" in tags   # (the line's own extra)
    metrics.close()

    # a viewer from the user's own functions, following the best pickle (jax arrays inside)
    d = load_pickle_checkpoint(run / "amp_ppo_jax_best.pkl")
    assert type(d["params"]["actor"]["Dense_0"]["kernel"]) is np.ndarray
    start_viewer(run).starter.wait(30)
    vlog = run / "logs" / "viewer-1.log"

    def ack():
        return read_viewer_status(run, "viewer-1")

    first = wait_until(lambda: (lambda a: a if a and a.state == "running" else None)(ack()),
                       timeout=120, what="the seed viewer running; log:\n" + text_of(vlog))
    assert first.checkpoint_path.endswith("amp_ppo_jax_best.pkl")
    st = select_checkpoint(run, "manual", "amp_ppo_jax.pkl")
    a = wait_until(lambda: (lambda a: a if a.seq == st.seq else None)(ack()), timeout=30,
                   what="the switch to amp_ppo_jax.pkl")
    assert a.checkpoint_path.endswith("amp_ppo_jax.pkl") and a.error is None
    # a pickle of another shape (another env's actor): refused by the trial forward pass
    wrong = dict(d)
    wrong["params"] = {"actor": {k: {"kernel": np.ones((5, v["kernel"].shape[1]), np.float32),
                                     "bias": v["bias"]} if k == "Dense_0" else v
                                 for k, v in d["params"]["actor"].items()}}
    wrong["obs_norm"] = dict(d["obs_norm"], mean=np.zeros(5), std=np.ones(5))
    with open(run / "amp_ppo_jax_other.pkl", "wb") as f:
        pickle.dump(wrong, f)
    st = select_checkpoint(run, "manual", "amp_ppo_jax_other.pkl")
    a = wait_until(lambda: (lambda a: a if a.seq == st.seq and a.error else None)(ack()),
                   timeout=30, what="the refusal")
    assert "amp_ppo_jax_other.pkl" in a.error and "obs_norm.mean" in a.error
    assert a.checkpoint_path.endswith("amp_ppo_jax.pkl") and a.state == "running"
    assert wait_until(lambda: (ack().episode or 0) >= 1 or None, timeout=60,
                      what="an episode played")
    stop_run(run, ["viewer-1"])
    assert read_proc_record(run, "viewer-1").exit_code == 0, text_of(vlog)[-2000:]
    assert "loaded %s" % (run / "amp_ppo_jax.pkl") in text_of(vlog)
