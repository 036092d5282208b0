"""The learner <-> actor link over ZeroMQ (pyzmq), in :mod:`.wire` frames.

Learner (:class:`LearnerServer`), bound on ``host`` (127.0.0.1 by default) at ports it picks
itself (``bind_to_random_port``: two runs on one box never collide):

- PULL ``transitions``: batches pushed by actors, handed to ``on_transitions``;
- REP ``requests``: ``hello`` / ``heartbeat`` / ``done``, answered by ``on_request``;
- PUB ``weights`` (``CONFLATE``: only the newest frame waits to be sent, so a burst never
  drops the newest), published from the training thread.

A service thread polls PULL and REP; the PUB socket belongs to the caller's thread (ZeroMQ
sockets are not thread-safe, so each socket has one owner). A frame that does not decode (a
stranger, garbage, another protocol version) is refused: logged, counted in ``refused``, and on
REP answered with an ``error`` or ``refused`` reply, never acted upon.

Actor (:class:`LearnerLink`): PUSH (with ``IMMEDIATE``, so nothing queues towards a learner that
is gone: the actor keeps its own bounded queue), SUB with ``CONFLATE`` (only the newest weights
are kept), REQ for requests (with a timeout: a learner that does not answer is gone).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple

from .wire import Message, VersionMismatch, WireError, decode, encode

REQUEST_KINDS = ("hello", "heartbeat", "done")
REPLY_KINDS = ("welcome", "refused", "status", "error")
PORT_NAMES = ("transitions", "weights", "requests")
REFUSALS_LOGGED = 10   # then one line per 100 refusals

RequestHandler = Callable[[Message], Tuple[str, Dict[str, Any]]]


def _zmq() -> Any:
    import zmq

    return zmq


class LearnerServer(object):
    def __init__(self, host: str, on_request: RequestHandler,
                 on_transitions: Callable[[Message], None],
                 say: Callable[[str], None] = lambda s: None):
        zmq = _zmq()
        self.on_request = on_request
        self.on_transitions = on_transitions
        self.say = say
        self.refused = 0
        self.last_refusal = ""
        self.received = 0
        self.ctx = zmq.Context()
        self.pull = self.ctx.socket(zmq.PULL)
        self.pub = self.ctx.socket(zmq.PUB)
        self.rep = self.ctx.socket(zmq.REP)
        self.pub.setsockopt(zmq.CONFLATE, 1)  # a burst never drops the newest weights
        for s in (self.pull, self.pub, self.rep):
            s.setsockopt(zmq.LINGER, 0)
        addr = "tcp://" + (("[%s]" % host) if ":" in host else host)
        if ":" in host:
            for s in (self.pull, self.pub, self.rep):
                s.setsockopt(zmq.IPV6, 1)
        self.ports = {"transitions": self.pull.bind_to_random_port(addr),
                      "weights": self.pub.bind_to_random_port(addr),
                      "requests": self.rep.bind_to_random_port(addr)}
        self._stop = threading.Event()
        self._thread = None  # type: Optional[threading.Thread]
        self.error = None  # type: Optional[BaseException]

    def start(self) -> "LearnerServer":
        self._thread = threading.Thread(target=self._serve, name="serl-learner-io",
                                        daemon=True)
        self._thread.start()
        return self

    def publish(self, frame: bytes) -> bool:
        """Send one weights frame to every subscribed actor (caller's thread only)."""
        zmq = _zmq()
        try:
            self.pub.send(frame, zmq.NOBLOCK)
            return True
        except zmq.Again:
            return False

    def _refuse(self, what: str, why: str) -> None:
        self.refused += 1
        self.last_refusal = "%s: %s" % (what, why)
        if self.refused <= REFUSALS_LOGGED or self.refused % 100 == 0:
            self.say("refused a message on the %s socket (%d so far): %s"
                     % (what, self.refused, why))

    def _serve(self) -> None:
        zmq = _zmq()
        poller = zmq.Poller()
        poller.register(self.pull, zmq.POLLIN)
        poller.register(self.rep, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                ready = dict(poller.poll(100))
                if self.rep in ready:
                    self._answer(self.rep.recv(copy=True))
                if self.pull in ready:
                    for _ in range(64):  # drain a burst, then look at requests again
                        try:
                            frame = self.pull.recv(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        self._take(frame)
        except BaseException as e:  # pragma: no cover - surfaced by the learner loop
            if not self._stop.is_set():
                self.error = e

    def _take(self, frame: bytes) -> None:
        try:
            msg = decode(frame, kinds=("transitions",))
        except WireError as e:
            self._refuse("transitions", str(e))
            return
        self.received += 1
        try:
            self.on_transitions(msg)
        except ValueError as e:  # arrays of the wrong size for this run, and the like
            self._refuse("transitions", str(e))

    def _answer(self, frame: bytes) -> None:
        try:
            msg = decode(frame, kinds=REQUEST_KINDS)
        except VersionMismatch as e:
            self._refuse("requests", str(e))
            reply = encode("refused", {"error": str(e)})
        except WireError as e:
            self._refuse("requests", str(e))
            reply = encode("error", {"error": str(e)})
        else:
            try:
                kind, meta = self.on_request(msg)
            except Exception as e:  # a bug must not leave the REP socket without a reply
                kind, meta = "error", {"error": "learner failed on %r: %s" % (msg.kind, e)}
                self.say("error answering %r: %r" % (msg.kind, e))
            if kind == "refused":
                self._refuse("requests", str(meta.get("error")))
            reply = encode(kind, meta)
        self.rep.send(reply)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for s in (self.pull, self.pub, self.rep):
            s.close(linger=0)
        self.ctx.term()


class LinkTimeout(Exception):
    """The learner did not answer in time."""


class LearnerLink(object):
    """The actor's three sockets towards one learner (one life of it: reconnecting after the
    learner restarts means a new link, to the new ports)."""

    def __init__(self, addresses: Dict[str, str]):
        zmq = _zmq()
        self.ctx = zmq.Context()
        self.push_sock = self.ctx.socket(zmq.PUSH)
        self.push_sock.setsockopt(zmq.IMMEDIATE, 1)
        self.push_sock.setsockopt(zmq.SNDHWM, 64)
        self.sub_sock = self.ctx.socket(zmq.SUB)
        self.sub_sock.setsockopt(zmq.CONFLATE, 1)       # before connect: keep the newest only
        self.sub_sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.req_sock = self.ctx.socket(zmq.REQ)
        for s in (self.push_sock, self.sub_sock, self.req_sock):
            s.setsockopt(zmq.LINGER, 0)
        self.push_sock.connect(addresses["transitions"])
        self.sub_sock.connect(addresses["weights"])
        self.req_sock.connect(addresses["requests"])
        self._pending_since = None  # type: Optional[float]

    def request(self, kind: str, meta: Dict[str, Any], timeout: float) -> Message:
        """Send a request and wait for the reply; :class:`LinkTimeout` when none comes."""
        self.send_request(kind, meta)
        deadline = time.monotonic() + timeout
        while True:
            msg = self.poll_reply(min(0.05, max(0.0, deadline - time.monotonic())))
            if msg is not None:
                return msg
            if time.monotonic() >= deadline:
                raise LinkTimeout("no reply to %r within %.1f s" % (kind, timeout))

    def send_request(self, kind: str, meta: Dict[str, Any]) -> None:
        if self._pending_since is not None:
            raise RuntimeError("a request is already waiting for its reply")
        self.req_sock.send(encode(kind, meta))
        self._pending_since = time.monotonic()

    @property
    def waiting_since(self) -> Optional[float]:
        """When the unanswered request was sent (None: nothing outstanding)."""
        return self._pending_since

    def poll_reply(self, timeout: float = 0.0) -> Optional[Message]:
        """The reply, if it has come; raises :class:`WireError` for an invalid one."""
        zmq = _zmq()
        if self._pending_since is None:
            return None
        if not self.req_sock.poll(int(timeout * 1000), zmq.POLLIN):
            return None
        frame = self.req_sock.recv()
        self._pending_since = None
        return decode(frame, kinds=REPLY_KINDS)

    def push(self, frame: bytes) -> bool:
        """Queue a transitions frame; False when no learner is connected (or it is full)."""
        zmq = _zmq()
        try:
            self.push_sock.send(frame, zmq.NOBLOCK)
            return True
        except zmq.Again:
            return False

    def recv_weights(self) -> Optional[bytes]:
        """The newest weights frame received since the last call, if any."""
        zmq = _zmq()
        try:
            return self.sub_sock.recv(zmq.NOBLOCK)
        except zmq.Again:
            return None

    def close(self, linger_s: float = 0.0) -> None:
        self.push_sock.close(linger=int(linger_s * 1000))
        self.sub_sock.close(linger=0)
        self.req_sock.close(linger=0)
        self.ctx.term()
