"""Runs: sources from run.json, tag ownership, artifacts.json, restart, logdir discovery,
the watcher thread, and ``pitwall metrics``."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from runners.protocol import MetricRecord, ProcessSpec, RunRecord, write_run_record
from runners.protocol.artifacts import write_artifacts
from tui.cli import main as pitwall
from tui.core.metric_specs import CsvSource, JsonlSource, StdoutSource, TensorBoardSource
from tui.core.metrics import MetricStore, MetricsWatcher, RunMetrics, WatchConfig, discover_runs
from tui.core.filesystems import filesystem_type, is_remote

from .tfrecords import store_scalars

RUN_NAME = "Pendulum_2026-01-02_03-04-05"


def make_run(root: Path, metrics: list, params: dict | None = None,
             name: str = RUN_NAME) -> Path:
    d = root / name
    d.mkdir(parents=True)
    rec = RunRecord(name=name, experiment="Pendulum", profile_name="test", backend="test",
                    params=params or {}, created_at="2026-01-02T03:04:05",
                    processes=[ProcessSpec(role="train", argv=["true"], cwd=str(d))],
                    profile={"metrics": [m.model_dump(mode="json") for m in metrics]})
    write_run_record(d, rec)
    return d


def jsonl(p: Path, *records: tuple[int, dict]) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "a") as f:
        for step, m in records:
            f.write(MetricRecord(step, 1000.0 + step, "train", m).to_line() + "\n")


def tb(d: Path, tag: str, steps, scale: float = 1.0) -> None:
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(str(d))
    for s in steps:
        w.add_scalar(tag, s * scale, s)
    w.close()


def test_run_json_declares_every_kind_of_source(tmp_path):
    d = make_run(tmp_path, [
        JsonlSource(kind="jsonl"),
        TensorBoardSource(kind="tensorboard", path="{params.out}/summaries"),
        CsvSource(kind="csv", path="training_log.csv", prefix="csv/"),
        StdoutSource(kind="stdout", role="train", preset="hybrid_sac"),
    ], params={"out": "trainer_out"})
    jsonl(d / "metrics.jsonl", (1, {"rollout/ep_return": 5.0}))
    tb(d / "trainer_out" / "summaries", "losses/a_loss", range(10))
    (d / "training_log.csv").write_text("epoch,avg_reward\n0,1.5\n1,2.5\n")
    (d / "logs").mkdir()
    (d / "logs" / "train.log").write_text("Step 100: critic_loss=0.5, actor_loss=-1\n")
    store = MetricStore()
    run = RunMetrics.for_run_dir(d)
    run.catch_up(store)
    assert run.name == RUN_NAME and run.error is None
    assert store.tags(RUN_NAME) == ["actor_loss", "critic_loss", "csv/avg_reward",
                                    "losses/a_loss", "rollout/ep_return"]
    st = store.status(RUN_NAME)
    assert [s.kind for s in st.sources] == ["jsonl", "tensorboard", "csv", "stdout"]
    assert st.points == 1 + 10 + 2 + 2 and st.problems() == []


def test_a_tag_belongs_to_the_first_source_that_reports_it(tmp_path):
    d = make_run(tmp_path, [JsonlSource(kind="jsonl"), TensorBoardSource(kind="tensorboard")])
    jsonl(d / "metrics.jsonl", *[(s, {"loss": s * 1.0}) for s in range(5)])
    tb(d / "tb", "loss", range(5), scale=1.0)
    tb(d / "tb", "only_tb", range(3))
    store = MetricStore()
    run = RunMetrics.for_run_dir(d)
    run.catch_up(store)
    assert store.snapshot(RUN_NAME, "loss").seen == 5
    assert store.snapshot(RUN_NAME, "only_tb").seen == 3
    st = store.status(RUN_NAME)
    assert st.shadowed == {"loss": 5}
    assert st.sources[1].skipped["tag already read from another source"] == 5


def test_invalid_metrics_in_run_json_fall_back_and_say_so(tmp_path):
    d = make_run(tmp_path, [])
    rj = json.loads((d / "run.json").read_text())
    rj["profile"]["metrics"] = [{"kind": "parquet"}]
    (d / "run.json").write_text(json.dumps(rj))
    jsonl(d / "metrics.jsonl", (1, {"a": 1.0}))
    run = RunMetrics.for_run_dir(d)
    store = MetricStore()
    run.catch_up(store)
    assert store.tags(RUN_NAME) == ["a"]
    problem = run.status().problems()[0]
    assert "run.json profile is invalid" in problem and "field 'metrics.0'" in problem


def test_metric_files_follow_artifacts_json(tmp_path):
    d = make_run(tmp_path, [TensorBoardSource(kind="tensorboard", path="summaries"),
                            StdoutSource(kind="stdout", preset="rl_games")])
    run = RunMetrics.for_run_dir(d)
    store = MetricStore()
    run.poll(store)
    out = tmp_path / "IsaacGymEnvs" / "runs" / "Ant_01-02-03"     # the trainer's own dir
    tb(out / "summaries", "rewards/step", range(4))
    write_artifacts(d, out, "logs/train.log")
    run.catch_up(store)
    assert store.snapshot(RUN_NAME, "rewards/step").seen == 4
    assert run.sources[1].path == d / "logs" / "train.log"     # logs stay in the run dir


def test_restart_rebuilds_the_same_store(tmp_path):
    d = make_run(tmp_path, [JsonlSource(kind="jsonl"), TensorBoardSource(kind="tensorboard")])
    jsonl(d / "metrics.jsonl", *[(s, {"r": s * 0.5}) for s in range(3000)])
    tb(d / "tb", "t", range(0, 30000, 3))
    first = MetricStore()
    RunMetrics.for_run_dir(d).catch_up(first)
    second = MetricStore()                      # a new control center on the same runs
    RunMetrics.for_run_dir(d).catch_up(second)
    a, b = store_scalars(first, RUN_NAME), store_scalars(second, RUN_NAME)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_discover_runs_like_tensorboard_logdir(tmp_path):
    runs = tmp_path / "runs"
    d = make_run(runs, [JsonlSource(kind="jsonl")])
    jsonl(d / "metrics.jsonl", (1, {"a": 1.0}))
    tb(d / "tb", "ignored_not_in_profile", range(2))
    tb(runs / "foreign" / "exp1" / "summaries", "x", range(3))
    (runs / "maniskill").mkdir()
    (runs / "maniskill" / "training_log.csv").write_text("epoch,avg_reward\n0,1\n")
    (runs / "empty").mkdir()
    found = {r.name: r for r in discover_runs(runs)}
    assert sorted(found) == sorted(["foreign/exp1/summaries", "maniskill", RUN_NAME])
    assert [s.kind for s in found[RUN_NAME].sources] == ["jsonl"]
    assert [r.name for r in discover_runs(d)] == [RUN_NAME]
    assert [r.name for r in discover_runs(runs / "maniskill" / "training_log.csv")] == [
        "training_log.csv"]


def test_watcher_shows_appended_points_quickly(tmp_path):
    d = make_run(tmp_path, [JsonlSource(kind="jsonl")])
    store = MetricStore()
    w = MetricsWatcher(store, WatchConfig(interval=0.02))
    w.add(RunMetrics.for_run_dir(d), remote=False)
    with w:
        for step in range(1, 6):
            jsonl(d / "metrics.jsonl", (step, {"x": float(step)}))
            t0 = time.monotonic()
            while store.latest(RUN_NAME, "x") is None or store.latest(RUN_NAME, "x").step != step:
                assert time.monotonic() - t0 < 5.0, "point %d not visible" % step
                time.sleep(0.005)
    assert store.snapshot(RUN_NAME, "x").steps.tolist() == [1, 2, 3, 4, 5]


def test_a_failing_source_is_reported_and_the_others_go_on(tmp_path):
    d = make_run(tmp_path, [TensorBoardSource(kind="tensorboard"), JsonlSource(kind="jsonl")])
    jsonl(d / "metrics.jsonl", (1, {"x": 1.0}))
    run = RunMetrics.for_run_dir(d)

    def broken():
        raise RuntimeError("disk on fire")
    run.sources[0].poll = broken
    store = MetricStore()
    w = MetricsWatcher(store)
    w.add(run, remote=False)
    w.catch_up(timeout=10)
    assert store.latest(RUN_NAME, "x").value == 1.0
    assert "disk on fire" in store.status(RUN_NAME).problems()[0]


def test_filesystem_type_and_remote_detection(tmp_path):
    assert filesystem_type(tmp_path) is not None
    assert not is_remote(tmp_path) or filesystem_type(tmp_path) in ("nfs", "nfs4")


# ---------------------------------------------------------------------------------- CLI

@pytest.fixture
def cli_runs(tmp_path):
    root = tmp_path / "runs"
    d = make_run(root, [JsonlSource(kind="jsonl"), TensorBoardSource(kind="tensorboard")])
    jsonl(d / "metrics.jsonl", *[(s, {"loss/a": 10.0 - s, "rollout/r": s * 2.0})
                                 for s in range(5)])
    tb(d / "tb", "perf/fps", range(3), scale=100.0)
    with open(d / "metrics.jsonl", "a") as f:
        f.write("garbage line\n")
    return root


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = pitwall(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_by_run_prefix_table(cli_runs, capsys):
    rc, out, err = run_cli(capsys, "--root", str(cli_runs), "metrics", "Pendulum")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["RUN", "TAG", "POINTS"]
    assert any(line.split()[1:3] == ["loss/a", "5"] for line in lines[1:])
    assert "skipped 1 not a metrics record" in err


def test_cli_csv_with_tag_globs(cli_runs, capsys):
    rc, out, _ = run_cli(capsys, "--root", str(cli_runs), "metrics", RUN_NAME,
                         "--tags", "loss/*", "perf/*", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rc == 0 and {r["tag"] for r in rows} == {"loss/a", "perf/fps"}
    loss = [r for r in rows if r["tag"] == "loss/a"]
    assert [int(r["step"]) for r in loss] == [0, 1, 2, 3, 4]
    assert [float(r["value"]) for r in loss] == [10.0, 9.0, 8.0, 7.0, 6.0]
    assert float(loss[0]["wall_time"]) == 1000.0


def test_cli_json_by_path_with_smoothing(cli_runs, capsys):
    rc, out, _ = run_cli(capsys, "metrics", str(cli_runs / RUN_NAME), "--json",
                         "--smoothing", "0.5", "--tags", "rollout/r")
    data = json.loads(out)
    (run,) = data["runs"]
    r = run["tags"]["rollout/r"]
    assert r["steps"] == [0, 1, 2, 3, 4] and r["values"] == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert r["smoothed"][0] == 0.0 and r["smoothed"][-1] < 8.0
    assert run["sources"][0]["skipped"] == {"not a metrics record": 1}


def test_cli_errors(cli_runs, capsys, tmp_path):
    rc, _, err = run_cli(capsys, "--root", str(cli_runs), "metrics", "NoSuchRun")
    assert rc == 2 and "no run 'NoSuchRun'" in err
    rc, _, err = run_cli(capsys, "--root", str(cli_runs), "metrics", RUN_NAME, "--tags", "zz*")
    assert rc == 2 and "no tags matching zz*" in err
    (tmp_path / "empty").mkdir()
    rc, _, err = run_cli(capsys, "metrics", str(tmp_path / "empty"))
    assert rc == 2 and "no metrics found" in err


def test_cli_log_file_with_a_preset(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text("hello\nfps step: 10 fps step and policy inference: 9 fps total: 8 "
                   "epoch: 1/5 frames: 64\n")
    rc, out, _ = run_cli(capsys, "metrics", str(log), "--preset", "rl_games", "--csv")
    assert rc == 0 and "train.log,performance/step_fps,64," in out


def test_cli_as_a_user_runs_it(cli_runs):
    out = subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(cli_runs), "metrics",
                          "Pend", "--json"], capture_output=True, text=True, timeout=120,
                         cwd=str(Path(__file__).resolve().parents[2]))
    assert out.returncode == 0, out.stderr
    tags = json.loads(out.stdout)["runs"][0]["tags"]
    assert sorted(tags) == ["loss/a", "perf/fps", "rollout/r"]


def test_metric_specs_validate_presets_and_regexes():
    from pydantic import ValidationError

    from tui.core.metric_specs import parse_metric_specs

    ok = parse_metric_specs([{"kind": "stdout", "preset": "rl_games"},
                             {"kind": "tensorboard", "path": "summaries", "recursive": False}])
    assert ok[0].preset == "rl_games" and ok[1].recursive is False
    for bad, why in [({"kind": "stdout", "preset": "rl_game"}, "unknown preset"),
                     ({"kind": "stdout", "patterns": [{"regex": "x(?P<a>"}]}, "not a valid regex"),
                     ({"kind": "stdout", "patterns": [{"regex": "(?P<a>1)", "step_group": "s"}]},
                      "not a named group"),
                     ({"kind": "stdout", "patterns": [{"regex": "x", "kv": "(?P<k>a)=(?P<v>1)"}]},
                      "'key' and 'value'")]:
        with pytest.raises(ValidationError, match=why):
            parse_metric_specs([bad])


def test_a_template_naming_an_unknown_param_is_reported(tmp_path):
    d = make_run(tmp_path, [TensorBoardSource(kind="tensorboard", path="{params.nope}/tb"),
                            JsonlSource(kind="jsonl")], params={"out": "x"})
    run = RunMetrics.for_run_dir(d)
    assert [s.kind for s in run.sources] == ["jsonl"]
    assert "unknown placeholder {params.nope}" in run.status().problems()[0]
