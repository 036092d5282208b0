"""What the TUI tests share: synthetic run directories written through ``runners.protocol``,
the text on a pilot's screen, and waiting on the app instead of sleeping."""
from __future__ import annotations

import datetime as _dt
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import psutil

from runners.protocol import (MetricWriter, ProcessSpec, ProcRecord, RunRecord, create_run_dir,
                              save_checkpoint, write_proc_record, write_run_record)
from runners.protocol.viewer import ViewerStatus, write_viewer_status

# the clock of every deterministic test: runs below are created before it
FROZEN = _dt.datetime(2026, 3, 14, 15, 0, 0).timestamp()
PROFILE = {"headline": "rollout/ep_return", "metrics": [{"kind": "jsonl",
                                                          "path": "metrics.jsonl"}],
           "play": {"runner": "mujoco"}}


def screen_text(app) -> str:
    """The characters on the app's current screen, one line per row."""
    return "\n".join(s.text for s in app.screen._compositor.render_strips())


async def wait_for(pilot, cond: Callable[[], Any], timeout: float = 20.0,
                   what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s\n%s"
                                 % (timeout, what, screen_text(pilot.app)))
        await pilot.pause(0.05)


def sleeper() -> subprocess.Popen:
    """A live process in its own session, standing for a role that runs."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                            start_new_session=True, stdin=subprocess.DEVNULL)


def make_run(root: Path, experiment: str, when: _dt.datetime, *, outcome: str = "finished",
             steps: int = 40, checkpoints: int = 4, proc: subprocess.Popen | None = None,
             profile_name: str = "mujoco/inverted_pendulum", backend: str = "mujoco",
             log_lines: list[str] | None = None) -> Path:
    """A run as the runners would leave it: run.json, procs, logs, metrics, checkpoints.

    ``outcome``: finished | failed | stopped | running (``proc`` is then the live process).
    Every time stamp derives from ``when``, so what the TUI shows does not change between runs.
    """
    run = create_run_dir(root, experiment, when)
    t0 = when.timestamp()
    spec = ProcessSpec(role="train", argv=["python", "-m", "runners.mujoco", "train"],
                       cwd=str(run))
    write_run_record(run, RunRecord(
        name=run.name, experiment=experiment, profile_name=profile_name, backend=backend,
        params={"total_steps": steps * 512, "seed": 0}, processes=[spec],
        created_at=when.isoformat(), profile=dict(PROFILE), host=_host()))
    if outcome == "running":
        assert proc is not None
        pid, ct = proc.pid, psutil.Process(proc.pid).create_time()
    else:
        pid, ct = 999999, t0
    ended = outcome != "running"
    rec = ProcRecord(role="train", kind="train", pid=pid, pgid=pid, create_time=ct,
                     started_at=_iso(t0), host=_host(),
                     exited_at=_iso(t0 + steps) if ended else None,
                     exit_code={"finished": 0, "failed": 1, "stopped": 0}.get(outcome),
                     signal=None)
    write_proc_record(run, rec)
    if outcome == "stopped":
        from runners.protocol import write_stop_request

        write_stop_request(run, "train", attempt=1)
    (run / "logs").mkdir(exist_ok=True)
    lines = log_lines if log_lines is not None else [
        "update %d step %d ep_return %.1f" % (i, i * 512, _ret(i, steps)) for i in range(steps)]
    (run / "logs" / "train.log").write_text("".join(line + "\n" for line in lines))
    w = MetricWriter(run, "train", tensorboard=False)
    for i in range(steps):
        w.log((i + 1) * 512, {"rollout/ep_return": _ret(i, steps),
                              "loss/policy": 0.5 / (1 + i), "train/lr": 3e-4},
              t=t0 + i)
    w.close()
    for k in range(checkpoints):
        step = (k + 1) * (steps * 512 // max(1, checkpoints))
        i = step // 512 - 1
        p = save_checkpoint(run, lambda f: f.write(b"\0" * 4096), step,
                            metrics={"rollout/ep_return": _ret(i, steps)})
        os.utime(p, (t0 + i, t0 + i))
    return run


def write_ack(run: Path, viewer_id: str, pid: int, seq: int, checkpoint: Path | None,
              step: int | None, updated_at: float | None = None) -> None:
    st = ViewerStatus(id=viewer_id, pid=pid, state="running", seq=seq,
                      checkpoint_path=str(checkpoint) if checkpoint else None,
                      checkpoint_step=step, create_time=0.0)
    write_viewer_status(run, st)
    if updated_at is not None:  # write_viewer_status stamps now; tests may want a fixed time
        import json

        path = run / ".viewer" / (viewer_id + ".json")
        d = json.loads(path.read_text())
        d["updated_at"] = updated_at
        path.write_text(json.dumps(d))


def _ret(i: int, n: int) -> float:
    return round(10 + 990 * (i / max(1, n - 1)) ** 2, 3)


def _iso(t: float) -> str:
    return _dt.datetime.fromtimestamp(t).astimezone().isoformat(timespec="milliseconds")


def _host() -> str:
    import socket

    return socket.gethostname()


# ====================================================================== machine stand-ins

class FixedHost:
    """A host probe with fixed readings: snapshots must not depend on this machine's load."""

    def read(self, path):
        from tui.core.system_model import HostReading

        return HostReading(cpu=12.0, cores=2, load=(0.5, 0.4, 0.3), ram_used=6 << 30,
                           ram_total=24 << 30, disk_used=100 << 30, disk_total=250 << 30,
                           host="gpu-box")


class FixedStats:
    """Process readings that do not move (for snapshots; the real ones are tested apart)."""

    def sample_many(self, procs):
        from tui.core.proc_stats import ProcSample

        return {pid: ProcSample(pid, True, 97.0, 1536 << 20, 60.0, 4) for pid, _ in procs}


class _NVMLError(Exception):
    pass


class NoNvml:
    """What nvidia-ml-py does on a box without a driver: every nvmlInit() raises."""
    NVMLError = _NVMLError

    def nvmlInit(self):
        raise _NVMLError("NVML Shared Library Not Found")


class FakeNvml:
    """NVML of a box with two GPUs (pynvml's functions and result shapes), for the system
    view's tests: ``procs`` are (pid, gpu, used bytes, sm %) of the processes on them."""
    NVML_TEMPERATURE_GPU = 0
    NVMLError = _NVMLError

    def __init__(self, procs=()):
        from types import SimpleNamespace as NS

        self.NS = NS
        self.procs = list(procs)
        self.inits = 0

    def nvmlInit(self):
        self.inits += 1

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return 2

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetName(self, h):
        return b"NVIDIA H200"

    def nvmlDeviceGetUtilizationRates(self, h):
        return self.NS(gpu=(87, 3)[h], memory=(41, 0)[h])

    def nvmlDeviceGetMemoryInfo(self, h):
        return self.NS(used=(40 << 30, 1 << 29)[h], total=141 << 30, free=0)

    def nvmlDeviceGetTemperature(self, h, kind):
        return (62, 33)[h]

    def nvmlDeviceGetPowerUsage(self, h):
        return (350_000, 80_000)[h]

    def nvmlDeviceGetEnforcedPowerLimit(self, h):
        if h == 1:
            raise _NVMLError("Not Supported")
        return 700_000

    def nvmlDeviceGetComputeRunningProcesses(self, h):
        return [self.NS(pid=p, usedGpuMemory=m) for p, g, m, _ in self.procs if g == h]

    def nvmlDeviceGetGraphicsRunningProcesses(self, h):
        return []

    def nvmlDeviceGetProcessUtilization(self, h, since):
        out = [self.NS(pid=p, timeStamp=since + 1, smUtil=u, memUtil=0)
               for p, g, _, u in self.procs if g == h and u is not None]
        if not out:
            raise _NVMLError("Not Found")
        return out
