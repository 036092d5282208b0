"""Protocol pieces the SERL runner added: the allow-list unpickler, the endpoints file,
fixed/unpadded checkpoint names, and two processes appending to one metrics.jsonl."""
from __future__ import annotations

import collections
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from runners.protocol import (ProtocolError, RunPaths, list_checkpoints, parse_metric_line,
                              read_index, save_checkpoint)
from runners.protocol.endpoints import Endpoints, read_endpoints, write_endpoints
from runners.protocol.safe_pickle import (DEFAULT_ALLOW, RefusedGlobal, load_pickle,
                                          restricted_loads, write_pickle)

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- safe pickle

class _Evil(object):
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch %s" % self.marker,))


class _EvalEvil(object):
    def __reduce__(self):
        return (eval, ("__import__('os').getpid()",))


@pytest.mark.parametrize("proto", [2, 4, 5])
def test_numpy_and_plain_values_round_trip(tmp_path, proto):
    obj = [{"observations": {"state": np.arange(6, dtype=np.float32).reshape(2, 3),
                             "img": np.zeros((4, 4, 3), np.uint8)},
            "actions": np.asarray([0.5, -1.0], np.float64), "rewards": np.float32(1.5),
            "masks": 1.0, "dones": np.bool_(False), "n": np.int64(7), "name": "x",
            "b": b"\x00\xff", "t": (1, 2), "s": {1, 2}, "c": 1 + 2j,
            "o": collections.OrderedDict(a=1), "f": np.asfortranarray(np.eye(2))}]
    path = tmp_path / "d.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=proto))
    back = load_pickle(path)
    t = back[0]
    assert np.array_equal(t["observations"]["state"], obj[0]["observations"]["state"])
    assert t["observations"]["img"].dtype == np.uint8 and t["rewards"] == np.float32(1.5)
    assert t["b"] == b"\x00\xff" and t["s"] == {1, 2} and t["c"] == 1 + 2j
    assert np.array_equal(t["f"], np.eye(2)) and t["n"] == 7 and not t["dones"]


def test_a_malicious_pickle_is_refused_without_running_anything(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "demos.pkl"
    path.write_bytes(pickle.dumps([{"observations": np.zeros(3)}, _Evil(marker)]))
    with pytest.raises(ProtocolError) as e:
        load_pickle(path)
    assert not marker.exists()
    msg = str(e.value)
    assert str(path) in msg and "system" in msg and "allow-list" in msg
    # the payload really is live: plain pickle would have run it
    pickle.loads(path.read_bytes())
    assert marker.exists()


@pytest.mark.parametrize("payload", [
    pickle.dumps(_EvalEvil()),
    b"cbuiltins\ngetattr\n(cbuiltins\nobject\nS'__subclasses__'\ntR.",
    b"c__builtin__\neval\n(S'1+1'\ntR.",
    b"cnumpy\nload\n(S'/etc/passwd'\ntR.",
    pickle.dumps(collections.Counter("ab")),
])
def test_globals_outside_the_allow_list_are_refused(payload):
    with pytest.raises(RefusedGlobal):
        restricted_loads(payload)


def test_codecs_encode_only_latin1():
    ok = b"c_codecs\nencode\n(X\x02\x00\x00\x00\xc3\xbfX\x06\x00\x00\x00latin1tR."
    assert restricted_loads(ok) == b"\xff"
    zbomb = b"c_codecs\nencode\n(X\x01\x00\x00\x00aX\x04\x00\x00\x00zliptR."
    with pytest.raises(pickle.UnpicklingError):
        restricted_loads(zbomb)


def test_the_allow_list_can_be_extended_per_format():
    data = pickle.dumps(collections.Counter("aab"))
    allow = DEFAULT_ALLOW | {("collections", "Counter")}
    assert restricted_loads(data, allow) == collections.Counter("aab")


def test_damaged_files_name_the_file(tmp_path):
    good = pickle.dumps([np.arange(1000)])
    (tmp_path / "cut.pkl").write_bytes(good[: len(good) // 2])
    (tmp_path / "empty.pkl").write_bytes(b"")
    for name, what in (("cut.pkl", "not a complete pickle"), ("empty.pkl", "empty file"),
                       ("missing.pkl", "does not exist")):
        with pytest.raises(ProtocolError) as e:
            load_pickle(tmp_path / name)
        assert name in str(e.value) and what in str(e.value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_never_escapes_as_anything_but_a_protocol_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("g") / "g.pkl"
    path.write_bytes(data)
    try:
        load_pickle(path)
    except ProtocolError:
        pass


def test_write_pickle_is_atomic_and_readable(tmp_path):
    path = tmp_path / "out.pkl"
    write_pickle(path, [{"a": np.ones(3)}])
    assert np.array_equal(load_pickle(path)[0]["a"], np.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["out.pkl"]  # no temp left behind


# --------------------------------------------------------------------------- endpoints

def test_endpoints_round_trip_and_errors_name_the_field(tmp_path):
    assert read_endpoints(tmp_path, "learner") is None
    ep = Endpoints(role="learner", host="127.0.0.1", ports={"weights": 40001, "requests": 40002},
                   protocol="pitwall.serl/1", session="abc")
    path = write_endpoints(tmp_path, ep)
    back = read_endpoints(tmp_path, "learner")
    assert back.ports == ep.ports and back.session == "abc" and back.state == "running"
    assert back.address("weights") == "tcp://127.0.0.1:40001"
    assert Endpoints(role="l", host="::1", ports={"a": 1}, protocol="p",
                     session="s").address("a") == "tcp://[::1]:1"
    text = path.read_text()
    path.write_text(text.replace("40001", "70000"))
    with pytest.raises(ProtocolError, match=r"learner.json: field 'ports.weights'"):
        read_endpoints(tmp_path, "learner")
    path.write_text(text.replace('"running"', '"sleeping"'))
    with pytest.raises(ProtocolError, match="field 'state'"):
        read_endpoints(tmp_path, "learner")
    path.write_text(text[:40])
    with pytest.raises(ProtocolError, match="not valid JSON"):
        read_endpoints(tmp_path, "learner")
    with pytest.raises(ValueError):
        read_endpoints(tmp_path, "../x")


# --------------------------------------------------------------------------- checkpoints

def test_seed_checkpoint_names_and_a_fixed_final_name(tmp_path):
    write = lambda f: f.write(b"x" * 10)  # noqa: E731
    for step in (900, 1000, 50):
        save_checkpoint(tmp_path, write, step, stem="checkpoint", digits=0)
    save_checkpoint(tmp_path, write, 1000, name="final_model.pth")
    nn = RunPaths(tmp_path).nn_dir
    names = [c.name for c in list_checkpoints(nn)]
    assert names == ["checkpoint_50.pth", "checkpoint_900.pth", "checkpoint_1000.pth",
                     "final_model.pth", "latest.pth"]
    assert os.stat(nn / "latest.pth").st_ino == os.stat(nn / "final_model.pth").st_ino
    assert read_index(nn)[0]["final_model.pth"].step == 1000
    save_checkpoint(tmp_path, write, 1100, stem="checkpoint", digits=0, keep_last=2)
    assert sorted(os.listdir(nn)) == ["checkpoint_1000.pth", "checkpoint_1100.pth",
                                      "final_model.pth", "index.jsonl", "latest.pth"]
    for bad in ("latest.pth", "../x.pth", "x.pt", ".hidden.pth"):
        with pytest.raises(ValueError):
            save_checkpoint(tmp_path, write, 1, name=bad)


# --------------------------------------------------------------------------- metrics

WRITER = """
import sys
from runners.protocol import MetricWriter
w = MetricWriter(sys.argv[1], sys.argv[2], tensorboard=False)
for i in range(int(sys.argv[3])):
    w.log(i, {"%s/x" % sys.argv[2]: float(i), "pad/%s" % ("y" * 300): 1.0})
"""


def test_two_processes_appending_to_one_metrics_file_never_interleave(tmp_path):
    n = 3000
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), role, str(n)],
                              cwd=str(REPO)) for role in ("learner", "actor")]
    for p in procs:
        assert p.wait(timeout=120) == 0
    lines = (tmp_path / "metrics.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b""
    recs = [parse_metric_line(line) for line in lines[:-1]]  # every line parses whole
    for role in ("learner", "actor"):
        steps = [r.step for r in recs if r.role == role]
        assert steps == list(range(n))
