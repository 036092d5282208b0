"""A real single-node Slurm for the tests: ``scripts/slurm_local.sh`` in a temp directory.

munged, mariadbd + slurmdbd (for sacct), slurmctld and slurmd run as root with their state,
sockets and logs under the directory, on free ports (two test sessions on one machine don't
collide). Without root the daemons cannot be started: the Slurm tests skip and say so.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "slurm_local.sh"
DAEMONS = ("munged", "slurmctld", "slurmd", "slurmdbd", "mariadbd", "sbatch")


@dataclass
class Cluster:
    base: Path
    conf: Path
    up_log: str

    def env(self) -> dict[str, str]:
        return dict(os.environ, SLURM_CONF=str(self.conf))


def skip_reason() -> str | None:
    """Why this machine cannot run the Slurm tests (None: it can)."""
    if os.geteuid() != 0:
        return ("the Slurm tests start their own single-node Slurm (munged, slurmctld, slurmd, "
                "slurmdbd, mariadb), which needs root; run them as root on Debian 12, where "
                "scripts/setup.sh installs the packages")
    if shutil.which("apt-get") is None and any(_which(d) is None for d in DAEMONS):
        return "Slurm is not installed and there is no apt-get to install it: %s" % ", ".join(
            d for d in DAEMONS if _which(d) is None)
    return None


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin")


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def start_cluster(base: Path | None = None) -> Cluster:
    """``base`` default: a fresh directory in /tmp. munged wants every directory above its
    socket searchable by all, which pytest's own temp directories (0700) are not."""
    if base is None:
        base = Path(tempfile.mkdtemp(prefix="pitwall-slurm-", dir="/tmp"))
        os.chmod(base, 0o755)
    ctld, slurmd, dbd, db = free_ports(4)
    env = dict(os.environ, CTLD_PORT=str(ctld), SLURMD_PORT=str(slurmd), DBD_PORT=str(dbd),
               DB_PORT=str(db), INSTALL="1",
               PATH=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    out = subprocess.run(["bash", str(SCRIPT), "up", str(base)], env=env, capture_output=True,
                         text=True, timeout=600)
    if out.returncode != 0:
        subprocess.run(["bash", str(SCRIPT), "down", str(base)], env=env, capture_output=True,
                       timeout=120)
        raise RuntimeError("scripts/slurm_local.sh up failed (%d):\n%s\n%s"
                           % (out.returncode, out.stdout, out.stderr))
    return Cluster(base, base / "etc" / "slurm.conf", out.stdout)


def stop_cluster(cluster: Cluster, timeout: float = 60.0) -> None:
    """Cancel every job, wait for them to end, then stop the daemons."""
    env = cluster.env()
    user = pwd.getpwuid(os.geteuid()).pw_name
    subprocess.run(["scancel", "--user=%s" % user], env=env, capture_output=True, timeout=60)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        q = subprocess.run(["squeue", "-h", "-o", "%i"], env=env, capture_output=True,
                           text=True, timeout=60)
        if q.returncode != 0 or not q.stdout.strip():
            break
        time.sleep(0.5)
    subprocess.run(["bash", str(SCRIPT), "down", str(cluster.base)], env=env,
                   capture_output=True, timeout=120)
    if cluster.base.name.startswith("pitwall-slurm-"):
        shutil.rmtree(cluster.base, ignore_errors=True)
