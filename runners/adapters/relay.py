"""``python -m runners.adapters.relay --run-dir RUN_DIR``: auto mode for viewers that are not
Pitwall's.

A viewer of the user's own (the seed's ``train_play.py`` play mode, any script that reads the
state file) reads only ``checkpoint_path`` and ``last_update`` of ``.checkpoint_state.json`` and
reloads only when ``last_update`` changes; it never follows the trainer by itself. For every
profile whose ``play`` is such a program, the launch adds this process as an ``aux`` role (it
works with no control center alive). It does three things:

1. **discovery** — when the profile has ``output_discovery``, finds the trainer's output
   directory and records it in ``artifacts.json`` (``output_discovery``);
2. **auto relay** — while the state file is in auto mode (or there is none yet), rewrites it
   with the newer checkpoint's path and a new ``last_update`` each time one is complete: the
   profile's latest file (``checkpoints.latest``) rewritten, or, with ``latest: newest``, a newer
   numbered file. *Complete* means: size and mtime unchanged for ``relay.stable_for`` seconds,
   and its format does not show it unfinished (a zip without its central directory, a pickle
   without its STOP opcode). A manual choice is never overwritten (read-check-write under the
   state file's lock);
3. **kick** (``relay.kick_after``, the seed's start kick) — when a viewer starts, re-announces
   the current state at those seconds after its start, so a viewer that only compares
   ``last_update`` with the value it read at start loads something instead of running its
   random start policy.

It exits 0 when the training roles have ended and no viewer of the run is alive (after
``relay.grace`` seconds), and at once on SIGINT/SIGTERM.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from runners.protocol import (CheckpointState, FileSignature, ProtocolError, RunRecord,
                              file_signature, list_proc_roles, read_proc_record, read_run_record,
                              read_state, renew_state, resolve_checkpoint_path, write_state)
from runners.protocol.adapter_specs import RelaySpec
from runners.protocol.checkpoint_layout import CheckpointLayout, checkpoint_layout
from runners.protocol.checkpoint_formats import format_for

from .output_discovery import DiscoverySpec, discovery_spec, record_output_dir, scanner

TOOL = "pitwall-relay"


def _alive(pid: int, create_time: float) -> bool:
    try:
        import psutil

        p = psutil.Process(pid)
        return p.status() != psutil.STATUS_ZOMBIE and \
            (not create_time or abs(p.create_time() - create_time) < 0.01)
    except Exception:
        return False


def announce(out_dir: Path, checkpoint: str) -> Optional[CheckpointState]:
    """Auto mode (or no state yet): point the state at ``checkpoint`` with a new
    ``last_update``. None when the state is manual (or unreadable): a user's choice is never
    overwritten."""
    return write_state(out_dir, "auto", checkpoint, tool=TOOL, require_exists=False,
                       only_if_auto=True)


def reannounce(out_dir: Path, checkpoint: Optional[str]) -> Optional[CheckpointState]:
    """Same mode and checkpoint, new ``last_update`` (a seed-style viewer then loads it)."""
    renewed = renew_state(out_dir, tool=TOOL)
    if renewed is not None:
        return renewed
    try:
        if read_state(out_dir) is not None:
            return None  # a state whose checkpoint is gone: nothing to announce
    except ProtocolError:
        return None
    if checkpoint is None or not resolve_checkpoint_path(out_dir, checkpoint).exists():
        return None
    return announce(out_dir, checkpoint)


class CheckpointWatcher(object):
    """Tells when a newer checkpoint is complete, once per version: the layout's latest file
    (written in place), or the newest complete checkpoint (``latest: newest``)."""

    def __init__(self, layout: CheckpointLayout, stable_for: float = 0.5, max_wait: float = 3.0):
        self.layout = layout
        self.stable_for = stable_for
        # a trainer that rewrites its file faster than ``stable_for`` (tiny nets, fast epochs)
        # never leaves it still: after ``max_wait`` s of changes, a complete file will do
        self.max_wait = max_wait
        self._changing_since = None  # type: Optional[float]
        self.done = None  # type: Optional[Tuple[Path, FileSignature]]   already announced
        self._seen = None  # type: Optional[Tuple[Path, FileSignature, float]]
        self._bad = None  # type: Optional[Tuple[Path, FileSignature]]
        self._skip_announced()

    def candidate(self) -> Optional[Path]:
        return self.layout.latest_path if not self.layout.spec.follows_newest else \
            self.layout.auto_target()

    def _skip_announced(self) -> None:
        """At start: a checkpoint older than the state's ``last_update`` was announced."""
        path = self.candidate()
        sig = file_signature(path) if path is not None else None
        try:
            st = read_state(self.layout.out_dir)
        except ProtocolError:
            st = None
        if sig is None or st is None or path is None:
            return
        try:
            written = _dt.datetime.fromisoformat(st.last_update).timestamp()
        except ValueError:
            return
        if written >= sig.mtime_ns / 1e9:
            self.done = (path, sig)

    def poll(self, now: Optional[float] = None) -> Optional[Path]:
        """The path of a newly completed checkpoint, else None."""
        now = time.monotonic() if now is None else now
        path = self.candidate()
        sig = file_signature(path) if path is not None else None
        if path is None or sig is None or (path, sig) == self.done or (path, sig) == self._bad:
            return None
        if self._changing_since is None:
            self._changing_since = now
        overdue = now - self._changing_since >= self.max_wait
        if self._seen is None or self._seen[:2] != (path, sig):
            self._seen = (path, sig, now)
            if time.time() - sig.mtime_ns / 1e9 < self.stable_for and not overdue:
                return None        # just written: wait for it to settle
        elif now - self._seen[2] < self.stable_for and not overdue:
            return None
        fmt = self.layout.spec.checkpoint_format if self.layout.spec.format else format_for(path)
        if fmt.complete(path) is False:
            if not overdue:
                self._bad = (path, sig)   # half written: wait for the next change
            return None
        if overdue and file_signature(path) != sig:
            return None            # changed while we looked: try again on the next pass
        self.done = (path, sig)
        self._changing_since = None
        return path


class Relay(object):
    def __init__(self, run_dir: Path, spec: Optional[RelaySpec] = None,
                 say: Callable[[str], None] = print):
        self.run_dir = Path(run_dir).absolute()
        self.record = read_run_record(self.run_dir)  # type: RunRecord
        self.spec = spec or RelaySpec.from_dict(self.record.profile.get("relay"))
        self.discovery = discovery_spec(self.run_dir, self.record)  # type: Optional[DiscoverySpec]
        self.scanner = scanner(self.discovery) if self.discovery is not None else None
        self.train_roles = [p.role for p in self.record.processes if p.kind == "train"]
        self.say = say
        self.layout = None  # type: Optional[CheckpointLayout]
        self.watcher = None  # type: Optional[CheckpointWatcher]
        self.kicks = {}  # type: Dict[Tuple[str, str], List[float]]  (viewer, started) -> due
        self._idle_since = None  # type: Optional[float]
        self._mode_note = ""

    # ------------------------------------------------------------------ one pass
    def step(self) -> None:
        self._discover()
        if self.watcher is not None and self.spec.enabled:
            self._relay()
            self._kick_viewers()

    def _discover(self) -> None:
        if self.scanner is None:
            if self.layout is None:
                self._use_out_dir(self.run_dir)
            return
        found = self.scanner.poll()
        if found is not None and (self.layout is None or found != self.layout.out_dir):
            assert self.discovery is not None
            record_output_dir(self.run_dir, found, self.discovery)
            self.say("output directory: %s" % found)
            self._use_out_dir(found)

    def _use_out_dir(self, out: Path) -> None:
        self.layout = checkpoint_layout(self.run_dir, self.record.profile, out_dir=out)
        self.watcher = CheckpointWatcher(self.layout, self.spec.stable_for, self.spec.max_wait)

    def _relay(self) -> None:
        assert self.watcher is not None and self.layout is not None
        path = self.watcher.poll()
        if path is None:
            return
        st = announce(self.layout.out_dir, str(path))
        if st is None:
            note = "state is manual (or unreadable): not following it"
            if note != self._mode_note:
                self.say("new %s; %s" % (path.name, note))
            self._mode_note = note
            return
        self._mode_note = ""
        self.say("new %s complete: state rewritten, seq %d, last_update %s"
                 % (path.name, st.seq, st.last_update))

    def _viewers(self) -> List[Any]:
        known = {p.role for p in self.record.processes}
        out = []
        for role in list_proc_roles(self.run_dir):
            if role in known:
                continue
            try:
                rec = read_proc_record(self.run_dir, role)
            except Exception:
                continue
            if rec is not None and rec.kind == "viewer":
                out.append(rec)
        return out

    def _kick_viewers(self) -> None:
        assert self.layout is not None and self.watcher is not None
        if not self.spec.kick_after:
            return
        now = time.time()
        for rec in self._viewers():
            key = (rec.role, rec.started_at)
            if key not in self.kicks:
                if rec.ended:
                    self.kicks[key] = []
                    continue
                try:
                    t0 = _dt.datetime.fromisoformat(rec.started_at).timestamp()
                except ValueError:
                    t0 = now
                self.kicks[key] = [t0 + d for d in sorted(self.spec.kick_after)]
            due = [t for t in self.kicks[key] if t <= now]
            if not due:
                continue
            self.kicks[key] = [t for t in self.kicks[key] if t > now]
            if rec.ended or not _alive(rec.pid, rec.create_time):
                self.kicks[key] = []
                continue
            target = self.watcher.candidate()
            st = reannounce(self.layout.out_dir, str(target) if target is not None else None)
            if st is not None:
                self.say("%s started at %s: state re-announced for it (%s, seq %d)"
                         % (rec.role, rec.started_at, st.mode, st.seq))

    # ------------------------------------------------------------------ lifetime
    def finished(self) -> bool:
        """The training roles have ended and no viewer is alive, for ``grace`` seconds."""
        busy = False
        for role in self.train_roles:
            try:
                rec = read_proc_record(self.run_dir, role)
            except Exception:
                rec = None
            busy = busy or rec is None or not rec.ended
        if not busy:
            busy = any(not v.ended and _alive(v.pid, v.create_time) for v in self._viewers())
        if busy:
            self._idle_since = None
            return False
        now = time.monotonic()
        if self._idle_since is None:
            self._idle_since = now
        return now - self._idle_since >= self.spec.grace

    def run(self, stop: Callable[[], bool]) -> int:
        self.say("relay for %s: discovery %s, auto mode follows %s"
                 % (self.run_dir.name, "from %s" % self.discovery.role if self.discovery
                    else "off (the run dir is the output dir)",
                    "the newest checkpoint" if self._follows_newest() else "the latest file"))
        while not stop():
            self.step()
            if self.finished():
                self.step()   # a last checkpoint written just before the trainer ended
                self.say("training has ended and no viewer is alive: relay done")
                return 0
            time.sleep(self.spec.poll)
        self.say("stopped")
        return 0

    def _follows_newest(self) -> bool:
        return self.layout is not None and self.layout.spec.follows_newest


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m runners.adapters.relay",
                                 description="Output-dir discovery, auto-mode state rewrites and "
                                             "viewer kicks for trainers and viewers that are not "
                                             "Pitwall's (settings: the profile's relay field).")
    ap.add_argument("--run-dir", required=True, type=Path)
    a = ap.parse_args(argv)
    stopped = []  # type: List[int]

    def on_signal(signum: int, frame: object) -> None:
        stopped.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        pass
    try:
        relay = Relay(a.run_dir)
    except (ProtocolError, ValueError, TypeError) as e:
        print("error: %s" % e, file=sys.stderr, flush=True)
        return 2
    return relay.run(lambda: bool(stopped))


if __name__ == "__main__":
    sys.exit(main())
