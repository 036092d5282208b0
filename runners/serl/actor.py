"""``python -m runners.serl train --role actor``: the actor process (env steps, no training).

It reads the learner's ``endpoints/<learner>.json``, says ``hello`` (its env's shapes), then
steps the env: uniform random actions for ``random_steps`` steps (and until the first weights
arrive), the newest published policy after that. Transitions are pushed in batches every
``steps_per_update`` env steps; an ``info["intervene_action"]`` replaces the policy's action in
the transition and counts as an intervention. A heartbeat request every ``heartbeat_s`` checks
the learner: no reply within ``learner_timeout_s`` and the actor stops stepping and *waits*
(``waiting for learner`` in its log, ``actor/waiting_for_learner`` = 1 in its metrics), reading
the endpoints file again until a learner answers (a restarted learner has new ports), keeping
up to ``actor_queue_size`` unsent transitions meanwhile. It ends after ``actor_max_steps``
(telling the learner), when the learner has ``finished``, or on SIGINT/SIGTERM.
"""
from __future__ import annotations

import collections
import secrets
import time
from pathlib import Path
from typing import Any, Deque, Dict, List, Optional, Tuple, Union

import numpy as np
import torch

from runners.protocol import MetricWriter, ProtocolError, RunPaths
from runners.protocol.endpoints import Endpoints, read_endpoints
from runners.sdk.stop_flag import StopFlag

from .config import SerlConfig
from .env_spec import EnvSpec
from .envs import make_env
from .episode_stats import EpisodeStats
from .policy import ActorPolicy, load_weights_arrays
from runners.sdk.torch_runtime import pick_device, set_torch_threads

from .runtime import Say
from .sac import Actor as ActorNet
from .timers import SectionTimer
from .transport import PORT_NAMES, LearnerLink, LinkTimeout
from .wandb_log import WandbLog
from .wire import PROTOCOL, VersionMismatch, WireError, decode, encode

POLL_EVERY = 25          # env steps between looks at the weights socket and heartbeat
WAIT_METRIC_S = 5.0      # while waiting: actor/waiting_for_learner = 1 this often
WAIT_LINE_S = 30.0       # while waiting: a log line this often
HELLO_TIMEOUT_S = 3.0


class LearnerRefused(Exception):
    """The learner (or its endpoints file) refuses this actor: a configuration error."""


class Pacer(object):
    """Steps at ``hz`` (a robot's control rate; on a small box it also leaves the learner CPU
    time). Falling behind by more than a second drops the backlog instead of bursting."""

    def __init__(self, hz: float):
        self.period = 1.0 / hz if hz > 0 else 0.0
        self.next = time.monotonic()

    def wait(self) -> None:
        if not self.period:
            return
        now = time.monotonic()
        if self.next > now:
            time.sleep(self.next - now)
        elif now - self.next > 1.0:
            self.next = now
        self.next += self.period


class Transitions(object):
    """Steps collected since the last push, as rows."""

    def __init__(self) -> None:
        self.rows = []  # type: List[Tuple[Any, ...]]

    def add(self, obs: np.ndarray, act: np.ndarray, nxt: np.ndarray, r: float,
            terminated: bool, intervened: bool) -> None:
        self.rows.append((obs, act, nxt, r, terminated, intervened))

    def __len__(self) -> int:
        return len(self.rows)

    def take(self) -> Dict[str, np.ndarray]:
        obs, act, nxt, r, term, iv = zip(*self.rows)
        self.rows = []
        t = np.asarray(term, np.float32)
        return {"observations": np.stack(obs).astype(np.float32),
                "actions": np.stack(act).astype(np.float32),
                "next_observations": np.stack(nxt).astype(np.float32),
                "rewards": np.asarray(r, np.float32), "masks": 1.0 - t, "dones": t,
                "intervened": np.asarray(iv, np.bool_)}


class Actor(object):
    def __init__(self, run_dir: Union[str, Path], cfg: SerlConfig, role: str = "actor",
                 stop: Optional[StopFlag] = None, say: Optional[Say] = None,
                 learner_role: str = "learner"):
        self.paths = RunPaths(run_dir)
        self.cfg = cfg
        self.role = role
        self.learner_role = learner_role
        self.stop = stop if stop is not None else StopFlag()
        self.say = say or Say()
        self.threads = set_torch_threads(cfg.torch_threads, cores_per_thread=4)
        self.device = pick_device(cfg.actor_device, self.paths.run_json, "params.actor_device")
        torch.manual_seed(cfg.seed + 1)
        self.env = make_env(cfg.env, cfg.env_kwargs, max_traj_length=cfg.max_traj_length,
                            source=self.paths.run_json)
        self.env.action_space.seed(cfg.seed)
        self.spec = EnvSpec.of_env(cfg.env, self.env)
        self.net = ActorNet(self.spec.obs_dim, self.spec.act_dim, cfg.sac.hidden)
        self.policy = None  # type: Optional[ActorPolicy]
        self.eval_env = None  # type: Any
        self.session = secrets.token_hex(8)
        self.link = None  # type: Optional[LearnerLink]
        self.learner = None  # type: Optional[Endpoints]
        self.pending = Transitions()
        self.queue = collections.deque()  # type: Deque[Tuple[int, bytes]]
        self.queued = 0
        self.dropped = 0
        self.total_steps = 0
        self.episodes = EpisodeStats()
        self.interventions = 0
        self.action_abs_sum = 0.0    # |action| over pushed actions since the last status line
        self.action_abs_count = 0
        self.weights_version = 0
        self.weights_latency = []  # type: List[float]
        self.refused_weights = 0
        self.last_heartbeat = 0.0
        self.learner_finished = False
        self.writer = None  # type: Optional[MetricWriter]
        self.wb = None  # type: Optional[WandbLog]

    # ------------------------------------------------------------------ link
    def _addresses(self, ep: Endpoints) -> Dict[str, str]:
        if self.cfg.connect_host:
            ep = Endpoints(role=ep.role, host=self.cfg.connect_host, ports=ep.ports,
                           protocol=ep.protocol, session=ep.session)
        missing = [p for p in PORT_NAMES if p not in ep.ports]
        if missing:
            raise LearnerRefused("%s lists no port for %s"
                                 % (ep.role, ", ".join(missing)))
        return {p: ep.address(p) for p in PORT_NAMES}

    def _hello_meta(self) -> Dict[str, Any]:
        meta = self.spec.to_meta()
        meta.update({"run": self.paths.name, "actor_session": self.session,
                     "mode": self.cfg.mode, "hidden": list(self.cfg.sac.hidden)})
        return meta

    def _try_connect(self, ep: Endpoints) -> bool:
        if ep.protocol != PROTOCOL:
            raise LearnerRefused("the learner speaks %s, this actor speaks %s: run both with "
                                 "the same Pitwall version" % (ep.protocol, PROTOCOL))
        link = LearnerLink(self._addresses(ep))
        try:
            reply = link.request("hello", self._hello_meta(), HELLO_TIMEOUT_S)
        except LinkTimeout:
            link.close()
            return False
        except VersionMismatch as e:
            link.close()
            raise LearnerRefused(str(e))
        except WireError as e:
            link.close()
            raise LearnerRefused("the learner answered with an invalid message: %s" % e)
        if reply.kind != "welcome":
            link.close()
            raise LearnerRefused("the learner refused this actor: %s"
                                 % reply.meta.get("error", reply.kind))
        self.link, self.learner = link, ep
        self.last_heartbeat = time.monotonic()
        m = reply.meta
        if self.total_steps == 0 and isinstance(m.get("env_steps"), int) and m["env_steps"] > 0:
            # a restarted actor carries on the run's step count (and episode count)
            self.total_steps = m["env_steps"]
            self.episodes.count = int(m.get("actor_episodes") or 0)
        self.say("connected to learner %s (session %s, update step %s)"
                 % (ep.address("requests"), ep.session, m.get("update_steps")))
        return True

    def _lose(self, why: str) -> None:
        if self.link is not None:
            self.link.close()
        self.link = None
        self.say("lost the learner: %s" % why)

    def wait_for_learner(self) -> bool:
        """Block (not stepping the env) until connected: True; False on stop or a learner that
        has finished."""
        t0 = time.monotonic()
        last_metric = last_line = -1e9
        announced = False
        bad_file = None  # type: Optional[str]
        while not self.stop.is_set():
            now = time.monotonic()
            try:
                ep = read_endpoints(self.paths.root, self.learner_role)
                bad_file = None
            except ProtocolError as e:
                ep = None
                if str(e) != bad_file:
                    self.say("cannot read the learner's endpoints: %s" % e)
                    bad_file = str(e)
            if ep is not None and ep.state == "finished":
                self.learner_finished = True
                self.say("the learner has finished; the actor ends too")
                return False
            if ep is not None and ep.state == "running" and self._try_connect(ep):
                if announced:
                    self.say("learner back after %.1f s of waiting" % (time.monotonic() - t0))
                    self._log({"actor/waiting_for_learner": 0.0})
                return True
            if now - last_line >= WAIT_LINE_S:
                what = ("no endpoints file yet" if ep is None else
                        "learner %s, session %s, does not answer" % (ep.state, ep.session))
                self.say("waiting for learner (%s; %.0f s)" % (what, now - t0))
                announced = True
                last_line = now
            if now - last_metric >= WAIT_METRIC_S:
                self._log({"actor/waiting_for_learner": 1.0})
                last_metric = now
            time.sleep(0.5)
        return False

    def _poll_link(self) -> None:
        link = self.link
        if link is None:
            return
        frame = link.recv_weights()
        if frame is not None:
            self._take_weights(frame)
        now = time.monotonic()
        if link.waiting_since is None:
            if now - self.last_heartbeat >= self.cfg.heartbeat_s:
                link.send_request("heartbeat", {"actor_session": self.session,
                                                "total_steps": self.total_steps,
                                                "episodes": self.episodes.count,
                                                "headline": self.episodes.headline()})
                self.last_heartbeat = now
            return
        try:
            reply = link.poll_reply(0.0)
        except WireError as e:
            self._lose("invalid reply (%s)" % e)
            return
        if reply is None:
            if now - link.waiting_since > self.cfg.learner_timeout_s:
                self._lose("no reply for %.1f s" % (now - link.waiting_since))
            return
        if reply.kind == "status" and reply.meta.get("finished"):
            self.learner_finished = True

    def _take_weights(self, frame: bytes) -> None:
        try:
            msg = decode(frame, kinds=("weights",))
            load_weights_arrays(self.net, msg.arrays)
        except (WireError, ValueError) as e:
            self.refused_weights += 1
            self.say("refused weights: %s" % e)
            return
        version = msg.meta.get("version")
        self.weights_version = int(version) if isinstance(version, int) else \
            self.weights_version + 1
        sent = msg.meta.get("published_at")
        if isinstance(sent, (int, float)):
            self.weights_latency.append(max(0.0, time.time() - float(sent)))
        if self.policy is None:
            self.say("first weights received (version %d)" % self.weights_version)
        self.policy = ActorPolicy(self.net, self.spec.layout, self.spec.act_low,
                                  self.spec.act_high, int(msg.meta.get("update_steps") or 0))

    def _flush(self) -> None:
        if len(self.pending):
            n = len(self.pending)
            batch = self.pending.take()
            self.action_abs_sum += float(np.abs(batch["actions"]).sum())
            self.action_abs_count += int(batch["actions"].size)
            frame = encode("transitions", {"actor_session": self.session,
                                           "total_steps": self.total_steps,
                                           "episodes": self.episodes.count}, batch)
            self.queue.append((n, frame))
            self.queued += n
            while self.queued > self.cfg.actor_queue_size and self.queue:
                old, _ = self.queue.popleft()
                self.queued -= old
                self.dropped += old
        while self.queue and self.link is not None:
            n, frame = self.queue[0]
            if not self.link.push(frame):
                break
            self.queue.popleft()
            self.queued -= n

    # ------------------------------------------------------------------ loop
    def _log(self, metrics: Dict[str, float]) -> None:
        if self.writer is not None:
            self.writer.log(self.total_steps, metrics)
        if self.wb is not None:
            self.wb.log(self.total_steps, metrics)

    def run(self) -> int:
        self.writer = MetricWriter(self.paths.root, self.role)
        self.wb = WandbLog(self.cfg.wandb, self.paths.root, self.role,
                           source=self.paths.run_json)
        try:
            self.say("actor %s: env %s, obs %d, actions %d, session %s"
                     % (self.role, self.cfg.env, self.spec.obs_dim, self.spec.act_dim,
                        self.session))
            if self.wait_for_learner():
                self._loop()
            self._flush()
            done = bool(self.cfg.actor_max_steps and self.total_steps >= self.cfg.actor_max_steps)
            if done and self.link is not None:
                try:
                    self.link.request("done", {"actor_session": self.session,
                                               "total_steps": self.total_steps,
                                               "episodes": self.episodes.count},
                                      HELLO_TIMEOUT_S)
                except (LinkTimeout, WireError):
                    pass
            self.say("actor ends at env step %d (%s)" % (
                self.total_steps, "stopped by %s" % self.stop.name if self.stop.is_set() else
                "learner finished" if self.learner_finished else "actor_max_steps reached"))
            return 0
        finally:
            if self.link is not None:
                self.link.close(linger_s=2.0)
            self.env.close()
            if self.eval_env is not None:
                self.eval_env.close()
            self.wb.close()
            self.writer.close()

    def _loop(self) -> None:
        cfg = self.cfg
        timer = SectionTimer()
        obs, _ = self.env.reset(seed=cfg.seed)
        flat = self.spec.layout.flatten(obs)
        ep_ret, ep_len = 0.0, 0
        period_t0 = time.perf_counter()
        period_cpu0 = time.process_time()
        period_steps = 0
        pace = Pacer(cfg.control_hz)
        while not self.stop.is_set():
            pace.wait()
            if cfg.actor_max_steps and self.total_steps >= cfg.actor_max_steps:
                return
            if self.learner_finished:
                return
            if self.link is None:
                self._flush()
                if not self.wait_for_learner():
                    return
                self._flush()
            t0 = time.perf_counter()
            exploring = self.total_steps < cfg.random_steps or self.policy is None
            if exploring:
                a = np.asarray(self.env.action_space.sample(), np.float32)
            else:
                assert self.policy is not None
                a = self.policy.act(obs, deterministic=False)
            t1 = time.perf_counter()
            nxt, r, term, trunc, info = self.env.step(a)
            t2 = time.perf_counter()
            intervened = "intervene_action" in info
            if intervened:
                a = np.asarray(info["intervene_action"], np.float32).reshape(a.shape)
                self.interventions += 1
            nflat = self.spec.layout.flatten(nxt)
            self.pending.add(flat, a, nflat, float(r), bool(term), intervened)
            ep_ret += float(r)
            ep_len += 1
            self.total_steps += 1
            period_steps += 1
            if term or trunc:
                self._log(self.episodes.end(ep_ret, ep_len, self.total_steps))
                obs, _ = self.env.reset()
                ep_ret, ep_len = 0.0, 0
            else:
                obs = nxt
            flat = self.spec.layout.flatten(obs)
            if self.total_steps % cfg.steps_per_update == 0:
                t3 = time.perf_counter()
                self._flush()
                timer.add("send_transitions", time.perf_counter() - t3)
            if self.total_steps % POLL_EVERY == 0:
                self._poll_link()
            timer.add("sample_actions", t1 - t0)
            timer.add("step_env", t2 - t1)
            timer.add("actor_step", time.perf_counter() - t0)
            if cfg.eval_period and self.total_steps % cfg.eval_period == 0 and self.policy:
                self._log(self._evaluate())
            if self.total_steps % cfg.actor_log_period == 0:
                dt = time.perf_counter() - period_t0
                m = timer.report()
                m.update({"actor/total_steps": float(self.total_steps),
                          "actor/avg_action_magnitude": self._action_magnitude(),
                          "actor/exploration_phase": 1.0 if exploring else 0.0,
                          "actor/interventions": float(self.interventions),
                          "actor/queued_transitions": float(self.queued),
                          "actor/dropped_transitions": float(self.dropped),
                          "actor/weights_version": float(self.weights_version),
                          "actor/steps_per_s": period_steps / max(dt, 1e-9),
                          # per CPU second of this process (sockets' I/O thread included):
                          # what the actor costs, whatever else the box is running
                          "actor/steps_per_cpu_s": period_steps / max(
                              time.process_time() - period_cpu0, 1e-9),
                          "actor/waiting_for_learner": 0.0})
                if self.weights_latency:
                    m["actor/weights_latency_ms"] = 1000.0 * float(np.mean(self.weights_latency))
                self._log(m)
                self.say("env step %d  episodes %d  avg return(10) %s  weights v%d  %.0f steps/s"
                         "%s" % (self.total_steps, self.episodes.count,
                                 "%.1f" % np.mean(self.episodes.returns)
                                 if self.episodes.returns else "-",
                                 self.weights_version, m["actor/steps_per_s"],
                                 "  (exploring)" if exploring else ""))
                self.weights_latency = []
                period_t0 = time.perf_counter()
                period_cpu0 = time.process_time()
                period_steps = 0

    def _action_magnitude(self) -> float:
        """Mean |action| over the actions pushed since the last call."""
        out = self.action_abs_sum / self.action_abs_count if self.action_abs_count else 0.0
        self.action_abs_sum, self.action_abs_count = 0.0, 0
        return out

    def _evaluate(self) -> Dict[str, float]:
        assert self.policy is not None
        if self.eval_env is None:
            self.eval_env = make_env(self.cfg.env, self.cfg.env_kwargs,
                                     max_traj_length=self.cfg.max_traj_length,
                                     source=self.paths.run_json)
        rets, lens = [], []
        for i in range(self.cfg.eval_n_trajs):
            obs, _ = self.eval_env.reset(seed=self.cfg.seed + 10000 + i)
            ret, n, done = 0.0, 0, False
            while not done and not self.stop.is_set():
                obs, r, term, trunc, _ = self.eval_env.step(self.policy.act(obs, True))
                ret += float(r)
                n += 1
                done = bool(term or trunc)
            rets.append(ret)
            lens.append(n)
        self.say("eval at env step %d: return %.1f (%d episodes)"
                 % (self.total_steps, float(np.mean(rets)), len(rets)))
        return {"eval/episode_reward": float(np.mean(rets)),
                "eval/episode_length": float(np.mean(lens))}
