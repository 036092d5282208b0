"""The protocol's readers refuse what is hostile or absurd with a ProtocolError/ValueError that
names the file, and keep everything good around it: nesting too deep for Python, files too
big to read every second, FIFOs, integers beyond 64 bits (issue 15, items 1 and 4)."""
from __future__ import annotations

import json
import os
import threading

import pytest

from runners.protocol import (IndexEntry, ProtocolError, RunPaths, parse_metric_line,
                              read_index, read_json_object, read_proc_record, read_state,
                              write_state)
from runners.protocol.json_parse import MAX_DEPTH, JsonShapeError, json_depth, parse_json

DEEP = 200_000          # RecursionError in json.loads before the fix
SHALLOW_BUT_TOO_DEEP = 500   # parses, then breaks copy.deepcopy/asdict


def nested(levels: int) -> str:
    return '{"a": ' + "[" * levels + "]" * levels + "}"


def test_parse_json_turns_deep_nesting_into_a_value_error():
    for levels in (DEEP, SHALLOW_BUT_TOO_DEEP, MAX_DEPTH):
        with pytest.raises(JsonShapeError):
            parse_json(nested(levels))
    assert parse_json(nested(MAX_DEPTH - 1)) == json.loads(nested(MAX_DEPTH - 1))
    # brackets inside strings do not count: a shallow object with many of them is fine
    assert parse_json(json.dumps({"s": "[" * 10_000}))["s"] == "[" * 10_000
    assert json_depth({"a": [1, {"b": []}]}) == 4 and json_depth(3) == 0


@pytest.mark.parametrize("levels", [DEEP, SHALLOW_BUT_TOO_DEEP])
def test_every_json_file_reader_names_the_file(tmp_path, levels):
    run = tmp_path / "run"
    paths = RunPaths(run)
    paths.procs_dir.mkdir(parents=True)
    for p in (paths.state_file, paths.run_json, paths.proc_file("train")):
        p.write_text(nested(levels))
    for read, p in ((lambda: read_state(run), paths.state_file),
                    (lambda: read_proc_record(run, "train"), paths.proc_file("train")),
                    (lambda: read_json_object(paths.run_json), paths.run_json)):
        with pytest.raises(ProtocolError) as e:
            read()
        assert e.value.path == str(p) and "nested" in str(e.value)


def test_a_bad_state_file_can_be_overwritten(tmp_path):
    run = tmp_path / "run"
    (run / "nn").mkdir(parents=True)
    (run / "nn" / "latest.pth").write_bytes(b"x")
    RunPaths(run).state_file.write_text(nested(DEEP))
    st = write_state(run, "auto")
    assert st.seq == 1 and read_state(run).mode == "auto"


def test_index_keeps_good_lines_around_bad_ones(tmp_path):
    nn = tmp_path / "nn"
    nn.mkdir()
    good = [IndexEntry(file="ckpt_%d.pth" % s, step=s, time=1.0).to_line() for s in (1, 2)]
    lines = [good[0], '{"file": "a.pth", "step": 1, "time": 1, "x": %s}' % ("[" * DEEP),
             '{"file": "deep.pth", "step": 1, "time": 1, "m": %s}' % nested(100),
             '{"file": "big.pth", "step": %d, "time": 1}' % (1 << 63),
             '{"file": "neg.pth", "step": %d, "time": 1}' % (-(1 << 63) - 1), good[1]]
    (nn / "index.jsonl").write_text("\n".join(lines) + "\n")
    entries, bad = read_index(nn)
    assert sorted(entries) == ["ckpt_1.pth", "ckpt_2.pth"] and bad == 4


def test_huge_files_are_refused_unread(tmp_path):
    run = tmp_path / "run"
    paths = RunPaths(run)
    run.mkdir()
    # a valid state file, padded to 8 MiB: re-read every second it would cost a core
    body = {"mode": "auto", "checkpoint_path": "nn/latest.pth", "last_update": "x",
            "pad": " " * (8 << 20)}
    paths.state_file.write_text(json.dumps(body))
    with pytest.raises(ProtocolError) as e:
        read_state(run)   # refused after one fstat: not a read + parse of 8 MiB
    assert "refused unread" in str(e.value) and e.value.path == str(paths.state_file)
    # a sparse 80 MiB index: refused as one bad "line", nothing read
    with open(run / "index.jsonl", "wb") as f:
        f.truncate(80 << 20)
    assert read_index(run) == ({}, 1)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    os.mkfifo(RunPaths(run).state_file)
    result = {}

    def read():
        try:
            read_state(run)
        except ProtocolError as e:
            result["error"] = str(e)
    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(5)
    assert "not a regular file" in result.get("error", "blocked")


def test_integers_beyond_64_bits_are_refused_with_the_field(tmp_path):
    run = tmp_path / "run"
    RunPaths(run).procs_dir.mkdir(parents=True)
    rec = {"role": "train", "pid": 1 << 64, "pgid": 5, "create_time": 1.0, "started_at": "x"}
    RunPaths(run).proc_file("train").write_text(json.dumps(rec))
    with pytest.raises(ProtocolError) as e:
        read_proc_record(run, "train")
    assert e.value.field == "pid" and "64-bit" in str(e.value)
    for step in (1 << 63, -(1 << 63) - 1):
        with pytest.raises(ValueError):
            parse_metric_line(json.dumps({"step": step, "time": 1.0, "metrics": {"a": 1}}))
    ok = parse_metric_line(json.dumps({"step": (1 << 63) - 1, "time": 1.0, "metrics": {"a": 1}}))
    assert ok.step == (1 << 63) - 1
