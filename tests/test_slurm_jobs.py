"""Real jobs on a real single-node Slurm (tests/slurm_cluster.py brings it up as root).

The default profile (mujoco/inverted_pendulum) runs as a batch job: pending -> running ->
completed in the core's status; a sweep of 3 is one job array; a stop goes through scancel and
leaves a final checkpoint; a resume submits a new job; a job warned of its time limit saves,
requeues itself and resumes with one continuous metric history; a failed job shows its exit
code and log tail; Slurm's refusals create nothing. (A run's whole life: time-limit requeue,
stop, resume, is one test to keep within the suite's time budget.)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from conftest import REPO, text_of, wait_until
from runners.protocol import (read_node_record, read_proc_record, read_run_record,
                              read_slurm_jobs)
from slurm_cluster import skip_reason, start_cluster, stop_cluster
from tui.core.checkpoint_index import CheckpointIndex
from tui.core.launchers import launch_runs
from tui.core.registry import Registry, load_run
from tui.core.run_checkpoints import list_run_checkpoints
from tui.core.run_control import resume, stop_run
from tui.core.slurm.commands import SlurmError, run_slurm
from tui.core.slurm.job_state import STATES

PROFILE = "mujoco/inverted_pendulum"
BATCH = 1024          # num_envs 8 x rollout_steps 128: the step of one update


@pytest.fixture(scope="module")
def slurm():
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    cluster = start_cluster()
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


def steps_of(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in text_of(run / "metrics.jsonl").splitlines()
            if line.strip()]


def newest_step(run: Path) -> int | None:
    hist = [c for c in list_run_checkpoints(run) if not c.is_latest]
    return max(c.step for c in hist) if hist else None


def no_more_warnings(job: str) -> None:
    """Give a 1-minute job 10 minutes (as Slurm's admin): the rest of a test then runs without
    another time-limit warning racing its stop."""
    run_slurm(["scontrol", "update", "JobId=%s" % job, "TimeLimit=10"])


class StatusLog:
    """What the core shows for some runs, polled like the TUI does (consecutive repeats out)."""

    def __init__(self, root: Path, runs: list[Path]):
        self.registry = Registry(root)
        self.seen: dict[str, list[str]] = {r.name: [] for r in runs}

    def poll(self) -> dict[str, object]:
        infos = {i.name: i for i in self.registry.refresh()}
        for name, seen in self.seen.items():
            if name in infos:
                text = "%s: %s" % (infos[name].status, infos[name].status_text())
                if not seen or seen[-1] != text:
                    seen.append(text)
        return infos

    def until(self, cond, timeout: float, what: str):
        return wait_until(lambda: cond(self.poll()), timeout=timeout, poll=0.3, what=what)


def test_sweep_of_three_is_one_array_pending_running_completed(slurm, runs_root):
    res = launch_runs(PROFILE, ["seed=0,1,2", "total_steps=1024"], runs_root, multirun=True,
                      slurm=[])
    runs = [r.run_dir for r in res.runs]
    job = res.runs[0].job_id.split("_")[0]
    assert [r.job_id for r in res.runs] == ["%s_%d" % (job, i) for i in range(3)]
    rec = read_run_record(runs[2])
    assert rec.sweep_id == res.sweep_id and rec.launcher["kind"] == "slurm"
    assert rec.launcher["array_task"] == 2 and rec.launcher["array_job_id"] == job
    log = StatusLog(runs_root, runs)
    log.until(lambda infos: all(infos[r.name].status == "finished" for r in runs), 240,
              "the three runs to complete")
    flat = [t for r in runs for t in log.seen[r.name]]
    # two cores, one per task: one task waits for the others' resources
    assert "queued: pending (Resources)" in flat, log.seen
    for r in runs:
        seen = log.seen[r.name]
        assert seen[-1] == "finished: completed", seen
        assert "running: running on localhost" in seen, seen
        assert seen.index("running: running on localhost") < len(seen) - 1
        assert steps_of(r) == [1024] and newest_step(r) == 1024
    sacct = run_slurm(["sacct", "-X", "-P", "-n", "-o", "JobID,State", "-j", job]).stdout
    assert sorted(sacct.split()) == ["%s_%d|COMPLETED" % (job, i) for i in range(3)]
    ls = subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(runs_root), "ls"],
                        capture_output=True, text=True, timeout=60, cwd=REPO).stdout
    assert "sweep %s" % res.sweep_id in ls and "3 runs: 3 finished" in ls


def test_time_limit_requeue_then_stop_and_resume_through_slurm(slurm, runs_root):
    """One run's life on Slurm: warned of its 1-minute limit, it saves, requeues itself and
    resumes; a stop through scancel leaves its final checkpoint; a resume is a new job."""
    res = launch_runs(PROFILE, ["total_steps=10000000", "save_every=1"], runs_root,
                      slurm=["time=1", "signal_before=45"])
    run, job = res.runs[0].run_dir, res.runs[0].job_id
    changes: list[float] = []
    index = CheckpointIndex(on_change=lambda d: changes.append(time.time())).start()
    log = StatusLog(runs_root, [run])
    try:
        index.track(run)
        assert index.is_polled(run)           # a Slurm run: polled, no inotify watch
        log.until(lambda i: changes, 120, "the polled index to list a checkpoint")
        snap = index.get(run)
        newest = max(snap.history, key=lambda c: c.mtime)
        assert snap.scanned_at - newest.mtime < index.remote_poll_interval + 2.0
        # Slurm's warning: the trainer saves, the job requeues itself and resumes
        log.until(lambda i: (lambda n: n is not None and n.restart_count >= 1
                             and n.state == "running")(read_node_record(run)), 150,
                  "the requeued job to run again")
    finally:
        index.stop()
    no_more_warnings(job)
    resumed = read_node_record(run).resumed_from
    assert resumed is not None and Path(resumed).parent == run / "nn"
    resumed_step = int(Path(resumed).stem.rsplit("_", 1)[1])
    log.until(lambda i: steps_of(run) and steps_of(run)[-1] > resumed_step, 120,
              "an update after the resume")
    seen = log.seen[run.name]
    assert any(t.startswith("queued: pending (requeued") for t in seen), seen
    assert any("time limit near" in t or "requeueing" in t for t in seen), seen
    pitwall_log = text_of(run / "logs" / "pitwall.log")
    assert "time-limit warning" in pitwall_log and "requeued" in pitwall_log
    assert "resuming train from %s" % resumed in pitwall_log
    assert [j.job_id for j in read_slurm_jobs(run)] == [job]   # a requeue keeps its job id
    # a stop through Slurm: scancel --batch --signal=INT, the trainer saves
    assert load_run(run).status_text() == "running on localhost"
    out = stop_run(run)
    assert [(o.role, o.was_running, o.stopped_by, o.exit_code) for o in out] == \
        [("train", True, "SIGINT", 0)]
    info = load_run(run)
    assert info.status == "stopped" and info.status_text() == "stopped"
    last = steps_of(run)[-1]
    assert newest_step(run) == last       # the final checkpoint holds the last update
    assert "final checkpoint saved" in text_of(run / "logs" / "train.log")
    STATES.forget(job)
    assert STATES.state(job).state == "COMPLETED"
    # resume: a new job, the same run directory, on from the final checkpoint
    ckpt = next(c.path for c in list_run_checkpoints(run) if c.step == last
                and not c.is_latest)
    assert resume(run, ckpt) is None
    jobs = read_slurm_jobs(run)
    assert [j.reason for j in jobs] == ["launch", "resume"] and jobs[1].job_id != job
    no_more_warnings(jobs[1].job_id)
    wait_until(lambda: "resumed from %s" % ckpt in text_of(run / "logs" / "train.log"),
               timeout=120, what="the trainer to resume in the new job")
    node = read_node_record(run)
    assert node.job_id == jobs[1].job_id and node.resumed_from == str(ckpt)
    stop_run(run)
    steps = steps_of(run)
    assert steps == list(range(BATCH, steps[-1] + 1, BATCH)), steps   # no repeat, no gap


HARD = """backend: external
experiment: Hard
processes:
  - role: main
    argv: ["{python}", "%s"]
    stop: {sigint_grace: 1, sigterm_grace: 1}
"""
IGNORE_INT_AND_TERM = """import signal, time
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, signal.SIG_IGN)
print("up", flush=True)
time.sleep(600)
"""


def test_a_stop_escalates_through_slurm_to_kill(slurm, runs_root, tmp_path):
    script = tmp_path / "ignore_int_and_term.py"
    script.write_text(IGNORE_INT_AND_TERM)
    prof = tmp_path / "hard.yaml"
    prof.write_text(HARD % script)
    res = launch_runs(str(prof), [], runs_root, slurm=[])
    run = res.runs[0].run_dir
    wait_until(lambda: load_run(run).status_text() == "running on localhost", timeout=60,
               what="the job running")
    pid = read_proc_record(run, "main").pid
    progress: list[str] = []
    out = stop_run(run, progress=progress.append)
    assert [(o.role, o.was_running, o.stopped_by) for o in out] == [("main", True, "SIGKILL")]
    assert [m.split(": ", 1)[1].split(" (")[0] for m in progress] == [
        "scancel --batch --signal=INT", "scancel --batch --signal=TERM",
        "scancel --full --signal=KILL"]
    info = load_run(run)
    assert info.status == "stopped" and info.status_text() == "cancelled"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_failed_job_shows_its_exit_code_and_log_tail(slurm, runs_root):
    res = launch_runs(PROFILE, ["env_id=NoSuchEnv-v0"], runs_root, slurm=[])
    run = res.runs[0].run_dir
    info = wait_until(lambda: (lambda i: i if not i.live else None)(load_run(run)),
                      timeout=120, what="the job to end")
    assert info.status == "failed" and info.exit_code == 2
    assert info.status_text() == "failed (exit 2)"
    assert "job %s failed (exit 2); train log:" % res.runs[0].job_id in info.error
    assert "'NoSuchEnv-v0' is not a registered gymnasium environment" in info.error


def test_slurms_refusals_create_nothing(slurm, runs_root, monkeypatch):
    with pytest.raises(SlurmError, match="Invalid partition name specified"):
        launch_runs(PROFILE, [], runs_root, slurm=["partition=nosuch"])
    with pytest.raises(SlurmError, match="Requested node configuration is not available"):
        launch_runs(PROFILE, ["seed=0,1"], runs_root, multirun=True, slurm=["mem=100000000G"])
    out = subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(runs_root), "launch",
                          PROFILE, "--slurm", "partition=nosuch"], capture_output=True,
                         text=True, timeout=60, cwd=REPO)
    assert out.returncode == 2
    assert "sbatch: error: invalid partition specified: nosuch" in out.stderr
    # a request the check lets through but sbatch itself rejects: the runs made go again
    import tui.core.slurm.submit as submit

    monkeypatch.setattr(submit, "check_request", lambda options: None)
    with pytest.raises(SlurmError, match="Invalid partition name"):
        launch_runs(PROFILE, ["seed=0,1"], runs_root, multirun=True,
                    slurm=["partition=nosuch"])
    assert [p.name for p in runs_root.iterdir() if not p.name.startswith(".")] == []


def test_benchmark_quick(slurm, tmp_path):
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_slurm.py"), "--quick",
                          "--root", str(tmp_path / "runs")], capture_output=True, text=True,
                         timeout=300, cwd=REPO, env=slurm.env())
    assert out.returncode == 0, out.stdout + out.stderr
    assert "launch -> running" in out.stdout and "checkpoint -> listed" in out.stdout
