"""Checkpoint formats beyond ``.pth``: real trainers' numbered names, telling a complete file
from one still being written, directories, and ``latest: newest``."""
from __future__ import annotations

import os
import pickle
import time

import pytest

from runners.protocol import (CheckpointSpec, ProtocolError, checkpoint_layout, get_format,
                              list_checkpoints, newest_checkpoint, step_from_name)
from runners.protocol.checkpoint_formats import format_for, format_for_glob


@pytest.mark.parametrize("name,step", [
    ("ckpt_120.pt", 120), ("model_1500.pt", 1500), ("rl_model_40960_steps.zip", 40960),
    ("last_Ant_ep_100_rew_5.2.pth", 100), ("checkpoint_3000.pth", 3000),
    ("ckpt_000001200.pth", 1200), ("amp_ppo_jax_best.pkl", None), ("final_ckpt.pt", None),
    ("policy_it_20.pkl", 20), ("checkpoint_5", 5),
])
def test_numbered_names_of_real_trainers(name, step):
    assert step_from_name(name) == step


def test_numbered_files_sort_numerically_and_files_without_a_step_come_after(tmp_path):
    for n in ("model_900.pt", "model_1000.pt", "model_80.pt", "final.pt"):
        (tmp_path / n).write_bytes(b"x")
    listed = [c.name for c in list_checkpoints(tmp_path, "*.pt", "newest")]
    assert listed == ["model_80.pt", "model_900.pt", "model_1000.pt", "final.pt"]


def test_torch_zip_complete_only_with_its_central_directory(tmp_path):
    torch = pytest.importorskip("torch")
    p = tmp_path / "m.pt"
    torch.save({"w": torch.zeros(1000)}, p)
    whole = p.read_bytes()
    fmt = format_for(p)
    assert fmt.name == "torch" and fmt.complete(p) is True
    p.write_bytes(whole[: len(whole) // 2])
    assert fmt.complete(p) is False


def test_pickle_complete_only_with_its_stop_opcode(tmp_path):
    p = tmp_path / "agent_best.pkl"
    data = pickle.dumps({"params": list(range(1000))}, protocol=4)
    p.write_bytes(data[:-10])
    assert get_format("pickle").complete(p) is False
    p.write_bytes(data)
    assert get_format("pickle").complete(p) is True


def test_zip_and_orbax_directories(tmp_path):
    import zipfile

    z = tmp_path / "rl_model_100_steps.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("policy.pth", b"x" * 100)
    assert format_for(z).name == "zip" and format_for(z).complete(z) is True
    z.write_bytes(z.read_bytes()[:40])
    assert format_for(z).complete(z) is False
    orbax = get_format("orbax")
    d = tmp_path / "checkpoint_300"
    d.mkdir()
    assert orbax.complete(d) is False and orbax.usable(d)        # being written
    (d / "_CHECKPOINT_METADATA").write_text("{}")
    assert orbax.complete(d) is True
    tmp = tmp_path / "checkpoint_400.orbax-checkpoint-tmp-17"
    tmp.mkdir()
    (tmp / "_CHECKPOINT_METADATA").write_text("{}")
    assert orbax.complete(tmp) is False
    listed = [c.name for c in list_checkpoints(tmp_path, "checkpoint_*", "newest", orbax)]
    assert "checkpoint_300" in listed and "rl_model_100_steps.zip" not in listed


def test_a_fifo_is_never_a_checkpoint_and_never_opened(tmp_path):
    fifo = tmp_path / "model_999.pt"
    os.mkfifo(fifo)
    for name in ("torch", "pickle", "zip", "file"):
        assert get_format(name).complete(fifo) is False and not get_format(name).usable(fifo)
    assert list_checkpoints(tmp_path, "*.pt", "newest") == []


def test_newest_skips_what_is_visibly_incomplete(tmp_path):
    pickle_ok = pickle.dumps({"a": 1})
    (tmp_path / "it_1.pkl").write_bytes(pickle_ok)
    time.sleep(0.01)
    (tmp_path / "it_2.pkl").write_bytes(pickle_ok[:-1])          # still being written
    newest = newest_checkpoint(tmp_path, "*.pkl")
    assert newest is not None and newest.name == "it_1.pkl"
    listed = list_checkpoints(tmp_path, "*.pkl", "newest")
    assert [c.name for c in listed if c.same_as_latest] == ["it_1.pkl"]


def test_checkpoint_spec_validation_names_the_field(tmp_path):
    assert format_for_glob("*_best.pkl") == "pickle" and format_for_glob("*.pth") == "torch"
    spec = CheckpointSpec(glob="*.pkl", latest="newest")
    assert spec.follows_newest and spec.checkpoint_format.name == "pickle"
    for bad, field in (({"latest": "a/b"}, "latest"), ({"format": "hdf5"}, "format"),
                       ({"stable_for": -1}, "stable_for"), ({"atomic": "no"}, "atomic"),
                       ({"gob": "*.pt"}, "gob")):
        with pytest.raises(ProtocolError) as e:
            CheckpointSpec.from_dict(bad, tmp_path / "run.json")
        assert e.value.field == "profile.checkpoints." + field, (bad, e.value)
    lay = checkpoint_layout(tmp_path, {"checkpoints": {"dir": "ckpts", "latest": "newest",
                                                      "glob": "*.pt"}})
    assert lay.nn_dir == tmp_path / "ckpts" and lay.latest_path is None
    assert lay.latest_relpath == "ckpts" and lay.auto_target() is None
