"""``learndyn sweep | figures | report``: sweeps, the figure gallery, Markdown reports.

Installed into the ``learndyn`` parser by :func:`add_commands` (called by validate.cli).

Grid syntax (``--grid``, repeatable; values typed as int, float, true/false or text)::

    --grid dim=5,10,20              a list
    --grid gamma=log:0.01:1:5       5 log-spaced values (numpy.geomspace)
    --grid x=lin:0:1:11             11 evenly spaced values (numpy.linspace)
    --grid fractions='0.05,0.2|0.5' values that contain commas: separate them with '|'
"""

from __future__ import annotations

import re
import signal
import sys
from pathlib import Path

__all__ = ["add_commands", "parse_value", "parse_grid"]

_INT = re.compile(r"^[+-]?\d+$")


def parse_value(text: str):
    """A command-line value: int, float, bool (true/false) or the text itself (never eval'd)."""
    t = text.strip()
    if _INT.match(t):
        return int(t)
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return float(t)
    except ValueError:
        return t


def parse_grid(items) -> list[tuple[str, list]]:
    """``["a=1,2", "b=log:0.1:10:3"]`` -> ``[("a", [1, 2]), ("b", [0.1, 1.0, 10.0])]``."""
    import numpy as np

    grid = []
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--grid expects NAME=V1,V2,..., got {item!r}")
        name, _, spec = item.partition("=")
        name = name.strip()
        m = re.fullmatch(r"(lin|log):([^:]+):([^:]+):(\d+)", spec.strip())
        if m:
            kind, a, b, n = m.group(1), float(m.group(2)), float(m.group(3)), int(m.group(4))
            if n < 1:
                raise ValueError(f"--grid {name}: the number of values must be >= 1")
            if kind == "log" and (a <= 0 or b <= 0):
                raise ValueError(f"--grid {name}=log:A:B:N needs A > 0 and B > 0")
            values = (np.geomspace if kind == "log" else np.linspace)(a, b, n).tolist()
        else:
            sep = "|" if "|" in spec else ","
            values = [parse_value(v) for v in spec.split(sep) if v.strip() != ""]
        if not values:
            raise ValueError(f"--grid {name} has no values")
        grid.append((name, values))
    return grid


def _parse_params(items) -> dict:
    params = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--param expects NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        params[k.strip()] = parse_value(v)
    return params


def _err(msg: str) -> int:
    print(f"learndyn: {msg}", file=sys.stderr)
    return 2


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def sigterm_as_interrupt():
    """Treat SIGTERM (``kill PID``, a batch system's time limit) like Ctrl-C: save and stop.
    Returns the previous handler to restore (``None`` outside the main thread, where signals
    are left alone)."""
    try:
        return signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread: leave signals alone
        return None


def _cmd_sweep(args) -> int:
    from numerics.progress import set_quiet
    from validate.cli import check_output_dir
    from validate.executors import WorkerLost
    from validate.sweep import plan, run_sweep

    if args.quiet:
        set_quiet(True)
    try:
        grid = parse_grid(args.grid)
        params = _parse_params(args.param)
        if not grid:
            raise ValueError("give at least one --grid NAME=V1,V2,...")
    except ValueError as err:
        return _err(str(err))
    # every grid value and parameter typed and in range, a module:function target importable,
    # before any folder is made
    plan(args.target, grid, replicates=args.replicates, seed=args.seed, params=params,
         quick=args.quick)
    out = Path(args.out) if args.out else Path("sweeps") / re.sub(r"[^\w.-]+", "_",
                                                                   args.target)
    check_output_dir(out)
    executor = args.executor or ("dask" if args.address else "process")
    previous = sigterm_as_interrupt()
    try:
        result = run_sweep(args.target, grid, replicates=args.replicates, seed=args.seed,
                           params=params, out_dir=out, executor=executor,
                           workers=args.workers, address=args.address, quick=args.quick,
                           progress=False if args.quiet else None,
                           retry_errors=not args.keep_errors, force=args.force)
    except KeyboardInterrupt:
        print(f"\ninterrupted; finished points are saved in {out}. Re-run the same command to "
              "compute only the missing ones.", file=sys.stderr)
        return 130
    except WorkerLost as err:
        print(f"learndyn: {err}; finished points are saved in {out}. Re-run the same command "
              "to compute only the missing ones.", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print(f"sweep {args.target}: {result.ok} ok, {result.errors} errors, {result.missing} "
          f"missing of {result.n_points} points ({result.computed} computed, {result.reused} "
          f"reused) in {result.wall_s:.1f} s")
    print(f"table: {result.table}\nmanifest: {result.manifest}")
    if result.reused_other_code:
        print(f"warning: {result.reused_other_code} of the {result.reused} reused points were "
              f"computed by other code than this ({result.code}); to recompute them, remove "
              f"{result.out_dir}", file=sys.stderr)
    if result.errors:
        print(f"{result.errors} point(s) raised; tracebacks in {result.manifest.parent}/points "
              f"(learndyn report {result.out_dir}); re-run to retry them", file=sys.stderr)
    return 0 if result.state == "complete" else 1


def _cmd_figures(args) -> int:
    from numerics.progress import set_quiet
    from validate.gallery import build_gallery

    if args.quiet:
        set_quiet(True)
    out = args.out or ("runs/figures-quick" if args.quick else "figures")
    gallery = build_gallery(out, quick=args.quick, seed=args.seed, only=args.only,
                            formats=args.formats, workers=args.workers, log=print,
                            force=args.force)
    n_fig = sum(len(e.figures) for e in gallery.entries)
    for e in gallery.entries:
        if e.figures:
            print(f"{e.experiment}: {', '.join(e.figures)}")
    print(f"gallery: {n_fig} figure file(s) from {len(gallery.entries)} experiment(s) in "
          f"{gallery.out_dir}; index {gallery.out_dir / 'README.md'}")
    return 0 if gallery.ok else 1


def _cmd_report(args) -> int:
    from validate.cli import check_output_file
    from validate.markdown_report import write_markdown_report

    if args.output:
        check_output_file(args.output)
    kw = {}
    if args.outputs:
        kw["outputs"] = [o for o in args.outputs.split(",") if o]
    path = write_markdown_report(args.dir, args.output, **kw)
    print(f"report: {path}")
    return 0


def add_commands(subparsers) -> None:
    """Add ``sweep``, ``figures`` and ``report`` to the ``learndyn`` subparsers."""
    from validate.cli import nonnegative_int, positive_int
    from validate.executors import EXECUTORS

    p = subparsers.add_parser(
        "sweep", help="run an experiment or simulation function over a parameter grid",
        description="Run EXPERIMENT (a registered experiment, or package.module:function "
                    "taking (params, seed)) over the grid x replicates; resumable: re-running the "
                    "same command computes only the missing or failed points.")
    p.add_argument("target", metavar="EXPERIMENT", help="experiment name or module:function")
    p.add_argument("--grid", action="append", metavar="NAME=V1,V2,...",
                   help="a swept parameter (repeatable); also NAME=lin:A:B:N, NAME=log:A:B:N, "
                        "or NAME=V1|V2 for values containing commas")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="a fixed parameter for every point (repeatable)")
    p.add_argument("--replicates", type=positive_int, default=1,
                   help="independent seeds per grid point")
    p.add_argument("--executor", choices=EXECUTORS, default=None,
                   help="serial, process (default: local processes, all cores) or dask "
                        "(implied by --address)")
    p.add_argument("--address", default=None, metavar="tcp://HOST:PORT",
                   help="Dask scheduler address (default: start a LocalCluster)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="worker processes (default: all cores)")
    p.add_argument("--out", default=None, help="output folder (default sweeps/TARGET)")
    p.add_argument("--quick", action="store_true", help="run experiments in quick mode")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="sweep seed (default 0)")
    p.add_argument("--keep-errors", action="store_true",
                   help="on re-run, keep points that raised instead of retrying them")
    p.add_argument("--force", action="store_true",
                   help="replace a different sweep (other grid, seed or parameters) in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_sweep)

    p = subparsers.add_parser(
        "figures", help="regenerate the figure gallery of every experiment",
        description="Run every registered experiment (full runs unless --quick) and collect "
                    "its figures with an index README.md into the output folder.")
    p.add_argument("--out", default=None,
                   help="gallery folder (default figures/ for full runs, runs/figures-quick "
                        "with --quick); a gallery made with other settings is never mixed "
                        "with or overwritten without --force")
    p.add_argument("--quick", action="store_true",
                   help="quick experiment runs (fewer replicas): a fast preview")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="only this experiment (repeatable)")
    p.add_argument("--formats", default="png", help="comma list of png, pdf, svg (default png)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of every run (default 0)")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="run this many experiments at once in local processes (default 1)")
    p.add_argument("--force", action="store_true",
                   help="replace a gallery made with other settings in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_figures)

    p = subparsers.add_parser(
        "report", help="write a Markdown summary (report.md) of a run or sweep folder")
    p.add_argument("dir", help="a validate run folder (report.json) or a sweep folder")
    p.add_argument("--output", default=None, help="Markdown file (default DIR/report.md)")
    p.add_argument("--outputs", default=None, metavar="A,B",
                   help="sweep columns to summarise (default: the first six numeric ones)")
    p.set_defaults(func=_cmd_report)
