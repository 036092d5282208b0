"""Regexes that turn log lines into metrics: the shipped presets and their matcher.

A :class:`~tui.core.metric_specs.LinePattern` names its metrics with named groups (one may be
the step) and may add a ``kv`` regex for ``key=value`` lists of any length. The presets follow
the lines each backend prints (``docs/metrics.md`` shows one example line per preset).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from tui.core.metric_specs import LinePattern

NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|NaN|inf|Inf|infinity)"
_KV = r"(?P<key>[A-Za-z_][\w./-]*)\s*=\s*(?P<value>%s)" % NUM

PRESETS: dict[str, list[LinePattern]] = {
    # fps step: 28125 fps step and policy inference: 21574 fps total: 18713
    #   epoch: 3/100 frames: 49152
    # (rl_games 1.6.x a2c_common.print_statistics; "/MAX" appears only when a limit is set)
    "rl_games": [LinePattern(
        regex=r"fps step: (?P<fps_step>%s) fps step and policy inference: (?P<fps_inference>%s)"
              r" fps total: (?P<fps_total>%s) epoch: (?P<epoch>\d+)(?:/-?\d+)?"
              r" frames: (?P<frames>\d+)(?:/-?\d+)?" % (NUM, NUM, NUM),
        step_group="frames",
        tags={"fps_step": "performance/step_fps", "fps_inference": "performance/step_inference_fps",
              "fps_total": "performance/total_fps", "epoch": "info/epoch"},
    )],
    # [12/3000] samples=196608 reward=0.123 ep_r=45.600 disc_r=0.780 actor=-0.0100
    #   value=0.3400 disc=0.6900 kl=0.0110 clip=0.150 12345 samples/s 1.23s/iter
    # (SkeletonSteering's train_amp_ppo_jax.py and Pitwall's amp runner; "ep_r=" only when an
    # episode ended; no space before "s/iter"). The step is the sample count and the names
    # are the seed's TensorBoard tags, so the log and tensorboard/ give the same curves.
    "skeleton_steering": [LinePattern(
        regex=(r"^\s*\[(?P<iteration>\d+)/\d+\]\s+samples=(?P<samples>\d+)\s+"
               r"reward=(?P<reward>{n})\s+(?:ep_r=(?P<ep_r>{n})\s+)?disc_r=(?P<disc_r>{n})\s+"
               r"actor=(?P<actor>{n})\s+value=(?P<value>{n})\s+disc=(?P<disc>{n})\s+"
               r"kl=(?P<kl>{n})\s+clip=(?P<clip>{n})\s+(?P<samples_per_s>{n})\s+samples/s\s+"
               r"(?P<iter_time_s>{n})\s*s/iter").format(n="(?:%s)" % NUM),
        step_group="samples",
        tags={"iteration": "train/iteration", "samples_per_s": "perf/samples_per_s",
              "iter_time_s": "perf/iter_time_s", "reward": "reward/total_mean",
              "ep_r": "reward/episode_mean", "disc_r": "reward/disc_mean",
              "actor": "loss/actor", "value": "loss/value", "disc": "loss/disc",
              "kl": "stats/approx_kl", "clip": "stats/clip_frac"},
    )],
    # Step 12000: critic_loss=0.123, actor_loss=-4.5, temperature=0.01     (hybrid SAC learner)
    "hybrid_sac": [LinePattern(
        regex=r"^\s*Step\s+(?P<step>\d+)\s*:",
        step_group="step",
        kv=_KV,
    )],
    # Epoch 10/500 | Episode 40 | Avg Reward: 12.5 | Success Rate: 0.40 | Actor Loss: 0.12
    # or "Epoch 10: avg_reward=12.5, success_rate=0.4, ..."    (ManiSkill seed training.py)
    "maniskill": [LinePattern(
        regex=r"^\s*\[?Epoch\s*[#:]?\s*(?P<epoch>\d+)(?:\s*/\s*\d+)?\]?\s*[:|,-]?",
        step_group="epoch",
        kv=r"(?P<key>[A-Za-z][A-Za-z0-9 _/.-]*?)\s*[:=]\s*(?P<value>%s)(?![\w.])" % NUM,
        normalize_keys=True,
    )],
}

_NONWORD = re.compile(r"[^0-9a-z/]+")


def normalize_key(key: str) -> str:
    """``"Avg Reward"`` -> ``"avg_reward"`` (kv keys of patterns with ``normalize_keys``)."""
    return _NONWORD.sub("_", key.strip().lower()).strip("_")


def parse_number(text: str) -> float:
    """A metric value as printed; raises ValueError when it is not a number."""
    return float(text)


@dataclass
class LineMatch:
    step: int | None
    time: float | None
    metrics: list[tuple[str, float]]
    bad_values: int               # groups that matched text that is not a number


class CompiledPattern(object):
    def __init__(self, spec: LinePattern):
        self.spec = spec
        self.regex = re.compile(spec.regex)
        self.kv = re.compile(spec.kv) if spec.kv else None
        skip = {spec.step_group, spec.time_group}
        self.groups = [(g, spec.tags.get(g, spec.prefix + g))
                       for g in self.regex.groupindex if g not in skip]

    def match(self, line: str) -> LineMatch | None:
        m = self.regex.search(line)
        if m is None:
            return None
        bad = 0
        step = None
        spec = self.spec
        if spec.step_group is not None:
            raw = m.group(spec.step_group)
            if raw is not None:
                try:
                    f = float(raw)
                    step = int(f) if math.isfinite(f) else None
                except ValueError:
                    step = None
                if step is None:
                    bad += 1
        t = None
        if spec.time_group is not None and m.group(spec.time_group) is not None:
            try:
                t = float(m.group(spec.time_group))
            except ValueError:
                bad += 1
        metrics: list[tuple[str, float]] = []
        for g, tag in self.groups:
            raw = m.group(g)
            if raw is None:
                continue
            try:
                metrics.append((tag, float(raw)))
            except ValueError:
                bad += 1
        if self.kv is not None:
            for kv in self.kv.finditer(line, m.end()):
                key = kv.group("key")
                if spec.normalize_keys:
                    key = normalize_key(key)
                if not key:
                    continue
                try:
                    value = float(kv.group("value"))
                except ValueError:
                    bad += 1
                    continue
                metrics.append((spec.tags.get(key, spec.prefix + key), value))
        return LineMatch(step, t, metrics, bad)


def compile_patterns(preset: str | None, patterns: list[LinePattern]) -> list[CompiledPattern]:
    """The preset's patterns (if any) followed by the profile's own."""
    out = []
    if preset is not None:
        out += [CompiledPattern(p) for p in PRESETS[preset]]
    out += [CompiledPattern(p) for p in patterns]
    return out
