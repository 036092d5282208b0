"""Pick the display a viewer opens on: headless (preview frames) or a display that was probed.

Render-only: the caller discovers and probes (``tui.core.displays.discover`` + ``probe_all``,
off the UI thread) and passes the results; the modal dismisses with the chosen display name
(``"none"`` for headless) or ``None`` when cancelled. Displays that did not open are listed
with the reason and cannot be chosen.
"""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.core.displays import HEADLESS, DisplayCandidate, ProbeResult


class DisplayPickerScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="display_picker.cancel"),
    ]
    DEFAULT_CSS = """
    DisplayPickerScreen { align: center middle; }
    #display-box { width: 90; max-width: 100%; height: auto; max-height: 90%;
                   border: round $accent; padding: 0 1; background: $surface; }
    #display-options { height: auto; max-height: 16; }
    """

    def __init__(self, results: list[tuple[DisplayCandidate, ProbeResult]],
                 remembered: str | None = None, current: str | None = None,
                 title: str = "Open the viewer on which display?") -> None:
        super().__init__()
        self.results = results
        self.remembered = remembered
        self.current = current
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="display-box"):
            yield Static("[b]%s[/b]" % self.title_text, id="display-title")
            opts = [Option("none  [dim]headless: preview frames in the run view[/dim]",
                           id=HEADLESS)]
            for cand, res in self.results:
                mark = "[green]opens[/green]" if res.ok else "[red]does not open[/red]"
                star = "  [yellow](remembered)[/yellow]" if cand.name == self.remembered else ""
                label = "%s  %s  [dim]%s · %s[/dim]%s" % (
                    cand.name, mark, cand.source, res.detail.replace("[", r"\["), star)
                opts.append(Option(label, id=cand.name, disabled=not res.ok))
            yield OptionList(*opts, id="display-options")
            if not self.results:
                yield Static("[dim]no display found: $DISPLAY is not set, no X server socket, "
                             "no Wayland socket[/dim]", id="display-none-found")
            yield Static("[b]enter[/b] choose (remembered for this host)   [b]esc[/b] cancel",
                         id="display-keys")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        want = self.current or self.remembered
        index = 0
        for i in range(ol.option_count):
            opt = ol.get_option_at_index(i)
            if opt.id == want and not opt.disabled:
                index = i
        ol.highlighted = index
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
