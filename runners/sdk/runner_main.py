"""The one ``main`` of every runner: the command line from ``runners.protocol.runner_args`` and
the backend's declaration, then the verb.

Exit status: 0 on success and after SIGINT/SIGTERM (a trainer saves a final checkpoint first),
2 for a bad run directory, parameter, checkpoint or argument (nothing was done), 1 for anything
unexpected, 130 when a second stop signal interrupted.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, List, Optional

from runners.protocol import (CheckpointLoadError, ProtocolError, RunPaths, output_dir,
                              read_params)
from runners.protocol import runner_args as ra
from runners.protocol.displays import display_kind
from runners.protocol.rundir import check_role_name
from runners.rendering.offscreen import parse_size

from .backend import Backend, PlayContext, RunContext
from .stop_flag import StopFlag


def build_parser(backend: Backend) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m runners.%s" % backend.name,
                                description=backend.description)
    sub = p.add_subparsers(dest="mode")
    sub.required = True
    if backend.train is not None:
        ra.add_train_arguments(sub.add_parser(ra.TRAIN, help="train headless; params come from "
                                                            "RUN_DIR/run.json"),
                               backend.resume_help)
    if backend.playback is not None:
        v = sub.add_parser(ra.PLAY, help="run the policy the run's checkpoint state asks for")
        ra.add_play_arguments(v, backend.display_help)
        v.add_argument("--preview-hz", type=float, default=None,
                       help="headless preview frames per second (default from the params)")
        v.add_argument("--preview-size", default=None, metavar="WxH",
                       help="preview frame size (default from the params)")
        v.add_argument("--idle-exit", type=float, default=0.0, metavar="S",
                       help="a headless viewer nobody watched for S seconds ends (0 = never)")
        if backend.preview:
            ra.add_record_arguments(sub.add_parser(
                ra.RECORD, help="record N episodes of a checkpoint to videos/ (mp4)"))
    for name, verb in backend.verbs.items():
        vp = sub.add_parser(name, help=verb.help)
        vp.add_argument("--run-dir", required=True, type=Path)
        vp.add_argument("--role", default=name)
        if verb.add_arguments is not None:
            verb.add_arguments(vp)
    sub.add_parser(ra.DESCRIBE, help="print what this backend can do (JSON)")
    ra.add_check_arguments(sub.add_parser(ra.CHECK, help="check parameters (JSON verdict)"))
    return p


def describe(backend: Backend) -> int:
    print(json.dumps(backend.capabilities().to_dict()), flush=True)
    return ra.EXIT_OK


def check(backend: Backend, args: argparse.Namespace) -> int:
    """Check a parameter set as the runner will: one JSON line, exit 0 (ok) or 2."""
    source = Path(getattr(args, "source", None) or "params")
    try:
        raw = sys.stdin.read() if str(args.params_json) == "-" else \
            args.params_json.read_text(encoding="utf-8")
        params = json.loads(raw)
        if not isinstance(params, dict):
            raise ValueError("expected a JSON object")
    except (OSError, ValueError) as e:
        print(json.dumps({"ok": False, "errors": [{"field": None, "message": str(e)}]}))
        return ra.EXIT_USAGE
    try:
        cfg = backend.config(params, source)
    except ProtocolError as e:
        print(json.dumps({"ok": False, "errors": [{"field": e.field, "message": e.message}]}))
        return ra.EXIT_USAGE
    except ValueError as e:
        print(json.dumps({"ok": False, "errors": [{"field": None, "message": str(e)}]}))
        return ra.EXIT_USAGE
    print(json.dumps({"ok": True, "warnings": list(getattr(cfg, "unknown", []) or []),
                      "capabilities": backend.capabilities(cfg).to_dict()}))
    return ra.EXIT_OK


def _play(backend: Backend, run_dir: Path, cfg: Any, args: argparse.Namespace,
          stop: StopFlag) -> int:
    from .displays import make_display
    from .player import Player, PlayOptions

    check_role_name(args.viewer_id)
    settings = backend.settings(cfg)
    size = parse_size(args.preview_size, "--preview-size") if args.preview_size else None
    hz = settings.preview_hz if args.preview_hz is None else args.preview_hz
    holder = []  # type: List[Any]

    def on_lost(message: str) -> None:
        if holder:
            holder[0].fail(message)

    display = make_display(args.display, output_dir(run_dir), args.viewer_id, hz,
                           say=lambda line: print(line, flush=True), on_lost=on_lost)
    assert backend.playback is not None
    playback = backend.playback(PlayContext(run_dir, cfg, ra.PLAY, args.display, size,
                                            say=lambda line: print(line, flush=True)))
    player = Player(run_dir, args.viewer_id, playback, display,
                    PlayOptions(realtime=settings.realtime, idle_exit=args.idle_exit,
                                seed=settings.seed), stop=stop)
    holder.append(player)
    return player.run()


def _record(backend: Backend, run_dir: Path, cfg: Any, args: argparse.Namespace,
            stop: StopFlag) -> int:
    from runners.protocol import resolve_checkpoint_path
    from runners.protocol.checkpoint_layout import checkpoint_layout

    from .recorder import EpisodeRecorder, RecordOptions, recording_target

    if args.episodes < 1:
        raise ValueError("--episodes must be >= 1, found %d" % args.episodes)
    size = parse_size(args.size, "--size") if args.size else None
    if size is not None and (size[0] % 2 or size[1] % 2):
        raise ValueError("--size %s: mp4 needs even width and height" % args.size)
    layout = checkpoint_layout(run_dir)
    if args.checkpoint:
        ckpt = resolve_checkpoint_path(layout.out_dir, str(args.checkpoint))
    else:
        target = layout.auto_target()
        if target is None:
            raise CheckpointLoadError(run_dir, "no checkpoint to record yet")
        ckpt = target
    ckpt = recording_target(ckpt, layout.spec.latest)
    settings = backend.settings(cfg)
    assert backend.playback is not None
    playback = backend.playback(PlayContext(run_dir, cfg, ra.RECORD, "none", size,
                                            say=lambda line: print(line, flush=True)))
    opts = RecordOptions(
        checkpoint=ckpt, episodes=args.episodes, fps=args.fps or settings.video_fps,
        max_steps=args.max_steps or settings.max_video_steps,
        settle_steps=settings.settle_steps if args.settle_steps is None else args.settle_steps,
        source=args.source, train_episode=args.train_episode, seed=settings.seed + 20000,
        delete_checkpoint=args.delete_checkpoint)
    return EpisodeRecorder(output_dir(run_dir), playback, opts, stop=stop).run()


def _dispatch(backend: Backend, args: argparse.Namespace, stop: StopFlag) -> int:
    run_dir = args.run_dir.resolve()
    source = RunPaths(run_dir).run_json
    cfg = backend.config(read_params(run_dir), source)
    for key in getattr(cfg, "unknown", []) or []:
        print("warning: run.json: field %r is not used by the %s runner" % (key, backend.name),
              flush=True)
    say = (lambda line: print(line, flush=True))
    if args.mode == ra.TRAIN:
        check_role_name(args.role)
        assert backend.train is not None
        resume = ra.resolve_run_path(args.resume, run_dir) if args.resume else None
        return backend.train(RunContext(run_dir, args.role, cfg, args, stop, say, resume))
    if args.mode == ra.PLAY:
        return _play(backend, run_dir, cfg, args, stop)
    if args.mode == ra.RECORD:
        return _record(backend, run_dir, cfg, args, stop)
    verb = backend.verbs[args.mode]
    return verb.run(RunContext(run_dir, args.role, cfg, args, stop, say))


def run_backend(backend: Backend, argv: Optional[List[str]] = None) -> int:
    stop = StopFlag(interrupt_on_repeat=backend.interrupt_on_repeat).install()  # before imports
    args = build_parser(backend).parse_args(argv)
    if args.mode == ra.DESCRIBE:
        return describe(backend)
    if args.mode == ra.CHECK:
        return check(backend, args)
    import faulthandler

    faulthandler.enable()  # a crash in native code (GL, X) leaves a traceback in the log
    try:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        pass
    try:
        if args.mode == ra.PLAY:
            display_kind(args.display)          # a bad name: exit 2 before anything starts
        if backend.prepare is not None:
            backend.prepare(args.mode, args)
        elif args.mode in (ra.PLAY, ra.RECORD):
            from .displays import prepare_display

            prepare_display(getattr(args, "display", "none") if args.mode == ra.PLAY else "none")
        return _dispatch(backend, args, stop)
    except (ProtocolError, CheckpointLoadError, ValueError) as e:
        # bad parameters, arguments or checkpoints (a backend raises ProtocolError or
        # ValueError for what the user gave it); nothing was done
        print("error: %s" % e, file=sys.stderr, flush=True)
        return ra.EXIT_USAGE
    except KeyboardInterrupt as e:  # a second stop signal
        print("interrupted: %s" % (e or "KeyboardInterrupt"), file=sys.stderr, flush=True)
        return 130

