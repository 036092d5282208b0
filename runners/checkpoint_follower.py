"""The viewer side of ``.checkpoint_state.json``, shared by every runner's ``play``.

A play loop calls :meth:`CheckpointFollower.poll` between env steps. The follower

- re-reads the state file only when its signature (inode, size, mtime) changes;
- in *auto* mode follows the run's latest file by itself (a new ``latest.pth`` is loaded as soon
  as it is complete), in *manual* mode loads the chosen file once per request;
- loads through the runner's ``load`` callable; a file written in place by a foreign trainer is
  loaded only once its size and mtime have been stable for ``stable_for`` seconds; a file that
  fails to load is refused: the current policy keeps running and the error goes into the ack;
- writes ``.viewer/<id>.json`` after every handled request and as a heartbeat.

It never imports torch itself; ``load`` does whatever the backend needs.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, Optional, Tuple, TypeVar, Union

from .protocol.checkpoints import FileSignature, file_signature
from .protocol.errors import ProtocolError
from .protocol.procs import now_iso
from .protocol.rundir import RunPaths
from .protocol.state import DEFAULT_LATEST, CheckpointState, read_state, resolve_checkpoint_path
from .protocol.viewer import HEARTBEAT_S, ViewerStatus, write_viewer_status

T = TypeVar("T")
LoadFn = Callable[[Path], Tuple[T, Optional[int]]]  # -> (policy, step or None)

RECENT_S = 5.0  # a file younger than this that fails to load may still be being written


@dataclass
class Loaded(Generic[T]):
    policy: T
    path: Path
    step: Optional[int]
    signature: FileSignature


class CheckpointFollower(Generic[T]):
    def __init__(self, run_dir: Union[str, Path], viewer_id: str, load: LoadFn,
                 display: str = "none", latest_relpath: str = DEFAULT_LATEST,
                 atomic_writes: bool = True, poll_interval: float = 0.03,
                 stable_for: float = 0.3):
        self.paths = RunPaths(run_dir)
        self.viewer_id = viewer_id
        self._load = load
        self.latest_relpath = latest_relpath
        self.atomic_writes = atomic_writes
        self.poll_interval = poll_interval
        self.stable_for = stable_for
        self.current: Optional[Loaded[T]] = None
        self.request: Optional[CheckpointState] = None
        self._state_sig: Optional[FileSignature] = None
        self._pending_request = True       # a request not yet acked (the implicit auto at start)
        self._failed_sig: Optional[FileSignature] = None
        self._retry: Optional[Tuple[FileSignature, float]] = None  # (sig, not before)
        self._seen: Optional[Tuple[FileSignature, float]] = None   # (sig, first seen)
        self._last_poll = 0.0
        self._last_ack = 0.0
        try:
            import psutil  # optional here; lets the control center tell a reused pid apart

            ct = psutil.Process(os.getpid()).create_time()
        except Exception:
            ct = 0.0
        self.status = ViewerStatus(id=viewer_id, pid=os.getpid(), state="starting",
                                   display=display, create_time=ct)
        self._ack()

    # ------------------------------------------------------------------ public
    def poll(self, force: bool = False) -> Optional[Loaded[T]]:
        """Return a newly loaded policy when one was swapped in, else None. Cheap to call."""
        now = time.monotonic()
        if not force and now - self._last_poll < self.poll_interval:
            self._heartbeat(now)
            return None
        self._last_poll = now
        self._read_state_if_changed()
        target = self._target()
        loaded = None
        if target is not None:
            loaded = self._maybe_load(target)
        if self._pending_request and target is not None and not self._waiting_on(target):
            # answered without a load (e.g. the request names what is already shown)
            self._pending_request = False
            if self.request is not None:
                self.status.seq = self.request.seq
                self.status.mode = self.request.mode
            if self.current is not None and self.current.path == target:
                self.status.error = None
            self._ack()
        elif self.current is None and self.status.state == "starting":
            self.status.state = "waiting"
            self._ack()
        self._heartbeat(now)
        return loaded

    def wait_for_first(self, timeout: Optional[float] = None, sleep: float = 0.05,
                       should_stop: Callable[[], bool] = lambda: False) -> Optional[Loaded[T]]:
        """Block until a first policy is loaded (None on timeout or when told to stop)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.current is None:
            if should_stop() or (deadline is not None and time.monotonic() > deadline):
                return None
            self.poll(force=True)
            if self.current is None:
                time.sleep(sleep)
        return self.current

    def note_episode(self, episode_return: float) -> None:
        self.status.episode += 1
        self.status.episode_return = float(episode_return)

    def set_extra(self, **kv: Any) -> None:
        self.status.extra.update(kv)

    def close(self) -> None:
        self.status.state = "stopped"
        self._ack()

    # ------------------------------------------------------------------ internals
    def _read_state_if_changed(self) -> None:
        sig = file_signature(self.paths.state_file)
        if sig == self._state_sig:
            return
        self._state_sig = sig
        if sig is None:
            return  # no state file: default auto (or keep the last request)
        try:
            st = read_state(self.paths.root)
        except ProtocolError as e:
            self.status.error = "state file refused: %s" % e
            self._ack()
            return
        if st is None:
            return
        if self.request is not None and (st.seq, st.last_update) == \
                (self.request.seq, self.request.last_update):
            return
        try:
            resolve_checkpoint_path(self.paths.root, st.checkpoint_path)
        except ProtocolError as e:
            self.status.error = str(e)
            self.status.seq = st.seq
            self._ack()
            return
        self.request = st
        self._pending_request = True
        self._failed_sig = None
        self._retry = None
        self.status.mode = st.mode

    def _target(self) -> Optional[Path]:
        st = self.request
        if st is None:
            return resolve_checkpoint_path(self.paths.root, self.latest_relpath)
        return resolve_checkpoint_path(self.paths.root, st.checkpoint_path)

    def _waiting_on(self, target: Path) -> bool:
        """True while a request cannot be answered yet (file missing or not yet stable)."""
        sig = file_signature(target)
        if sig is None:
            return self.current is None
        if self.current is not None and self.current.path == target and \
                self.current.signature == sig:
            return False
        return self._retry is not None or (not self.atomic_writes and sig != self._failed_sig)

    def _maybe_load(self, target: Path) -> Optional[Loaded[T]]:
        sig = file_signature(target)
        if sig is None:
            if self.request is not None and self.request.mode == "manual" and self._pending_request:
                self._refuse(target, "file does not exist")
                self._pending_request = False
            return None
        manual = self.request is not None and self.request.mode == "manual"
        cur = self.current
        if cur is not None and cur.path == target and cur.signature == sig:
            return None  # already showing exactly this
        if cur is not None and manual and cur.path == target and not self._pending_request:
            return None  # pinned: a manual choice is not reloaded when the file changes
        if sig == self._failed_sig:
            return None  # refused before; wait for the file to change
        now = time.monotonic()
        if self._retry is not None and self._retry[0] == sig and now < self._retry[1]:
            return None
        if not self.atomic_writes and not self._stable(sig, now):
            return None  # a foreign trainer may still be writing it in place
        try:
            policy, step = self._load(target)
        except Exception as e:  # the runner's loader raises for any bad file
            age = time.time() - sig.mtime_ns / 1e9
            if age < RECENT_S and (self._retry is None or self._retry[0] != sig):
                # maybe still being written in place: one more try once it has settled
                self._retry = (sig, now + self.stable_for)
                return None
            self._retry = None
            self._refuse(target, str(e), sig)
            return None
        self._retry = None
        self._failed_sig = None
        self.current = Loaded(policy, target, step, sig)
        self.status.state = "running"
        self.status.error = None
        self.status.checkpoint_path = str(target)
        self.status.checkpoint_mtime = sig.mtime_ns / 1e9
        self.status.checkpoint_step = step
        self.status.loaded_at = now_iso()
        if self.request is not None:
            self.status.seq = self.request.seq
            self.status.mode = self.request.mode
        self._pending_request = False
        self._ack()
        return self.current

    def _stable(self, sig: FileSignature, now: float) -> bool:
        """Unchanged for ``stable_for`` s: by its mtime, or (clock skew on NFS) by our watch."""
        if time.time() - sig.mtime_ns / 1e9 >= self.stable_for:
            return True
        if self._seen is None or self._seen[0] != sig:
            self._seen = (sig, now)
            return False
        return now - self._seen[1] >= self.stable_for

    def _refuse(self, target: Path, why: str, sig: Optional[FileSignature] = None) -> None:
        self._failed_sig = sig
        self.status.error = "refused %s: %s" % (target.name, why)
        if self.request is not None:
            self.status.seq = self.request.seq
        self.status.state = "running" if self.current is not None else "error"
        self._ack()

    def _heartbeat(self, now: float) -> None:
        if now - self._last_ack >= HEARTBEAT_S:
            self._ack()

    def _ack(self) -> None:
        self._last_ack = time.monotonic()
        try:
            write_viewer_status(self.paths.root, self.status)
        except OSError:
            pass  # run dir gone or disk full: the viewer keeps showing what it has
