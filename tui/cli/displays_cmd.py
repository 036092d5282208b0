"""``pitwall displays``: the displays a viewer window could use, probed for real."""
from __future__ import annotations

import argparse
import socket

from tui.core.displays import (choose_display, discover, forget, memory_file, probe_all,
                               remember, remembered)

from .common import guarded, print_json, table

ORDER = 32


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("displays", help="list the displays a viewer window could use",
                       description="Find displays ($DISPLAY, Wayland, local X servers in "
                                   "/tmp/.X11-unix), check that each really opens (with GLX), "
                                   "and show which one `pitwall play --display auto` uses on "
                                   "this host.")
    p.add_argument("--use", metavar="DISPLAY", default=None,
                   help="remember this display for this host (after probing it; 'none' = "
                        "always headless)")
    p.add_argument("--forget", action="store_true", help="forget the remembered display")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds per probe (default 3)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_displays)


@guarded
def cmd_displays(args: argparse.Namespace) -> int:
    host = socket.gethostname()
    if args.forget:
        forget()
        print("forgot the display of %s" % host)
        return 0
    if args.use:
        choice = choose_display(args.use, timeout=args.timeout, remember_choice=False)
        if choice.message and args.use != "none":
            print("pitwall: %s; not remembered" % choice.message)
            return 1
        remember(choice.display)
        print("%s: viewers use %s (remembered in %s)" % (host, choice.display, memory_file()))
        return 0
    cands = discover()
    results = probe_all([c.name for c in cands], args.timeout)
    mem = remembered()
    auto = choose_display("auto", timeout=args.timeout, remember_choice=False)
    if args.json:
        print_json({"host": host, "remembered": mem, "auto": auto.display,
                    "auto_message": auto.message,
                    "displays": [{"name": c.name, "kind": c.kind, "source": c.source,
                                  "ok": r.ok, "detail": r.detail,
                                  "seconds": round(r.seconds, 3)}
                                 for c, r in zip(cands, results)]})
        return 0
    if cands:
        print(table(["DISPLAY", "KIND", "FOUND IN", "OPENS", "DETAIL"],
                    [[c.name, c.kind, c.source, "yes" if r.ok else "no", r.detail]
                     for c, r in zip(cands, results)]))
    else:
        print("no display found ($DISPLAY unset, no X server socket, no Wayland socket)")
    print("remembered for %s: %s" % (host, mem or "nothing"))
    print("--display auto uses: %s%s" % (auto.display, "  (%s)" % auto.message
                                          if auto.message else ""))
    return 0
