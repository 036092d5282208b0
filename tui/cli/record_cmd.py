"""``pitwall record RUN``: record episodes of a checkpoint to ``videos/`` as mp4."""
from __future__ import annotations

import argparse

from tui.core.videos import start_recording, wait_recording

from .common import add_run_arg, guarded, print_json, run_dir

ORDER = 34


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("record", help="record episodes of a checkpoint to an mp4 in videos/",
                       description="Render N episodes of a checkpoint offscreen with an overlay "
                                   "(checkpoint, step, return) to RUN/videos/<name>.mp4 and list "
                                   "it in videos/index.jsonl. Runs detached (it finishes if you "
                                   "quit); --wait blocks until the file is there.")
    add_run_arg(p)
    p.add_argument("--checkpoint", default=None, metavar="FILE",
                   help="file name in the run's checkpoint dir, a step number, or a path "
                        "(default: the newest)")
    p.add_argument("--episodes", type=int, default=1)
    p.add_argument("--size", default=None, metavar="WxH", help="frame size (default: profile)")
    p.add_argument("--fps", type=float, default=None, help="default: the env's own rate")
    p.add_argument("--max-steps", type=int, default=None,
                   help="cut an episode after this many steps (default: profile)")
    p.add_argument("--wait", action="store_true", help="wait for the recording to finish")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_record)


@guarded
def cmd_record(args: argparse.Namespace) -> int:
    d = run_dir(args)
    extra = []
    if args.size:
        extra += ["--size", args.size]
    if args.fps:
        extra += ["--fps", str(args.fps)]
    if args.max_steps:
        extra += ["--max-steps", str(args.max_steps)]
    started = start_recording(d, args.checkpoint, args.episodes, extra)
    what = started.checkpoint.name if started.checkpoint else "the newest checkpoint"
    if not args.wait:
        started.starter.wait(timeout=30)
        if args.json:
            print_json({"recorder": started.role, "checkpoint": str(started.checkpoint or "")})
        else:
            print("recording %d episode(s) of %s (%s); log: %s; see `pitwall videos %s`"
                  % (args.episodes, what, started.role, d / "logs" / (started.role + ".log"),
                     d.name))
        return 0
    code, entry, error = wait_recording(d, started)
    if args.json:
        print_json({"recorder": started.role, "exit_code": code, "error": error,
                    "video": entry.__dict__ if entry else None})
        return 0 if code == 0 and entry else 1
    if code != 0 or entry is None:
        print("recording failed: %s" % (error or "no video was written"))
        return 1
    print("recorded %s: %d episode(s), returns %s, %d frames at %g fps, %dx%d"
          % (d / "videos" / entry.file, entry.episodes, [round(r, 1) for r in entry.returns],
             entry.frames, entry.fps, entry.width, entry.height))
    return 0
