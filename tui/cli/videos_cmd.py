"""``pitwall videos RUN``: list a run's videos; play one in the terminal or a desktop player."""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import time

from tui.core.videos import find_video, list_videos, open_with_desktop, video_frames

from .common import add_run_arg, guarded, print_json, run_dir, table

ORDER = 35


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("videos", help="list a run's recorded videos (or play one)",
                       description="List RUN/videos/index.jsonl, newest first. --play N shows "
                                   "video N in the terminal at a low frame rate; --open N hands "
                                   "it to the desktop's player on a display.")
    add_run_arg(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--play", metavar="VIDEO", default=None,
                   help="play a video (number, name or prefix) in the terminal")
    p.add_argument("--fps", type=float, default=8.0, help="terminal playback rate (default 8)")
    p.add_argument("--graphics", default=None, choices=("kitty", "sixel", "halfblock"),
                   help="terminal graphics (default: detected)")
    p.add_argument("--open", metavar="VIDEO", default=None,
                   help="open a video with the desktop's player")
    p.add_argument("--display", default="auto", help="display for --open (default auto)")
    p.set_defaults(handler=cmd_videos)


@guarded
def cmd_videos(args: argparse.Namespace) -> int:
    d = run_dir(args)
    if args.play:
        return play_in_terminal(d, args.play, args.fps, args.graphics)
    if args.open:
        from tui.core.displays import choose_display

        v = find_video(d, args.open)
        choice = choose_display(args.display, remember_choice=False)
        if choice.headless:
            print("pitwall: %s" % (choice.message or "no display chosen"), file=sys.stderr)
            print("play it in the terminal instead: pitwall videos %s --play %s"
                  % (d.name, v.name), file=sys.stderr)
            return 1
        open_with_desktop(v.path, choice.display, d / "logs" / "pitwall.log")
        print("opened %s on display %s" % (v.path, choice.display))
        return 0
    infos, bad = list_videos(d)
    if args.json:
        print_json([dict(v.entry.__dict__, path=str(v.path), exists=v.exists) for v in infos])
        return 0
    if not infos:
        print("no videos yet (record one: pitwall record %s)" % d.name)
        return 0
    rows = []
    for i, v in enumerate(infos, 1):
        e = v.entry
        rows.append([i, v.name + ("" if v.exists else " (missing)"),
                     os.path.basename(e.checkpoint) or "(training)", e.step,
                     e.episodes, "%.1f" % v.mean_return if v.mean_return is not None else "",
                     "%.1f s" % v.duration, "%dx%d" % (e.width, e.height), e.source,
                     _dt.datetime.fromtimestamp(e.created).strftime("%m-%d %H:%M:%S")])
    print(table(["#", "FILE", "CHECKPOINT", "STEP", "EPS", "RETURN", "LENGTH", "SIZE", "SOURCE",
                 "CREATED"], rows))
    if bad:
        print("(%d unreadable index lines skipped)" % bad)
    return 0


def play_in_terminal(d, ref: str, fps: float, graphics: str | None) -> int:
    import shutil

    from tui.core.preview import terminal_image
    from tui.core.terminal_graphics import detect

    v = find_video(d, ref)
    g = detect()
    kind = graphics or g.kind
    cols, lines = shutil.get_terminal_size((80, 24))
    rows = max(4, lines - 2)
    out = sys.stdout
    out.write("\x1b[?25l\x1b[2J")
    t0 = time.monotonic()
    try:
        for t, frame in video_frames(v.path, fps=fps, width=min(640, cols * 8)):
            out.write("\x1b[H")
            out.write(terminal_image(frame, kind, cols, rows, g.truecolor, image_id=7))
            out.write("\x1b[%d;1H\x1b[2K%s  %.1f / %.1f s  (%s, ctrl-c stops)"
                      % (rows + 1, v.name, t, v.duration, kind))
            out.flush()
            delay = t0 + t + 1.0 / fps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    except KeyboardInterrupt:
        pass
    finally:
        out.write("\x1b[0m\x1b[?25h\n")
        out.flush()
    return 0
