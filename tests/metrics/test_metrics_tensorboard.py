"""Pitwall's TensorBoard source against TensorBoard's own reader, on real writers' files."""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tui.core.metrics import MetricStore, RunMetrics, discover_runs
from tui.core.metrics.line_patterns import compile_patterns
from tui.core.metrics.sources import LogLineSource, TensorBoardDirSource

from .tfrecords import same_points, store_scalars, tb_scalars

HERE = Path(__file__).parent


def read_dir(d: Path, recent: int = 100000) -> dict:
    store = MetricStore(recent=recent)
    run = RunMetrics.for_directory(d, "r")
    run.catch_up(store)
    run.close()
    assert run.status().skipped == 0, run.status().problems()
    return store_scalars(store, "r")


def assert_like_tensorboard(d: Path) -> dict:
    want = tb_scalars(d)
    got = read_dir(d)
    assert sorted(got) == sorted(want)
    for tag in want:
        assert same_points(got[tag], want[tag]), tag
    return got


def test_torch_summary_writer(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(str(tmp_path))
    rng = np.random.default_rng(1)
    for step in range(0, 3000, 7):
        w.add_scalar("loss/policy", float(rng.normal()), step)
        w.add_scalar("rollout/ep_return", float(rng.normal() * 100), step)
        w.add_scalar("new/style", float(rng.normal()), step, new_style=True)
        w.add_scalar("new/double", float(rng.normal()), step, new_style=True,
                     double_precision=True)
    w.add_scalar("special/nan", math.nan, 1)
    w.add_scalar("special/inf", -math.inf, 2)
    w.add_scalar("special/negative_step", 1.0, -5)
    w.add_text("notes", "hello **world**", 3)
    w.close()
    got = assert_like_tensorboard(tmp_path)
    assert len(got["loss/policy"]) == 429 and len(got["new/double"]) == 429


def test_tensorboardx_writer_and_restart_writes_a_second_file(tmp_path):
    SummaryWriter = pytest.importorskip("tensorboardX").SummaryWriter

    for session in range(2):               # a trainer restarted from a checkpoint
        w = SummaryWriter(str(tmp_path), filename_suffix=".s%d" % session)
        for step in range(session * 500, session * 500 + 800, 3):
            w.add_scalar("rewards/step", step * 0.5 + session, step)
            w.add_scalar("info/kl", 1.0 / (step + 1), step, display_name="KL")
        w.close()
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 2
    got = assert_like_tensorboard(tmp_path)
    assert len(got["rewards/step"]) == 2 * len(range(0, 800, 3))


def test_subdirectories_are_separate_runs_like_logdir(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    for name in ("a", "b/c"):
        w = SummaryWriter(str(tmp_path / name))
        for step in range(50):
            w.add_scalar("x", step * (2 if name == "a" else 3), step)
        w.close()
    runs = {r.name: r for r in discover_runs(tmp_path)}
    assert sorted(runs) == ["a", "b/c"]
    store = MetricStore()
    for r in runs.values():
        r.catch_up(store)
    assert store.latest("a", "x").value == 98 and store.latest("b/c", "x").value == 147
    # a profile's tensorboard source reads the subdirectories too, prefixing their tags
    src = TensorBoardDirSource(tmp_path, recursive=True)
    assert sorted(src.poll().scalars) == ["a/x", "b/c/x"]


def test_tail_a_file_while_it_is_written(tmp_path):
    """Polls in between a writer's flushes see every point once, in order."""
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(str(tmp_path), flush_secs=10000)
    src = TensorBoardDirSource(tmp_path, recursive=False)
    seen: dict[str, list] = {}
    for chunk in range(6):
        for step in range(chunk * 100, chunk * 100 + 100):
            w.add_scalar("a", step * 1.5, step)
        w.flush()
        res = src.poll()
        for tag, b in res.scalars.items():
            seen.setdefault(tag, []).extend(b.steps.tolist())
    w.close()
    res = src.poll()
    for tag, b in res.scalars.items():
        seen.setdefault(tag, []).extend(b.steps.tolist())
    assert seen["a"] == list(range(600))
    assert src.status.skipped_total == 0


def test_a_file_cut_mid_record_is_completed_on_a_later_poll(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    src_dir = tmp_path / "w"
    w = SummaryWriter(str(src_dir))
    for step in range(300):
        w.add_scalar("y", step, step)
    w.close()
    full = next(src_dir.glob("events*")).read_bytes()
    dst = tmp_path / "r"
    dst.mkdir()
    f = dst / "events.out.tfevents.0.copy"
    src = TensorBoardDirSource(dst, recursive=False)
    got = []
    cuts = list(range(0, len(full), 977)) + [len(full)]
    with open(f, "wb") as out:
        prev = 0
        for c in cuts:                     # appended in pieces that split records anywhere
            out.write(full[prev:c])
            out.flush()
            prev = c
            for b in src.poll().scalars.values():
                got.extend(b.steps.tolist())
    assert got == list(range(300))
    assert src.status.skipped_total == 0
    with open(f, "ab") as out:               # half a record: held, and no busy re-polling
        out.write(full[-30:-10])
    assert [src.poll().more for _ in range(3)] == [False, False, False]


def test_corruption_in_a_real_file_is_skipped_and_counted(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(str(tmp_path))
    for step in range(1, 200):
        w.add_scalar("z", step, step)
    w.close()
    f = next(tmp_path.glob("events*"))
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF           # one flipped byte in the middle
    f.write_bytes(bytes(data) + b"\x00garbage appended by a crashed writer\x00")
    src = TensorBoardDirSource(tmp_path, recursive=False)
    steps = src.poll().scalars["z"].steps.tolist()
    assert 197 <= len(steps) <= 198 and steps == sorted(steps)
    assert src.status.skipped_total >= 1
    src.poll()                              # the garbage tail is reported once it stays
    assert src.status.skipped["corrupt bytes at the end of a file"] > 0


def test_a_huge_record_is_stepped_over_unread(tmp_path):
    import struct

    from tensorboard.compat.proto import event_pb2, summary_pb2

    from tui.core.metrics.tfrecord import MAX_RECORD, masked_crc32c

    from .tfrecords import frame

    def scalar(step):
        return frame(event_pb2.Event(wall_time=1.0, step=step, summary=summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag="s", simple_value=step)])).SerializeToString())

    n = MAX_RECORD + 1000                   # an "image": a sound header, data never read
    head = struct.pack("<Q", n)
    f = tmp_path / "events.out.tfevents.1.x"
    with open(f, "wb") as out:
        out.write(scalar(1) + head + struct.pack("<I", masked_crc32c(head)))
    src = TensorBoardDirSource(tmp_path, recursive=False)
    assert src.poll().scalars["s"].steps.tolist() == [1]
    assert src.poll().scalars == {}         # the big record is not complete yet: wait
    with open(f, "r+b") as out:             # sparse: the record's data and footer, then more
        out.seek(len(scalar(1)) + 12 + n + 4)
        out.write(scalar(2))
    got = []
    for _ in range(3):
        got += [int(s) for b in src.poll().scalars.values() for s in b.steps]
    assert got == [2]
    assert src.status.skipped["record too large to read"] == 1


@pytest.fixture(scope="module")
def rl_games_run(tmp_path_factory):
    """A real rl_games PPO training on CPU (a few seconds): its summaries/ and stdout."""
    pytest.importorskip("rl_games")
    d = tmp_path_factory.mktemp("rlg")
    log = d / "train.log"
    with open(log, "wb") as out:
        subprocess.run([sys.executable, str(HERE / "rl_games_train.py"), str(d), "6"],
                       stdout=out, stderr=subprocess.STDOUT, check=True, timeout=120,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    return d, log


def test_real_rl_games_event_files_read_like_tensorboard(rl_games_run):
    d, _ = rl_games_run
    summaries = d / "pendulum" / "summaries"
    got = assert_like_tensorboard(summaries)
    for tag in ("losses/a_loss", "losses/c_loss", "info/kl", "info/epochs",
                "performance/step_fps", "rewards/step"):
        assert tag in got, sorted(got)
    assert [p[2] for p in got["info/epochs"]] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    # discovered like tensorboard --logdir: the run is the summaries directory
    assert [r.name for r in discover_runs(d)] == ["pendulum/summaries"]


def test_real_rl_games_stdout_matches_its_event_files(rl_games_run):
    d, log = rl_games_run
    src = LogLineSource(log, compile_patterns("rl_games", []))
    res = src.poll()
    tb = read_dir(d / "pendulum" / "summaries")
    fps = res.scalars["performance/step_fps"]
    assert fps.steps.tolist() == [p[0] for p in tb["performance/step_fps"]]
    # stdout prints fps rounded to an integer
    assert np.allclose(fps.values, [p[2] for p in tb["performance/step_fps"]], atol=0.51)
    assert res.scalars["info/epoch"].values.tolist() == [1, 2, 3, 4, 5, 6]
    assert src.status.skipped["line matching no pattern"] > 0     # rl_games' other output
