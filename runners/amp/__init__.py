"""AMP + PPO in JAX on MuJoCo walkers (LocoMuJoCo when installed, gymnasium here)."""
