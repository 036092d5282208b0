"""Slurm's client commands (sbatch, squeue, sacct, scancel, scontrol), run with a timeout.

A command that fails raises :class:`SlurmError` with Slurm's own message (its stderr), e.g.
``sbatch: error: Batch job submission failed: Invalid partition name specified``.
"""
from __future__ import annotations

import shutil
import subprocess

TIMEOUT_S = 30.0


class SlurmError(RuntimeError):
    def __init__(self, message: str, command: str = ""):
        self.command = command
        super().__init__(message)


def slurm_bin(name: str) -> str:
    """The path of a Slurm command, or a SlurmError saying it is not installed here."""
    path = shutil.which(name)
    if path is None:
        raise SlurmError("%s is not on PATH: Pitwall runs on Slurm through its client commands "
                         "(sbatch, squeue, sacct, scancel); use it on a login node of the "
                         "cluster, or install them" % name, name)
    return path


def run_slurm(argv: list[str], timeout: float = TIMEOUT_S, check: bool = True,
              stdin_text: str | None = None) -> subprocess.CompletedProcess:
    exe = slurm_bin(argv[0])
    try:
        proc = subprocess.run([exe] + list(argv[1:]), capture_output=True, text=True,
                              timeout=timeout, input=stdin_text,
                              stdin=None if stdin_text is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SlurmError("%s did not answer within %.0f s (is slurmctld reachable?)"
                         % (argv[0], timeout), argv[0])
    except OSError as e:
        raise SlurmError("cannot run %s: %s" % (exe, e.strerror or e), argv[0])
    if check and proc.returncode != 0:
        raise SlurmError(slurm_message(proc) or "%s exited with code %d"
                         % (argv[0], proc.returncode), argv[0])
    return proc


def slurm_message(proc: subprocess.CompletedProcess) -> str:
    """Slurm's own words: its stderr (else stdout), on one line per message."""
    text = (proc.stderr or "").strip() or (proc.stdout or "").strip()
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())
