"""The rl_games ``AlgoObserver`` that turns a training into a Pitwall run.

After every epoch (``after_print_stats``) it

- appends one record to ``metrics.jsonl``: the scalars rl_games writes to its TensorBoard
  ``summaries/`` (``performance/*``, ``losses/*``, ``info/*`` and the task's ``Episode/*``),
  captured by wrapping ``algo.writer``, plus ``rewards/step`` and ``episode_lengths/step``
  read from the algorithm's meters (the values rl_games writes right after this hook);
- every ``checkpoint_save_freq`` epochs saves ``algo.get_full_state_weights()`` the protocol way:
  ``nn/ckpt_<frame>.pth`` written to a temp file and renamed, ``nn/latest.pth`` replaced
  atomically, a line in ``nn/index.jsonl``. rl_games' own files (best ``nn/<name>.pth``,
  ``nn/last_<name>_ep_<E>_rew_<R>.pth``) keep being written as before and get index lines too;
- on a stop request (SIGINT/SIGTERM) saves and sets ``algo.max_epochs`` to this epoch, so
  rl_games ends the run its own way (its ``last_`` file, and with ``multi_gpu`` the exit is
  broadcast to every rank).

Only global rank 0 writes anything.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from rl_games.common.algo_observer import AlgoObserver

from runners.protocol import (CheckpointSaveError, IndexEntry, MetricWriter, RunPaths,
                              append_line, file_signature, save_checkpoint)
from runners.protocol.checkpoints import DEFAULT_STEM
from runners.protocol.rundir import LATEST_NAME

from .checkpoint_io import plain_numbers

SKIP_SUFFIXES = ("/iter", "/time")           # rl_games' copies of a scalar on other x axes
COMPUTED_PREFIXES = ("rewards/", "shaped_rewards/", "episode_lengths/")  # taken from the meters
EPOCH_INDEXED_PREFIXES = ("Episode/",)       # IsaacGymEnvs writes these with step = epoch


class MultiObserver(AlgoObserver):
    """Several observers as one (rl_games accepts one); every hook is forwarded in order."""

    def __init__(self, observers: List[AlgoObserver]):
        super().__init__()
        self.observers = list(observers)

    def _each(self, method: str, *args: Any) -> None:
        for o in self.observers:
            fn = getattr(o, method, None)
            if fn is not None:
                fn(*args)

    def before_init(self, base_name: str, config: Dict[str, Any], experiment_name: str) -> None:
        self._each("before_init", base_name, config, experiment_name)

    def after_init(self, algo: Any) -> None:
        self._each("after_init", algo)

    def process_infos(self, infos: Any, done_indices: Any) -> None:
        self._each("process_infos", infos, done_indices)

    def after_steps(self) -> None:
        self._each("after_steps")

    def after_clear_stats(self) -> None:
        self._each("after_clear_stats")

    def after_print_stats(self, frame: int, epoch_num: int, total_time: float) -> None:
        self._each("after_print_stats", frame, epoch_num, total_time)


class TeeWriter(object):
    """Forwards everything to rl_games' SummaryWriter and keeps the scalars for metrics.jsonl."""

    def __init__(self, writer: Any):
        self._writer = writer
        self.captured = []  # type: List[Tuple[str, float, Any]]

    def add_scalar(self, tag: str, scalar_value: Any, global_step: Any = None, *args: Any,
                   **kwargs: Any) -> Any:
        if not tag.endswith(SKIP_SUFFIXES) and not tag.startswith(COMPUTED_PREFIXES):
            try:
                self.captured.append((tag, float(scalar_value), global_step))
            except (TypeError, ValueError):
                pass
        return self._writer.add_scalar(tag, scalar_value, global_step, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)


class PitwallObserver(AlgoObserver):
    def __init__(self, run_dir: Path, role: str, save_freq: int, keep_last: int = 0,
                 stop: Callable[[], bool] = lambda: False, say: Callable[[str], None] = print):
        super().__init__()
        self.paths = RunPaths(run_dir)
        self.role = role
        self.save_freq = int(save_freq)
        self.keep_last = int(keep_last)
        self.stop = stop
        self.say = _never_raising(say)
        self.algo = None  # type: Any
        self.rank0 = True
        self.metrics = None  # type: Optional[MetricWriter]
        self.tee = None  # type: Optional[TeeWriter]
        self.last_epoch = None  # type: Optional[int]
        self.last_frame = 0
        self.last_algo_frame = 0     # algo.frame at the last hook: what rl_games saves with
        self.last_summary = {}  # type: Dict[str, float]
        self.saved_epoch = None  # type: Optional[int]
        self.stopping = False
        self.epoch_frames = {}  # type: Dict[int, int]
        self._foreign = {}  # type: Dict[str, Any]  # rl_games' own files: name -> signature

    # ------------------------------------------------------------------ hooks
    def before_init(self, base_name: str, config: Dict[str, Any], experiment_name: str) -> None:
        pass

    def after_init(self, algo: Any) -> None:
        self.algo = algo
        self.rank0 = int(getattr(algo, "global_rank", 0)) == 0
        if not self.rank0:
            return
        if getattr(algo, "writer", None) is not None:
            self.tee = TeeWriter(algo.writer)
            algo.writer = self.tee
        self.metrics = MetricWriter(self.paths.root, self.role, tensorboard=False)
        self._foreign = dict(self._scan_foreign())  # files from before (a resumed run)

    def process_infos(self, infos: Any, done_indices: Any) -> None:
        pass

    def after_steps(self) -> None:
        pass

    def after_clear_stats(self) -> None:
        pass

    def after_print_stats(self, frame: int, epoch_num: int, total_time: float) -> None:
        if not self.rank0 or self.algo is None or epoch_num == self.last_epoch:
            return  # older rl_games call this hook twice per epoch
        self._index_foreign()            # what rl_games saved after the previous epoch's hook
        self.last_epoch = int(epoch_num)
        self.last_frame = int(frame)
        self.last_algo_frame = int(getattr(self.algo, "frame", frame))
        self.epoch_frames[self.last_epoch] = self.last_frame
        summary = self.last_summary = self.summary()
        self._write_metrics(int(frame), summary)
        if self.stop() and not self.stopping:
            self.stopping = True
            self.save("stop requested")
            self.say("stop requested: checkpoint saved, ending the training after epoch %d"
                     % epoch_num)
            self.algo.max_epochs = int(epoch_num)  # rl_games saves its last file and exits
        elif self.save_freq > 0 and epoch_num % self.save_freq == 0:
            self.save()

    # ------------------------------------------------------------------ saving
    def summary(self) -> Dict[str, float]:
        """``rewards/step`` and ``episode_lengths/step`` as rl_games is about to log them."""
        out = {}  # type: Dict[str, float]
        algo = self.algo
        meters = (("rewards/step", getattr(algo, "game_rewards", None)),
                  ("episode_lengths/step", getattr(algo, "game_lengths", None)))
        for tag, meter in meters:
            try:
                if meter is not None and meter.current_size > 0:
                    out[tag] = float(meter.get_mean().reshape(-1)[0])
            except Exception:
                continue
        return out

    def save(self, why: str = "") -> Optional[Path]:
        """Save the full training state now (rank 0 only); returns the history file."""
        if not self.rank0 or self.algo is None:
            return None
        import torch

        state = plain_numbers(self.algo.get_full_state_weights())
        frame = int(state.get("frame", self.algo.frame))
        epoch = int(state.get("epoch", self.algo.epoch_num))
        try:
            path = save_checkpoint(self.paths.root, lambda f: torch.save(state, f), step=frame,
                                   epoch=epoch, metrics=self.summary(), stem=DEFAULT_STEM,
                                   keep_last=self.keep_last)
        except CheckpointSaveError as e:  # a full disk: training goes on, the next save retries
            self.say("checkpoint of epoch %d NOT saved (%s); training goes on" % (epoch, e))
            if e.saved is None:
                return None
            path = e.saved
        self.saved_epoch = epoch
        self.say("saved %s and nn/%s (epoch %d, frame %d%s)"
                 % (path.name, LATEST_NAME, epoch, frame, ", " + why if why else ""))
        return path

    def finish(self) -> None:
        """After ``agent.train()`` returned: the final state is saved if it was not yet."""
        if not self.rank0 or self.algo is None:
            return
        if self.saved_epoch != int(self.algo.epoch_num):
            self.save("end of training")
        self._index_foreign()
        self._flush_captured(final=True)
        if self.metrics is not None:
            self.metrics.close()

    # ------------------------------------------------------------------ metrics
    def _write_metrics(self, frame: int, summary: Dict[str, float]) -> None:
        if self.metrics is None:
            return
        by_step = self._flush_captured()
        by_step.setdefault(frame, {}).update(summary)
        now = time.time()
        for step in sorted(by_step):
            if by_step[step]:
                self.metrics.log(step, by_step[step], t=now)

    def _flush_captured(self, final: bool = False) -> Dict[int, Dict[str, float]]:
        out = {}  # type: Dict[int, Dict[str, float]]
        if self.tee is None:
            return out
        items, self.tee.captured = self.tee.captured, []
        for tag, value, step in items:
            if tag.startswith(EPOCH_INDEXED_PREFIXES):
                step = self.epoch_frames.get(_as_int(step, -1))
                if step is None:
                    continue
            step = _as_int(step, self.last_frame)
            out.setdefault(step, {})[tag] = value
        if final and self.metrics is not None:
            for step in sorted(out):
                self.metrics.log(step, out[step])
            return {}
        return out

    # ------------------------------------------------------------------ rl_games' own files
    def _scan_foreign(self) -> List[Tuple[str, Any]]:
        nn_dir = self.paths.nn_dir
        try:
            names = os.listdir(str(nn_dir))
        except OSError:
            return []
        out = []
        for n in names:
            if not n.endswith(".pth") or n.startswith(".") or n == LATEST_NAME or \
                    n.startswith(DEFAULT_STEM + "_"):
                continue
            out.append((n, file_signature(nn_dir / n)))
        return out

    def _index_foreign(self) -> None:
        """Index lines for rl_games' best/last files saved since the last look."""
        if self.last_epoch is None:
            return
        for name, sig in self._scan_foreign():
            if sig is None or self._foreign.get(name) == sig:
                continue
            self._foreign[name] = sig
            entry = IndexEntry(file=name, step=self.last_algo_frame, epoch=self.last_epoch,
                               time=time.time(), size=sig.size, metrics=dict(self.last_summary))
            try:
                append_line(self.paths.ckpt_index, entry.to_line())
            except OSError as e:
                del self._foreign[name]  # indexed at the next look
                self.say("index line for nn/%s not written: %s" % (name, e))


def _never_raising(say: Callable[[str], None]) -> Callable[[str], None]:
    """``say`` that ignores a log it cannot write (a full disk): training goes on."""
    def quiet(line: str) -> None:
        try:
            say(line)
        except OSError:
            pass
    return quiet


def _as_int(v: Any, default: int) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default
