"""The mujoco runner's parts in-process: params checking, statistics, GAE, checkpoint refusals."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from runners.mujoco.checkpoint import build_payload, load_policy, read_checkpoint  # noqa: E402
from runners.mujoco.config import parse_params  # noqa: E402
from runners.mujoco.normalize import ObsNormalizer, RewardScaler, RunningMeanStd  # noqa: E402
from runners.mujoco.policy import ActorCritic  # noqa: E402
from runners.mujoco.ppo import RolloutBuffer  # noqa: E402
from runners.protocol import CheckpointLoadError, ProtocolError, save_torch_checkpoint  # noqa

BASE = {"env_id": "InvertedPendulum-v5", "total_steps": 1000}


# --------------------------------------------------------------------------- params

def test_params_defaults_and_yaml_floats():
    cfg = parse_params(dict(BASE, total_steps=2e5, ppo={"hidden": [32]}))
    assert cfg.total_steps == 200000 and isinstance(cfg.total_steps, int)
    assert cfg.ppo.hidden == [32] and cfg.batch_size == 8 * 128
    assert cfg.minibatch_size == cfg.batch_size // cfg.ppo.minibatches
    assert cfg.play.deterministic is True and cfg.unknown == []


@pytest.mark.parametrize("params, field, words", [
    ({"total_steps": 10}, "params.env_id", "missing"),
    (dict(BASE, total_steps="many"), "params.total_steps", "expected an integer"),
    (dict(BASE, num_envs=0), "params.num_envs", "must be >= 1"),
    (dict(BASE, device="tpu"), "params.device", "must be one of 'auto', 'cpu', 'cuda'"),
    (dict(BASE, ppo={"gamma": 1.5}), "params.ppo.gamma", "must be <= 1"),
    (dict(BASE, ppo={"lr": 0}), "params.ppo.lr", "must be > 0"),
    (dict(BASE, ppo={"hidden": [64, -1]}), "params.ppo.hidden", "positive integers"),
    (dict(BASE, ppo={"norm_obs": "yes"}), "params.ppo.norm_obs", "true or false"),
    (dict(BASE, ppo=[1]), "params.ppo", "expected a mapping"),
    (dict(BASE, num_envs=1, rollout_steps=2, ppo={"minibatches": 4}), "params.ppo.minibatches",
     "must be <= num_envs * rollout_steps = 2"),
    (dict(BASE, play={"realtime": 1}), "params.play.realtime", "true or false"),
])
def test_bad_params_name_run_json_and_the_field(params, field, words):
    with pytest.raises(ProtocolError) as ei:
        parse_params(params, "/runs/x/run.json")
    assert ei.value.field == field
    assert str(ei.value).startswith("/runs/x/run.json: field %r: " % field)
    assert words in str(ei.value)


def test_unknown_params_are_reported():
    cfg = parse_params(dict(BASE, num_env=4, ppo={"learning_rate": 1e-3}))
    assert cfg.unknown == ["params.num_env", "params.ppo.learning_rate"]


# --------------------------------------------------------------------------- statistics

def test_running_mean_std_matches_numpy_over_batches():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(1000, 3))
    rms = RunningMeanStd((3,), epsilon=0.0)
    for chunk in np.array_split(data, 17):
        rms.update(chunk)
    assert np.allclose(rms.mean, data.mean(axis=0)) and np.allclose(rms.var, data.var(axis=0))
    assert rms.count == 1000


def test_obs_normalizer_round_trips_its_state_as_plain_data():
    rng = np.random.default_rng(1)
    a = ObsNormalizer((2,))
    out = a(rng.normal(5.0, 3.0, size=(500, 2)), update=True)
    assert abs(out.mean()) < 0.2 and out.dtype == np.float32
    b = ObsNormalizer((2,))
    state = a.state_dict()
    assert all(isinstance(v, (list, float, bool)) for v in state.values())
    b.load_state_dict(state)
    x = rng.normal(size=(4, 2))
    assert np.array_equal(a(x), b(x))
    with pytest.raises(ValueError):
        ObsNormalizer((3,)).load_state_dict(state)


def test_reward_scaler_divides_by_the_return_std_and_resets_on_done():
    s = RewardScaler(num_envs=2, gamma=0.9)
    for _ in range(200):
        s(np.array([1.0, 1.0]), np.array([False, False]))
    assert np.allclose(s.returns, 1 / (1 - 0.9), atol=1e-6)
    s(np.array([1.0, 1.0]), np.array([True, False]))
    assert s.returns[0] == 0.0 and s.returns[1] > 9.0
    scaled = s.scale(np.array([1.0]))
    assert scaled[0] == pytest.approx(1.0 / np.sqrt(s.rms.var + 1e-8), rel=1e-5)


# --------------------------------------------------------------------------- GAE

def test_gae_matches_the_direct_sum_and_cuts_at_episode_ends():
    gamma, lam = 0.9, 0.8
    buf = RolloutBuffer(4, 1, obs_dim=1, act_dim=1)
    rewards = [1.0, 2.0, 3.0, 4.0]
    values = [0.5, 0.4, 0.3, 0.2]
    dones = [0, 1, 0, 0]  # the first episode ends after step 1
    for r, v, d in zip(rewards, values, dones):
        buf.add(np.zeros((1, 1)), np.zeros((1, 1)), np.zeros(1), np.array([v]), np.array([r]),
                np.array([d]))
    last_value = 0.7
    buf.compute_gae(np.array([last_value]), gamma, lam)

    def delta(t):
        nxt = last_value if t == 3 else values[t + 1]
        return rewards[t] + gamma * nxt * (1 - dones[t]) - values[t]

    expected = [delta(0) + gamma * lam * delta(1), delta(1),
                delta(2) + gamma * lam * delta(3), delta(3)]
    assert np.allclose(buf.advantages[:, 0], expected)
    assert np.allclose(buf.returns[:, 0], np.array(expected) + np.array(values))


# --------------------------------------------------------------------------- checkpoints

def _save(tmp_path, env_id="InvertedPendulum-v5", obs_dim=4, act_dim=1):
    model = ActorCritic(obs_dim, act_dim, [8])
    opt = torch.optim.Adam(model.parameters())
    payload = build_payload(model, opt, ObsNormalizer((obs_dim,)), {}, env_id, 64, 1, 128, 0, 3)
    return save_torch_checkpoint(tmp_path, payload, 64, epoch=1)


def test_checkpoint_loads_for_play_with_weights_only(tmp_path):
    path = _save(tmp_path)
    policy, step = load_policy(path, "InvertedPendulum-v5", 4, 1, np.array([-3.0], np.float32),
                               np.array([3.0], np.float32))
    assert step == 64
    a = policy.act(np.ones(4) * 100, deterministic=True)
    assert a.shape == (1,) and -3.0 <= a[0] <= 3.0
    assert np.array_equal(a, policy.act(np.ones(4) * 100, deterministic=True))


@pytest.mark.parametrize("kwargs, words", [
    ({"env_id": "HalfCheetah-v5"}, "trained on HalfCheetah-v5, this run uses InvertedPendulum"),
    ({"obs_dim": 5}, "observation size 5 does not match the env's 4"),
    ({"act_dim": 2}, "action size 2 does not match the env's 1"),
])
def test_checkpoint_for_another_env_is_refused(tmp_path, kwargs, words):
    path = _save(tmp_path, **kwargs)
    with pytest.raises(CheckpointLoadError) as ei:
        read_checkpoint(path, "InvertedPendulum-v5", 4, 1)
    assert words in str(ei.value)


def test_foreign_or_truncated_files_are_refused(tmp_path):
    other = tmp_path / "other.pth"
    torch.save({"weights": torch.zeros(2)}, str(other))
    with pytest.raises(CheckpointLoadError, match="not a mujoco-runner checkpoint"):
        read_checkpoint(other)
    good = _save(tmp_path)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(good.read_bytes()[:300])
    with pytest.raises(CheckpointLoadError, match="truncated"):
        read_checkpoint(cut)
