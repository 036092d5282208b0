"""Submitting runs to Slurm: one batch job per run, one job array per sweep.

The batch job is ``exec python -m tui.core.slurm.node_agent RUN_DIR`` (``--array ROOT NAME...``
for an array: task *i* runs the *i*-th run), with Slurm's time-limit warning sent to it
(``--signal=B:USR1@signal_before``). The same Python that submits runs on the node, so the
environment (a venv on the shared filesystem) must be visible there.

Nothing is created when Slurm refuses: ``sbatch --test-only`` checks the request (partition,
account, time, GPUs ...) before any run directory exists, and if the real ``sbatch`` still fails,
the run directories made for it are removed. Either way the error is Slurm's own message.
"""
from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runners.protocol import RunRecord, SlurmJob, add_slurm_job, now_iso, write_run_record

from ..launcher_spec import LauncherSpec, SlurmSpec
from ..role_starter import log_event
from .commands import SlurmError, run_slurm, slurm_bin

AGENT_MODULE = "tui.core.slurm.node_agent"
ARRAY_LOG_DIR = ".pitwall-slurm"   # in the runs root: a task's output before it finds its run


@dataclass
class Submitted:
    run_dir: Path
    record: RunRecord
    job_id: str


def sbatch_options(spec: LauncherSpec, job_name: str) -> list[str]:
    s = spec.slurm
    args = ["--parsable", "--job-name=%s" % job_name, "--open-mode=append",
            "--signal=B:USR1@%d" % s.signal_before, "--requeue" if s.requeue else "--no-requeue"]
    gpus = s.gpus if s.gpus is not None else spec.gpus
    for flag, value in (("--partition", s.partition), ("--time", s.time),
                        ("--account", s.account), ("--qos", s.qos),
                        ("--cpus-per-task", s.cpus), ("--mem", s.mem),
                        ("--gpus", gpus or None)):
        if value is not None and value != "":
            args.append("%s=%s" % (flag, value))
    return args + list(s.extra)


def launcher_record(spec: LauncherSpec, array_task: int | None = None) -> dict[str, Any]:
    return {"kind": "slurm", "job_id": "", "array_job_id": "", "array_task": array_task,
            "gpus": spec.slurm.gpus if spec.slurm.gpus is not None else spec.gpus,
            "options": spec.slurm.model_dump(mode="json"), "watch": "poll"}


def spec_from_record(record: RunRecord) -> LauncherSpec:
    options = record.launcher.get("options") or {}
    return LauncherSpec(kind="slurm", gpus=int(record.launcher.get("gpus") or 0),
                        slurm=SlurmSpec.model_validate(options))


def agent_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", AGENT_MODULE, *args]


def check_request(options: list[str]) -> None:
    """Slurm's verdict on the request before anything is created (``sbatch --test-only``)."""
    slurm_bin("sbatch")
    run_slurm(["sbatch", "--test-only"] + [o for o in options if o != "--parsable"]
              + ["--wrap", "true"])


def sbatch(options: list[str], argv: list[str], output: Path, chdir: Path) -> str:
    """Submit; the job id (``123``), or SlurmError with sbatch's message."""
    proc = run_slurm(["sbatch"] + options + ["--output=%s" % output, "--chdir=%s" % chdir,
                                             "--wrap", "exec " + shlex.join(argv)])
    job = proc.stdout.strip().split(";")[0]
    if not job.isdigit():
        raise SlurmError("sbatch answered %r, not a job id" % proc.stdout.strip(), "sbatch")
    return job


def submit_prepared(prepared: list[tuple[Path, RunRecord]], spec: LauncherSpec, root: Path,
                    sweep_id: str) -> list[Submitted]:
    """Submit runs whose directories and ``run.json`` exist; records the job ids. Raises
    SlurmError (the caller removes the runs then)."""
    if len(prepared) == 1 and not sweep_id:
        run_dir, record = prepared[0]
        options = sbatch_options(spec, run_dir.name)
        job = sbatch(options, agent_argv(str(run_dir)), run_dir / "logs" / "slurm-%j.log",
                     run_dir)
        jobs = [(job, "", None)]
    else:
        name = "%s-%s" % (prepared[0][1].experiment, sweep_id) if sweep_id else \
            prepared[0][0].name
        array = "--array=0-%d%s" % (len(prepared) - 1, "%%%d" % spec.max_parallel
                                    if spec.max_parallel else "")
        options = sbatch_options(spec, name) + [array]
        log_dir = root / ARRAY_LOG_DIR
        log_dir.mkdir(parents=True, exist_ok=True)
        job = sbatch(options, agent_argv("--array", str(root), *[d.name for d, _ in prepared]),
                     log_dir / ("%s_%%a.log" % (sweep_id or "array")), root)
        jobs = [("%s_%d" % (job, i), job, i) for i in range(len(prepared))]
    out = []
    for (run_dir, record), (job_id, array_job, task) in zip(prepared, jobs):
        record.launcher.update(job_id=job_id, array_job_id=array_job, array_task=task)
        write_run_record(run_dir, record)
        add_slurm_job(run_dir, SlurmJob(job_id=job_id, submitted_at=now_iso()))
        log_event(run_dir, "submitted to Slurm as job %s (%s)" % (job_id, " ".join(options)))
        out.append(Submitted(run_dir, record, job_id))
    return out


def resubmit(run_dir: Path, record: RunRecord, reason: str, resume: str | None = None) -> str:
    """A new job for an existing run (resume, restart); its id. The run keeps its directory."""
    spec = spec_from_record(record)
    options = sbatch_options(spec, run_dir.name)
    check_request(options)
    args = [str(run_dir)] + (["--resume", resume] if resume else [])
    job = sbatch(options, agent_argv(*args), run_dir / "logs" / "slurm-%j.log", run_dir)
    add_slurm_job(run_dir, SlurmJob(job_id=job, submitted_at=now_iso(), reason=reason,
                                    resume=resume))
    log_event(run_dir, "%s: submitted Slurm job %s%s" % (reason, job, " from %s" % resume
                                                           if resume else ""))
    return job
