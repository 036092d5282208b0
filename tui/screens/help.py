"""Every key binding, by where it applies, with the keys the user's keymap gives it."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.keymap import keymap_path


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]

    def __init__(self, catalog: list[tuple[str, str, str, str]]) -> None:
        """``catalog``: (where, binding id, keys, description) rows."""
        super().__init__()
        self.catalog = catalog

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, show_header=True, header_style="bold",
                      pad_edge=False)
        table.add_column("KEYS", no_wrap=True, style="bold cyan", width=14)
        table.add_column("ACTION", ratio=1)
        table.add_column("ID", style="dim", no_wrap=True, ratio=1)
        where_before = None
        for where, bid, keys, desc in self.catalog:
            if where != where_before:
                table.add_row(Text(where, style="bold underline"), "", "")
                where_before = where
            table.add_row(keys, desc, bid)
        with Vertical(id="help-box"):
            yield Static("[b]Pitwall keys[/b]  (esc closes; ctrl+p opens the command palette)",
                         id="help-title")
            with VerticalScroll(id="help-scroll"):
                yield Static(table)
                yield Static(Text.assemble(
                    "\nRebind any key by id in ", (str(keymap_path()), "bold"),
                    " (or the file $PITWALL_KEYMAP names), e.g.\n",
                    ("  runs.launch: ctrl+n\n  app.quit: q,ctrl+q\n", "cyan")))

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_close(self) -> None:
        self.dismiss(None)
