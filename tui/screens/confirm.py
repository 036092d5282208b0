"""Ask before anything that stops, kills or deletes."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen["bool | str"]):
    """Yes (``True``) / no (``False``), and optionally a second way to say yes (``"other"``,
    on key ``o``): e.g. stop the run *and* its viewers."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
        Binding("o", "other", "Other", id="confirm.other", show=False),
    ]

    def __init__(self, question: str, detail: str = "", yes: str = "Yes",
                 other: str | None = None) -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.yes = yes
        self.other = other

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(self.question, id="confirm-question")
            if self.detail:
                yield Static(self.detail, id="confirm-detail")
            keys = "[b]y[/b] %s    " % self.yes
            if self.other:
                keys += "[b]o[/b] %s    " % self.other
            yield Static(keys + "[b]n[/b] / [b]esc[/b] cancel", id="confirm-keys")
            with Vertical(id="confirm-buttons"):
                yield Button("%s (y)" % self.yes, id="yes", variant="error")
                if self.other:
                    yield Button("%s (o)" % self.other, id="other", variant="warning")
                yield Button("Cancel (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss("other" if event.button.id == "other" else event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def action_other(self) -> None:
        if self.other:
            self.dismiss("other")
