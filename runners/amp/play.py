"""``python -m runners.amp play``: one env driven by the checkpoint the run's state file asks
for, hot-swapped between env steps (no reset on a swap), acknowledged in ``.viewer/<id>.json``.

Interim loop until the runner toolkit's player (``runners/sdk``) lands on main: it is built
only from :class:`~runners.amp.playback.AmpPlayback` (``make_env``/``load``/``act``/``frame``),
the protocol's :class:`CheckpointFollower` (follow ``nn/latest.pkl`` in auto mode, a pinned
file in manual mode, acks), and two displays: ``none`` (preview frames in
``preview/<viewer-id>.png`` a few times a second) or an X display (MuJoCo's passive viewer
window with an overlay).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import IO, Any, Optional, Tuple

import numpy as np

from runners.checkpoint_follower import CheckpointFollower, Loaded
from runners.protocol import latest_link_target, write_viewer_status
from runners.rendering.font import draw_text
from runners.stop_flag import StopFlag

from .config import AmpConfig
from .playback import LATEST, AmpPlayback

EPISODE_LINE_S = 1.0
FELL_BEHIND_S = 0.25


def label(path: Path) -> str:
    twin = latest_link_target(path)
    return "%s (%s)" % (twin.name, path.stem) if twin is not None else path.name


class _Preview(object):
    name = "none"

    def __init__(self, pb: AmpPlayback, run_dir: Path, viewer_id: str, hz: float,
                 size: Tuple[int, int]):
        from runners.rendering.preview_writer import PreviewWriter

        self.pb, self.size = pb, size
        self.writer = PreviewWriter(run_dir, viewer_id, hz)
        self.error = None  # type: Optional[str]

    def swapped(self) -> None:
        self.writer.now()

    def show(self, lines: Tuple[str, str], meta: dict) -> None:
        if self.error is not None or not self.writer.due():
            return
        try:
            frame = self.pb.frame(*self.size)
            draw_text(frame, lines)
            self.writer.write(frame, meta)
        except Exception as e:   # no EGL/OSMesa, disk full: keep running without frames
            self.error = "preview off: %s" % (str(e).strip().splitlines() or [repr(e)])[0][:300]

    def close(self) -> None:
        pass


class _Window(object):
    def __init__(self, pb: AmpPlayback, display: str):
        import mujoco.viewer

        u = pb.env.unwrapped
        self.name = display
        self.error = None  # type: Optional[str]
        self.handle = mujoco.viewer.launch_passive(u.model, u.data, show_left_ui=False,
                                                   show_right_ui=False)

    def swapped(self) -> None:
        pass

    def show(self, lines: Tuple[str, str], meta: dict) -> None:
        if not self.handle.is_running():
            raise KeyboardInterrupt("the window was closed")
        self.handle.set_texts((None, None, "\n".join(lines), ""))
        self.handle.sync()

    def close(self) -> None:
        try:
            self.handle.close()
        except Exception:
            pass


class Player(object):
    def __init__(self, run_dir: Path, viewer_id: str, cfg: AmpConfig, display: str = "none",
                 hz: float = 4.0, size: Tuple[int, int] = (256, 256),
                 stop: Optional[StopFlag] = None, out: IO[str] = sys.stdout):
        self.cfg = cfg
        self.stop = stop if stop is not None else StopFlag()
        self.out = out
        self.pb = AmpPlayback(run_dir, cfg)
        self.env = self.pb.make_env()
        self.follower = CheckpointFollower(run_dir, viewer_id, load=self.pb.load,
                                           display=display, latest_relpath=LATEST)
        self.display_name = display
        self.hz, self.size = hz, size
        self.display = None  # type: Any
        self.dt = self.pb.dt if cfg.play.realtime else 0.0
        self.policy = None  # type: Any
        self.checkpoint = "-"
        self.step_of = None  # type: Optional[int]
        self.episode = 0
        self.ret = 0.0
        self.length = 0
        self.last_return = None  # type: Optional[float]
        self.env_steps = 0
        self._last_error = None  # type: Optional[str]
        self._last_line = 0.0

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def fail(self, message: str) -> None:
        st = self.follower.status
        st.state, st.error = "error", message
        try:
            write_viewer_status(self.follower.paths.root, st)
        except OSError:
            pass

    def run(self) -> int:
        crashed = False
        try:
            self.say("Viewer %s started: %s, display %s, waiting for a checkpoint (%s)"
                     % (self.follower.viewer_id, self.cfg.env_id, self.display_name, LATEST))
            first = self.follower.wait_for_first(should_stop=self.stop)
            self._report()
            if first is None:
                self.say("stopped by %s before any checkpoint was loaded" % self.stop.name)
                return 0
            obs, _ = self.env.reset(seed=self.cfg.seed)
            self._swap(first)
            self.display = _Preview(self.pb, self.follower.paths.root, self.follower.viewer_id,
                                    self.hz, self.size) if self.display_name in ("none", "") \
                else _Window(self.pb, self.display_name)
            nxt = time.monotonic()
            try:
                while not self.stop.is_set():
                    obs = self._step(obs)
                    nxt = self._pace(nxt)
            except KeyboardInterrupt as e:
                self.say("%s: the viewer ends after %d episodes" % (e, self.episode))
                return 0
            self.say("stopped by %s after %d episodes" % (self.stop.name, self.episode))
            return 0
        except Exception as e:
            crashed = True
            self.fail("viewer crashed: %s: %s" % (type(e).__name__, e))
            raise
        finally:
            self.follower.set_extra(env_steps=self.env_steps)
            if not crashed:
                self.follower.close()
            if self.display is not None:
                self.display.close()
            self.pb.close()

    def _step(self, obs: np.ndarray) -> np.ndarray:
        self._poll()
        action = self.pb.act(self.policy, obs)
        obs, reward, term, trunc, _ = self.env.step(action)
        self.env_steps += 1
        self.length += 1
        self.ret += float(reward)
        self.follower.set_extra(env_steps=self.env_steps)
        lines = ("%s  step %s" % (self.checkpoint, "-" if self.step_of is None else self.step_of),
                 "episode %d  return %.1f  last %s" % (
                     self.episode + 1, self.ret,
                     "-" if self.last_return is None else "%.1f" % self.last_return))
        self.display.show(lines, {"checkpoint": str(self.policy.path),
                                  "checkpoint_step": self.step_of, "episode": self.episode,
                                  "episode_return": self.last_return,
                                  "return_so_far": round(self.ret, 4),
                                  "env_steps": self.env_steps, "env_id": self.cfg.env_id})
        if term or trunc:
            self._episode_end()
            obs, _ = self.env.reset()
            self.pb.episode_start(self.policy)
        return obs

    def _poll(self) -> None:
        loaded = self.follower.poll()
        if loaded is not None:
            self._swap(loaded)
        self._report()

    def _swap(self, loaded: "Loaded[Any]") -> None:
        self.policy = loaded.policy
        self.checkpoint = label(loaded.path)
        self.step_of = loaded.step
        if self.display is not None:
            self.display.swapped()
        self.say("loaded %s (step %s)" % (loaded.path, loaded.step))

    def _report(self) -> None:
        err = self.follower.status.error
        if err and err != self._last_error:
            self.say("checkpoint refused, keeping the current policy: %s" % err)
        self._last_error = err

    def _episode_end(self) -> None:
        self.episode += 1
        self.last_return = self.ret
        self.follower.note_episode(self.ret)
        self.follower.set_extra(episode_length=self.length)
        now = time.monotonic()
        if now - self._last_line >= EPISODE_LINE_S:
            self._last_line = now
            self.say("episode %d: return %.1f, length %d (step %s)"
                     % (self.episode, self.ret, self.length, self.step_of))
        self.ret, self.length = 0.0, 0

    def _pace(self, nxt: float) -> float:
        if not self.dt:
            return nxt
        nxt += self.dt
        while not self.stop.is_set():
            remaining = nxt - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(remaining, self.follower.poll_interval))
            self._poll()
        if time.monotonic() - nxt > FELL_BEHIND_S:
            nxt = time.monotonic()
        return nxt


def play_main(run_dir: Path, cfg: AmpConfig, args: Any, stop: StopFlag) -> int:
    from runners.rendering.offscreen import parse_size

    size = parse_size(args.preview_size, "--preview-size") if args.preview_size else \
        (cfg.play.preview_width, cfg.play.preview_height)
    hz = cfg.play.preview_hz if args.preview_hz is None else args.preview_hz
    player = Player(run_dir, args.viewer_id, cfg, display=args.display, hz=hz, size=size,
                    stop=stop)
    return player.run()


__all__ = ["Player", "play_main"]
