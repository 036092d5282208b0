"""Record a video of one checkpoint: how many episodes? (``r`` on the checkpoints tab)."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

MAX_EPISODES = 100


class RecordScreen(ModalScreen[int | None]):
    """Dismisses with the number of episodes to record, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="record.cancel")]
    DEFAULT_CSS = """
    RecordScreen { align: center middle; }
    #record-box { width: 64; max-width: 100%; height: auto; border: round $accent;
                  padding: 0 1; background: $surface; }
    #record-episodes { width: 12; }
    #record-error { color: $error; height: auto; }
    """

    def __init__(self, run_name: str, checkpoint: str, episodes: int = 1) -> None:
        super().__init__()
        self.run_name = run_name
        self.checkpoint = checkpoint
        self.episodes = episodes

    def compose(self) -> ComposeResult:
        with Vertical(id="record-box"):
            yield Static("[b]Record a video[/b] of [b]%s[/b]\n[dim]%s · offscreen, in the "
                         "background: it goes on if you quit[/dim]"
                         % (self.checkpoint, self.run_name), id="record-title")
            yield Static("Episodes:")
            yield Input(str(self.episodes), type="integer", id="record-episodes")
            yield Static("", id="record-error")
            yield Static("[b]enter[/b] record   [b]esc[/b] cancel", id="record-keys")

    def on_mount(self) -> None:
        inp = self.query_one(Input)
        inp.focus()
        inp.select_all()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        n = int(text) if text.isdigit() else 0
        if not 1 <= n <= MAX_EPISODES:
            self.query_one("#record-error", Static).update(
                "episodes: a whole number from 1 to %d" % MAX_EPISODES)
            return
        self.dismiss(n)

    def action_cancel(self) -> None:
        self.dismiss(None)
