"""``pitwall preview RUN``: a headless viewer's live frames in this terminal."""
from __future__ import annotations

import argparse
import shutil
import sys
import time

from runners.protocol import list_previews, output_dir

from tui.core.preview import caption, frame_array, latest_frame, terminal_image
from tui.core.terminal_graphics import detect

from .common import add_run_arg, err, guarded, run_dir

ORDER = 33


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preview", help="show a headless viewer's frames in the terminal",
                       description="Show preview/<viewer>.png of a viewer started with "
                                   "`pitwall play RUN --display none`, refreshed as it changes "
                                   "(kitty or sixel graphics where the terminal has them, "
                                   "half-block characters otherwise).")
    add_run_arg(p)
    p.add_argument("--viewer", default=None, help="viewer id (default: the newest frame)")
    p.add_argument("--graphics", default=None, choices=("kitty", "sixel", "halfblock"))
    p.add_argument("--once", action="store_true", help="print one frame and exit")
    p.add_argument("--size", default=None, metavar="COLSxROWS",
                   help="cells to use (default: the terminal)")
    p.set_defaults(handler=cmd_preview)


@guarded
def cmd_preview(args: argparse.Namespace) -> int:
    d = output_dir(run_dir(args))
    vid = args.viewer or _newest(d)
    if vid is None:
        return err("no preview frames in %s yet: start a headless viewer with "
                   "`pitwall play %s --display none`" % (d, d.name))
    g = detect()
    kind = args.graphics or g.kind
    if args.size:
        cols, rows = (int(x) for x in args.size.lower().split("x"))
    else:
        size = shutil.get_terminal_size((80, 24))
        cols, rows = size.columns, size.lines - 2
    out = sys.stdout
    last = None
    if not args.once:
        out.write("\x1b[?25l\x1b[2J")
    try:
        while True:
            frame, why = latest_frame(d, vid)
            key = None if frame is None else (frame.mtime, frame.frame)
            if frame is not None and key != last:
                last = key
                img = frame_array(frame)
                if not args.once:
                    out.write("\x1b[H")
                out.write(terminal_image(img, kind, cols, rows, g.truecolor, image_id=8))
                out.write("\n\x1b[2K%s  %s\n" % (vid, caption(frame)))
                out.flush()
            elif frame is None and args.once:
                return err(why or "viewer %s has no preview frame" % vid)
            if args.once:
                return 0
            time.sleep(0.1)
    except KeyboardInterrupt:
        return 0
    finally:
        if not args.once:
            out.write("\x1b[0m\x1b[?25h")
            out.flush()


def _newest(d) -> str | None:
    import os

    best = None
    for vid in list_previews(d):
        try:
            m = os.stat(d / "preview" / (vid + ".png")).st_mtime
        except OSError:
            continue
        if best is None or m > best[0]:
            best = (m, vid)
    return best[1] if best else None
