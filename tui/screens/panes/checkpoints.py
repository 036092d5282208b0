"""Checkpoints of the run: live list, Auto / Manual, load one, what each viewer really shows,
and record a video of any checkpoint (``r``)."""
from __future__ import annotations


from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from tui.core.run_detail_model import RoleRow, RunDetail, ViewerRow
from tui.messages import CheckpointRequested, RecordRequested
from tui.widgets.checkpoint_list import CheckpointList
from tui.screens.panes.base import RunPaneMixin



def viewer_line(v: ViewerRow) -> str:
    name = "[b]%s[/b]" % v.id
    if not v.alive:
        text = "%s  [dim]%s%s[/dim]" % (name, v.process_text or v.process or "gone",
                                        ("  last showed " + v.checkpoint) if v.checkpoint else "")
        if v.process == "failed":
            text += "  [dim](its log: tab 2)[/dim]"
        return text
    if v.ack_state is None:
        state = "[red]NO ACK: never reported[/red]" if v.no_ack else "[yellow]starting[/yellow]"
        return "%s  %s  pid-alive" % (name, state)
    parts = [name, v.ack_state]
    if v.checkpoint:
        parts.append("shows [b]%s[/b]" % v.checkpoint)
        if v.step is not None:
            parts.append("step %d" % v.step)
    else:
        parts.append("no checkpoint loaded yet")
    if v.seq is not None:
        parts.append("seq %d" % v.seq)
    if v.no_ack:
        parts.append("[b red]NO ACK[/b red] for the latest request")
    elif v.pending:
        parts.append("[yellow]switching ...[/yellow]")
    else:
        parts.append("[green]✓[/green]")
    if v.stale:
        parts.append("[red]no heartbeat[/red]")
    if v.episode_return is not None:
        parts.append("return %.4g" % v.episode_return)
    if v.error:
        parts.append("[red]%s[/red]" % v.error.replace("[", r"\["))
    return "  ".join(parts)


def recorder_line(r: RoleRow) -> str:
    n = r.episodes or 1
    what = "%d episode%s of %s" % (n, "" if n == 1 else "s", r.target or "the newest")
    if r.alive:
        return "[b]%s[/b]  [yellow]recording[/yellow] %s" % (r.role, what)
    if r.state == "finished":
        return "[b]%s[/b]  [dim]recorded %s: tab 5[/dim]" % (r.role, what)
    return "[b]%s[/b]  [red]%s[/red] %s  [dim](its log: tab 2)[/dim]" % (
        r.role, r.text.replace("[", r"\["), what)


class CheckpointsPane(RunPaneMixin, Vertical):
    BINDINGS = [
        Binding("enter", "load", "Load", id="checkpoints.load"),
        Binding("a", "auto", "Auto mode", id="checkpoints.auto"),
        Binding("m", "manual", "Manual: pin", id="checkpoints.manual"),
        Binding("r", "record", "Record video", id="checkpoints.record"),
    ]

    def __init__(self) -> None:
        super().__init__(id="pane-checkpoints")
        self.detail: RunDetail | None = None
        self._key: object = None


    def compose(self) -> ComposeResult:
        yield Static("", id="ckpt-mode")
        yield CheckpointList(id="ckpt-list")
        yield Static("", id="ckpt-viewers")

    def focus_main(self) -> None:
        self.query_one(CheckpointList).focus()

    def show(self, detail: RunDetail) -> None:
        self.detail = detail
        recorders = tuple(r for r in detail.roles if r.is_recorder)
        key = (detail.checkpoints.version, detail.state, detail.state_error, detail.viewers,
               detail.headline, tuple((r.role, r.state, r.text) for r in recorders))
        if key == self._key:
            return
        self._key = key
        self.query_one(CheckpointList).show(detail)
        st = detail.state
        if detail.state_error:
            mode = "[red]state file unreadable: %s[/red]" % detail.state_error.replace("[", r"\[")
        elif st is None:
            mode = "Mode [b]AUTO[/b] (no state file yet: viewers follow the newest checkpoint)"
        elif st.mode == "auto":
            mode = "Mode [b green]AUTO[/b green]: viewers follow the newest checkpoint  (seq %d)" \
                % st.seq
        else:
            mode = "Mode [b yellow]MANUAL[/b yellow]: viewers show [b]%s[/b]  (seq %d)" % (
                detail.requested, st.seq)
        n = len(detail.checkpoints.history)
        mode += "   %d saved" % n
        self.query_one("#ckpt-mode", Static).update(mode)
        # live viewers and recordings first (the area shows 5 lines), then what ended
        lines = [viewer_line(v) for v in detail.viewers if v.alive]
        lines += [recorder_line(r) for r in recorders if r.alive]
        lines += [viewer_line(v) for v in detail.viewers if not v.alive]
        if recorders and not any(r.alive for r in recorders):
            lines.append(recorder_line(recorders[-1]))   # the last recording's outcome
        if not detail.viewers:
            lines.insert(0, "[dim]no viewer: v starts one (none = headless) · r records a "
                            "video[/dim]")
        text = "\n".join(lines)
        self.query_one("#ckpt-viewers", Static).update(text)

    def _selected(self) -> str | None:
        return self.query_one(CheckpointList).current_key

    def action_load(self) -> None:
        name = self._selected()
        if name is None or self.detail is None:
            self.notify("no checkpoint yet", severity="warning")
            return
        if name == "latest.pth":
            self.post_message(CheckpointRequested(self.detail.path, "auto"))
        else:
            self.post_message(CheckpointRequested(self.detail.path, "manual", name))

    def action_record(self) -> None:
        name = self._selected()
        if name is None or self.detail is None:
            self.notify("no checkpoint yet", severity="warning")
            return
        self.post_message(RecordRequested(self.detail.path, name))

    def action_manual(self) -> None:
        self.action_load()

    def action_auto(self) -> None:
        if self.detail is not None:
            self.post_message(CheckpointRequested(self.detail.path, "auto"))

    def on_data_table_row_selected(self) -> None:
        self.action_load()
