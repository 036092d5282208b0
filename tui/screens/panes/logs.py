"""Logs of the run, per role: follow on/off, search, jump to the next error or traceback."""
from __future__ import annotations

import re

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static

from tui.core.logs import LogFollower, find_line, is_error_line, log_path
from tui.core.run_detail_model import RunDetail
from tui.widgets.log_pane import LogPane
from tui.screens.panes.base import RunPaneMixin



class LogsPane(RunPaneMixin, Vertical):
    BINDINGS = [
        Binding("f", "follow", "Follow", id="logs.follow"),
        Binding("slash", "search", "Search", id="logs.search"),
        Binding("n", "next_match", "Next", id="logs.next"),
        Binding("N", "prev_match", "Prev", show=False, id="logs.prev"),
        Binding("e", "next_error", "Next error", id="logs.next_error"),
        Binding("E", "prev_error", "Prev error", show=False, id="logs.prev_error"),
        Binding("right_square_bracket", "role(1)", "Next role", id="logs.next_role"),
        Binding("left_square_bracket", "role(-1)", "Prev role", show=False,
                id="logs.prev_role"),
    ]

    def __init__(self) -> None:
        super().__init__(id="pane-logs")
        self.detail: RunDetail | None = None
        self.role: str | None = None
        self.follow = True
        self.pattern: re.Pattern[str] | None = None
        self.search_text = ""
        self._follower: LogFollower | None = None
        self._roles: tuple[str, ...] = ()


    def compose(self) -> ComposeResult:
        yield Static("", id="logs-bar")
        yield Input(placeholder="search (regex; enter: next match, esc: close)",
                    id="logs-search")
        yield LogPane(id="logs-view")

    def on_mount(self) -> None:
        self.query_one("#logs-search", Input).display = False

    def on_unmount(self) -> None:
        if self._follower is not None:
            self._follower.stop()

    def focus_main(self) -> None:
        self.query_one(LogPane).focus()

    @property
    def logview(self) -> LogPane:
        return self.query_one(LogPane)

    # ------------------------------------------------------------------ data
    def show(self, detail: RunDetail) -> None:
        self.detail = detail
        roles = tuple(r.role for r in detail.roles) + tuple(
            x for x in detail.logs if x not in {r.role for r in detail.roles})
        if roles != self._roles:
            self._roles = roles
            if self.role is None or self.role not in roles:
                self._switch(roles[0] if roles else None)
            elif self._follower is None:
                self._switch(self.role)   # asked for (show_role) before the run was loaded
            self._bar()
        self.drain()

    def show_role(self, role: str) -> None:
        """Show ``role``'s log (e.g. a failed viewer's, from the processes tab)."""
        if role != self.role or self._follower is None:
            self._switch(role)
        if not self.follow:
            self.action_follow()

    def drain(self) -> None:
        if self._follower is None:
            return
        lines = self._follower.drain()
        if lines:
            self.logview.write_lines(lines, scroll_end=self.follow)

    def _switch(self, role: str | None) -> None:
        if self._follower is not None:
            self._follower.stop()
            self._follower = None
        self.role = role
        self.logview.clear()
        self.logview.current = None
        if role is not None and self.detail is not None:
            try:
                path = log_path(self.detail.path, role)
            except (OSError, ValueError) as e:
                self.logview.write_line("cannot open the log of %s: %s" % (role, e))
                return
            self._follower = LogFollower(path).start()
        self._bar()

    def _bar(self, note: str = "") -> None:
        roles = "  ".join(("[reverse] %s [/reverse]" % r) if r == self.role else r
                          for r in self._roles) or "[dim]no logs yet[/dim]"
        follow = "[green]follow on[/green]" if self.follow else "[yellow]follow off[/yellow]"
        search = ("  search [b]%s[/b]" % self.search_text.replace("[", r"\[")) \
            if self.search_text else ""
        self.query_one("#logs-bar", Static).update(
            "%s   %s%s%s" % (roles, follow, search, ("   " + note) if note else ""))

    # ------------------------------------------------------------------ keys
    def action_role(self, delta: int) -> None:
        if not self._roles:
            return
        i = self._roles.index(self.role) if self.role in self._roles else 0
        self._switch(self._roles[(i + delta) % len(self._roles)])

    def action_follow(self) -> None:
        self.follow = not self.follow
        self.logview.auto_scroll = self.follow
        if self.follow:
            self.logview.current = None
            self.logview.scroll_end(animate=False)
        self._bar()

    def action_search(self) -> None:
        inp = self.query_one("#logs-search", Input)
        inp.display = True
        inp.focus()

    @on(Input.Submitted, "#logs-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        text = event.value
        self.search_text = text
        if text:
            try:
                self.pattern = re.compile(text, re.IGNORECASE)
            except re.error:
                self.pattern = re.compile(re.escape(text), re.IGNORECASE)
        else:
            self.pattern = None
        self.logview.set_search(self.pattern)
        event.input.display = False
        self.focus_main()
        if self.pattern is not None:
            self.action_next_match()
        else:
            self._bar()

    def on_key(self, event) -> None:
        inp = self.query_one("#logs-search", Input)
        if event.key == "escape" and inp.has_focus:
            inp.display = False
            self.focus_main()
            event.stop()

    def _start(self) -> int:
        if self.logview.current is not None:
            return self.logview.current
        return int(self.logview.scroll_offset.y) + (0 if self.follow else -1)

    def _jump(self, match, forward: bool, what: str) -> None:
        lines = self.logview.lines
        i = find_line(lines, self._start(), match, forward)
        if i is None:
            self._bar("[yellow]no %s[/yellow]" % what)
            return
        if self.follow:
            self.follow = False
            self.logview.auto_scroll = False
        self.logview.show_line(i)
        self._bar("%s at line %d of %d" % (what, i + 1, len(lines)))

    def action_next_match(self) -> None:
        if self.pattern is None:
            self.action_search()
            return
        pat = self.pattern
        self._jump(lambda s: pat.search(s) is not None, True, "match")

    def action_prev_match(self) -> None:
        if self.pattern is not None:
            pat = self.pattern
            self._jump(lambda s: pat.search(s) is not None, False, "match")

    def action_next_error(self) -> None:
        self._jump(is_error_line, True, "error")

    def action_prev_error(self) -> None:
        self._jump(is_error_line, False, "error")
