"""Is a recorded process still the one we started?

Liveness = the pid exists, its psutil ``create_time`` equals the recorded one (a reused pid has
another), and it is not a zombie. A record from another host cannot be checked here.
"""
from __future__ import annotations

import socket

import psutil

CREATE_TIME_TOLERANCE = 0.05  # s; psutil derives create_time from clock ticks
_HOST = socket.gethostname()


def create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, ValueError):
        return None


def is_alive(pid: int, recorded_create_time: float) -> bool:
    if pid <= 0:
        return False
    try:
        p = psutil.Process(pid)
        if abs(p.create_time() - recorded_create_time) > CREATE_TIME_TOLERANCE:
            return False  # the pid was reused by another process
        return p.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, ValueError):
        return False


def is_local(host: str) -> bool:
    return not host or host == _HOST
