"""The machine: CPU, RAM, the disk of the runs root and each NVIDIA GPU, with a short history
as sparklines, then every live run and role with its CPU, RSS, GPU memory and utilization.

From the poller's :class:`~tui.core.system_model.SystemSnapshot` (NVML read in the data
thread). Without a GPU or a driver the GPU lines are one quiet line saying so.
"""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from tui.context import AppContext, context_of
from tui.core.system_model import SystemSnapshot
from tui.widgets.formatting import display_path, run_name, size, sparkline
from tui.widgets.key_footer import KeyFooter
from tui.widgets.keyed_table import KeyedTable

SPARK = 20


def _pct(v: float | None) -> str:
    return "%3.0f%%" % v if v is not None else "   -"


def machine_lines(s: SystemSnapshot, root_label: str, width: int = 80) -> list[str]:
    """The box and its GPUs, one line each (markup)."""
    spark = max(6, min(SPARK, width - 60))
    h = s.history
    lines = [
        "[b]CPU[/b]  %s of %d cores  [cyan]%s[/cyan]  load %.2f %.2f %.2f" % (
            _pct(s.cpu), s.cores, sparkline(h.get("cpu", ()), spark).ljust(spark), *s.load),
        "[b]RAM[/b]  %s  %s / %s  [cyan]%s[/cyan]" % (
            _pct(s.ram_percent), size(s.ram_used), size(s.ram_total),
            sparkline(h.get("ram", ()), spark).ljust(spark)),
        "[b]Disk[/b] %s  %s / %s  free %s  (%s)" % (
            _pct(s.disk_percent), size(s.disk_used), size(s.disk_total),
            size(max(0, s.disk_total - s.disk_used)), root_label.replace("[", r"\[")),
    ]
    if not s.gpus:
        lines.append("[dim]%s[/dim]" % (s.gpu_note or "no GPU").replace("[", r"\["))
    for g in s.gpus:
        mem = "%s/%s" % (size(g.mem_used), size(g.mem_total)) if g.mem_used is not None \
            else "-"
        temp = "%.0f°C" % g.temperature if g.temperature is not None else "-"
        power = ("%.0f/%.0fW" % (g.power, g.power_limit) if g.power is not None and
                 g.power_limit else ("%.0fW" % g.power if g.power is not None else "-"))
        lines.append("[b]GPU%d[/b]  %s  [green]%s[/green]  mem %s  %s  %s  [dim]%s[/dim]" % (
            g.index, _pct(g.util), sparkline(h.get("gpu%d" % g.index, ()), spark // 2)
            .ljust(spark // 2), mem, temp, power, g.name[:18].replace("[", r"\[")))
    return lines


class SystemScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="system.back"),
        Binding("enter", "open", "Open run", id="system.open"),
    ]

    def __init__(self) -> None:
        super().__init__(id="system-screen")
        self._version = -1
        self._texts: dict[str, str] = {}

    @property
    def papp(self) -> AppContext:
        return context_of(self.app)

    def compose(self) -> ComposeResult:
        yield Static("", id="system-title", classes="title-bar")
        yield Static("", id="system-machine")
        yield KeyedTable([("run", "RUN", 24), ("role", "ROLE", 10),
                          ("cpu", "CPU%", 4), ("rss", "RSS", 6), ("gmem", "GPU MEM", 7),
                          ("gutil", "GPU%", 4), ("gpus", "GPUS", 4)], id="system-roles")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.papp.model.watch_system(True)
        self.query_one("#system-roles").focus()
        self.refresh_from_model()

    def on_unmount(self) -> None:
        self.papp.model.watch_system(False)

    def on_screen_resume(self) -> None:
        self.papp.model.watch_system(True)

    def on_screen_suspend(self) -> None:
        self.papp.model.watch_system(False)

    def _say(self, selector: str, text: str) -> None:
        if self._texts.get(selector) != text:
            self._texts[selector] = text
            self.query_one(selector, Static).update(text)

    def refresh_from_model(self) -> None:
        if not self.is_attached:
            return
        s = self.papp.model.machine
        if s.version == self._version:
            return
        self._version = s.version
        self._say("#system-title", "[b]Machine[/b]  %s   %d live roles" % (
            s.host, len(s.roles)))
        self._say("#system-machine", "\n".join(machine_lines(
            s, display_path(self.papp.root), self.size.width or 80)))
        rows = []
        for r in sorted(s.roles, key=lambda r: (r.run, r.role)):
            rows.append(("%s/%s" % (r.run, r.role), [
                Text(run_name(r.run, 24)), Text(r.role),
                Text("%.0f" % r.cpu if r.cpu is not None else ""),
                Text(size(r.rss)), Text(size(r.gpu_mem) if r.gpu_mem is not None else ""),
                Text("%.0f" % r.gpu_util if r.gpu_util is not None else ""),
                Text(",".join(str(g) for g in r.gpus))]))
        self.query_one("#system-roles", KeyedTable).set_rows(rows)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_open(self) -> None:
        key = self.query_one("#system-roles", KeyedTable).current_key
        if key is None:
            return
        run = key.split("/", 1)[0]
        row = self.papp.model.runs.row(run)
        if row is not None:
            from .run_view import open_run_screen

            self.app.pop_screen()
            open_run_screen(self.app, row.path)
