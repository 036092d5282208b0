"""The local launch queue: GPU slots from NVML (a fake NVML reporting N GPUs, and the real
no-GPU path), --max-parallel, cancelling a queued run, one queue process per runs root."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, REPO, wait_until
from runners.protocol import read_proc_record, read_queue_entry
from tui.core.gpu_slots import read_gpus
from tui.core.queue_state import daemon_info
from tui.core.launchers import launch_runs
from tui.core.liveness import is_alive
from tui.core.registry import load_run
from tui.core.run_control import stop_run

FAKE_NVML = FIXTURES / "fake_nvml"


@pytest.fixture
def queue_root(runs_root, test_profiles):
    """A runs root whose queue process (if one starts) is ended at teardown."""
    yield runs_root
    d = daemon_info(runs_root)
    if d is not None:
        os.kill(d["pid"], signal.SIGTERM)
        wait_until(lambda: not is_alive(d["pid"], d["create_time"]), timeout=10,
                   what="the queue process to end")


@pytest.fixture
def fake_gpus(tmp_path, monkeypatch):
    """NVML replaced by tests/fixtures/fake_nvml (here and in the queue process)."""
    path = tmp_path / "gpus.json"

    def set_gpus(n: int, busy: tuple[int, ...] = ()) -> None:
        path.write_text(json.dumps({"gpus": [
            {"name": "Fake GPU", "memory_total": 80 << 30, "memory_used": 0,
             "pids": [424242] if i in busy else []} for i in range(n)]}))

    set_gpus(2)
    monkeypatch.setenv("PITWALL_FAKE_NVML", str(path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(FAKE_NVML)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    monkeypatch.syspath_prepend(str(FAKE_NVML))
    real = sys.modules.pop("pynvml", None)
    yield set_gpus
    sys.modules.pop("pynvml", None)
    if real is not None:
        sys.modules["pynvml"] = real


def env_of(run: Path) -> dict:
    rec = read_proc_record(run, "main")
    return rec.env if rec else {}


def started(run: Path) -> bool:
    return read_proc_record(run, "main") is not None


def test_fake_nvml_is_read_through_the_real_nvml_calls(fake_gpus):
    fake_gpus(3, busy=(1,))
    inv = read_gpus()
    assert [(g.index, g.name, g.pids) for g in inv.gpus] == [
        (0, "Fake GPU", ()), (1, "Fake GPU", (424242,)), (2, "Fake GPU", ())]
    assert inv.error is None


def test_each_run_gets_its_own_free_gpu_and_the_rest_wait(queue_root, fake_gpus):
    fake_gpus(3, busy=(1,))        # GPU 1 runs someone else's process
    res = launch_runs("one_role", ["exit_after=3,60,60.5"], queue_root, multirun=True, gpus=1)
    a, b, c = [r.run_dir for r in res.runs]
    assert [r.how for r in res.runs] == ["queued"] * 3
    assert {r.record.sweep_id for r in res.runs} == {res.sweep_id}
    wait_until(lambda: started(a) and started(b), timeout=30, what="two runs started")
    assert env_of(a)["CUDA_VISIBLE_DEVICES"] == "0" and env_of(b)["CUDA_VISIBLE_DEVICES"] == "2"
    assert env_of(a)["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    info = wait_until(lambda: (lambda i: i if "0 of 3 free" in i.status_text() else None)(
        load_run(c)), timeout=10, what="the third run's reason")
    assert info.status == "queued" and info.live
    assert info.status_text() == "queued (needs 1 GPU, 0 of 3 free)"
    assert not started(c)
    # the first run ends after 3 s: its GPU goes to the third run
    wait_until(lambda: started(c), timeout=30, what="the queued run to start")
    assert load_run(a).status == "finished"
    assert env_of(c)["CUDA_VISIBLE_DEVICES"] == "0"
    assert read_queue_entry(c).gpu_ids == [0]
    wait_until(lambda: load_run(c).status_text() == "running on GPU 0", timeout=10,
               what="the GPU in the status text")


def test_a_run_needing_more_gpus_than_there_are_fails_in_the_queue(queue_root, fake_gpus):
    res = launch_runs("one_role", [], queue_root, gpus=3)
    run = res.runs[0].run_dir
    info = wait_until(lambda: (lambda i: i if i.status == "failed" else None)(load_run(run)),
                      timeout=20, what="the queue to refuse it")
    assert "needs 3 GPUs; this machine has 2" in info.error
    assert not started(run)


def test_without_a_gpu_runs_start_as_today(queue_root):
    if read_gpus().gpus:
        pytest.skip("this machine has GPUs: the no-GPU path is not reachable here")
    res = launch_runs("one_role", ["exit_after=30"], queue_root, gpus=1)
    assert res.runs[0].how == "started" and "start without GPU slots" in res.notes[0]
    assert "NVML" in res.notes[0]
    run = res.runs[0].run_dir
    wait_until(lambda: started(run), what="the run")
    assert "CUDA_VISIBLE_DEVICES" not in env_of(run)
    assert read_queue_entry(run) is None and daemon_info(queue_root) is None


def test_max_parallel_cancel_and_stop_a_whole_sweep(queue_root):
    res = launch_runs("one_role", ["exit_after=60,61,62"], queue_root, multirun=True,
                      max_parallel=1)
    a, b, c = [r.run_dir for r in res.runs]
    wait_until(lambda: started(a), timeout=30, what="the first run")
    wait_until(lambda: load_run(b).status_text() == "queued (max-parallel 1 reached)",
               timeout=10, what="the reason in the status")
    out = stop_run(b)                               # a queued run is cancelled
    assert [o.stopped_by for o in out] == ["cancelled"]
    assert load_run(b).status == "stopped" and load_run(b).status_text() == \
        "cancelled (was queued)"
    ls = subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(queue_root), "ls"],
                        capture_output=True, text=True, timeout=60, cwd=REPO).stdout
    head = next(line for line in ls.splitlines() if line.startswith("sweep " + res.sweep_id))
    assert "3 runs: 1 queued, 1 running, 1 stopped" in head
    assert "  " + a.name in ls and "  " + c.name in ls
    stop_run(a)
    wait_until(lambda: started(c), timeout=30, what="the next run after a stop")
    assert not started(b)                          # cancelled: never started
    out = subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(queue_root), "stop",
                          res.sweep_id], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert "stopping 3 runs of sweep" in out.stdout
    assert "%s: main: stopped by SIGINT" % c.name in out.stdout
    assert {load_run(d).status for d in (a, b, c)} == {"stopped"}


def test_one_queue_process_per_runs_root(queue_root):
    argv = [sys.executable, "-m", "tui.core.launch_queue", str(queue_root), "--idle-exit", "30"]
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: daemon_info(queue_root), what="the first queue process")
        second = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert second.returncode == 0
        assert "another queue process serves" in second.stdout
        assert first.poll() is None and daemon_info(queue_root)["pid"] == first.pid
    finally:
        first.terminate()
        out, _ = first.communicate(timeout=10)
    assert "queue process %d serves" % first.pid in out
