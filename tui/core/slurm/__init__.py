"""Runs as Slurm batch jobs: submit (one job per run, a job array per sweep), the agent that
runs the roles on the node, job states from squeue/sacct, stop/resume/restart through Slurm.
See ``docs/slurm.md``."""
