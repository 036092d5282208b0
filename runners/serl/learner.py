"""``python -m runners.serl train --role learner``: the SAC learner process.

It binds its sockets (:class:`.transport.LearnerServer`), records them in
``endpoints/<role>.json`` and prints ``learner ready`` (the profile's readiness condition). The
first actor's ``hello`` tells it the env's shapes (or its checkpoint does, on a resume). It waits
for ``training_starts`` online transitions, then runs update steps (``cta_ratio`` critic updates
and one actor update each), publishes the actor's weights every ``steps_per_update`` update
steps, writes metrics every ``log_period`` and ``checkpoint_<step>.pth`` every
``checkpoint_period`` update steps.

Resume: ``--resume FILE``, or else the newest loadable checkpoint in ``nn/`` (a learner
restarted after ``kill -9`` carries on from there; its replay buffer starts empty and refills
from the actor). It ends after ``max_steps`` update steps or when the actor reports it is done
(``finished``), or on SIGINT/SIGTERM (``stopped``); either way it saves ``final_model.pth``.
"""
from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import torch

from runners.protocol import (CheckpointLoadError, MetricWriter, RunPaths, list_checkpoints,
                              now_iso, save_torch_checkpoint)
from runners.protocol.endpoints import Endpoints, write_endpoints
from runners.sdk.stop_flag import StopFlag

from .checkpoint import FINAL_NAME, STEM, build_payload, read_checkpoint, spec_of
from .config import SerlConfig
from .demos import demo_arrays
from .env_spec import EnvSpec
from .policy import to_unit_action, weights_arrays
from .replay import MixedSampler, ReplayBuffer
from runners.sdk.torch_runtime import pick_device, set_torch_threads

from .runtime import Say
from .sac import SAC
from .timers import SectionTimer
from .transport import LearnerServer
from .wandb_log import WandbLog
from .wire import PROTOCOL, Message, encode

IDLE_PUBLISH_S = 1.0     # while not training, republish restored weights this often
STATUS_LINE_S = 10.0     # "waiting for ..." lines


def newest_checkpoint(run_dir: Union[str, Path], say: Say) -> Optional[Tuple[Path, Dict[str, Any]]]:
    """The newest checkpoint in ``nn/`` that loads (latest.pth first), with its payload."""
    cands = list(reversed(list_checkpoints(RunPaths(run_dir).nn_dir)))  # latest.pth first
    for c in cands:
        try:
            return c.path, read_checkpoint(c.path)
        except CheckpointLoadError as e:
            say("skipping %s: %s" % (c.name, e))
    return None


class Learner(object):
    def __init__(self, run_dir: Union[str, Path], cfg: SerlConfig, role: str = "learner",
                 stop: Optional[StopFlag] = None, resume: Optional[Path] = None,
                 say: Optional[Say] = None):
        self.paths = RunPaths(run_dir)
        self.cfg = cfg
        self.role = role
        self.stop = stop if stop is not None else StopFlag()
        self.say = say or Say()
        self.threads = set_torch_threads(cfg.torch_threads, cores_per_thread=4)
        self.device = pick_device(cfg.device, self.paths.run_json, "params.device")
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.session = secrets.token_hex(8)
        self.started_at = now_iso()
        self.lock = threading.Lock()
        self.spec = None  # type: Optional[EnvSpec]
        self.agent = None  # type: Optional[SAC]
        self.online = None  # type: Optional[ReplayBuffer]
        self.demos = None  # type: Optional[ReplayBuffer]
        self.sampler = None  # type: Optional[MixedSampler]
        self.update_steps = 0
        self.env_steps = 0
        self.actor_episodes = 0
        self.actor_headline = {}  # type: Dict[str, float]
        self.actor_done = False
        self.weights_version = 0
        self.interventions = 0
        self.resumed_from = None  # type: Optional[Path]
        self._payload = None  # type: Optional[Dict[str, Any]]
        self._demo_rows = []  # type: List[int]
        if resume is not None:
            self._payload = read_checkpoint(resume)
            self.resumed_from = Path(resume)
        else:
            found = newest_checkpoint(self.paths.root, self.say)
            if found is not None:
                self.resumed_from, self._payload = found
        if self._payload is not None:
            d = self._payload
            self.spec = spec_of(d)
            self.update_steps = int(d["update_steps"])
            self.env_steps = int(d.get("env_steps", 0))
            self.actor_episodes = int(d.get("actor_episodes", 0))
            self._make_buffers(self.spec)
        self.server = None  # type: Optional[LearnerServer]

    # ------------------------------------------------------------------ requests (io thread)
    def _make_buffers(self, spec: EnvSpec) -> None:
        self.online = ReplayBuffer(self.cfg.replay_buffer_capacity, spec.obs_dim, spec.act_dim)
        if self.cfg.mode == "hybrid":
            self.demos = ReplayBuffer(self.cfg.replay_buffer_capacity, spec.obs_dim,
                                      spec.act_dim)
        self.sampler = MixedSampler(self.online, self.demos)

    def on_request(self, msg: Message) -> Tuple[str, Dict[str, Any]]:
        m = msg.meta
        with self.lock:
            if msg.kind == "hello":
                if m.get("run") != self.paths.name:
                    return "refused", {"error": "this learner serves run %s, the actor belongs "
                                       "to run %r" % (self.paths.name, m.get("run"))}
                try:
                    spec = EnvSpec.from_meta(m)
                except ValueError as e:
                    return "refused", {"error": str(e)}
                if self.spec is None:
                    self.spec = spec
                    self._make_buffers(spec)
                else:
                    why = self.spec.mismatch(spec)
                    if why:
                        return "refused", {"error": "the actor's env does not fit this "
                                           "learner's networks (%s): %s"
                                           % (self.spec.env, why)}
                self.say("actor %s connected (env %s)" % (m.get("actor_session"), spec.env))
                return "welcome", dict(self._status(), env_steps=self.env_steps,
                                       actor_episodes=self.actor_episodes)
            if msg.kind == "heartbeat":
                self._note_actor(m)
                return "status", self._status()
            if msg.kind == "done":
                self._note_actor(m)
                self.actor_done = True
                self.say("the actor is done (%s env steps)" % m.get("total_steps"))
                return "status", self._status()
        return "error", {"error": "unexpected request %r" % msg.kind}

    def _note_actor(self, m: Dict[str, Any]) -> None:
        for k in ("total_steps", "episodes"):
            if not isinstance(m.get(k), int):
                return
        self.env_steps = max(self.env_steps, m["total_steps"])
        self.actor_episodes = m["episodes"]
        head = m.get("headline")
        if isinstance(head, dict):
            self.actor_headline = {str(k): float(v) for k, v in head.items()
                                   if isinstance(v, (int, float)) and not isinstance(v, bool)}

    def _status(self) -> Dict[str, Any]:
        return {"session": self.session, "update_steps": self.update_steps,
                "replay_size": len(self.online) if self.online is not None else 0,
                "demo_size": len(self.demos) if self.demos is not None else 0,
                "weights_version": self.weights_version,
                "training": self.agent is not None and self._ready_to_train(),
                "finished": False}

    def on_transitions(self, msg: Message) -> None:
        with self.lock:
            online, demos = self.online, self.demos
        if online is None:
            raise ValueError("transitions before any hello: no env shapes known yet")
        arrays = dict(msg.arrays)
        online.insert(arrays)
        iv = arrays.get("intervened")
        if iv is not None and np.shape(iv) == np.shape(arrays["rewards"]) and np.any(iv):
            rows = np.flatnonzero(np.asarray(iv))
            self.interventions += int(rows.size)
            if demos is not None:
                demos.insert({k: np.asarray(arrays[k])[rows] for k in
                              ("observations", "actions", "next_observations", "rewards",
                               "masks", "dones")})
        with self.lock:
            self._note_actor(msg.meta)

    # ------------------------------------------------------------------ training
    def _ready_to_train(self) -> bool:
        online = len(self.online) if self.online is not None else 0
        demo = len(self.demos) if self.demos is not None else 0
        if online + demo == 0:
            return False
        return online >= self.cfg.training_starts

    def _build_agent(self) -> None:
        assert self.spec is not None
        agent = SAC(self.spec.obs_dim, self.spec.act_dim, self.cfg.sac, self.device)
        if self._payload is not None:
            d = self._payload
            if [int(h) for h in d["hidden"]] != list(self.cfg.sac.hidden):
                raise CheckpointLoadError(self.resumed_from or "checkpoint",
                                          "network hidden sizes %s differ from run.json "
                                          "params.sac.hidden %s" % (d["hidden"],
                                                                    self.cfg.sac.hidden))
            try:
                agent.load_state_dict(d["sac"])
            except (RuntimeError, KeyError, ValueError) as e:
                raise CheckpointLoadError(self.resumed_from or "checkpoint",
                                          "weights do not fit (%s)" % str(e).splitlines()[0])
            rng = d.get("torch_rng")
            if isinstance(rng, torch.Tensor):
                torch.set_rng_state(rng)
            self._payload = None
        if self.cfg.mode == "hybrid":
            self._load_demos()
        self.agent = agent

    def _load_demos(self) -> None:
        assert self.spec is not None and self.demos is not None
        for path in self.cfg.demo_files():
            arrays = demo_arrays(path, self.spec)
            n = self.demos.insert(arrays)
            self._demo_rows.append(n)
            self.say("loaded %d demo transitions from %s" % (n, path))

    def _batch(self) -> Dict[str, torch.Tensor]:
        assert self.sampler is not None and self.spec is not None
        b = self.sampler.sample(self.cfg.batch_size, self.rng)
        b["actions"] = to_unit_action(b["actions"], self.spec.act_low, self.spec.act_high)
        return {k: torch.as_tensor(v, device=self.device) for k, v in b.items()}

    def publish(self) -> None:
        assert self.agent is not None and self.server is not None and self.spec is not None
        self.weights_version += 1
        meta = {"session": self.session, "version": self.weights_version,
                "update_steps": self.update_steps, "env_steps": self.env_steps,
                "hidden": list(self.cfg.sac.hidden), "obs_dim": self.spec.obs_dim,
                "act_dim": self.spec.act_dim, "published_at": time.time()}
        self.server.publish(encode("weights", meta, weights_arrays(self.agent.actor)))

    def save(self, final: bool = False) -> Path:
        assert self.agent is not None and self.spec is not None
        payload = build_payload(self.agent, self.spec, self.cfg.mode, self.update_steps,
                                self.env_steps, self.actor_episodes)
        metrics = dict(self.actor_headline)
        metrics["learner/env_steps"] = float(self.env_steps)
        path = save_torch_checkpoint(self.paths.root, payload, self.update_steps,
                                     metrics=metrics, stem=STEM, digits=0,
                                     keep_last=self.cfg.keep_last,
                                     name=FINAL_NAME if final else None)
        self.say("saved %s (update step %d, env step %d)"
                 % (path.name, self.update_steps, self.env_steps))
        return path

    # ------------------------------------------------------------------ loop
    def _endpoints(self, state: str) -> None:
        assert self.server is not None
        host = self.cfg.bind_host
        write_endpoints(self.paths.root, Endpoints(
            role=self.role, host="127.0.0.1" if host in ("0.0.0.0", "*") else host,
            ports=dict(self.server.ports), protocol=PROTOCOL, session=self.session,
            state=state, started_at=self.started_at))

    def run(self) -> int:
        cfg = self.cfg
        writer = MetricWriter(self.paths.root, self.role)
        wb = WandbLog(cfg.wandb, self.paths.root, self.role, source=self.paths.run_json)
        self.server = LearnerServer(cfg.bind_host, self.on_request, self.on_transitions,
                                    say=self.say).start()
        state = "stopped"
        try:
            self._endpoints("running")
            self.say("learner ready: %s on %s ports %s, session %s, device %s, %d torch threads%s"
                     % (PROTOCOL, cfg.bind_host, self.server.ports, self.session, self.device,
                        self.threads, ", resumed from %s (update step %d)"
                        % (self.resumed_from, self.update_steps) if self.resumed_from else ""))
            self.say("Training will save to: %s" % self.paths.nn_dir)
            finished = self._loop(writer, wb)
            state = "finished" if finished else "stopped"
            if self.agent is not None:
                self.save(final=True)
            if finished:
                self.say("Training finished at update step %d" % self.update_steps)
            else:
                self.say("stopped by %s at update step %d; final model saved"
                         % (self.stop.name or "request", self.update_steps))
            return 0
        finally:
            try:
                self._endpoints(state)
            except OSError:
                pass
            self.server.close()
            wb.close()
            writer.close()

    def _loop(self, writer: MetricWriter, wb: WandbLog) -> bool:
        """Train until done (True) or stopped (False)."""
        cfg = self.cfg
        timer = SectionTimer()
        last_status = last_publish = 0.0
        period_t0 = time.perf_counter()
        period_updates = 0
        demo_fracs = []  # type: List[float]
        stats = {}  # type: Dict[str, float]
        while not self.stop.is_set():
            if self.server is not None and self.server.error is not None:
                raise RuntimeError("the learner's socket thread failed: %r" % self.server.error)
            if self.update_steps >= cfg.max_steps or self.actor_done:
                return True
            now = time.monotonic()
            if self.agent is None:
                if self.spec is None:
                    if now - last_status > STATUS_LINE_S:
                        self.say("waiting for an actor to connect")
                        last_status = now
                    time.sleep(0.05)
                    continue
                self._build_agent()
                if self.resumed_from is not None:
                    self.publish()
                    last_publish = now
            if not self._ready_to_train():
                if self.resumed_from is not None and now - last_publish > IDLE_PUBLISH_S:
                    self.publish()
                    last_publish = now
                if now - last_status > STATUS_LINE_S:
                    self.say("waiting for transitions: %d of training_starts %d"
                             % (len(self.online or ()), cfg.training_starts))
                    last_status = now
                time.sleep(0.02)
                continue
            if self.weights_version == 0:
                self.publish()  # the first weights, as soon as training starts
            t0 = time.perf_counter()
            with timer.section("sample_replay_buffer"):
                batches = [self._batch() for _ in range(cfg.cta_ratio)]
            if self.sampler is not None:
                demo_fracs.append(self.sampler.last_demo_count / float(cfg.batch_size))
            with timer.section("train"):
                assert self.agent is not None
                stats = self.agent.update(batches)
            self.update_steps += 1
            period_updates += 1
            if self.update_steps % cfg.steps_per_update == 0:
                self.publish()
            timer.add("total", time.perf_counter() - t0)
            if self.update_steps % cfg.log_period == 0:
                dt = time.perf_counter() - period_t0
                m = dict(stats)
                m.update(timer.report())
                m["learner/update_steps"] = float(self.update_steps)
                m["learner/replay_buffer_size"] = float(len(self.online or ()))
                m["learner/updates_per_s"] = period_updates / max(dt, 1e-9)
                m["learner/weights_version"] = float(self.weights_version)
                m["learner/refused_messages"] = float(self.server.refused if self.server else 0)
                m["learner/interventions"] = float(self.interventions)
                if self.demos is not None:
                    m["learner/demo_buffer_size"] = float(len(self.demos))
                    m["hybrid/demo_fraction"] = float(np.mean(demo_fracs)) if demo_fracs else 0.0
                writer.log(self.env_steps, m)
                wb.log(self.env_steps, m)
                self.say("update %d  env step %d  replay %d  critic %.4f  actor %+.4f  "
                         "temp %.4f  ent %+.3f  %.0f updates/s"
                         % (self.update_steps, self.env_steps, len(self.online or ()),
                            m["sac/critic_loss"], m["sac/actor_loss"], m["sac/temperature"],
                            m["sac/entropy"], m["learner/updates_per_s"]))
                period_t0 = time.perf_counter()
                period_updates = 0
                demo_fracs = []
            if cfg.checkpoint_period and self.update_steps % cfg.checkpoint_period == 0:
                self.save()
        return False

