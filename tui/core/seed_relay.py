"""``python -m tui.core.seed_relay --run-dir RUN_DIR``: the adapter process for the seed trainer.

The seed's IsaacGymEnvs ``train_play.py`` is run unmodified. Its play loop reads only
``checkpoint_path`` and ``last_update`` of ``.checkpoint_state.json`` and reloads only when
``last_update`` changes; it never follows ``latest.pth`` by itself, and it runs a random policy
until the state file changes. This process, started by the adapter profile as an ``aux`` role
(so it works with no control center alive), does three things:

1. **discovery** — tails ``logs/<role>.log`` for ``Training will save to: runs/<dir>`` and
   records that directory in ``artifacts.json`` (``tui.core.output_discovery``);
2. **auto relay** — while the state file is in auto mode (or there is none yet), rewrites it
   with a new ``last_update`` once each new ``nn/latest.pth`` is complete. The seed writes that
   file in place, so *complete* means: size and mtime unchanged for ``--stable-for`` seconds,
   and a whole zip archive (torch's format) when it starts like one. A manual choice is never
   overwritten: the read-check-write happens under the state file's lock;
3. **kick** — when a viewer of the run starts, re-announces the current state (same mode and
   checkpoint, new ``last_update``) at ``--kick-after`` seconds after its start, so a seed
   viewer loads something instead of running its random start policy. The seed reads the value
   it will compare against once at start, which takes as long as its env takes to come up, so
   there are several (5, 15, 30, 60 s); each makes running seed viewers reload the same file.

It exits 0 when the training role has ended and no viewer of the run is alive (after
``--grace`` seconds), and at once on SIGINT/SIGTERM.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import signal
import sys
import time
import zipfile
from pathlib import Path
from typing import Callable

from runners.protocol import (CheckpointState, FileSignature, ProtocolError, RunRecord,
                              file_signature, list_proc_roles, read_proc_record, read_run_record,
                              read_state, renew_state, resolve_checkpoint_path, write_state)

from .liveness import is_alive
from .output_discovery import LogScanner, discovery_spec, record_output_dir

TOOL = "pitwall-seed-relay"
ZIP_MAGIC = b"PK\x03\x04"


def announce_latest(out_dir: Path, latest_relpath: str) -> CheckpointState | None:
    """Auto mode (or no state yet): point the state at latest with a new ``last_update``.
    None when the state is manual (or unreadable): a user's choice is never overwritten."""
    return write_state(out_dir, "auto", latest_relpath=latest_relpath, tool=TOOL,
                       require_exists=False, only_if_auto=True)


def reannounce(out_dir: Path, latest_relpath: str) -> CheckpointState | None:
    """Same mode and checkpoint, new ``last_update`` (a seed viewer then loads it)."""
    renewed = renew_state(out_dir, tool=TOOL)
    if renewed is not None:
        return renewed
    try:
        if read_state(out_dir) is not None:
            return None  # a state whose checkpoint is gone: nothing to announce
    except ProtocolError:
        return None
    if not resolve_checkpoint_path(out_dir, latest_relpath).is_file():
        return None
    return announce_latest(out_dir, latest_relpath)


def looks_complete(path: Path) -> bool:
    """A torch zip archive is complete once its central directory is there."""
    try:
        with open(str(path), "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    if not head:
        return False
    return zipfile.is_zipfile(str(path)) if head == ZIP_MAGIC else True


class LatestWatcher(object):
    """Tells when a new ``latest.pth`` (written in place) is complete, once per version."""

    def __init__(self, out_dir: Path, latest_relpath: str, stable_for: float = 0.5,
                 max_wait: float = 3.0):
        self.out_dir = Path(out_dir)
        self.latest_relpath = latest_relpath
        self.stable_for = stable_for
        # a trainer that rewrites latest faster than ``stable_for`` (tiny nets, fast epochs)
        # never leaves it still: after ``max_wait`` s of changes, a complete archive will do
        self.max_wait = max_wait
        self._changing_since: float | None = None
        self.path = self.out_dir / latest_relpath
        self.done: FileSignature | None = None       # the version already announced
        self._seen: tuple[FileSignature, float] | None = None
        self._bad: FileSignature | None = None
        self._skip_announced()

    def _skip_announced(self) -> None:
        """At start: a latest older than the state's ``last_update`` was announced already."""
        sig = file_signature(self.path)
        try:
            st = read_state(self.out_dir)
        except ProtocolError:
            st = None
        if sig is None or st is None:
            return
        try:
            written = _dt.datetime.fromisoformat(st.last_update).timestamp()
        except ValueError:
            return
        if written >= sig.mtime_ns / 1e9:
            self.done = sig

    def poll(self, now: float | None = None) -> FileSignature | None:
        """The signature of a newly completed latest, else None."""
        now = time.monotonic() if now is None else now
        sig = file_signature(self.path)
        if sig is None or sig == self.done or sig == self._bad:
            return None
        if self._changing_since is None:
            self._changing_since = now
        overdue = now - self._changing_since >= self.max_wait
        if self._seen is None or self._seen[0] != sig:
            self._seen = (sig, now)
            if time.time() - sig.mtime_ns / 1e9 < self.stable_for and not overdue:
                return None        # just written: wait for it to settle
        elif now - self._seen[1] < self.stable_for and not overdue:
            return None
        if not looks_complete(self.path):
            if not overdue:
                self._bad = sig    # a half-written zip: wait for the next change
            return None
        if overdue and file_signature(self.path) != sig:
            return None            # changed while we looked: try again on the next pass
        self.done = sig
        self._changing_since = None
        return sig


class Relay(object):
    def __init__(self, run_dir: Path, stable_for: float = 0.5,
                 kick_after: tuple[float, ...] = (5.0, 15.0, 30.0, 60.0), grace: float = 5.0,
                 say: Callable[[str], None] = print):
        self.run_dir = Path(run_dir).absolute()
        self.record: RunRecord = read_run_record(self.run_dir)
        self.spec = discovery_spec(self.run_dir, self.record)
        self.scanner = LogScanner(self.spec) if self.spec is not None else None
        ck = self.record.profile.get("checkpoints") or {}
        self.latest_relpath = "%s/%s" % (str(ck.get("dir", "nn")).rstrip("/"),
                                          ck.get("latest", "latest.pth"))
        self.train_role = self.spec.role if self.spec is not None else \
            next((p.role for p in self.record.processes if p.kind == "train"), "train")
        self.stable_for = stable_for
        self.kick_after = tuple(sorted(kick_after))
        self.grace = grace
        self.say = say
        self.out_dir: Path | None = None
        self.watcher: LatestWatcher | None = None
        self.kicks: dict[tuple[str, str], list[float]] = {}   # (viewer, started_at) -> due times
        self._idle_since: float | None = None
        self._mode_note = ""

    # ------------------------------------------------------------------ one pass
    def step(self) -> None:
        self._discover()
        if self.watcher is not None and self.out_dir is not None:
            self._relay_latest()
            self._kick_viewers()

    def _discover(self) -> None:
        if self.scanner is None:
            if self.out_dir is None:
                self._use_out_dir(self.run_dir)
            return
        found = self.scanner.poll()
        if found is not None and found != self.out_dir:
            assert self.spec is not None
            record_output_dir(self.run_dir, found, self.spec)
            self.say("output directory: %s (from %s)" % (found, self.spec.log.name))
            self._use_out_dir(found)

    def _use_out_dir(self, out: Path) -> None:
        self.out_dir = out
        self.watcher = LatestWatcher(out, self.latest_relpath, self.stable_for)

    def _relay_latest(self) -> None:
        assert self.watcher is not None and self.out_dir is not None
        sig = self.watcher.poll()
        if sig is None:
            return
        st = announce_latest(self.out_dir, self.latest_relpath)
        if st is None:
            note = "state is manual (or unreadable): not following it"
            if note != self._mode_note:
                self.say("new %s (%d bytes); %s" % (self.latest_relpath, sig.size, note))
            self._mode_note = note
            return
        self._mode_note = ""
        self.say("new %s complete (%d bytes): state rewritten, seq %d, last_update %s"
                 % (self.latest_relpath, sig.size, st.seq, st.last_update))

    def _viewers(self) -> list:
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
        assert self.out_dir is not None
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
                self.kicks[key] = [t0 + d for d in self.kick_after]
            due = [t for t in self.kicks[key] if t <= now]
            if not due:
                continue
            self.kicks[key] = [t for t in self.kicks[key] if t > now]
            if rec.ended or not is_alive(rec.pid, rec.create_time):
                self.kicks[key] = []
                continue
            st = reannounce(self.out_dir, self.latest_relpath)
            if st is not None:
                self.say("%s started at %s: state re-announced for it (%s, seq %d)"
                         % (rec.role, rec.started_at, st.mode, st.seq))

    # ------------------------------------------------------------------ lifetime
    def finished(self) -> bool:
        """The training role has ended and no viewer is alive, for ``grace`` seconds."""
        try:
            train = read_proc_record(self.run_dir, self.train_role)
        except Exception:
            train = None
        busy = train is None or not train.ended
        if not busy:
            busy = any(not v.ended and is_alive(v.pid, v.create_time) for v in self._viewers())
        if busy:
            self._idle_since = None
            return False
        now = time.monotonic()
        if self._idle_since is None:
            self._idle_since = now
        return now - self._idle_since >= self.grace

    def run(self, stop: Callable[[], bool], poll: float = 0.25) -> int:
        self.say("seed relay for %s: discovery %s, following %s in auto mode"
                 % (self.run_dir.name, "from logs/%s.log" % self.train_role if self.spec
                    else "off (the run dir is the output dir)", self.latest_relpath))
        while not stop():
            self.step()
            if self.finished():
                self.step()   # a last latest written just before the trainer ended
                self.say("%s has ended and no viewer is alive: relay done" % self.train_role)
                return 0
            time.sleep(poll)
        self.say("stopped")
        return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tui.core.seed_relay",
                                 description="Output-dir discovery, auto-mode state rewrites and "
                                             "viewer kicks for a foreign trainer (the seed's "
                                             "train_play.py).")
    ap.add_argument("--run-dir", required=True, type=Path)
    ap.add_argument("--stable-for", type=float, default=0.5,
                    help="seconds latest.pth must stay unchanged to count as complete")
    ap.add_argument("--kick-after", default="5,15,30,60",
                    help="seconds after a viewer starts to re-announce the state ('' = never)")
    ap.add_argument("--grace", type=float, default=5.0,
                    help="seconds to linger once training ended and no viewer is alive")
    ap.add_argument("--poll", type=float, default=0.25)
    a = ap.parse_args(argv)
    stopped: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        stopped.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        pass
    try:
        kicks = tuple(float(x) for x in a.kick_after.split(",") if x.strip())
        relay = Relay(a.run_dir, a.stable_for, kicks, a.grace)
    except (ProtocolError, ValueError) as e:
        print("error: %s" % e, file=sys.stderr, flush=True)
        return 2
    return relay.run(lambda: bool(stopped), a.poll)


if __name__ == "__main__":
    sys.exit(main())
