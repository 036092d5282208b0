"""The run-directory protocol: names, atomic files, checkpoints, state file, acks."""
from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
from pathlib import Path

import pytest

from runners.protocol import (CheckpointLoadError, IndexEntry, ProtocolError, RunPaths,
                              ViewerStatus, atomic_write_json, create_run_dir, list_checkpoints,
                              load_torch_checkpoint, natural_key, parse_run_dir_name, read_index,
                              read_run_record, read_state, read_viewer_status,
                              resolve_checkpoint_path, run_dir_name, save_checkpoint,
                              save_torch_checkpoint, step_from_name, write_state,
                              write_viewer_status)


def test_run_dir_name_is_seed_compatible_and_collision_safe(tmp_path):
    when = dt.datetime(2026, 11, 21, 9, 5, 3)
    assert run_dir_name("Ant", when) == "Ant_2026-11-21_09-05-03"
    a = create_run_dir(tmp_path, "Ant", when)
    b = create_run_dir(tmp_path, "Ant", when)
    c = create_run_dir(tmp_path, "Ant", when)
    assert [a.name, b.name, c.name] == ["Ant_2026-11-21_09-05-03", "Ant_2026-11-21_09-05-03-2",
                                        "Ant_2026-11-21_09-05-03-3"]
    parsed = parse_run_dir_name(c.name)
    assert parsed.experiment == "Ant" and parsed.started == when and parsed.suffix == 3
    assert parse_run_dir_name("not a run") is None
    with pytest.raises(ValueError):
        run_dir_name("../evil", when)


def _write_json_then_fail(path):
    atomic_write_json(path, {"v": 1})
    try:
        from runners.protocol.atomic import atomic_write_with

        def writer(f):
            f.write(b'{"v": 2, "half": ')
            raise RuntimeError("disk pulled")

        atomic_write_with(path, writer)
    except RuntimeError:
        pass


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    p = tmp_path / "x.json"
    _write_json_then_fail(p)
    assert json.loads(p.read_text()) == {"v": 1}
    assert sorted(os.listdir(tmp_path)) == ["x.json"]  # no temp file left behind


def test_natural_sort_and_step_from_names():
    names = ["ep_100.pth", "ep_99.pth", "ep_1000.pth", "ep_9.pth"]
    assert sorted(names, key=natural_key) == ["ep_9.pth", "ep_99.pth", "ep_100.pth", "ep_1000.pth"]
    assert step_from_name("ckpt_000001200.pth") == 1200
    assert step_from_name("last_Ant_ep_250_rew_12.5.pth") == 250
    assert step_from_name("checkpoint_5000.pth") == 5000
    assert step_from_name("final_model.pth") is None


def test_checkpoints_save_list_and_latest(tmp_path):
    import torch

    run = tmp_path / "run"
    for step in (900, 1000, 100):
        save_torch_checkpoint(run, {"w": torch.full((2,), float(step))}, step,
                              metrics={"rollout/ep_return": step / 10})
    paths = RunPaths(run)
    listed = list_checkpoints(paths.nn_dir)
    assert [c.name for c in listed] == ["ckpt_000000100.pth", "ckpt_000000900.pth",
                                        "ckpt_000001000.pth", "latest.pth"]
    assert [c.step for c in listed] == [100, 900, 1000, 100]
    assert listed[0].same_as_latest and listed[-1].is_latest  # the last save was step 100
    assert listed[1].metrics == {"rollout/ep_return": 90.0}
    assert load_torch_checkpoint(paths.latest)["w"][0].item() == 100.0
    entries, bad = read_index(paths.nn_dir)
    assert bad == 0 and entries["ckpt_000000900.pth"].step == 900


def test_index_skips_bad_and_partial_lines(tmp_path):
    nn = tmp_path / "nn"
    nn.mkdir()
    good = IndexEntry(file="a_1.pth", step=1, time=1.0).to_line()
    (nn / "index.jsonl").write_text(good + "\n" + "{not json\n" + '{"file": 3}\n' + '{"file": "b')
    entries, bad = read_index(nn)
    assert list(entries) == ["a_1.pth"] and bad == 2


def test_keep_last_prunes_old_history(tmp_path):
    for step in range(1, 6):
        save_checkpoint(tmp_path, lambda f: f.write(b"x"), step, keep_last=2)
    names = sorted(os.listdir(tmp_path / "nn"))
    assert names == ["ckpt_000000004.pth", "ckpt_000000005.pth", "index.jsonl", "latest.pth"]


def test_load_refuses_truncated_and_unlisted_types(tmp_path):
    import numpy as np
    import torch

    ok = tmp_path / "ok.pth"
    torch.save({"w": torch.ones(3)}, ok)
    trunc = tmp_path / "trunc.pth"
    trunc.write_bytes(ok.read_bytes()[:200])
    with pytest.raises(CheckpointLoadError, match="truncated"):
        load_torch_checkpoint(trunc)
    pickled = tmp_path / "np.pth"
    torch.save({"rew": np.float64(3.0)}, pickled)
    with pytest.raises(CheckpointLoadError, match="allow-list"):
        load_torch_checkpoint(pickled)
    allow = [np._core.multiarray.scalar, np.dtype, np.dtypes.Float64DType]
    assert float(load_torch_checkpoint(pickled, allow=allow)["rew"]) == 3.0


def test_state_file_is_seed_compatible(tmp_path):
    run = create_run_dir(tmp_path / "runs", "Ant")
    save_checkpoint(run, lambda f: f.write(b"x"), 10)
    st = write_state(run, "auto")
    raw = json.loads((run / ".checkpoint_state.json").read_text())
    assert set(["mode", "checkpoint_path", "last_update", "experiment_dir"]) <= set(raw)
    assert raw["checkpoint_path"] == str(run / "nn" / "latest.pth")
    assert os.path.isabs(raw["checkpoint_path"]) and raw["experiment_dir"] == str(run)
    dt.datetime.fromisoformat(raw["last_update"])
    st2 = write_state(run, "manual", run / "nn" / "ckpt_000000010.pth")
    assert (st.seq, st2.seq) == (1, 2)
    assert read_state(run).mode == "manual"


def test_state_paths_are_confined_to_the_run(tmp_path):
    run = create_run_dir(tmp_path / "runs", "Ant")
    (run / "nn").mkdir()
    (run / "nn" / "a.pth").write_bytes(b"x")
    (tmp_path / "outside.pth").write_bytes(b"x")
    os.symlink(tmp_path / "outside.pth", run / "nn" / "link.pth")
    for bad in (str(tmp_path / "outside.pth"), "../outside.pth", "nn/link.pth", "/etc/passwd"):
        with pytest.raises(ProtocolError, match="outside the run directory"):
            resolve_checkpoint_path(run, bad)
    with pytest.raises(ProtocolError) as e:
        write_state(run, "manual", tmp_path / "outside.pth")
    assert ".checkpoint_state.json" in str(e.value) and "checkpoint_path" in str(e.value)
    assert not (run / ".checkpoint_state.json").exists()
    # the seed's panel writes paths relative to the IsaacGymEnvs root: runs/<run>/nn/a.pth
    assert resolve_checkpoint_path(run, "runs/%s/nn/a.pth" % run.name) == run / "nn" / "a.pth"
    assert resolve_checkpoint_path(run, "nn/a.pth") == run / "nn" / "a.pth"


def test_garbage_state_file_names_file_and_field(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    state = run / ".checkpoint_state.json"
    state.write_bytes(b"\x00\xffgarbage")
    with pytest.raises(ProtocolError, match=r"\.checkpoint_state\.json.*not UTF-8"):
        read_state(run)
    state.write_text('{"mode": "sometimes", "checkpoint_path": "x", "last_update": "t"}')
    with pytest.raises(ProtocolError, match=r"field 'mode'.*'auto', 'manual'"):
        read_state(run)
    state.write_text('{"mode": "auto", "last_update": "t"}')
    with pytest.raises(ProtocolError, match=r"field 'checkpoint_path': missing"):
        read_state(run)


def _bump(run: str, n: int) -> None:
    for _ in range(n):
        write_state(run, "auto", require_exists=False)


def test_seq_is_not_lost_by_concurrent_writers(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_bump, args=(str(run), 25)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert read_state(run).seq == 100


def test_viewer_status_round_trip(tmp_path):
    st = ViewerStatus(id="viewer-1", pid=123, state="running", seq=4, checkpoint_path="/x",
                      error=None, display=":0")
    write_viewer_status(tmp_path, st)
    back = read_viewer_status(tmp_path, "viewer-1")
    assert back.seq == 4 and back.display == ":0" and back.updated_at > 0
    (tmp_path / ".viewer" / "viewer-1.json").write_text('{"id": "viewer-1", "pid": "x"}')
    with pytest.raises(ProtocolError, match="field 'pid'"):
        read_viewer_status(tmp_path, "viewer-1")


def test_run_record_errors_name_the_field(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({
        "format": "pitwall.run/1", "name": "x", "experiment": "x", "profile_name": "p",
        "backend": "b", "params": {}, "created_at": "t",
        "processes": [{"role": "train", "argv": [], "cwd": "/"}]}))
    with pytest.raises(ProtocolError, match=r"run\.json.*processes\[0\]\.argv"):
        read_run_record(tmp_path)


class _Evil(object):
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch %s" % self.marker,))


@pytest.mark.parametrize("old_torch", [False, True], ids=["safe_globals", "restricted"])
def test_malicious_pickle_is_refused_without_running(tmp_path, monkeypatch, old_torch):
    import numpy as np
    import torch

    if old_torch:
        monkeypatch.delattr(torch.serialization, "safe_globals")
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"w": torch.ones(1), "x": _Evil(marker)}, evil)
    allow = [np._core.multiarray.scalar, np.dtype]
    with pytest.raises(CheckpointLoadError, match=r"outside the allow-list \((posix|os)\.system"):
        load_torch_checkpoint(evil, allow=allow)
    assert not marker.exists()


def test_latest_link_target_names_the_history_file(tmp_path):
    from runners.protocol import latest_link_target

    for step in (10, 20):
        save_checkpoint(tmp_path, lambda f: f.write(b"x%d" % step), step)
    nn = tmp_path / "nn"
    assert latest_link_target(nn / "latest.pth") == nn / "ckpt_000000020.pth"
    assert latest_link_target(nn / "ckpt_000000020.pth") is None   # not the latest file
    (nn / "latest.pth").unlink()
    (nn / "latest.pth").write_bytes(b"copied in place")             # a foreign trainer's file
    assert latest_link_target(nn / "latest.pth") is None
