"""The control center without a terminal: profiles, launch, registry, stop, checkpoints, metrics.

Used by the CLI, the TUI and the tests alike. Nothing here imports Textual (an import-linter
contract in pyproject.toml keeps it so).
"""
