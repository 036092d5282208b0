"""The AMP runner's parts that need no training: discriminator features and observations,
reference motions and their checks, the seed's config and network layout."""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import yaml

jax = pytest.importorskip("jax")
pytest.importorskip("gymnasium")
pytest.importorskip("mujoco")

import gymnasium  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from conftest import FIXTURES  # noqa: E402
from runners.amp.config import from_checkpoint_config, parse_params  # noqa: E402
from runners.amp.disc_features import KinematicsProbe, build_spec, clip_windows  # noqa: E402
from runners.amp.disc_obs import disc_obs_dim, make_disc_obs_fn  # noqa: E402
from runners.amp.networks import MLP  # noqa: E402
from runners.amp.reference import load_reference  # noqa: E402
from runners.amp.reference_motion import make_reference  # noqa: E402
from runners.protocol import ProtocolError  # noqa: E402

SEED_TRAINING = FIXTURES / "skeleton_steering" / "training"


@pytest.fixture(scope="module")
def humanoid():
    env = gymnasium.make("Humanoid-v5")
    yield env.unwrapped.model
    env.close()


@pytest.fixture(scope="module")
def humanoid_ref():
    return make_reference("Humanoid-v5", seconds=1.0)


def yaw_turn(qpos: np.ndarray, qvel: np.ndarray, angle: float, shift: np.ndarray):
    """The same motion turned by ``angle`` about the vertical and moved by ``shift``: a free
    root's position, orientation (wxyz) and world-frame linear velocity change; its local
    angular velocity and the joints do not."""
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    q = qpos.copy()
    v = qvel.copy()
    q[:, :3] = q[:, :3] @ rot.T + shift
    yaw = np.array([math.cos(angle / 2), 0, 0, math.sin(angle / 2)])
    w1, v1 = yaw[0], yaw[1:]
    w2, v2 = q[:, 3].copy(), q[:, 4:7].copy()
    q[:, 3] = w1 * w2 - v2 @ v1
    q[:, 4:7] = w1 * v2 + w2[:, None] * v1 + np.cross(v1, v2)
    v[:, :3] = v[:, :3] @ rot.T
    return q, v


def test_disc_obs_see_the_motion_not_where_or_which_way(humanoid, humanoid_ref):
    spec = build_spec(humanoid, ["right_foot", "left_foot"])
    probe = KinematicsProbe(humanoid, spec)
    q, v = humanoid_ref["qpos"][:120].astype(np.float64), humanoid_ref["qvel"][:120]
    fn = make_disc_obs_fn(spec)
    a = np.asarray(fn(clip_windows(probe.frames(q, v), [0], 3)))
    q2, v2 = yaw_turn(q, v, 1.1, np.array([3.0, -2.0, 0.0]))
    b = np.asarray(fn(clip_windows(probe.frames(q2, v2), [0], 3)))
    assert a.shape == (120, disc_obs_dim(spec, 3))
    np.testing.assert_allclose(a, b, atol=2e-4)
    lifted, _ = yaw_turn(q, v, 0.0, np.array([0.0, 0.0, 0.2]))   # the height is seen
    c = np.asarray(fn(clip_windows(probe.frames(lifted, v), [0], 3)))
    assert np.abs(c - a).max() > 0.15
    glob = make_disc_obs_fn(spec, global_obs=True)                # ... and, if asked, heading
    assert np.abs(np.asarray(glob(clip_windows(probe.frames(q2, v2), [0], 3)))
                  - np.asarray(glob(clip_windows(probe.frames(q, v), [0], 3)))).max() > 0.1


def test_planar_walker_features_from_kinematics():
    env = gymnasium.make("Walker2d-v5")
    m = env.unwrapped.model
    spec = build_spec(m, ["foot", "foot_left"])
    assert spec.joint_names == ("thigh_joint", "leg_joint", "foot_joint", "thigh_left_joint",
                                "leg_left_joint", "foot_left_joint")
    probe = KinematicsProbe(m, spec)
    q = m.qpos0.copy()
    q[0], q[1], q[2] = 2.0, 1.1, 0.3             # rootx, rootz, rooty (pitch)
    v = np.zeros(m.nv)
    v[0], v[2] = 1.5, -0.7                       # forward, pitch rate
    f = probe.frame(q, v)
    np.testing.assert_allclose(f[0:3], [2.0, 0.0, 1.1], atol=1e-9)           # torso origin
    np.testing.assert_allclose(f[3:7], [0, math.sin(0.15), 0, math.cos(0.15)], atol=1e-9)
    np.testing.assert_allclose(f[7:13], [1.5, 0, 0, 0, -0.7, 0], atol=1e-9)   # lin, ang
    env.close()
    with pytest.raises(ProtocolError, match="params.disc_obs.key_sites"):
        build_spec(m, [], ["nose"])


def test_clip_windows_restart_at_each_clip():
    frames = np.arange(7)[:, None].astype(np.float32)
    w = clip_windows(frames, [0, 4], 3)[:, :, 0]
    assert w.tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2], [1, 2, 3], [4, 4, 4], [4, 4, 5],
                          [4, 5, 6]]


def test_reference_files_in_locomujocos_layout(tmp_path, humanoid, humanoid_ref):
    m = humanoid
    names = [m.joint(j).name for j in range(m.njnt)]
    p = tmp_path / "ref.npz"
    # LocoMuJoCo writes None fields as object arrays: skipped, never unpickled
    np.savez(p, metadata=np.array(None, dtype=object), body_names=np.array(None, dtype=object),
             **humanoid_ref)
    ref = load_reference(p, m.nq, m.nv, names, "Humanoid-v5")
    assert ref.frames == len(humanoid_ref["qpos"]) and len(ref.clip_starts) == 3
    assert ref.frequency == pytest.approx(1 / 0.015)
    cases = [({"split_points": np.array([0, 5, 3])}, "split_points"),
             ({"frequency": np.array(0.0)}, "frequency"),
             ({"joint_names": np.array(names[::-1])}, "joint_names"),
             ({"qvel": humanoid_ref["qvel"][:-1]}, "qvel")]
    for patch, field in cases:
        bad = tmp_path / ("bad_%s.npz" % field)
        np.savez(bad, **dict(humanoid_ref, **patch))
        with pytest.raises(ProtocolError) as e:
            load_reference(bad, m.nq, m.nv, names, "Humanoid-v5")
        assert e.value.field == field and str(bad) in str(e.value)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ProtocolError, match="not a readable .npz"):
        load_reference(tmp_path / "junk.npz", m.nq, m.nv)


def test_the_seeds_config_and_network_layout_are_ours():
    flax_mlp = pytest.importorskip("flax") and __import__("importlib").import_module
    sys.path.insert(0, str(SEED_TRAINING))
    try:
        seed = flax_mlp("amp_ppo_jax")
    finally:
        sys.path.remove(str(SEED_TRAINING))
    conf = yaml.safe_load((SEED_TRAINING / "amp_ppo_jax_conf.yaml").read_text())
    cfg = from_checkpoint_config(conf, "seed.pkl: config")
    assert cfg.env_id == "SkeletonTorque.walk.mocap"
    assert cfg.model.actor_hidden_layers == [32, 32] and cfg.disc_obs.history_len == 2
    assert cfg.unknown == []          # every section and field of the seed's is understood
    ours = MLP((8, 8), 3, "relu", 0.1)
    theirs = seed.MLP((8, 8), 3, "relu", 0.1)
    x = jnp.ones((2, 5))
    both = jax.jit(lambda p: (ours.apply(p, x), theirs.apply(p, x)))   # one compile each
    for p in (jax.jit(lambda k: ours.init(k, x))(jax.random.PRNGKey(0)),
              jax.jit(lambda k: theirs.init(k, x))(jax.random.PRNGKey(1))):
        a, b = both(p)
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert parse_params({"env_id": "Walker2d-v5"}).num_iters >= 1


@pytest.mark.parametrize("name", ["walker2d_amp", "humanoid_amp", "skeleton_walk",
                                  "seed_skeleton_walk"])
def test_shipped_profiles_pass_their_runners_checks(name):
    from runners.skeleton_steering.config import parse_params as parse_seed_viewer
    from tui.core.profiles import resolve_profile

    rp = resolve_profile("locomujoco/" + name, [])
    if rp.profile.backend == "amp":
        cfg = parse_params(rp.params, rp.path)
        assert cfg.num_iters >= 1
    else:
        cfg = parse_seed_viewer(rp.params, rp.path)
        assert cfg.env_function == "eval_amp_ppo_jax:_make_env"
    assert cfg.unknown == [], cfg.unknown
