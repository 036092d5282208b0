"""Which filesystem a path is on: network filesystems are polled, never watched.

inotify does not see writes made by other hosts on NFS, Lustre, CIFS ... so metric tails and
checkpoint listings of runs there poll (``tui.core.metrics.watcher``, ``checkpoint_index``).
"""
from __future__ import annotations

import os
from pathlib import Path

REMOTE_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "lustre", "gpfs", "beegfs", "ceph",
    "glusterfs", "fuse.glusterfs", "fuse.sshfs", "sshfs", "9p", "afs", "panfs", "orangefs",
    "fuse.s3fs", "fuse.gcsfuse", "fuse.rclone", "fuse.juicefs", "wekafs", "fuse.cephfs",
})


def filesystem_type(path: Path | str) -> str | None:
    """The type of the filesystem holding ``path`` (from ``/proc/self/mounts``), if known."""
    try:
        with open("/proc/self/mounts", "r") as f:
            mounts = [line.split() for line in f]
    except OSError:
        return None
    p = os.path.realpath(str(path))
    best, best_len = None, -1
    for parts in mounts:
        if len(parts) < 3:
            continue
        mnt = parts[1].replace("\\040", " ")
        if (p == mnt or p.startswith(mnt.rstrip("/") + "/")) and len(mnt) > best_len:
            best, best_len = parts[2], len(mnt)
    return best


def is_remote(path: Path | str) -> bool:
    return filesystem_type(path) in REMOTE_FILESYSTEMS
