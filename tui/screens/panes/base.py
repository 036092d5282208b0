"""What every run-view pane shares."""
from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from textual.app import App

    from tui.app import PitwallApp


class RunPaneMixin:
    """``papp``: the Pitwall app, typed (panes call its actions: start a viewer, stop ...)."""

    app: "App"

    @property
    def papp(self) -> "PitwallApp":
        return cast("PitwallApp", self.app)
