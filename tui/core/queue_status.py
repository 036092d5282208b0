"""What the local queue says about a run's status (``procs/.queue.json``), for the registry.

``info`` is the registry's ``RunInfo`` (not imported here: the registry imports this module).
"""
from __future__ import annotations

from typing import Any

from runners.protocol import ProtocolError, read_queue_entry

from .queue_state import daemon_info, describe_needs


def apply_queue_status(info: Any) -> None:
    try:
        entry = read_queue_entry(info.path)
    except ProtocolError as e:
        info.error = str(e)
        return
    if entry is None:
        return
    if entry.state == "queued":
        info.status = "queued"
        why = entry.reason or describe_needs(entry)
        if daemon_info(info.path.parent) is None:
            why += "; no queue process: `pitwall queue --start`"
        info.detail = "queued (%s)" % why
        info.error = None
        info.exit_code = None
        for r in info.roles:
            if r.record is None:
                r.state, r.error = "queued", None
    elif entry.state == "cancelled":
        info.status = "stopped"
        info.detail = "cancelled (was queued)"
        info.error = None
        for r in info.roles:
            if r.record is None:
                r.state, r.error = "stopped", None
    elif entry.state == "failed":
        info.status = "failed"
        info.detail = "failed in the queue"
        info.error = entry.error
        for r in info.roles:
            if r.record is None:
                r.state, r.error = "failed", entry.error
    elif entry.gpu_ids and info.live:
        info.detail = "%s on GPU %s" % (info.status, ",".join(map(str, entry.gpu_ids)))
