"""The footer of every screen: Textual's ``Footer``, rebuilt only when the keys it shows change.

Textual's footer recomposes itself (a widget per key, each restyled) whenever its screen
publishes "bindings updated", which happens on every focus change: three or four times while
the first screen starts, and again at each screen switch, with the same keys each time. This
one composes its keys at once (they are known when the screen is composed) and, when told
the bindings changed, recomposes only if what it would show differs from what it shows. It
looks the same and behaves the same (clicks, tooltips, the command palette key).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Hashable

from textual.app import ComposeResult
from textual.widgets import Footer

if TYPE_CHECKING:
    from textual.screen import Screen


class KeyFooter(Footer):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.set_reactive(Footer._bindings_ready, True)   # compose the keys at once
        self._shown: Hashable = None
        self._pending = False

    def _keys(self) -> Hashable:
        """What :meth:`compose` would show now (the bindings it reads, and how)."""
        app = self.app
        shown = tuple(
            (b.key, b.action, b.description, b.group, enabled, tooltip, app.get_key_display(b))
            for (_, b, enabled, tooltip) in self.screen.active_bindings.values() if b.show)
        palette = None
        if self.show_command_palette and app.ENABLE_COMMAND_PALETTE:
            got = self.screen.active_bindings.get(app.COMMAND_PALETTE_BINDING)
            if got is not None:
                _, b, enabled, _ = got
                palette = (b.key, b.action, b.description, enabled, b.tooltip)
        return shown, palette, self.compact

    def compose(self) -> ComposeResult:
        self._shown = self._keys()
        yield from super().compose()

    def bindings_changed(self, screen: "Screen") -> None:
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._pending:
            self._pending = True
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        self._pending = False
        if self.is_attached and self._keys() != self._shown:
            await self.recompose()
