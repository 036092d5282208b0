"""The Slurm launcher's parts that need no cluster: what squeue/sacct/scontrol print, the words
shown for each state, the sbatch request built from a profile, --slurm options, and a machine
without Slurm (a clear error, nothing created)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO
from runners.protocol import ProtocolError, RunRecord
from tui.core.launcher_spec import LauncherOptionError, LauncherSpec, with_overrides
from tui.core.launchers import launch_runs
from tui.core.slurm.commands import SlurmError
from tui.core.slurm.job_state import JobState, parse_sacct, parse_scontrol, parse_squeue
from tui.core.slurm.submit import sbatch_options


def test_squeue_and_sacct_lines():
    q = parse_squeue("12_0|RUNNING|None|node07\n12_2|PENDING|Resources|\n\nbad line\n")
    assert q["12_0"].text() == "running on node07"
    assert q["12_2"].text() == "pending (Resources)" and q["12_2"].waiting
    a = parse_sacct("12_0|COMPLETED|0:0|node07|None\n13|FAILED|2:0|node03|NonZeroExitCode\n"
                    "14|CANCELLED by 0|0:0|None assigned|None\n15|TIMEOUT|0:15|n1|TimeLimit\n"
                    "16|OUT_OF_MEMORY|0:125|n1|None\n17|NODE_FAIL|0:0|n1|NodeDown\n"
                    "18|FAILED|0:9|n1|None\n")
    assert [a[j].text() for j in ("12_0", "13", "14", "15", "16", "17", "18")] == [
        "completed", "failed (exit 2)", "cancelled", "timeout", "out of memory", "node fail",
        "failed (signal 9)"]
    assert a["13"].exit_code == 2 and a["13"].ended and not a["13"].live
    assert a["14"].nodes == ""


def test_scontrol_fallback_and_unknown_jobs():
    st = parse_scontrol("7", "JobId=7 JobName=x JobState=FAILED Reason=NonZeroExitCode "
                             "Dependency=(null) ExitCode=3:0 NodeList=node01")
    assert st is not None and st.text() == "failed (exit 3)" and st.nodes == "node01"
    assert parse_scontrol("7", "slurm_load_jobs error: Invalid job id specified") is None
    unknown = JobState("9", "UNKNOWN", error="squeue is not on PATH")
    assert unknown.live and unknown.text() == "job 9: squeue is not on PATH"
    requeued = JobState("9", "REQUEUE_HOLD", "JobHeldAdmin")
    assert requeued.waiting and requeued.text() == "requeued (JobHeldAdmin)"


def test_sbatch_request_from_the_profile_and_the_command_line():
    spec = with_overrides(LauncherSpec(gpus=2), slurm=[
        "partition=gpu", "time=04:00:00", "account=rl", "qos=high", "cpus=8", "mem=32G",
        "extra=--constraint=a100 --exclusive", "signal_before=300", "requeue=false"])
    assert spec.kind == "slurm"
    opts = sbatch_options(spec, "Ant_2026-11-21_10-00-00")
    assert opts == ["--parsable", "--job-name=Ant_2026-11-21_10-00-00", "--open-mode=append",
                    "--signal=B:USR1@300", "--no-requeue", "--partition=gpu", "--time=04:00:00",
                    "--account=rl", "--qos=high", "--cpus-per-task=8", "--mem=32G",
                    "--gpus=2", "--constraint=a100", "--exclusive"]
    assert "--gpus=1" in sbatch_options(with_overrides(spec, slurm=["gpus=1"]), "x")


@pytest.mark.parametrize("items,msg", [
    (["partion=gpu"], "not a Slurm option.*Did you mean partition"),
    (["gpus=two"], "gpus"), (["cpus=0"], "cpus"), (["total_steps=5"], "Profile overrides go"),
    (["gpu"], "expected key=value"),
])
def test_bad_slurm_options_are_named(items, msg):
    with pytest.raises(LauncherOptionError, match=msg):
        with_overrides(LauncherSpec(), slurm=items)


def test_run_json_launcher_is_checked():
    base = RunRecord("r", "E", "p", "mujoco", {}, [], "now").to_dict()
    base["processes"] = [{"role": "train", "argv": ["x"], "cwd": "/"}]
    rec = RunRecord.from_dict(dict(base, launcher={"kind": "slurm", "job_id": "12_3",
                                                   "array_task": 3}), "run.json")
    assert rec.slurm_job_id == "12_3" and rec.polled
    assert not RunRecord.from_dict(base, "run.json").polled
    for bad, field in (({"kind": "pbs"}, "launcher.kind"), ({"kind": "slurm", "job_id": 12},
                                                            "launcher.job_id"),
                       ({"kind": "local", "gpus": -1}, "launcher.gpus"),
                       ({"kind": "local", "watch": "inotify"}, "launcher.watch")):
        with pytest.raises(ProtocolError) as e:
            RunRecord.from_dict(dict(base, launcher=bad), "run.json")
        assert e.value.field == field


def test_no_slurm_on_path_is_a_clear_error_and_creates_nothing(runs_root, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))          # no sbatch anywhere
    with pytest.raises(SlurmError, match="sbatch is not on PATH"):
        launch_runs("mujoco/inverted_pendulum", ["seed=0,1"], runs_root, multirun=True,
                    slurm=["partition=gpu"])
    assert list(runs_root.iterdir()) == []
    out = subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(runs_root), "launch",
                          "mujoco/inverted_pendulum", "--slurm", "time=10"],
                         capture_output=True, text=True, timeout=60, cwd=REPO,
                         env={"PATH": str(tmp_path), "HOME": str(tmp_path)})
    assert out.returncode == 2 and "pitwall: sbatch is not on PATH" in out.stderr
    assert list(runs_root.iterdir()) == []


def test_a_profile_can_ask_for_slurm(tmp_path):
    prof = tmp_path / "onslurm.yaml"
    prof.write_text("backend: external\nexperiment: X\nprocesses:\n  - argv: [sleep, '1']\n"
                    "launcher:\n  kind: slurm\n  gpus: 1\n  slurm: {partition: gpu, "
                    "time: '01:00:00', extra: '--constraint=a100'}\n")
    from tui.core.profiles import load_profile

    spec = load_profile(prof).launcher
    assert spec.kind == "slurm" and spec.slurm.extra == ["--constraint=a100"]
    assert "--gpus=1" in sbatch_options(spec, "x") and "--time=01:00:00" in \
        sbatch_options(spec, "x")
    prof.write_text(prof.read_text().replace("partition: gpu", "partitoin: gpu"))
    from tui.core.profiles import ProfileError

    with pytest.raises(ProfileError, match="launcher.slurm.partitoin"):
        load_profile(prof)


def test_a_slurm_run_seen_from_a_host_without_slurm(runs_root, monkeypatch, tmp_path):
    """The control center on a workstation that shares the runs but has no Slurm: the run is
    neither 'lost' nor final; the text says why its job's state is unknown."""
    from runners.protocol import (ProcessSpec, SlurmJob, add_slurm_job, create_run_dir,
                                  write_run_record)
    from tui.core.registry import load_run
    from tui.core.slurm.job_state import STATES

    run = create_run_dir(runs_root, "X")
    write_run_record(run, RunRecord("r", "X", "p", "external", {}, [
        ProcessSpec(role="train", argv=["x"], cwd=str(run))], "now",
        launcher={"kind": "slurm", "job_id": "424242"}))
    add_slurm_job(run, SlurmJob(job_id="424242", submitted_at="now"))
    monkeypatch.setenv("PATH", str(tmp_path))
    STATES.forget("424242")
    info = load_run(run)
    assert info.status == "starting" and info.live
    assert info.status_text() == "starting? (job 424242: squeue is not on PATH)"
