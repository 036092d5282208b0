"""Weights & Biases logging, when the user turns it on (``wandb.enabled=true``).

wandb is optional (``pip install wandb``); ``wandb.mode`` is ``offline`` by default (files under
``<run dir>/wandb``, ``wandb sync`` uploads them later), ``online`` to stream. The learner and
the actor each make one W&B run, grouped under the Pitwall run's name, with the role as the job
type, as the seed logs both sides.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Union

from runners.protocol import ProtocolError

from .config import WandbConfig


class WandbLog(object):
    def __init__(self, cfg: WandbConfig, run_dir: Union[str, Path], role: str,
                 config: Optional[Dict[str, Any]] = None,
                 source: Union[str, Path] = "run.json"):
        self.run = None  # type: Any
        if not cfg.enabled:
            return
        try:
            import wandb
        except ImportError:
            raise ProtocolError(source, "params.wandb.enabled", "is true but wandb is not "
                                "installed in this environment (pip install wandb)")
        run_dir = Path(run_dir)
        self.run = wandb.init(project=cfg.project, entity=cfg.entity or None, mode=cfg.mode,
                              dir=str(run_dir), group=run_dir.name, job_type=role,
                              name="%s-%s" % (run_dir.name, role), config=config or {},
                              reinit=True)

    def log(self, step: int, metrics: Dict[str, float]) -> None:
        if self.run is not None and metrics:
            self.run.log(dict(metrics), step=int(step))

    def close(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None
