"""Pitwall's control center: ``tui.core`` (no Textual), the CLI, and the Textual app."""
__version__ = "0.1.0"
