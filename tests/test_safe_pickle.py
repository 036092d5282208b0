"""Pickled checkpoints: the allow-list unpickler and the protocol's pickle saving.

Real pickles of what JAX trainers write (numpy arrays, jax arrays, flax FrozenDicts, every
pickle protocol) load; anything that names a global outside the list, an object array, a
truncated or foreign file is refused with a message that names the file, and nothing runs.
"""
from __future__ import annotations

import os
import pickle
import pickletools

import numpy as np
import pytest

from runners.protocol import CheckpointLoadError, RunPaths, latest_link_target, read_index
from runners.protocol.checkpoint_formats import format_for, pickle_complete
from runners.protocol.pickle_checkpoints import (PICKLE_LATEST, load_pickle_checkpoint,
                                                 save_named_pickle, save_pickle_checkpoint)
from runners.protocol.safe_pickle import (jax_checkpoint_allow_list, numpy_allow_list,
                                          safe_load, safe_loads)

CANARY = "PITWALL_PICKLE_CANARY"


class Evil(object):
    def __reduce__(self):
        return (os.putenv, (CANARY, "ran"))


def seed_like_payload():
    return {"config": {"model": {"actor_hidden_layers": [4, 4]}, "disc_obs": None},
            "params": {"actor": {"Dense_0": {"kernel": np.ones((3, 4), np.float32),
                                             "bias": np.zeros(4, np.float32)}}},
            "obs_norm": {"mean": np.arange(3.0), "count": 12.0, "clip": 10.0},
            "action_mean": np.zeros(2, np.float32), "scalar": np.float32(1.5),
            "ints": np.int64(7), "tuple": (1, 2.5, "x"), "bytes": b"\x00\x01",
            "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)), "empty": np.zeros((0, 3))}


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_payloads_round_trip_in_every_protocol(protocol):
    d = seed_like_payload()
    out = safe_loads(pickle.dumps(d, protocol=protocol), jax_checkpoint_allow_list())
    assert out["config"] == d["config"] and out["tuple"] == d["tuple"]
    assert out["bytes"] == d["bytes"]
    for k in ("action_mean", "fortran", "empty"):
        assert isinstance(out[k], np.ndarray) and out[k].dtype == d[k].dtype
        np.testing.assert_array_equal(out[k], d[k])
    assert out["scalar"] == np.float32(1.5) and out["scalar"].dtype == np.float32
    assert out["ints"] == 7
    np.testing.assert_array_equal(out["params"]["actor"]["Dense_0"]["kernel"], np.ones((3, 4)))


def test_jax_arrays_and_frozen_dicts_load_as_numpy_without_importing_jax_objects():
    jnp = pytest.importorskip("jax.numpy")
    from flax.core.frozen_dict import FrozenDict

    d = {"params": {"actor": {"Dense_0": {"kernel": jnp.ones((2, 3)) * 2.0,
                                          "bias": jnp.arange(3, dtype=jnp.int32)}}},
         "frozen": FrozenDict({"w": jnp.zeros(2)})}
    raw = pickle.dumps(d)
    names = {a for op, a, _ in pickletools.genops(raw) if op.name == "SHORT_BINUNICODE"}
    assert "jax._src.array" in names              # what the seed's pickles really hold
    out = safe_loads(raw, jax_checkpoint_allow_list())
    k = out["params"]["actor"]["Dense_0"]["kernel"]
    assert type(k) is np.ndarray and k.shape == (2, 3) and float(k.sum()) == 12.0
    assert out["params"]["actor"]["Dense_0"]["bias"].dtype == np.int32
    assert type(out["frozen"]) is dict and out["frozen"]["w"].shape == (2,)
    with pytest.raises(CheckpointLoadError, match="jax._src.array._reconstruct_array"):
        safe_loads(raw, numpy_allow_list(), "x.pkl")      # not on a numpy-only list


def test_malicious_pickles_are_refused_by_name_and_nothing_runs(tmp_path):
    os.environ.pop(CANARY, None)
    p = tmp_path / "amp_ppo_jax_best.pkl"
    p.write_bytes(pickle.dumps({"params": {"actor": Evil()}}))
    with pytest.raises(CheckpointLoadError) as e:
        load_pickle_checkpoint(p)
    assert str(p) in str(e.value) and "posix.putenv" in str(e.value)
    assert "outside the allow-list" in str(e.value)
    assert CANARY not in os.environ
    # an object array can carry anything: refused even though numpy is allowed
    with pytest.raises(CheckpointLoadError, match="object dtypes"):
        safe_loads(pickle.dumps(np.array([1, "a"], dtype=object)), jax_checkpoint_allow_list())
    # ndarray subclasses (their classes are not on the list), and numpy's array rebuild
    # pointed at another class
    for sub in (np.rec.array([(1, 2.0)]), np.ma.masked_array([1.0, 2.0], mask=[0, 1])):
        with pytest.raises(CheckpointLoadError, match="outside the allow-list"):
            safe_loads(pickle.dumps(sub), jax_checkpoint_allow_list())
    forged = pickle.dumps(np.zeros(2)).replace(b"ndarray", b"ndarrax")
    with pytest.raises(CheckpointLoadError):
        safe_loads(forged, jax_checkpoint_allow_list())
    # builtins eval/exec/getattr by hand-written opcodes
    for mod, name in ((b"builtins", b"eval"), (b"builtins", b"getattr"), (b"os", b"system")):
        raw = b"\x80\x04c" + mod + b"\n" + name + b"\n(S'1'\ntR."
        with pytest.raises(CheckpointLoadError, match="outside the allow-list"):
            safe_loads(raw, jax_checkpoint_allow_list())
    assert CANARY not in os.environ


def test_truncated_empty_foreign_and_non_dict_files(tmp_path):
    data = pickle.dumps(seed_like_payload())
    cases = {"half.pkl": data[: len(data) // 2], "empty.pkl": b"", "text.pkl": b"hello world",
             "list.pkl": pickle.dumps([1, 2])}
    for name, raw in cases.items():
        (tmp_path / name).write_bytes(raw)
    with pytest.raises(CheckpointLoadError, match="not a complete pickle .*truncated"):
        load_pickle_checkpoint(tmp_path / "half.pkl")
    assert pickle_complete(tmp_path / "half.pkl") is False
    with pytest.raises(CheckpointLoadError, match="empty file"):
        load_pickle_checkpoint(tmp_path / "empty.pkl")
    with pytest.raises(CheckpointLoadError, match="not a binary pickle"):
        load_pickle_checkpoint(tmp_path / "text.pkl")
    with pytest.raises(CheckpointLoadError, match="expected a dict checkpoint, found list"):
        load_pickle_checkpoint(tmp_path / "list.pkl")
    with pytest.raises(CheckpointLoadError, match="does not exist"):
        load_pickle_checkpoint(tmp_path / "missing.pkl")
    with pytest.raises(CheckpointLoadError, match="more than"):
        safe_load(tmp_path / "half.pkl", numpy_allow_list(), max_bytes=10)
    every_prefix = [data[:i] for i in range(0, len(data), max(1, len(data) // 40))]
    for raw in every_prefix:
        with pytest.raises(CheckpointLoadError):
            safe_loads(raw, jax_checkpoint_allow_list(), "prefix.pkl")


def test_saving_the_protocol_way_history_latest_named_and_index(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    a = save_pickle_checkpoint(run, {"w": np.ones(2), "step": 100}, 100, "amp_ppo_jax",
                               epoch=1, metrics={"reward/episode_mean": 3.0})
    b = save_pickle_checkpoint(run, {"w": np.ones(2) * 2, "step": 200}, 200, "amp_ppo_jax",
                               epoch=2, keep_last=1)
    best = save_named_pickle(run, {"w": np.zeros(2)}, "amp_ppo_jax_best.pkl", 150,
                             metrics={"reward/episode_mean": 9.0, "bad": float("nan")})
    nn = RunPaths(run).nn_dir
    assert a.name == "amp_ppo_jax_000000100.pkl" and not a.exists()      # pruned (keep_last)
    assert b.name == "amp_ppo_jax_000000200.pkl" and b.exists()
    assert latest_link_target(nn / PICKLE_LATEST, PICKLE_LATEST) == b
    assert load_pickle_checkpoint(nn / PICKLE_LATEST)["step"] == 200
    idx, bad = read_index(nn)
    assert bad == 0 and idx["amp_ppo_jax_000000200.pkl"].step == 200
    assert idx["amp_ppo_jax_best.pkl"].step == 150
    assert idx["amp_ppo_jax_best.pkl"].metrics == {"reward/episode_mean": 9.0}
    assert format_for(best).name == "pickle" and pickle_complete(best) is True
    assert not [n for n in os.listdir(nn) if n.startswith(".")]          # no temp files left
    with pytest.raises(ValueError, match="plain"):
        save_named_pickle(run, {}, "../escape.pkl", 1)


def test_a_failed_save_leaves_the_previous_file(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    save_named_pickle(run, {"v": 1}, "amp_ppo_jax_best.pkl", 1)
    with pytest.raises(Exception):
        save_named_pickle(run, {"v": lambda: 0}, "amp_ppo_jax_best.pkl", 2)  # unpicklable
    assert load_pickle_checkpoint(RunPaths(run).nn_dir / "amp_ppo_jax_best.pkl") == {"v": 1}
