"""``endpoints/<role>.json``: where a role that serves sockets can be reached.

A process that listens (the SERL learner) picks free ports itself, so two runs on one box never
collide, and records them here; its peers (the actor) read the file to connect, and read it
again whenever they lose the connection (a restarted learner has new ports)::

    {"format": "pitwall.endpoints/1", "role": "learner", "host": "127.0.0.1",
     "ports": {"transitions": 40121, "weights": 40122, "requests": 40123},
     "protocol": "pitwall.serl/1", "session": "9f2c41d07a3be815", "pid": 4242,
     "hostname": "gpu3", "state": "running", "started_at": "2026-11-21T10:00:00.000+01:00",
     "updated_at": "2026-11-21T10:00:00.000+01:00"}

``protocol`` names the message protocol spoken on the ports (a peer that speaks another refuses
to connect, with a message saying both). ``session`` is random for each start of the process,
so a peer can tell a restarted server from the one it knew. ``state`` is ``running`` while the
process serves, ``finished`` after it ended its work (its peers may end too) and ``stopped``
after a stop request (peers wait: it may be restarted). A process killed with SIGKILL leaves
``running`` behind; peers find out by their own timeouts. Written atomically.
"""
from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Optional, Union

from .atomic import atomic_write_json, read_json_object
from .errors import ProtocolError
from .fields import field as get
from .procs import now_iso
from .rundir import check_role_name

ENDPOINTS_FORMAT = "pitwall.endpoints/1"
ENDPOINTS_DIR = "endpoints"
ENDPOINT_STATES = ("running", "finished", "stopped")


def endpoints_path(run_dir: Union[str, Path], role: str) -> Path:
    return Path(run_dir) / ENDPOINTS_DIR / ("%s.json" % check_role_name(role))


@dataclass
class Endpoints:
    role: str
    host: str
    ports: Dict[str, int]
    protocol: str
    session: str
    pid: int = field(default_factory=os.getpid)
    hostname: str = field(default_factory=socket.gethostname)
    state: str = "running"
    started_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    format: str = ENDPOINTS_FORMAT

    def address(self, name: str) -> str:
        """``tcp://host:port`` of the named port (a bracketed host for IPv6)."""
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "tcp://%s:%d" % (host, self.ports[name])

    @classmethod
    def from_dict(cls, d: Dict[str, object], path: Union[str, Path]) -> "Endpoints":
        fmt = get(d, "format", str, path)
        if fmt != ENDPOINTS_FORMAT:
            raise ProtocolError(path, "format", "expected %r, found %r (written by another "
                                "Pitwall version?)" % (ENDPOINTS_FORMAT, fmt))
        ports = get(d, "ports", dict, path)
        for k, v in ports.items():
            if isinstance(v, bool) or not isinstance(v, int) or not 0 < v < 65536:
                raise ProtocolError(path, "ports.%s" % k, "expected a TCP port (1-65535), "
                                    "found %r" % (v,))
        return cls(role=get(d, "role", str, path), host=get(d, "host", str, path),
                   ports={str(k): int(v) for k, v in ports.items()},
                   protocol=get(d, "protocol", str, path),
                   session=get(d, "session", str, path), pid=get(d, "pid", int, path),
                   hostname=get(d, "hostname", str, path, default=""),
                   state=get(d, "state", str, path, choices=ENDPOINT_STATES),
                   started_at=get(d, "started_at", str, path, default=""),
                   updated_at=get(d, "updated_at", str, path, default=""), format=fmt)


def write_endpoints(run_dir: Union[str, Path], ep: Endpoints) -> Path:
    if ep.state not in ENDPOINT_STATES:
        raise ValueError("endpoints state must be one of %s, found %r"
                         % (", ".join(ENDPOINT_STATES), ep.state))
    path = endpoints_path(run_dir, ep.role)
    ep.updated_at = now_iso()
    atomic_write_json(path, asdict(ep))
    return path


def read_endpoints(run_dir: Union[str, Path], role: str) -> Optional[Endpoints]:
    """The role's endpoints, or None while it has written none; a damaged file raises
    :class:`ProtocolError` naming it and the field."""
    path = endpoints_path(run_dir, role)
    obj = read_json_object(path, missing_ok=True)
    return None if obj is None else Endpoints.from_dict(obj, path)


__all__ = ["ENDPOINTS_DIR", "ENDPOINTS_FORMAT", "ENDPOINT_STATES", "Endpoints",
           "endpoints_path", "read_endpoints", "write_endpoints"]
