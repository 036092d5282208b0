"""The SERL runner's parts, without processes: wire frames, the socket server (real sockets on
loopback, in this process), config errors, observation layouts, replay and hybrid sampling,
demo files, SAC."""
from __future__ import annotations

import json
import pickle
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

pytest.importorskip("zmq")
torch = pytest.importorskip("torch")
gym = pytest.importorskip("gymnasium")

from runners.protocol import ProtocolError
from runners.protocol.safe_pickle import write_pickle
from runners.serl.config import parse_params
from runners.serl.demos import demo_arrays, episode_succeeded, out_paths
from runners.serl.env_spec import EnvSpec
from runners.serl.obs_layout import ObsLayout, ObsMismatch
from runners.serl.replay import MixedSampler, ReplayBuffer
from runners.serl.sac import SAC
from runners.serl.transport import LearnerLink, LearnerServer, LinkTimeout
from runners.serl.wire import PROTOCOL, VersionMismatch, WireError, decode, encode

import zmq


# --------------------------------------------------------------------------- wire

def test_frames_round_trip_every_allowed_dtype():
    arrays = {"f": np.random.rand(3, 4).astype(np.float32), "d": np.arange(5.0),
              "b": np.array([True, False]), "u": np.arange(6, dtype=np.uint8).reshape(2, 3),
              "e": np.zeros((0, 7), np.float32), "be": np.arange(3, dtype=">i4")}
    m = decode(encode("transitions", {"n": 1, "s": "x"}, arrays))
    assert m.kind == "transitions" and m.meta == {"n": 1, "s": "x"}
    for k, a in arrays.items():
        assert np.array_equal(m.arrays[k], a) and m.arrays[k].shape == a.shape


def _frame(header: dict, payload: bytes = b"") -> bytes:
    h = json.dumps(header).encode()
    return b"PWSERL" + struct.pack("<I", len(h)) + h + payload


@pytest.mark.parametrize("frame,why", [
    (b"", "magic"), (b"hello world, not ours", "magic"),
    (b"PWSERL" + struct.pack("<I", 999) + b"{}", "does not fit"),
    (_frame({"protocol": PROTOCOL, "kind": "nope", "meta": {}, "arrays": []}), "kind"),
    (_frame({"protocol": PROTOCOL, "kind": "weights", "meta": {},
             "arrays": [["x", "|O", [1]]]}), "not allowed"),
    (_frame({"protocol": PROTOCOL, "kind": "weights", "meta": {},
             "arrays": [["x", "<f4", [4]]]}, b"\0" * 8), "needs 16 bytes"),
    (_frame({"protocol": PROTOCOL, "kind": "weights", "meta": {},
             "arrays": [["x", "<f4", [1]]]}, b"\0" * 8), "stray"),
    (_frame({"protocol": PROTOCOL, "kind": "weights", "meta": {},
             "arrays": [["x", "<f4", [-1]]]}), "bad shape"),
    (b"PWSERL" + struct.pack("<I", 3) + b"\xff\xfe{", "not JSON"),
])
def test_bad_frames_are_refused_with_a_reason(frame, why):
    with pytest.raises(WireError, match=why):
        decode(frame)


def test_another_protocol_version_is_named():
    frame = encode("hello", {}, protocol="pitwall.serl/2")
    with pytest.raises(VersionMismatch) as e:
        decode(frame)
    assert "pitwall.serl/2" in str(e.value) and PROTOCOL in str(e.value)


def test_object_arrays_cannot_be_sent():
    with pytest.raises(ValueError, match="numeric"):
        encode("weights", {}, {"x": np.array([object()], dtype=object)})


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_frames_only_raise_wire_errors(data):
    for frame in (data, b"PWSERL" + data):
        try:
            decode(frame)
        except WireError:
            pass


# --------------------------------------------------------------------------- sockets

class _Handlers:
    def __init__(self):
        self.got = []

    def request(self, msg):
        return "status", {"echo": msg.kind, "n": msg.meta.get("n")}

    def transitions(self, msg):
        if msg.arrays["x"].shape[0] > 100:
            raise ValueError("too many rows for this test")
        self.got.append(msg)


def _wait(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_server_and_link_on_loopback_refuse_strangers_and_keep_serving():
    h = _Handlers()
    lines = []
    server = LearnerServer("127.0.0.1", h.request, h.transitions, say=lines.append).start()
    addr = {k: "tcp://127.0.0.1:%d" % p for k, p in server.ports.items()}
    assert len(set(server.ports.values())) == 3
    link = LearnerLink(addr)
    ctx = zmq.Context.instance()
    try:
        assert link.request("heartbeat", {"n": 1}, 5.0).meta == {"echo": "heartbeat", "n": 1}
        # garbage and a peer of another version on the request socket: refused, answered
        raw = ctx.socket(zmq.REQ)
        raw.setsockopt(zmq.LINGER, 0)
        raw.connect(addr["requests"])
        raw.send(b"\x00garbage")
        err = decode(raw.recv())
        assert err.kind == "error" and "magic" in err.meta["error"]
        raw.send(encode("hello", {"n": 2}, protocol="pitwall.serl/9"))
        rep = decode(raw.recv())  # a peer of that version finds the mismatch in it too
        assert rep.kind == "refused" and "pitwall.serl/9" in rep.meta["error"] \
            and PROTOCOL in rep.meta["error"]
        # garbage on the transitions socket: refused; then a valid batch still arrives
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 0)
        push.connect(addr["transitions"])
        push.send(b"garbage")
        push.send(encode("weights", {}))  # a valid frame of the wrong kind
        push.send(encode("transitions", {}, {"x": np.zeros((101, 1))}))  # handler refuses
        assert link.push(encode("transitions", {"k": 1}, {"x": np.ones((3, 2))}))
        _wait(lambda: len(h.got) == 1 and server.refused == 5)
        assert h.got[0].meta == {"k": 1} and h.got[0].arrays["x"].sum() == 6
        assert sum("refused a message" in line for line in lines) == 5
        assert any("pitwall.serl/9" in line for line in lines)
        # newest weights only (CONFLATE): a burst of 20, then whatever has arrived is ONE frame
        _wait(lambda: (server.publish(encode("weights", {"v": 0})), link.recv_weights())[1]
              is not None)
        time.sleep(0.2)
        link.recv_weights()
        for v in range(1, 21):
            server.publish(encode("weights", {"v": v}))
        time.sleep(0.5)
        got = []
        deadline = time.monotonic() + 10
        while not got or decode(got[-1]).meta["v"] != 20:
            drained = []
            frame = link.recv_weights()
            while frame is not None:
                drained.append(frame)
                frame = link.recv_weights()
            assert len(drained) <= 1  # never a backlog: the socket keeps the newest only
            got += drained
            assert time.monotonic() < deadline, "the last weights never arrived"
            time.sleep(0.05)
        assert len(got) < 20
        assert link.request("heartbeat", {"n": 3}, 5.0).meta["n"] == 3  # still serving
        raw.close()
        push.close()
    finally:
        link.close()
        server.close()


def test_a_dead_learner_times_out_and_pushes_are_not_queued_towards_it():
    h = _Handlers()
    server = LearnerServer("127.0.0.1", h.request, h.transitions).start()
    addr = {k: "tcp://127.0.0.1:%d" % p for k, p in server.ports.items()}
    link = LearnerLink(addr)
    try:
        assert link.request("heartbeat", {}, 5.0).kind == "status"
        server.close()
        with pytest.raises(LinkTimeout):
            link.request("heartbeat", {}, 0.5)
        _wait(lambda: not link.push(encode("transitions", {}, {"x": np.ones((1, 1))})))
    finally:
        link.close()


def test_two_servers_on_one_box_get_different_ports():
    h = _Handlers()
    a = LearnerServer("127.0.0.1", h.request, h.transitions)
    b = LearnerServer("127.0.0.1", h.request, h.transitions)
    try:
        assert not set(a.ports.values()) & set(b.ports.values())
    finally:
        a.close()
        b.close()


# --------------------------------------------------------------------------- config

@pytest.mark.parametrize("params,field", [
    ({"batch_size": "many"}, "params.batch_size"),
    ({"mode": "sync"}, "params.mode"),
    ({"mode": "hybrid"}, "params.demo_paths"),
    ({"sac": {"lr": 0}}, "params.sac.lr"),
    ({"sac": {"target_entropy": "x"}}, "params.sac.target_entropy"),
    ({"heartbeat_s": 2.0, "learner_timeout_s": 1.0}, "params.learner_timeout_s"),
    ({"replay_buffer_capacity": 10, "batch_size": 64}, "params.replay_buffer_capacity"),
    ({"wandb": {"mode": "loud"}}, "params.wandb.mode"),
])
def test_config_errors_name_run_json_and_the_field(params, field):
    with pytest.raises(ProtocolError) as e:
        parse_params(params, "/r/run.json")
    assert "/r/run.json" in str(e.value) and ("'%s'" % field) in str(e.value)


def test_config_defaults_and_demo_paths(tmp_path):
    cfg = parse_params({"mode": "hybrid", "demo_paths": ["d.pkl", "/abs/e.pkl"], "x": 1},
                       "run.json", tmp_path)
    assert cfg.env == "Ant-v5" and cfg.cta_ratio == 2 and cfg.sac.target_entropy is None
    assert cfg.demo_files() == [tmp_path / "d.pkl", Path("/abs/e.pkl")]
    assert cfg.unknown == ["params.x"]


# --------------------------------------------------------------------------- observations

def test_dict_observations_flatten_sorted_and_mismatches_say_which_key():
    space = gym.spaces.Dict({"b": gym.spaces.Box(-1, 1, (2,)),
                             "a": gym.spaces.Dict({"z": gym.spaces.Box(-1, 1, (1, 2))})})
    lay = ObsLayout.from_space(space)
    assert lay.entries == [("a/z", (1, 2)), ("b", (2,))] and lay.dim == 4
    v = lay.flatten({"b": [3, 4], "a": {"z": [[1, 2]]}})
    assert v.tolist() == [1, 2, 3, 4] and v.dtype == np.float32
    assert ObsLayout.from_json(json.loads(json.dumps(lay.to_json()))) == lay
    with pytest.raises(ObsMismatch, match="'b'"):
        lay.flatten({"a": {"z": [[1, 2]]}, "b": [1, 2, 3]})
    with pytest.raises(ObsMismatch, match="no key 'a/z'"):
        lay.flatten({"b": [1, 2]})


# --------------------------------------------------------------------------- replay

def _rows(n, obs_dim=3, act_dim=2, reward=0.0):
    return {"observations": np.random.rand(n, obs_dim).astype(np.float32),
            "actions": np.random.rand(n, act_dim).astype(np.float32),
            "next_observations": np.random.rand(n, obs_dim).astype(np.float32),
            "rewards": np.full(n, reward, np.float32), "masks": np.ones(n, np.float32),
            "dones": np.zeros(n, np.float32)}


def test_replay_ring_keeps_the_newest_and_checks_shapes():
    buf = ReplayBuffer(10, 3, 2)
    for i in range(4):
        buf.insert(_rows(4, reward=float(i)))
    assert len(buf) == 10 and buf.inserted == 16
    assert sorted(set(buf.data["rewards"].tolist())) == [1.0, 2.0, 3.0]
    bad = _rows(2)
    bad["actions"] = np.zeros((2, 5), np.float32)
    with pytest.raises(ValueError, match="'actions' has shape"):
        buf.insert(bad)
    bad = _rows(2)
    bad["rewards"][0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        buf.insert(bad)


def test_hybrid_batches_are_half_demos_measured_from_the_batches():
    online, demos = ReplayBuffer(1000, 3, 2), ReplayBuffer(1000, 3, 2)
    demos.insert(_rows(500, reward=-1.0))  # demo rows are marked by their reward
    sampler = MixedSampler(online, demos)
    rng = np.random.default_rng(0)
    # online smaller than half a batch: its share is what it holds, demos fill the rest
    online.insert(_rows(10, reward=1.0))
    b = sampler.sample(64, rng)
    assert (b["rewards"] == 1.0).sum() == 10 and (b["rewards"] == -1.0).sum() == 54
    online.insert(_rows(200, reward=1.0))
    fractions = []
    for _ in range(50):
        b = sampler.sample(64, rng)
        assert len(b["rewards"]) == 64
        fractions.append(float((b["rewards"] == -1.0).mean()))
        assert sampler.last_demo_count == (b["rewards"] == -1.0).sum()
    assert fractions == [0.5] * 50
    assert (MixedSampler(online, None).sample(8, rng)["rewards"] == 1.0).all()


# --------------------------------------------------------------------------- demos

def _spec():
    lay = ObsLayout([("joints", (2,)), ("vel", (1,))])
    return EnvSpec("x", lay, [-1, -1], [1, 1])


def _demo(i):
    obs = {"joints": np.array([i, i], np.float32), "vel": np.array([0.5])}
    return {"observations": obs, "actions": np.array([0.1, -0.1]), "next_observations": obs,
            "rewards": 1.0, "masks": 1.0, "dones": False}


def test_demo_files_load_in_the_seeds_format(tmp_path):
    path = tmp_path / "demos.pkl"
    write_pickle(path, [_demo(i) for i in range(5)])
    a = demo_arrays(path, _spec())
    assert a["observations"].shape == (5, 3) and a["actions"].shape == (5, 2)
    assert a["observations"][3].tolist() == [3, 3, 0.5] and a["masks"].tolist() == [1] * 5


@pytest.mark.parametrize("edit,where", [
    (lambda t: t.pop("masks"), "field 'transition 2': missing masks"),
    (lambda t: t.update(actions=np.zeros(3)), "field 'transition 2: actions': has 3 values"),
    (lambda t: t.update(observations={"joints": np.zeros(2)}),
     "field 'transition 2: observations': observation has no key 'vel'"),
    (lambda t: t.update(rewards=float("nan")), "field 'transition 2: rewards': holds NaN"),
    (lambda t: t.update(dones=[1, 2]), "field 'transition 2: dones': expected one number"),
])
def test_bad_demo_transitions_are_named(tmp_path, edit, where):
    data = [_demo(i) for i in range(4)]
    edit(data[2])
    path = tmp_path / "demos.pkl"
    write_pickle(path, data)
    with pytest.raises(ProtocolError) as e:
        demo_arrays(path, _spec())
    assert str(path) in str(e.value) and where in str(e.value)


def test_a_malicious_demo_file_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            import os
            return (os.system, ("touch %s" % marker,))

    path = tmp_path / "demos.pkl"
    path.write_bytes(pickle.dumps([_demo(0), {"observations": Evil()}]))
    with pytest.raises(ProtocolError, match="posix.system|os.system"):
        demo_arrays(path, _spec())
    assert not marker.exists()


def test_demo_outputs_and_success_rule(tmp_path):
    assert out_paths(tmp_path / "d.pkl") == (tmp_path / "d_success.pkl",
                                            tmp_path / "d_failure.pkl")
    assert episode_succeeded({"success": True}, terminated=True)
    assert not episode_succeeded({"is_success": np.array([False])}, terminated=False)
    assert episode_succeeded({}, terminated=False) and not episode_succeeded({}, True)


# --------------------------------------------------------------------------- SAC

@pytest.fixture
def one_torch_thread():
    """Two OpenMP threads on a loaded 2-core box are many times slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_sac_fits_a_one_step_task(one_torch_thread):
    """Reward = -|a - 0.5|^2 with terminal steps: the actor's mean must move to 0.5."""
    from runners.serl.config import SacConfig

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    agent = SAC(2, 1, SacConfig(hidden=[32, 32], lr=3e-3, init_temperature=0.05),
                torch.device("cpu"))
    for _ in range(150):
        obs = rng.normal(size=(128, 2)).astype(np.float32)
        act = rng.uniform(-1, 1, size=(128, 1)).astype(np.float32)
        b = {"observations": obs, "actions": act, "next_observations": obs,
             "rewards": -((act[:, 0] - 0.5) ** 2), "masks": np.zeros(128, np.float32)}
        stats = agent.update([{k: torch.as_tensor(v) for k, v in b.items()}] * 2)
    assert set(stats) == {"sac/actor_loss", "sac/critic_loss", "sac/entropy",
                          "sac/temperature", "sac/temperature_loss"}
    mean = agent.actor.act(torch.zeros(16, 2), deterministic=True)
    assert abs(float(mean.mean()) - 0.5) < 0.1
    state = agent.state_dict()
    other = SAC(2, 1, SacConfig(hidden=[32, 32]), torch.device("cpu"))
    other.load_state_dict(state)
    assert torch.equal(other.actor.act(torch.ones(1, 2), True), agent.actor.act(torch.ones(1, 2), True))


@pytest.mark.parametrize("name,extra", [("ant", []), ("ant_hybrid", ["demo_paths=[/d.pkl]"]),
                                        ("dmc_quadruped", []), ("custom_env", [])])
def test_shipped_profiles_give_a_valid_serl_config(name, extra):
    from tui.core.profiles import resolve_profile

    path = Path(__file__).resolve().parents[2] / "configs" / "serl" / (name + ".yaml")
    if name == "ant_hybrid":
        with pytest.raises(ProtocolError, match="params.demo_paths"):
            parse_params(resolve_profile(str(path), []).params, path)
    cfg = parse_params(resolve_profile(str(path), extra).params, path)
    assert cfg.unknown == []
    assert cfg.mode == ("hybrid" if name == "ant_hybrid" else "async")


def test_pacer_holds_the_control_rate_and_never_bursts():
    from runners.serl.actor import Pacer

    p = Pacer(100.0)
    t0 = time.monotonic()
    for _ in range(21):
        p.wait()
    assert time.monotonic() - t0 >= 0.19  # 20 periods of 10 ms (a lower bound only)
    p.next -= 5.0  # five seconds behind: the backlog is dropped, not caught up at once
    p.wait()
    assert p.next > time.monotonic()
    free = Pacer(0.0)
    t0 = time.monotonic()
    for _ in range(1000):
        free.wait()
    assert free.period == 0.0


def test_dm_control_missing_or_broken_is_a_clear_error():
    from runners.serl.envs import check_env, env_kind

    assert env_kind("dm_control/quadruped-walk") == "dm_control"
    assert env_kind("go2_env:make") == "entry_point" and env_kind("Ant-v5") == "gymnasium"
    with pytest.raises(ProtocolError, match="params.env.*dm_control/<domain>-<task>"):
        check_env("dm_control/quadruped", "run.json")
    try:
        import dm_control.suite  # noqa: F401
    except (ImportError, AttributeError):
        with pytest.raises(ProtocolError, match="params.env.*serl-dmc.*mujoco==3.17.0"):
            check_env("dm_control/quadruped-walk", "run.json")
    with pytest.raises(ProtocolError, match="cannot import module 'no_such_mod'"):
        check_env("no_such_mod:make", "run.json")
    with pytest.raises(ProtocolError, match="not a registered gymnasium environment.*Ant-v5"):
        check_env("Ant-v55", "run.json")
