"""What every run-view pane shares."""
from __future__ import annotations

from typing import TYPE_CHECKING

from tui.context import AppContext, context_of

if TYPE_CHECKING:
    from textual.app import App


class RunPaneMixin:
    """``papp``: what the pane may read from the app (the model, the clock); it acts by
    posting messages (:mod:`tui.messages`)."""

    app: "App"

    @property
    def papp(self) -> AppContext:
        return context_of(self.app)
