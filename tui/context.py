"""What screens and panes may read from the app, as a protocol (no import of the app: the
layers stay one-way). They act by posting messages (:mod:`tui.messages`), never by calling
the app."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, cast

if TYPE_CHECKING:
    from textual.app import App

    from tui.core.run_view_model import RunsModel


class AppContext(Protocol):
    model: "RunsModel"
    root: Path
    clock: Callable[[], float]
    cursor_blink: bool
    config_dirs: list[Path] | None

    def profile_names(self) -> list[str]: ...


def context_of(app: "App") -> AppContext:
    return cast(AppContext, app)
