"""Pitwall runners: the processes Pitwall starts (train and play for each backend).

Nothing under ``runners/`` imports Textual or ``tui``; ``runners.protocol`` is the one
definition of every file a run directory holds, shared with the control center.
The package keeps Python 3.8 syntax so a runner can live in an Isaac Gym environment.
"""
