"""``pitwall launch PROFILE [k=v ...]`` and ``pitwall profiles``."""
from __future__ import annotations

import argparse

from runners.protocol import read_proc_record, read_starter_record

from tui.core.launch import launch
from tui.core.run_control import start_failure
from tui.core.profiles import ProfileError, discover_profiles, load_profile, \
    profile_search_dirs
from tui.core.viewers import start_viewer_at_first_checkpoint

from .common import guarded, print_json, runs_root, table

ORDER = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("launch", help="start a run from a profile",
                       description="Start a run from a profile in configs/. Parameters are "
                                   "overridden Hydra-style: key=value, a.b=value, +new=value.")
    p.add_argument("profile", help="profile name (e.g. mujoco/inverted_pendulum), last name "
                                   "component, or a YAML path")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    p.add_argument("--play", nargs="?", const="none", default=None, metavar="DISPLAY",
                   help="also start a viewer once the first checkpoint exists (even if this "
                        "command has ended by then); DISPLAY defaults to none (headless)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_launch)

    p = sub.add_parser("profiles", help="list the profiles Pitwall can launch")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_profiles)


@guarded
def cmd_launch(args: argparse.Namespace) -> int:
    res = launch(args.profile, args.overrides, runs_root(args))
    first = res.record.processes[0].role
    rec = read_proc_record(res.run_dir, first)
    st = read_starter_record(res.run_dir)
    failure = st.error if st is not None and st.error else None
    if rec is None and failure is None and res.starter is not None \
            and res.starter.poll() not in (None, 0):
        failure = start_failure(res.run_dir, res.starter)  # it crashed before recording why
    if args.play is not None:
        start_viewer_at_first_checkpoint(res.run_dir, args.play)
    if args.json:
        print_json({"run": res.run_dir.name, "path": str(res.run_dir),
                    "roles": [p.role for p in res.record.processes],
                    "pid": rec.pid if rec else None,
                    "viewer_at_first_checkpoint": args.play,
                    "error": failure})
    else:
        print("launched %s" % res.run_dir)
        if rec is not None:
            print("  %s: pid %d, log %s" % (first, rec.pid, res.run_dir / "logs" / (first + ".log")))
        if args.play is not None:
            print("  a viewer (display %s) starts at the first checkpoint" % args.play)
        if failure:
            print("  start failed: %s" % failure)
    return 1 if failure else 0


@guarded
def cmd_profiles(args: argparse.Namespace) -> int:
    rows = []
    for name, path in sorted(discover_profiles().items()):
        try:
            prof = load_profile(path)
            rows.append({"name": name, "backend": prof.backend, "path": str(path),
                         "description": prof.description, "error": None})
        except ProfileError as e:
            rows.append({"name": name, "backend": "", "path": str(path), "description": "",
                         "error": e.message})
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no profiles found in %s" % ", ".join(str(d) for d in profile_search_dirs()))
        return 0
    print(table(["PROFILE", "BACKEND", "DESCRIPTION"],
                [[r["name"], r["backend"], r["description"] or "INVALID: " + (r["error"] or "")]
                 for r in rows]))
    return 0
