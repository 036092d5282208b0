"""The ManiSkill runner's parts that need no simulator: parameters, the video trigger (episodes,
not steps), the seed's CSV, trajectories, checkpoints (and refusing bad ones), GAE with
ManiSkill's bootstrapping, the networks, and what a SAPIEN start-up failure is told as."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from runners.maniskill.config import load_config, parse_params
from runners.maniskill.observations import ObsBuffer, ObsSpec, select, stack_final
from runners.maniskill.train_videos import video_trigger
from runners.protocol import CheckpointLoadError, ProtocolError, save_torch_checkpoint
from runners.protocol.trajectories import read_trajectory, trajectory_path, write_trajectory
from runners.protocol.training_csv import SEED_COLUMNS, TrainingCsv, read_training_csv

from conftest import REPO

PROFILE = REPO / "configs" / "maniskill" / "push_cube.yaml"


def profile_params() -> dict:
    import yaml

    return yaml.safe_load(PROFILE.read_text())["params"]


# ---------------------------------------------------------------------------- parameters

def test_the_profile_parses_with_maniskill_baseline_defaults():
    cfg = parse_params(profile_params(), "run.json")
    assert cfg.unknown == []
    assert (cfg.env_id, cfg.obs_mode, cfg.sim_backend, cfg.num_envs) == (
        "PushCube-v1", "state", "auto", 0)
    assert cfg.envs_for("physx_cuda") == 512 and cfg.envs_for("physx_cpu") == 8
    assert cfg.ppo.gamma == 0.8 and cfg.ppo.hidden == [256, 256, 256]
    assert cfg.video.video_record_interval == 50 and not cfg.video.save_trajectory


@pytest.mark.parametrize("change, field, words", [
    ({"obs_mode": "pointcloud"}, "params.obs_mode", "must be one of 'state', 'rgb'"),
    ({"sim_backend": "physx_cuda", "device": "cpu"}, "params.device", "physx_cuda"),
    ({"video_width": 255}, "params.video_width", "even number"),
    ({"num_envs": -1}, "params.num_envs", ">= 0"),
    ({"ppo": {"bootstrap_at_done": "never"}}, "params.ppo.bootstrap_at_done", "always"),
    ({"total_steps": "lots"}, "params.total_steps", "expected an integer"),
])
def test_bad_parameters_name_run_json_and_the_field(change, field, words):
    params = dict(profile_params(), **change)
    with pytest.raises(ProtocolError) as e:
        parse_params(params, "/r/run.json")
    assert e.value.field == field and words in str(e.value), str(e.value)
    assert str(e.value).startswith("/r/run.json: field '%s'" % field)


def test_minibatches_must_fit_the_batch_of_the_chosen_backend():
    from runners.maniskill.config import check_batch

    cfg = parse_params(dict(profile_params(), rollout_steps=2, ppo={"minibatches": 32}))
    check_batch(cfg, 512, "run.json")                     # GPU: 1024 samples
    with pytest.raises(ProtocolError, match="minibatches.*8 x 2 = 16, found 32"):
        check_batch(cfg, 8, "run.json")                   # CPU: 16 samples


def test_unknown_params_are_listed(tmp_path):
    from runners.protocol import RunRecord, create_run_dir, now_iso, write_run_record

    run = create_run_dir(tmp_path, "x")
    write_run_record(run, RunRecord(name=run.name, experiment="x", profile_name="p",
                                    backend="maniskill", created_at=now_iso(), processes=[],
                                    params=dict(profile_params(), lr_typo=1)))
    assert load_config(run).unknown == ["params.lr_typo"]


# ---------------------------------------------------------------------------- videos

def test_videos_are_triggered_by_finished_episodes_not_steps():
    assert video_trigger(7, 8, 8) == (None, 0, 8)
    assert video_trigger(8, 8, 8) == (8, 0, 16)
    # 4 envs end together past two multiples: the last is recorded, one is counted as missed
    assert video_trigger(25, 8, 8) == (24, 2, 32)
    assert video_trigger(25, 16, 8) == (24, 1, 32)
    nxt, got = 8, []
    for episodes in range(0, 100, 4):       # 4 episodes end at once, every 50 steps
        crossed, _missed, nxt = video_trigger(episodes, nxt, 8)
        if crossed is not None:
            got.append(crossed)
    assert got == list(range(8, 100, 8))


def test_overlay_lines_fit_a_256_pixel_frame():
    from runners.maniskill.video_maker import overlay_lines
    from runners.rendering.font import ADVANCE

    lines = overlay_lines("TRAINING EP 1234567", 123456789, 1000, -12.345, -1234.56, 12.34,
                          True)
    assert lines[1] == "T 1000  R -12.345  RETURN -1234.56"
    assert lines[2] == "ACTION 12.34  SUCCESS YES"
    assert all(len(x) * ADVANCE + 8 <= 256 for x in lines), lines


# ---------------------------------------------------------------------------- the seed's CSV

def test_training_csv_has_the_seed_columns_and_appends_on_resume(tmp_path):
    log = TrainingCsv(tmp_path)
    log.write({"epoch": 1, "episode": 8, "avg_reward": 3.25, "success_rate": 0.125,
               "steps": 400, "actor_loss": -0.01, "critic_loss": 0.5, "video_recorded": True})
    log.write({"epoch": 2, "episode": 8, "avg_reward": None, "success_rate": float("nan"),
               "steps": 800, "actor_loss": 0.0, "critic_loss": 0.1, "video_recorded": False})
    TrainingCsv(tmp_path).write({"epoch": 3, "steps": 1200})            # a resumed training
    header, rows = read_training_csv(tmp_path / "training_log.csv")
    assert header == SEED_COLUMNS
    assert rows[0] == ["1", "8", "3.25", "0.125", "400", "-0.01", "0.5", "True"]
    assert rows[1][2:4] == ["", ""] and rows[1][7] == "False"
    assert rows[2][0] == "3" and len(rows) == 3
    with pytest.raises(ValueError, match="no column speed"):
        log.write({"speed": 1})


def test_training_csv_of_another_trainer_is_refused_not_appended(tmp_path):
    p = tmp_path / "training_log.csv"
    p.write_text("epoch,loss\n1,2\n")
    with pytest.raises(ProtocolError) as e:
        TrainingCsv(tmp_path)
    assert str(p) in str(e.value) and "expected" in str(e.value)
    assert p.read_text() == "epoch,loss\n1,2\n"


# ---------------------------------------------------------------------------- trajectories

def _trajectory(t: int = 5, eps: int = 1) -> dict:
    return {"actions": np.ones((t, 8), np.float32), "rewards": np.arange(t, dtype=np.float32),
            "terminated": np.zeros(t, bool), "truncated": np.eye(1, t, t - 1, dtype=bool)[0],
            "success": np.zeros(t, bool), "episode": np.zeros(t, np.int32),
            "elapsed": np.arange(1, t + 1, dtype=np.int32) + 3,
            "obs": np.zeros((t + eps, 35), np.float32),
            "env_states": np.zeros((t + eps, 70), np.float32)}


def test_trajectory_round_trip_next_to_its_video(tmp_path):
    mp4 = tmp_path / "videos" / "training_ep0000050_step000001000.mp4"
    path = trajectory_path(mp4)
    assert path.name == "training_ep0000050_step000001000.traj.npz"
    write_trajectory(path, _trajectory(), {"env_id": "PushCube-v1", "settle_steps": 3})
    arrays, meta = read_trajectory(path)
    assert meta["env_id"] == "PushCube-v1" and meta["format"] == "pitwall.traj/1"
    assert arrays["rewards"].tolist() == [0, 1, 2, 3, 4] and arrays["elapsed"][0] == 4
    assert [p.name for p in path.parent.iterdir()] == [path.name]   # no temp file left


def test_torn_or_incomplete_trajectories_are_refused_with_the_file_named(tmp_path):
    path = tmp_path / "a.traj.npz"
    write_trajectory(path, _trajectory(), {})
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ProtocolError, match="not a complete trajectory file") as e:
        read_trajectory(path)
    assert str(path) in str(e.value)
    bad = _trajectory()
    bad["rewards"] = bad["rewards"][:3]
    write_trajectory(path, bad, {})
    with pytest.raises(ProtocolError, match="field 'rewards': has 3 rows, actions has 5"):
        read_trajectory(path)
    with pytest.raises(ValueError, match="without elapsed"):
        write_trajectory(path, {k: v for k, v in bad.items() if k != "elapsed"}, {})


# ---------------------------------------------------------------------------- checkpoints

STATE = ObsSpec(35)


def _agent(spec: ObsSpec = STATE, act: int = 8):
    from runners.maniskill.agent import Agent

    return Agent(spec, act, [32, 32])


def _save(tmp_path: Path, agent, step: int = 100, env_id: str = "PushCube-v1",
          obs_mode: str = "state") -> Path:
    from runners.maniskill.checkpoint import policy_payload

    payload = policy_payload(agent, env_id, obs_mode, "pd_joint_delta_pos", step, 3)
    return save_torch_checkpoint(tmp_path, payload, step)


def test_checkpoint_round_trip_gives_the_same_actions(tmp_path):
    from runners.maniskill.checkpoint import load_policy

    agent = _agent()
    path = _save(tmp_path, agent)
    low, high = -np.ones(8, np.float32), np.ones(8, np.float32)
    policy, step = load_policy(path, "PushCube-v1", "state", STATE, low, high)
    assert step == 100
    obs = np.random.default_rng(0).normal(size=35).astype(np.float32)
    with torch.no_grad():
        want = agent.mean_action(torch.as_tensor(obs[None]))[0].numpy()
    assert np.allclose(policy.act(obs), np.clip(want, -1, 1), atol=1e-6)


@pytest.mark.parametrize("what, message", [
    ("env", "trained on PushCube-v1, this run uses PickCube-v1"),
    ("obs_mode", "trained with obs_mode 'state', this run uses 'rgb'"),
    ("act", "action size 8 does not match the env's 7"),
    ("obs", "observation shape"),
    ("nan", "weights hold NaN or inf"),
    ("torn", "not a complete torch checkpoint"),
    ("foreign", "not a maniskill-runner checkpoint"),
])
def test_bad_checkpoints_are_refused_with_a_reason(tmp_path, what, message):
    from runners.maniskill.checkpoint import load_policy

    agent = _agent()
    env, mode, spec, act = "PushCube-v1", "state", STATE, 8
    if what == "nan":
        with torch.no_grad():
            agent.actor_logstd.fill_(float("nan"))
    path = _save(tmp_path, agent)
    if what == "env":
        env = "PickCube-v1"
    elif what == "obs_mode":
        mode = "rgb"
    elif what == "act":
        act = 7
    elif what == "obs":
        spec = ObsSpec(42)
    elif what == "torn":
        path.write_bytes(path.read_bytes()[:3000])
    elif what == "foreign":
        torch.save({"model": {}}, str(path))
    with pytest.raises(CheckpointLoadError, match=message.replace("(", r"\(")) as e:
        load_policy(path, env, mode, spec, -np.ones(act, np.float32), np.ones(act, np.float32))
    assert str(path) in str(e.value)


def test_rgb_networks_take_uint8_images_and_state():
    spec = ObsSpec(9, (64, 64, 3))
    agent = _agent(spec, 4)
    obs = {"rgb": torch.randint(0, 255, (5, 64, 64, 3), dtype=torch.uint8),
           "state": torch.zeros(5, 9)}
    action, logp, value = agent.act(obs)
    assert action.shape == (5, 4) and logp.shape == value.shape == (5,)
    from runners.maniskill.agent import Agent

    again = Agent.from_config(agent.config())
    assert again.spec == spec and again.encoder is not None
    buf = ObsBuffer(3, 5, spec, torch.device("cpu"))
    for t in range(3):
        buf.put(t, obs)
    flat = buf.flat()
    assert flat["rgb"].shape == (15, 64, 64, 3) and flat["rgb"].dtype == torch.uint8
    assert select(flat, torch.tensor([0, 14]))["state"].shape == (2, 9)


def test_final_observations_of_finished_envs_are_stacked():
    final = np.empty(3, dtype=object)
    final[:] = [None, np.ones(4), np.full(4, 2.0)]
    got = stack_final(final, np.array([1, 2]), torch.device("cpu"))
    assert got.tolist() == [[1.0] * 4, [2.0] * 4]
    final[:] = [None, {"rgb": np.zeros((2, 2, 3), np.uint8), "state": np.ones(2)}, None]
    got = stack_final(final, np.array([1]), torch.device("cpu"))
    assert got["rgb"].dtype == torch.uint8 and got["state"].tolist() == [[1.0, 1.0]]


# ---------------------------------------------------------------------------- GAE

def test_gae_bootstraps_finished_episodes_with_their_final_value():
    from runners.maniskill.ppo import Rollout

    ro = Rollout(3, 1, ObsSpec(1), 1, torch.device("cpu"))
    for t, (r, d) in enumerate([(1.0, 0.0), (1.0, 1.0), (1.0, 0.0)]):
        ro.add(torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1), torch.full((1,), 0.5),
               torch.full((1,), r), torch.full((1,), bool(d)))
    ro.bootstrap(1, torch.tensor([0]), torch.tensor([2.0]))   # V(final obs) of the episode
    gamma, lam = 0.8, 0.9
    ro.compute_gae(torch.tensor([3.0]), gamma, lam)
    d2 = 1.0 + gamma * 3.0 - 0.5
    d1 = 1.0 + gamma * 2.0 - 0.5            # bootstrapped with the final value, not V(next)
    d0 = 1.0 + gamma * 0.5 - 0.5
    a1 = d1                                 # the episode ended: no advantage flows back
    a0 = d0 + gamma * lam * a1
    assert ro.advantages[:, 0].tolist() == pytest.approx([a0, a1, d2])
    assert ro.returns[:, 0].tolist() == pytest.approx([a0 + 0.5, a1 + 0.5, d2 + 0.5])


# ---------------------------------------------------------------------------- SAPIEN errors

@pytest.mark.parametrize("exc, words", [
    (RuntimeError("vk::Instance::enumeratePhysicalDevices: ErrorIncompatibleDriver"),
     "needs a Vulkan device"),
    (RuntimeError('Failed to find a supported physical device "cpu"'), "vulkan_setup.sh"),
    (EOFError("EOF when reading a line"), "download_asset"),
    (KeyError("robot"), "cannot create PushCube-v1: KeyError"),
])
def test_sapien_start_failures_are_explained(exc, words):
    from runners.maniskill.tasks import explain_env_error

    msg = explain_env_error("PushCube-v1", exc)
    assert words in msg, msg


def test_tasks_that_need_a_download_are_refused_naming_the_field():
    pytest.importorskip("mani_skill")
    from runners.maniskill.tasks import check_env_id, missing_assets

    check_env_id("PushCube-v1", "run.json")
    with pytest.raises(ProtocolError, match="did you mean PushCube-v1"):
        check_env_id("PushCub-v1", "run.json")
    if not missing_assets("PickSingleYCB-v1"):
        pytest.skip("the YCB assets are downloaded on this machine")
    with pytest.raises(ProtocolError) as e:
        check_env_id("PickSingleYCB-v1", "/r/run.json")
    assert e.value.field == "params.env_id" and "download_asset" in str(e.value)


# ---------------------------------------------------------------------------- foreign videos

def _mp4(path: Path, frames: int = 12, size=(64, 48), fps: float = 15.0) -> Path:
    from runners.rendering.video import Mp4Writer

    path.parent.mkdir(parents=True, exist_ok=True)
    w = Mp4Writer(path, size[0], size[1], fps)
    for i in range(frames):
        w.write(np.full((size[1], size[0], 3), i * 20, np.uint8))
    w.close()
    return path


def test_mp4_info_reads_the_moov_box_and_refuses_a_file_being_written(tmp_path):
    from runners.protocol.mp4_info import mp4_info

    p = _mp4(tmp_path / "a.mp4")
    info = mp4_info(p)
    assert (info.width, info.height, info.frames, info.fps) == (64, 48, 12, 15.0)
    data = p.read_bytes()
    for cut in (len(data) - 50, len(data) // 2, 7, 0):
        (tmp_path / "b.mp4").write_bytes(data[:cut])
        assert mp4_info(tmp_path / "b.mp4") is None, cut
    (tmp_path / "c.mp4").write_bytes(b"not a video at all" * 10)
    assert mp4_info(tmp_path / "c.mp4") is None and mp4_info(tmp_path / "none.mp4") is None


def test_foreign_videos_are_listed_from_the_profile_dirs(tmp_path):
    from runners.protocol.foreign_videos import foreign_videos, video_dir_specs

    out = tmp_path / "runs" / "PushCube-v1__ppo__1__17"
    _mp4(out / "videos" / "0.mp4")
    _mp4(out / "train_videos" / "3.mp4", frames=5)
    (out / "train_videos" / "4.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom")   # being written
    (out / "videos" / "notes.txt").write_text("x")
    specs = video_dir_specs([{"dir": "videos"}, {"dir": "train_videos", "glob": "*.mp4"}],
                            "run.json")
    got = foreign_videos(out, specs)
    assert [e.file for e, _ in got] == ["videos/0.mp4", "train_videos/3.mp4"]
    assert [e.frames for e, _ in got] == [12, 5] and all(e.source == "training" for e, _ in got)
    assert foreign_videos(out, specs, skip={out / "videos" / "0.mp4"})[0][0].file == \
        "train_videos/3.mp4"
    for bad, field in (([{"dir": "/abs"}], "profile.videos[0]"),
                       ([{"dir": "v", "glob": "../*.mp4"}], "profile.videos[0]"),
                       ([{"dir": "v", "speed": 1}], "profile.videos[0].speed"),
                       ({"dir": "v"}, "profile.videos")):
        with pytest.raises(ProtocolError) as e:
            video_dir_specs(bad, "/r/run.json")
        assert e.value.field == field, (bad, e.value)
