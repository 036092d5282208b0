"""The viewer side of ``.checkpoint_state.json``, shared by every player.

A play loop calls :meth:`CheckpointFollower.poll` between env steps. The follower

- re-reads the state file only when its signature (inode, size, mtime) changes; a state file
  it cannot read (garbage, too deep, too big) is reported in the ack and the policy stays;
- in *auto* mode follows the run's latest file by itself, or, for trainers that write none
  (``checkpoints.latest: newest``), the newest complete checkpoint; in *manual* mode loads the
  chosen file once per request;
- loads through the runner's ``load`` callable on a loader thread (:mod:`.loader`), so a slow
  load never stalls the env loop; :meth:`poll` returns the loaded policy at the first call after
  the load finished, and the caller swaps it in between two steps;
- refuses what must not be loaded before opening it: a path that resolves outside the run
  directory (also a symlink re-pointed after it was accepted), anything that is not a regular
  file (a FIFO would block ``open`` forever) or, for directory formats, not a directory, a file
  its format shows to be incomplete; a file written in place by a foreign trainer is loaded
  only once its size and mtime have been stable for ``stable_for`` seconds; a file that fails
  to load is refused: the current policy keeps running and the error goes into the ack;
- writes ``.viewer/<id>.json`` after every handled request and as a heartbeat.

It never imports torch itself; ``load`` does whatever the backend needs.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, Optional, Tuple, TypeVar, Union

from runners.protocol import ProtocolError
from runners.protocol.checkpoint_formats import format_for
from runners.protocol.checkpoint_layout import CheckpointLayout, CheckpointSpec, checkpoint_layout
from runners.protocol.checkpoints import FileSignature, file_signature
from runners.protocol.procs import now_iso
from runners.protocol.rundir import RunPaths
from runners.protocol.state import CheckpointState, read_state, resolve_checkpoint_path
from runners.protocol.viewer import HEARTBEAT_S, ViewerStatus, write_viewer_status

from .loader import LoadJob, Loader

T = TypeVar("T")
LoadFn = Callable[[Path], Tuple[T, Optional[int]]]  # -> (policy, step or None)

RECENT_S = 5.0        # a file younger than this that fails to load may still be being written
NEWEST_RESCAN_S = 0.25  # ``latest: newest``: the checkpoint dir is listed at most this often


@dataclass
class Loaded(Generic[T]):
    policy: T
    path: Path           # the path as requested (what the user sees)
    step: Optional[int]
    signature: FileSignature


class CheckpointFollower(Generic[T]):
    def __init__(self, run_dir: Union[str, Path], viewer_id: str, load: LoadFn,
                 display: str = "none", layout: Optional[CheckpointLayout] = None,
                 poll_interval: float = 0.002, wakeup: Optional[threading.Event] = None):
        self.run_paths = RunPaths(run_dir)
        if layout is None:
            try:
                layout = checkpoint_layout(run_dir)
            except (ProtocolError, OSError):   # no run.json (a bare run dir): the defaults
                layout = CheckpointLayout(self.run_paths.root, self.run_paths.nn_dir,
                                          CheckpointSpec())
        self.layout = layout
        self.paths = RunPaths(layout.out_dir)     # the state file and acks live here
        self.viewer_id = viewer_id
        self.latest_relpath = layout.latest_relpath
        self.atomic_writes = layout.atomic
        self.stable_for = layout.spec.stable_for if not layout.atomic else 0.3
        self.poll_interval = poll_interval
        self.loader = Loader(load, wakeup)
        self.current = None  # type: Optional[Loaded[T]]
        self.request = None  # type: Optional[CheckpointState]
        self._state_sig = None  # type: Optional[FileSignature]
        self._pending_request = True   # a request not yet acked (the implicit auto at start)
        self._failed_sig = None  # type: Optional[FileSignature]
        self._retry = None  # type: Optional[Tuple[FileSignature, float]]   (sig, not before)
        self._seen = None  # type: Optional[Tuple[FileSignature, float]]    (sig, first seen)
        self._newest = None  # type: Optional[Path]
        self._newest_at = -1.0
        self._target_error = None  # type: Optional[str]
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
        """A newly loaded policy when one is ready to be swapped in, else None. Cheap."""
        now = time.monotonic()
        done = self.loader.result()
        if not force and done is None and now - self._last_poll < self.poll_interval:
            self._heartbeat(now)
            return None
        self._last_poll = now
        self._read_state_if_changed()          # first: a load for an older request is stale
        loaded = self._finish(done) if done is not None else None
        target = self._target(now)
        if target is not None:
            self._maybe_load(target, now)
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

    def wait_for_first(self, timeout: Optional[float] = None, sleep: float = 0.02,
                       should_stop: Callable[[], bool] = lambda: False,
                       idle: Optional[Callable[[], None]] = None) -> Optional[Loaded[T]]:
        """Block until a first policy is loaded (None on timeout or when told to stop).
        ``idle`` runs between polls (e.g. keeps a window responsive)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.current is None:
            if should_stop() or (deadline is not None and time.monotonic() > deadline):
                return None
            loaded = self.poll(force=True)
            if loaded is not None:
                return loaded
            if idle is not None:
                idle()
            self.loader.wait(sleep)
        return self.current

    def note_episode(self, episode_return: float) -> None:
        self.status.episode += 1
        self.status.episode_return = float(episode_return)

    def set_extra(self, **kv: Any) -> None:
        self.status.extra.update(kv)

    def last_request_time(self) -> float:
        """When the state file was last written (Unix time; 0 when there is none)."""
        sig = self._state_sig
        return sig.mtime_ns / 1e9 if sig is not None else 0.0

    def close(self) -> None:
        self.loader.close()
        self.status.state = "stopped"
        self._ack()

    def fail(self, message: str) -> None:
        """Report a crash (state ``error``) before the process ends."""
        self.status.state = "error"
        self.status.error = message
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
        except ProtocolError as e:   # garbage, too deep, too big: keep the policy, say why
            self.status.error = "state file refused: %s" % e
            self._ack()
            return
        except Exception as e:       # whatever else a reader raises: the same
            self.status.error = "state file refused: %s: %s: %s" % (
                self.paths.state_file, type(e).__name__, e)
            self._ack()
            return
        if st is None:
            return
        if self.request is not None and (st.seq, st.last_update) == \
                (self.request.seq, self.request.last_update):
            return
        if st.mode == "manual":
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
        self._target_error = None
        self.status.mode = st.mode

    def _target(self, now: float) -> Optional[Path]:
        """The path to show: the manual choice, else the layout's latest (or newest)."""
        st = self.request
        try:
            if st is not None and st.mode == "manual":
                raw = st.checkpoint_path  # type: Optional[str]
            elif not self.layout.spec.follows_newest:
                raw = self.latest_relpath
            else:
                if self._newest is None or now - self._newest_at >= NEWEST_RESCAN_S:
                    self._newest_at = now
                    self._newest = self.layout.auto_target()
                raw = str(self._newest) if self._newest is not None else None
            target = resolve_checkpoint_path(self.paths.root, raw) if raw else None
            self._target_error = None
            return target
        except ProtocolError as e:
            # e.g. a symlink re-pointed outside the run after it was accepted
            why = str(e)
            if why != self._target_error:
                self._target_error = why
                self._refuse_text(why)
            return None

    def _waiting_on(self, target: Path) -> bool:
        """True while a request cannot be answered yet (file missing, unstable, loading)."""
        if self.loader.busy_with(target):
            return True
        sig = file_signature(target)
        if sig is None:
            return self.current is None
        if self.current is not None and self.current.path == target and \
                self.current.signature == sig:
            return False
        return self._retry is not None or (not self.atomic_writes and sig != self._failed_sig)

    def _maybe_load(self, target: Path, now: float) -> None:
        sig = file_signature(target)
        manual = self.request is not None and self.request.mode == "manual"
        if sig is None:
            if manual and self._pending_request:
                self._refuse(target, "file does not exist")
                self._pending_request = False
            return
        cur = self.current
        if cur is not None and cur.path == target and cur.signature == sig:
            return  # already showing exactly this
        if cur is not None and manual and cur.path == target and not self._pending_request:
            return  # pinned: a manual choice is not reloaded when the file changes
        if sig == self._failed_sig or self.loader.busy_with(target, sig):
            return  # refused before (wait for a change), or being loaded now
        if self._retry is not None and self._retry[0] == sig and now < self._retry[1]:
            return
        fmt = self.layout.spec.checkpoint_format if self.layout.spec.format else format_for(target)
        real = Path(os.path.realpath(str(target)))
        if not fmt.usable(real):
            self._refuse(target, "not a %s (a FIFO, socket or device is never opened)"
                         % ("directory" if fmt.directory else "regular file"), sig)
            return
        if not self.atomic_writes:
            if not self._stable(sig, now):
                return  # a foreign trainer may still be writing it in place
            if fmt.complete(real) is False:
                return  # visibly incomplete (no zip directory, no pickle STOP): wait
        self.loader.submit(LoadJob(target, real, sig, self.request.seq if self.request else 0))

    def _finish(self, job: LoadJob) -> Optional[Loaded[T]]:
        """A load ended: swap it in (returned) unless superseded, or refuse the file."""
        now = time.monotonic()
        seq = self.request.seq if self.request is not None else 0
        if job.seq != seq:
            return None   # a newer request came meanwhile; it is handled on its own
        if job.error is not None:
            age = time.time() - job.signature.mtime_ns / 1e9
            if age < RECENT_S and (self._retry is None or self._retry[0] != job.signature):
                # maybe still being written in place: one more try once it has settled
                self._retry = (job.signature, now + self.stable_for)
                return None
            self._retry = None
            self._refuse(job.path, job.error, job.signature)
            return None
        self._retry = None
        self._failed_sig = None
        policy, step = job.value
        self.current = Loaded(policy, job.path, step, job.signature)
        self.status.state = "running"
        self.status.error = None
        self.status.checkpoint_path = str(job.path)
        self.status.checkpoint_mtime = job.signature.mtime_ns / 1e9
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
        self._refuse_text("refused %s: %s" % (target.name, why))

    def _refuse_text(self, text: str) -> None:
        self.status.error = text
        if self.request is not None:
            self.status.seq = self.request.seq
        self._pending_request = False
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
