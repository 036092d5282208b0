"""AMP + PPO learning in JAX: the jitted pieces and the state they update.

- ``act``: normalized observations -> Gaussian actions (fixed std), log-probs, values;
- ``prepare``: discriminator reward ``-log(max(1 - D, 1e-4)) * reward_scale`` on the rollout's
  discriminator observations, total reward ``task_weight * task + disc_weight * disc``, GAE
  (a time-limit end bootstraps with ``gamma * V(final obs)``, a fall does not), normalized
  advantages;
- ``update``: ``update_epochs`` passes over shuffled minibatches; each minibatch step also
  trains the discriminator on a fresh batch of ``disc.batch_size`` reference samples against as
  many agent samples, half from this rollout and half from the replay of older ones, with a
  gradient penalty on the reference samples. One loss (actor + value + ``loss_weight`` * disc),
  as in the seed, but each network's gradient is clipped on its own (``optim.grad_clip``), so
  the large early value gradients cannot starve the actor;
- the replay (on the device) and the running normalizers of observations and discriminator
  observations (updated until ``normalizer.samples``).
"""
from __future__ import annotations

import math
from typing import Any, Dict, NamedTuple, Tuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .config import AmpConfig
from .networks import (Models, Norm, apply_norm, build_models, gaussian_logp, init_norm,
                       init_params, update_norm)

METRIC_KEYS = ("actor_loss", "value_loss", "disc_loss", "clip_frac", "approx_kl", "entropy",
               "disc_agent_acc", "disc_demo_acc", "grad_penalty", "disc_demo_reward",
               "disc_agent_reward")


class LearnerState(NamedTuple):
    params: Dict[str, Any]
    opt_state: Any
    obs_norm: Norm
    disc_norm: Norm
    replay: jnp.ndarray        # (capacity, disc_dim)
    replay_size: jnp.ndarray   # int32
    replay_next: jnp.ndarray   # int32


def _bce_logits(logits: jnp.ndarray, target: float) -> jnp.ndarray:
    return jnp.mean(jnp.maximum(logits, 0.0) - logits * target
                    + jnp.log1p(jnp.exp(-jnp.abs(logits))))


def disc_reward_from_logits(logits: jnp.ndarray, scale: float) -> jnp.ndarray:
    prob = jax.nn.sigmoid(logits)
    return -jnp.log(jnp.maximum(1.0 - prob, 1e-4)) * scale


def make_optimizer(cfg: AmpConfig, params: Dict[str, Any]) -> optax.GradientTransformation:
    o = cfg.optim

    def one() -> optax.GradientTransformation:
        base = optax.adamw(o.learning_rate, weight_decay=o.weight_decay) if o.type == "adam" \
            else optax.sgd(o.learning_rate, momentum=0.9)
        return optax.chain(optax.clip_by_global_norm(o.grad_clip), base) if o.grad_clip > 0 \
            else base

    labels = {k: jax.tree_util.tree_map(lambda _, k=k: k, v) for k, v in params.items()}
    return optax.multi_transform({k: one() for k in params}, labels)


class Learner(object):
    def __init__(self, cfg: AmpConfig, obs_dim: int, act_dim: int, disc_dim: int,
                 act_low: np.ndarray, act_high: np.ndarray, seed: int):
        self.cfg = cfg
        self.obs_dim, self.act_dim, self.disc_dim = obs_dim, act_dim, disc_dim
        self.models = build_models(cfg.model, act_dim)
        self.key = jax.random.PRNGKey(seed)
        self.key, k = jax.random.split(self.key)
        # one compiled init (an eager init compiles every op on its own: seconds)
        params = jax.jit(lambda key: init_params(key, self.models, obs_dim, disc_dim))(k)
        self.optimizer = make_optimizer(cfg, params)
        self.action_mean = jnp.asarray(0.5 * (act_high + act_low), jnp.float32)
        self.action_std = jnp.asarray(0.5 * (act_high - act_low), jnp.float32)
        self.log_std = jnp.full((act_dim,), math.log(cfg.model.action_std), jnp.float32)
        cap = cfg.disc.buffer_size
        self.state = jax.jit(lambda p: LearnerState(
            p, self.optimizer.init(p), init_norm(obs_dim), init_norm(disc_dim),
            jnp.zeros((cap, disc_dim), jnp.float32), jnp.zeros((), jnp.int32),
            jnp.zeros((), jnp.int32)))(params)
        self._act = jax.jit(self._act_fn)
        self._value = jax.jit(self._value_fn)
        self._prepare = jax.jit(self._prepare_fn)
        self._update = jax.jit(self._update_fn)
        self._norms = jax.jit(self._norms_fn)
        self._add = jax.jit(self._add_fn, static_argnums=(2,))

    # ------------------------------------------------------------------ acting
    def _act_fn(self, params: Any, obs_norm: Norm, obs: jnp.ndarray, key: Any) -> Tuple:
        x = apply_norm(obs_norm, obs, self.cfg.normalizer.obs_clip)
        mean = self.models.actor.apply({"params": params["actor"]}, x)
        a = mean + jax.random.normal(key, mean.shape) * jnp.exp(self.log_std)
        logp = gaussian_logp(mean, self.log_std, a)
        v = self.models.critic.apply({"params": params["critic"]}, x)[..., 0]
        return a * self.action_std + self.action_mean, a, logp, v, x

    def act(self, obs: np.ndarray) -> Tuple[np.ndarray, ...]:
        """(env action, normalized action, log-prob, value, normalized obs) for a batch."""
        self.key, k = jax.random.split(self.key)
        out = self._act(self.state.params, self.state.obs_norm, jnp.asarray(obs), k)
        return tuple(np.asarray(o) for o in out)

    def _value_fn(self, params: Any, obs_norm: Norm, obs: jnp.ndarray) -> jnp.ndarray:
        x = apply_norm(obs_norm, obs, self.cfg.normalizer.obs_clip)
        return self.models.critic.apply({"params": params["critic"]}, x)[..., 0]

    def value(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(self._value(self.state.params, self.state.obs_norm, jnp.asarray(obs)))

    # ------------------------------------------------------------------ rewards, GAE
    def _disc_logits(self, params: Any, disc_norm: Norm, obs: jnp.ndarray) -> jnp.ndarray:
        x = apply_norm(disc_norm, obs, self.cfg.normalizer.disc_clip)
        return self.models.disc.apply({"params": params["disc"]}, x)[..., 0]

    def _prepare_fn(self, params: Any, disc_norm: Norm, disc_obs: jnp.ndarray,
                    task: jnp.ndarray, values: jnp.ndarray, last_value: jnp.ndarray,
                    done: jnp.ndarray, bootstrap: jnp.ndarray) -> Tuple:
        c = self.cfg
        dr = disc_reward_from_logits(self._disc_logits(params, disc_norm, disc_obs),
                                     c.disc.reward_scale)
        total = c.reward.task_weight * task + c.reward.disc_weight * dr
        rewards = total + bootstrap
        gamma, lam = c.ppo.discount, c.ppo.td_lambda

        def back(carry: Tuple, xs: Tuple) -> Tuple:
            adv_next, v_next = carry
            r, v, d = xs
            keep = 1.0 - d
            delta = r + gamma * v_next * keep - v
            adv = delta + gamma * lam * keep * adv_next
            return (adv, v), adv

        _, adv = jax.lax.scan(back, (jnp.zeros_like(last_value), last_value),
                              (rewards, values, done), reverse=True)
        returns = adv + values
        adv_n = (adv - adv.mean()) / (adv.std() + 1e-5)
        return adv_n, returns, dr, total

    def prepare(self, disc_obs: np.ndarray, task: np.ndarray, values: np.ndarray,
                last_value: np.ndarray, done: np.ndarray, bootstrap: np.ndarray) -> Tuple:
        out = self._prepare(self.state.params, self.state.disc_norm, jnp.asarray(disc_obs),
                            jnp.asarray(task), jnp.asarray(values), jnp.asarray(last_value),
                            jnp.asarray(done, jnp.float32), jnp.asarray(bootstrap))
        return out

    def disc_reward(self, disc_obs: np.ndarray) -> np.ndarray:
        """Discriminator reward of any batch of discriminator observations (e.g. reference)."""
        logits = self._disc_logits(self.state.params, self.state.disc_norm,
                                   jnp.asarray(disc_obs))
        return np.asarray(disc_reward_from_logits(logits, self.cfg.disc.reward_scale))

    # ------------------------------------------------------------------ update
    def _loss(self, params: Any, mb: Dict[str, jnp.ndarray], demo: jnp.ndarray,
              agent: jnp.ndarray, disc_norm: Norm) -> Tuple:
        c = self.cfg
        mean = self.models.actor.apply({"params": params["actor"]}, mb["obs"])
        logp = gaussian_logp(mean, self.log_std, mb["act"])
        ratio = jnp.exp(logp - mb["logp"])
        adv = mb["adv"]
        clipped = jnp.clip(ratio, 1.0 - c.ppo.clip_ratio, 1.0 + c.ppo.clip_ratio)
        actor_loss = -jnp.mean(jnp.minimum(ratio * adv, clipped * adv))
        v = self.models.critic.apply({"params": params["critic"]}, mb["obs"])[..., 0]
        value_loss = jnp.mean(jnp.square(v - mb["ret"]))

        dclip = c.normalizer.disc_clip
        nd = apply_norm(disc_norm, demo, dclip)
        na = apply_norm(disc_norm, agent, dclip)

        def d_apply(x: jnp.ndarray) -> jnp.ndarray:
            return self.models.disc.apply({"params": params["disc"]}, x)[..., 0]

        ld, la = d_apply(nd), d_apply(na)
        bce = 0.5 * (_bce_logits(la, 0.0) + _bce_logits(ld, 1.0))
        if c.disc.grad_penalty > 0:   # (traced only when used: a second-order pass)
            grads = jax.grad(lambda x: jnp.sum(d_apply(x)))(nd)   # rows are independent
            gp = jnp.mean(jnp.sum(jnp.square(grads), axis=-1))
        else:
            gp = jnp.zeros(())
        disc_loss = bce + c.disc.grad_penalty * gp
        total = actor_loss + value_loss + c.disc.loss_weight * disc_loss
        entropy = jnp.sum(self.log_std + 0.5 * jnp.log(2.0 * jnp.pi * jnp.e))
        scale = c.disc.reward_scale
        metrics = {"actor_loss": actor_loss, "value_loss": value_loss, "disc_loss": disc_loss,
                   "clip_frac": jnp.mean((jnp.abs(ratio - 1.0) > c.ppo.clip_ratio)
                                         .astype(jnp.float32)),
                   "approx_kl": jnp.mean(mb["logp"] - logp), "entropy": entropy,
                   "disc_agent_acc": jnp.mean((la < 0).astype(jnp.float32)),
                   "disc_demo_acc": jnp.mean((ld > 0).astype(jnp.float32)),
                   "grad_penalty": gp,
                   "disc_demo_reward": jnp.mean(disc_reward_from_logits(ld, scale)),
                   "disc_agent_reward": jnp.mean(disc_reward_from_logits(la, scale))}
        return total, metrics

    def _update_fn(self, state: LearnerState, batch: Dict[str, jnp.ndarray],
                   agent_disc: jnp.ndarray, expert: jnp.ndarray, key: Any) -> Tuple:
        c = self.cfg
        n = batch["obs"].shape[0]
        mb_size = min(c.ppo.minibatch_size, n)
        num_mb = max(1, n // mb_size)
        bd = c.disc.batch_size
        half = bd // 2

        def mb_step(carry: Tuple, xs: Tuple) -> Tuple:
            params, opt_state = carry
            idx, k = xs
            mb = {name: a[idx] for name, a in batch.items()}
            k1, k2, k3 = jax.random.split(k, 3)
            demo = expert[jax.random.randint(k1, (bd,), 0, expert.shape[0])]
            own = agent_disc[jax.random.randint(k2, (half,), 0, agent_disc.shape[0])]
            ridx = jax.random.randint(k3, (bd - half,), 0, jnp.maximum(state.replay_size, 1))
            fallback = agent_disc[jax.random.randint(k3, (bd - half,), 0, agent_disc.shape[0])]
            old = jnp.where(state.replay_size > 0, state.replay[ridx], fallback)
            agent = jnp.concatenate([own, old], axis=0)
            grads, metrics = jax.grad(self._loss, has_aux=True)(params, mb, demo, agent,
                                                                state.disc_norm)
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), metrics

        def epoch(carry: Tuple, k: Any) -> Tuple:
            kp, kd = jax.random.split(k)
            perm = jax.random.permutation(kp, n)[:num_mb * mb_size].reshape(num_mb, mb_size)
            return jax.lax.scan(mb_step, carry, (perm, jax.random.split(kd, num_mb)))

        (params, opt_state), metrics = jax.lax.scan(
            epoch, (state.params, state.opt_state), jax.random.split(key, c.ppo.update_epochs))
        metrics = {k: jnp.mean(v) for k, v in metrics.items()}
        return state._replace(params=params, opt_state=opt_state), metrics

    def update(self, batch: Dict[str, np.ndarray], agent_disc: np.ndarray,
               expert: jnp.ndarray) -> Dict[str, float]:
        self.key, k = jax.random.split(self.key)
        self.state, metrics = self._update(self.state,
                                           {n: jnp.asarray(a) for n, a in batch.items()},
                                           jnp.asarray(agent_disc), expert, k)
        return {n: float(v) for n, v in jax.device_get(metrics).items()}

    # ------------------------------------------------------------------ normalizers, replay
    def _norms_fn(self, state: LearnerState, obs: jnp.ndarray,
                  disc: jnp.ndarray) -> LearnerState:
        m = self.cfg.normalizer.min_std
        return state._replace(obs_norm=update_norm(state.obs_norm, obs, m),
                              disc_norm=update_norm(state.disc_norm, disc, m))

    def update_normalizers(self, obs: np.ndarray, disc: np.ndarray) -> None:
        self.state = self._norms(self.state, jnp.asarray(obs), jnp.asarray(disc))

    def _add_fn(self, state: LearnerState, samples: jnp.ndarray, k: int,
                key: Any) -> LearnerState:
        cap = state.replay.shape[0]
        rows = samples if k >= samples.shape[0] else \
            samples[jax.random.permutation(key, samples.shape[0])[:k]]
        rows = rows[-cap:]
        m = rows.shape[0]
        idx = (state.replay_next + jnp.arange(m)) % cap
        return state._replace(replay=state.replay.at[idx].set(rows),
                              replay_size=jnp.minimum(cap, state.replay_size + m),
                              replay_next=(state.replay_next + m) % cap)

    def add_to_replay(self, disc_obs: np.ndarray, full: bool) -> None:
        """All of this rollout's samples until the replay is full, then ``replay_samples``."""
        n = disc_obs.shape[0]
        k = min(self.cfg.disc.replay_samples, n) if full else n
        self.key, key = jax.random.split(self.key)
        self.state = self._add(self.state, jnp.asarray(disc_obs), k, key)

    @property
    def replay_full(self) -> bool:
        return int(self.state.replay_size) >= self.state.replay.shape[0]


__all__ = ["METRIC_KEYS", "Learner", "LearnerState", "disc_reward_from_logits",
           "make_optimizer"]
