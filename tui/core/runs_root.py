"""Where runs live: ``--root``, else ``$PITWALL_ROOT``, else ``./runs``."""
from __future__ import annotations

import os
from pathlib import Path


def default_runs_root() -> Path:
    return Path(os.environ.get("PITWALL_ROOT") or "runs").absolute()
