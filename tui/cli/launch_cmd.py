"""``pitwall launch PROFILE [k=v ...]`` and ``pitwall profiles``."""
from __future__ import annotations

import argparse

from runners.protocol import read_proc_record, read_starter_record

from tui.core.launchers import LaunchedRun, launch_runs
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
    p.add_argument("-m", "--multirun", action="store_true",
                   help="sweep: one run per combination of swept values (seed=0,1,2 "
                        "lr=range(1,4) opt=choice(a,b) device=glob(c*)), all validated first")
    p.add_argument("--gpus", type=int, default=None, metavar="N",
                   help="GPUs each run needs: taken from the free ones (NVML), the rest wait "
                        "in the queue; on Slurm, --gpus")
    p.add_argument("--max-parallel", type=int, default=None, metavar="N",
                   help="run at most N of these runs at once (the rest wait in the queue; on "
                        "Slurm, the array's %%N)")
    p.add_argument("--slurm", nargs="*", default=None, metavar="KEY=VALUE",
                   help="submit to Slurm: partition= gpus= time= account= qos= cpus= mem= "
                        "extra= signal_before= requeue= (put profile overrides before it)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_launch)

    p = sub.add_parser("profiles", help="list the profiles Pitwall can launch")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_profiles)


@guarded
def cmd_launch(args: argparse.Namespace) -> int:
    res = launch_runs(args.profile, args.overrides, runs_root(args), multirun=args.multirun,
                      gpus=args.gpus, max_parallel=args.max_parallel, slurm=args.slurm)
    if not res.sweep_id and len(res.runs) == 1 and res.runs[0].how == "started":
        return _started_one(args, res.runs[0], res.notes)
    if args.play is not None:
        for r in res.runs:
            start_viewer_at_first_checkpoint(r.run_dir, args.play)
    if args.json:
        print_json({"sweep_id": res.sweep_id, "launcher": res.launcher.kind,
                    "notes": res.notes,
                    "runs": [{"run": r.run_dir.name, "path": str(r.run_dir), "how": r.how,
                              "job_id": r.job_id or None,
                              "overrides": r.record.overrides} for r in res.runs]})
        return 0
    for note in res.notes:
        print("note: %s" % note)
    if res.sweep_id:
        print("sweep %s: %d run%s (%s)" % (res.sweep_id, len(res.runs),
                                           "s" * (len(res.runs) > 1), res.launcher.kind))
    rows = [[r.run_dir.name, r.how + (" as job %s" % r.job_id if r.job_id else ""),
             " ".join(r.record.overrides)] for r in res.runs]
    print(table(["RUN", "STARTED", "OVERRIDES"], rows))
    if res.sweep_id:
        print("stop them all with: pitwall stop %s" % res.sweep_id)
    return 0


def _started_one(args: argparse.Namespace, run: LaunchedRun, notes: list[str]) -> int:
    run_dir, record = run.run_dir, run.record
    first = record.processes[0].role
    rec = read_proc_record(run_dir, first)
    st = read_starter_record(run_dir)
    failure = st.error if st is not None and st.error else None
    if rec is None and failure is None and run.starter is not None \
            and run.starter.poll() not in (None, 0):
        failure = start_failure(run_dir, run.starter)  # it crashed before recording why
    if args.play is not None:
        start_viewer_at_first_checkpoint(run_dir, args.play)
    if args.json:
        print_json({"run": run_dir.name, "path": str(run_dir),
                    "roles": [p.role for p in record.processes],
                    "pid": rec.pid if rec else None,
                    "viewer_at_first_checkpoint": args.play,
                    "error": failure, "notes": notes})
    else:
        for note in notes:
            print("note: %s" % note)
        print("launched %s" % run_dir)
        if rec is not None:
            print("  %s: pid %d, log %s" % (first, rec.pid, run_dir / "logs" / (first + ".log")))
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
