"""Start a process that must outlive us: own session, stdin /dev/null, output to a file."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def spawn_detached(argv: list[str], log_path: Path, cwd: str | Path | None = None,
                   env: dict[str, str] | None = None) -> subprocess.Popen:
    """``Popen`` in a new session whose stdout+stderr append to ``log_path`` (never a pipe).

    The caller should ``poll()`` the returned object now and then (or let it go out of scope
    after it exits) so no zombie is left behind while the caller lives.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab", buffering=0) as log:
        return subprocess.Popen(argv, cwd=str(cwd) if cwd else None, env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)


def python_module_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    if extra:
        env.update(extra)
    return env
