# The two commands of the README. Each does all set-up on a fresh machine first.
#   make run    set up, launch the default profile (InvertedPendulum, CPU) and open the TUI
#   make test   set up with the test extras and run the whole test suite
.PHONY: run test setup bench

run:
	scripts/setup.sh mujoco
	.venv/bin/pitwall launch mujoco/inverted_pendulum
	.venv/bin/pitwall

test:
	scripts/setup.sh mujoco,dev,rlgames,serl,jax,wandb,bench,maniskill
	.venv/bin/python -m pytest -q --durations=15

bench:
	scripts/setup.sh mujoco,dev,rlgames,serl,jax,bench,maniskill
	@failed=""; for b in benchmarks/bench_*.py; do echo "== $$b"; \
	  .venv/bin/python $$b || failed="$$failed $$b"; done; \
	  if [ -n "$$failed" ]; then echo "benchmarks that failed:$$failed"; exit 1; fi
