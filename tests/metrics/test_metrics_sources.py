"""Line sources (JSONL, CSV, log lines) and the tailer under them: partial lines,
truncation, rotation, replacement, bad input counted."""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from runners.protocol.metrics import MetricRecord
from tui.core.metric_specs import LinePattern
from tui.core.metrics.line_patterns import PRESETS, compile_patterns
from tui.core.metrics.sources import CsvMetricSource, JsonlMetricSource, LogLineSource
from tui.core.metrics.tail import FileTail, LineTail


def rec(step: int, **m: float) -> str:
    return MetricRecord(step, 1000.0 + step, "train", m).to_line() + "\n"


def append(p: Path, text: str | bytes) -> None:
    with open(p, "ab") as f:
        f.write(text.encode() if isinstance(text, str) else text)


def steps(res, tag: str) -> list[int]:
    b = res.scalars.get(tag)
    return b.steps.tolist() if b is not None else []


# ---------------------------------------------------------------------------------- tail

def test_line_tail_holds_back_a_partial_line(tmp_path):
    p = tmp_path / "f.log"
    t = LineTail(p)
    assert t.read_lines() is None              # no file yet: nothing, no error
    append(p, "one\ntw")
    assert t.read_lines()[0] == [b"one"]
    assert t.read_lines()[0] == []             # "tw" waits for its newline
    append(p, "o\r\nthree\n")
    assert t.read_lines()[0] == [b"two\r", b"three"]
    assert t.read_lines() is None


def test_a_held_partial_line_does_not_ask_for_an_immediate_repoll(tmp_path):
    p = tmp_path / "train.log"
    p.write_text("Step 1: loss=1\n50%|#####     ")
    src = LogLineSource(p, compile_patterns("hybrid_sac", []))
    assert not src.poll().more and not src.poll().more
    src.lines.tail.chunk = 8                   # a backlog larger than one read: more
    p.write_text("Step 1: loss=1\nStep 2: loss=2\n")
    src2 = LogLineSource(p, compile_patterns("hybrid_sac", []))
    src2.lines.tail.chunk = 16
    assert src2.poll().more


def test_tail_detects_truncation_and_rewrite(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"header\nrow1\n")
    t = FileTail(p)
    r = t.read()
    t.consume(len(r.data))
    with open(p, "r+b") as f:                  # rewritten in place with the same start
        f.truncate(0)
        f.write(b"header\n")
    r = t.read()
    assert r.reset is not None and r.reset.reason == "truncated" and r.reset.rewritten
    assert r.offset == 0 and r.data == b"header\n"


def test_tail_follows_rotation_after_draining_the_old_file(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"a\n")
    t = FileTail(p)
    r = t.read()
    t.consume(len(r.data))
    append(p, b"b\n")                          # written just before the rotation
    os.rename(p, tmp_path / "f.1")
    p.write_bytes(b"c\n")
    r = t.read()
    assert r.data == b"b\n" and r.reset is None
    t.consume(len(r.data))
    r = t.read()
    assert r.data == b"c\n" and r.reset.reason == "replaced" and not r.reset.rewritten


# ---------------------------------------------------------------------------------- jsonl

def test_jsonl_reads_records_and_counts_garbage(tmp_path):
    p = tmp_path / "metrics.jsonl"
    append(p, rec(1, **{"loss/a": 0.5}) + "not json\n" + '{"step": "x"}\n' + "\n"
           + rec(2, **{"loss/a": 0.25, "r/b": 3.0}) + rec(3, **{"loss/a": 0.1})[:-10])
    src = JsonlMetricSource(p)
    res = src.poll()
    assert steps(res, "loss/a") == [1, 2] and steps(res, "r/b") == [2]
    assert res.scalars["loss/a"].walls.tolist() == [1001.0, 1002.0]
    assert src.status.skipped["not a metrics record"] == 2
    append(p, rec(3, **{"loss/a": 0.1})[-10:])
    assert steps(src.poll(), "loss/a") == [3]


def test_jsonl_rewritten_from_the_start_is_not_read_twice(tmp_path):
    p = tmp_path / "metrics.jsonl"
    lines = [rec(i, x=float(i)) for i in range(10)]
    p.write_text("".join(lines[:6]))
    src = JsonlMetricSource(p)
    assert steps(src.poll(), "x") == list(range(6))
    tmp = tmp_path / "m.tmp"                   # the whole file written anew, atomically
    tmp.write_text("".join(lines))
    os.replace(tmp, p)
    res = src.poll()
    assert steps(res, "x") == [6, 7, 8, 9]
    assert src.status.skipped["already read before the file was rewritten"] == 6
    assert src.status.resets == 1


def test_jsonl_rotated_file_continues(tmp_path):
    p = tmp_path / "metrics.jsonl"
    p.write_text(rec(1, x=1.0))
    src = JsonlMetricSource(p)
    assert steps(src.poll(), "x") == [1]
    os.rename(p, tmp_path / "metrics.jsonl.1")
    p.write_text(rec(2, x=2.0))
    assert steps(src.poll(), "x") == [2]


# ---------------------------------------------------------------------------------- csv

MANISKILL_HEADER = ("epoch,episode,avg_reward,success_rate,total_displacement,steps,"
                    "actor_loss,critic_loss,video_recorded\n")


def test_csv_like_the_maniskill_seed(tmp_path):
    p = tmp_path / "training_log.csv"
    p.write_text(MANISKILL_HEADER + "0,4,1.5,0.25,0.01,200,0.3,1.2,True\n"
                 "1,8,2.5,0.5,n/a,400,0.2,1.1,False\n" "2,12,3.5\n")
    src = CsvMetricSource(p)
    res = src.poll()
    assert steps(res, "avg_reward") == [0, 1]          # epoch is the step by default
    assert res.scalars["video_recorded"].values.tolist() == [1.0, 0.0]
    assert steps(res, "total_displacement") == [0]
    assert src.status.skipped["cell that is not a number"] == 1
    assert src.status.skipped["row with the wrong number of cells"] == 1
    assert "epoch" not in res.scalars
    assert all(math.isnan(w) for w in res.scalars["avg_reward"].walls)   # no time column


def test_csv_step_and_time_columns_prefix_and_row_index(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("t;it;loss\n100.5;10;1\n101.5;20;2\n")
    src = CsvMetricSource(p, step_column="it", time_column="t", prefix="csv/", delimiter=";")
    res = src.poll()
    assert steps(res, "csv/loss") == [10, 20]
    assert res.scalars["csv/loss"].walls.tolist() == [100.5, 101.5]
    q = tmp_path / "b.csv"
    q.write_text("loss,acc\n1,2\n3,4\n5,6\n")
    assert steps(CsvMetricSource(q).poll(), "loss") == [0, 1, 2]


def test_csv_rewritten_each_epoch_gives_each_row_once(tmp_path):
    p = tmp_path / "training_log.csv"
    src = CsvMetricSource(p)
    rows = [MANISKILL_HEADER] + ["%d,%d,%d.5,0.1,0.0,1,0.1,0.2,False\n" % (i, i, i)
                                  for i in range(8)]
    got = []
    for n in range(2, 10):                     # pandas-style: the whole file written each time
        tmp = tmp_path / "tmp.csv"
        tmp.write_text("".join(rows[:n]))
        os.replace(tmp, p)
        got += steps(src.poll(), "avg_reward")
    assert got == list(range(8))


# ---------------------------------------------------------------------------------- logs

PRESET_LINES = {
    "rl_games": ("fps step: 28125 fps step and policy inference: 21574 fps total: 18713 "
                 "epoch: 3/100 frames: 49152", 49152,
                 {"performance/step_fps": 28125.0, "info/epoch": 3.0}),
    "skeleton_steering": ("[12/3000] samples=196608 reward=0.120 ep_r=45.600 disc_r=0.780 "
                          "actor=-0.0100 value=0.3400 disc=0.6900 kl=0.0110 clip=0.150 "
                          "12345 samples/s 1.23s/iter", 196608,
                          {"reward/total_mean": 0.12, "stats/approx_kl": 0.011,
                           "reward/episode_mean": 45.6, "loss/disc": 0.69,
                           "perf/samples_per_s": 12345.0, "perf/iter_time_s": 1.23,
                           "train/iteration": 12.0}),
    "hybrid_sac": ("Step 12000: critic_loss=0.123, actor_loss=-4.5, temperature=1e-2", 12000,
                   {"critic_loss": 0.123, "actor_loss": -4.5, "temperature": 0.01}),
    "maniskill": ("Epoch 10/500 | Avg Reward: 12.5 | Success Rate: 0.40 | Actor Loss: 0.12",
                  10, {"avg_reward": 12.5, "success_rate": 0.4, "actor_loss": 0.12}),
}


@pytest.mark.parametrize("preset", sorted(PRESET_LINES))
def test_presets_match_their_backends_lines(tmp_path, preset):
    line, step, want = PRESET_LINES[preset]
    p = tmp_path / "train.log"
    p.write_text("some other output\n" + line + "\n" + "\x1b[32m" + line + "\x1b[0m\n")
    src = LogLineSource(p, compile_patterns(preset, []))
    res = src.poll()
    for tag, value in want.items():
        assert res.scalars[tag].steps.tolist() == [step, step], tag
        assert res.scalars[tag].values.tolist() == [value, value], tag
    assert src.status.skipped["line matching no pattern"] == 1


def test_every_preset_is_tested():
    assert sorted(PRESETS) == sorted(PRESET_LINES)


def test_profile_patterns_with_groups_tags_and_progress_bars(tmp_path):
    p = tmp_path / "x.log"
    p.write_text("it 5 loss 0.5 acc nan\n" "50%|###  | it 6 loss 0.25 acc 1\r\n"
                 "it 7 loss oops acc 1\n")
    pat = LinePattern(regex=r"it (?P<it>\d+) loss (?P<loss>\S+) acc (?P<acc>\S+)",
                      step_group="it", tags={"acc": "eval/acc"}, prefix="train/")
    src = LogLineSource(p, compile_patterns(None, [pat]))
    res = src.poll()
    assert steps(res, "train/loss") == [5, 6]
    assert steps(res, "eval/acc") == [5, 6, 7]
    assert math.isnan(res.scalars["eval/acc"].values[0])
    assert src.status.skipped["matched text that is not a number"] == 1


def test_backlog_lines_have_no_time_and_live_lines_do(tmp_path):
    p = tmp_path / "train.log"
    p.write_text("Step 1: loss=1\n")
    src = LogLineSource(p, compile_patterns("hybrid_sac", []))
    assert math.isnan(src.poll().scalars["loss"].walls[0])
    append(p, "Step 2: loss=2\n")
    assert not math.isnan(src.poll().scalars["loss"].walls[0])
    q = tmp_path / "later.log"                 # a file that appears while watched: all live
    src2 = LogLineSource(q, compile_patterns("hybrid_sac", []))
    assert src2.poll().scalars == {}
    q.write_text("Step 1: loss=1\n")
    assert not math.isnan(src2.poll().scalars["loss"].walls[0])


def test_overlong_garbage_line_is_dropped_and_counted(tmp_path):
    p = tmp_path / "x.log"
    p.write_bytes(os.urandom(100).replace(b"\n", b"") * 12000)
    src = LogLineSource(p, compile_patterns("hybrid_sac", []))
    src.lines.max_line = 1 << 16
    for _ in range(30):
        src.poll()
    append(p, b"\nStep 3: loss=1\n")
    got = []
    for _ in range(30):
        got += steps(src.poll(), "loss")
    assert got == [3]
    assert src.status.skipped["line over 1 MiB without a newline"] >= 1


# ---------------------------------------------------------------------------------- fuzz

KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_./]{0,15}", fullmatch=True)
NUMS = st.floats(allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=200, deadline=None)
@given(fps=st.tuples(*[st.integers(0, 10 ** 7)] * 3), epoch=st.integers(0, 10 ** 6),
       max_epochs=st.one_of(st.none(), st.integers(-1, 10 ** 6)),
       frames=st.integers(0, 10 ** 12), max_frames=st.one_of(st.none(), st.integers(0, 10 ** 12)))
def test_fuzz_rl_games_lines_round_trip(fps, epoch, max_epochs, frames, max_frames):
    line = "fps step: %d fps step and policy inference: %d fps total: %d epoch: %s frames: %s" % (
        fps + ("%d" % epoch + ("" if max_epochs is None else "/%d" % max_epochs),
               "%d" % frames + ("" if max_frames is None else "/%d" % max_frames)))
    m = compile_patterns("rl_games", [])[0].match(line)
    assert m is not None and m.step == frames and m.bad_values == 0
    assert dict(m.metrics) == {"performance/step_fps": fps[0],
                               "performance/step_inference_fps": fps[1],
                               "performance/total_fps": fps[2], "info/epoch": epoch}


@settings(max_examples=200, deadline=None)
@given(step=st.integers(0, 10 ** 12), pairs=st.dictionaries(KEYS, NUMS, max_size=8),
       sep=st.sampled_from([", ", " ", " | "]))
def test_fuzz_key_value_lines_round_trip(step, pairs, sep):
    line = "Step %d: " % step + sep.join("%s=%r" % kv for kv in pairs.items())
    m = compile_patterns("hybrid_sac", [])[0].match(line)
    assert m is not None and m.step == step
    assert dict(m.metrics) == pairs


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_fuzz_every_preset_on_any_text(text):
    for name in PRESETS:
        for p in compile_patterns(name, []):
            m = p.match(text)
            if m is not None:
                assert all(isinstance(v, float) for _, v in m.metrics)

def _fuzz_source(kind: str, path: Path):
    if kind == "jsonl":
        return JsonlMetricSource(path)
    if kind == "csv":
        return CsvMetricSource(path)
    return LogLineSource(path, compile_patterns("maniskill", []) + compile_patterns(
        "skeleton_steering", []) + compile_patterns("rl_games", []))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["jsonl", "csv", "stdout"]),
       chunks=st.lists(st.one_of(st.binary(max_size=200),
                                 st.text(max_size=200).map(str.encode)), max_size=8))
def test_fuzz_line_sources_never_raise(kind, chunks):
    with tempfile.TemporaryDirectory() as td:
        p = Path(td) / "f"
        src = _fuzz_source(kind, p)
        for c in chunks:
            append(p, c)
            res = src.poll()
            for b in res.scalars.values():
                assert len(b.steps) == len(b.walls) == len(b.values)
        assert src.status.skipped_total >= 0 and src.status.error is None
        src.close()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(
    st.tuples(st.just("rec"), st.integers(0, 2 ** 40), st.floats(allow_nan=False,
                                                                   allow_infinity=False)),
    st.tuples(st.just("junk"), st.binary(max_size=50).filter(lambda b: b"\n" not in b),
              st.none())), max_size=30))
def test_fuzz_jsonl_valid_records_survive_junk_lines(items):
    with tempfile.TemporaryDirectory() as td:
        p = Path(td) / "metrics.jsonl"
        want = []
        with open(p, "wb") as f:
            for kind, a, b in items:
                if kind == "rec":
                    f.write(rec(a, v=b).encode())
                    want.append((a, b))
                else:
                    f.write(a + b"\n")
        src = JsonlMetricSource(p)
        res = src.poll()
        b = res.scalars.get("v")
        got = list(zip(b.steps.tolist(), b.values.tolist())) if b is not None else []
        # a junk line can happen to be a valid record too: ours must all be there, in order
        it = iter(got)
        assert all(any(g == w for g in it) for w in want)
        junk_records = len(got) - len(want)
        assert src.status.skipped["not a metrics record"] <= sum(
            1 for k, a, _ in items if k == "junk" and a.strip()) - junk_records
