"""W&B logging of the SERL runner in offline mode (wandb is optional: skipped without it)."""
from __future__ import annotations

import pytest

from conftest import wait_until
from runners.protocol import ProtocolError
from runners.serl.config import WandbConfig
from runners.serl.wandb_log import WandbLog


def test_disabled_needs_no_wandb(tmp_path):
    log = WandbLog(WandbConfig(enabled=False), tmp_path, "learner")
    log.log(1, {"sac/critic_loss": 1.0})  # a no-op
    log.close()
    assert not (tmp_path / "wandb").exists()


def test_offline_run_writes_the_metrics_under_the_run_dir(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    run_dir = tmp_path / "SerlAnt_2026-01-01_00-00-00"
    run_dir.mkdir()
    log = WandbLog(WandbConfig(enabled=True, mode="offline"), run_dir, "learner",
                   config={"batch_size": 256})
    for step in range(3):
        log.log(step * 100, {"sac/critic_loss": 1.0 / (step + 1), "learner/update_steps": step})
    log.close()
    runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 1

    def data() -> bytes:  # wandb's service process finishes the file after finish() returns
        return b"".join(p.read_bytes() for p in runs[0].glob("*.wandb"))

    wait_until(lambda: b"learner/update_steps" in data(), timeout=60, what="the offline file")
    assert b"sac/critic_loss" in data()
    assert b"SerlAnt_2026-01-01_00-00-00-learner" in data()  # the run's name and role


def test_enabled_without_wandb_names_the_field(tmp_path, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_wandb(name, *a, **k):
        if name == "wandb":
            raise ImportError("No module named 'wandb'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_wandb)
    with pytest.raises(ProtocolError, match="params.wandb.enabled.*pip install wandb"):
        WandbLog(WandbConfig(enabled=True), tmp_path, "actor", source="run.json")
