"""``learndyn calibrate``: run an experiment over many seeds and check its false-failure rates.

Installed into the ``learndyn`` parser by :func:`add_command` (called by validate.cli).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

__all__ = ["add_command", "print_calibration"]


def print_calibration(cal) -> None:
    """The calibration table: per comparison failures vs the nominal level, mean z."""
    print(f"calibration of {cal.experiment}{' (quick)' if cal.quick else ''}: {cal.runs} seeds"
          + (f", {cal.errors} raised" if cal.errors else "")
          + (f", {cal.seconds_per_seed:.1f} s per seed" if cal.seconds_per_seed else ""))
    rows = [("comparison", "fails", "rate", "nominal",
             f"{100 * cal.test_confidence:.3g}% accept", "mean z (SE)", "sd z",
             "verdict")]
    for c in cal.comparisons:
        if c.kind == "tolerance":
            rows.append((c.name, f"{c.failures}/{c.runs}", f"{c.rate:.1%}", "-", "-", "-", "-",
                         c.verdict))
            continue
        mz = "-" if c.mean_z is None else (f"{c.mean_z:+.3f}" + (
            f" ({c.mean_z_se:.3f})" if c.mean_z_se is not None else ""))
        sd = "-" if c.sd_z is None else f"{c.sd_z:.2f}"
        rows.append((c.name, f"{c.failures}/{c.runs}", f"{c.rate:.1%}", f"{c.level:.2%}",
                     f"{c.accept[0]}..{c.accept[1]}", mz, sd, c.verdict))
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(f"{v:<{w[i]}}" if i in (0, 7) else f"{v:>{w[i]}}"
                        for i, v in enumerate(r)))
    lo, hi = cal.combined_accept
    print(f"\nany comparison failed: {cal.any_failures}/{cal.runs} runs "
          f"({cal.any_failures / max(cal.runs, 1):.1%}); Sidak-combined nominal level "
          f"{cal.combined_level:.2%}, acceptance {lo}..{hi} runs\n"
          f"each interval at {100 * cal.test_confidence:.3g}%: 99% for the experiment's "
          f"{cal.tests} tests together (Sidak)")
    if len(cal.code) > 1:
        print("computed by " + ", ".join(f"{k} ({v} seeds)" for k, v in cal.code.items()))
    if cal.reused_other_code:
        print(f"warning: {cal.reused_other_code} of the seeds reused from the stored sweep were "
              f"computed by other code; to recompute them, remove "
              f"{cal.out_dir / 'sweep' if cal.out_dir else 'the sweep folder'}",
              file=sys.stderr)
    print(f"{'CALIBRATED' if cal.passed else 'NOT CALIBRATED'}; report: "
          f"{cal.out_dir / 'calibration.json' if cal.out_dir else '-'}")
    for f in cal.figures:
        print(f"figure: {f}")


def _cmd_calibrate(args) -> int:
    from numerics.progress import set_quiet
    from validate.calibrate import calibrate
    from validate.cli import check_output_dir, parse_params
    from validate.cli_sweep import sigterm_as_interrupt
    from validate.registry import resolve_params

    if args.quiet:
        set_quiet(True)
    params = parse_params(args.param)
    resolve_params(args.name, params, args.quick)  # checked before any work
    out = Path(args.out) if args.out else Path("calibrations") / (
        args.name + ("-quick" if args.quick else ""))
    check_output_dir(out)
    executor = args.executor or ("dask" if args.address else "process")
    previous = sigterm_as_interrupt()
    try:
        cal = calibrate(args.name, args.seeds, quick=args.quick, params=params, out_dir=out,
                        seed=args.seed, executor=executor, workers=args.workers,
                        address=args.address, progress=False if args.quiet else None,
                        force=args.force)
    except KeyboardInterrupt:
        print(f"\ninterrupted; finished seeds are saved in {out / 'sweep'}. Re-run the same "
              "command to compute only the missing ones.", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print_calibration(cal)
    return 0 if cal.passed else 1


def _cmd_calibrations(args) -> int:
    from validate.calibration_table import calibration_table, load_calibration
    from validate.cli import check_output_file

    out = check_output_file(args.output) if args.output else None
    table = calibration_table(load_calibration(p) for p in args.paths)
    if out is not None:
        out.write_text(table + "\n")
        print(f"table of {len(args.paths)} calibration(s) written to {out}")
    else:
        print(table)
    return 0


def add_command(subparsers) -> None:
    """Add ``calibrate`` and ``calibrations`` to the ``learndyn`` subparsers."""
    from validate.cli import nonnegative_int, positive_int
    from validate.executors import EXECUTORS

    p = subparsers.add_parser(
        "calibrate", help="run an experiment over many seeds: failure rate per comparison vs "
                          "its nominal level, mean signed z",
        description="Run EXPERIMENT over --seeds seeds (a resumable sweep) and report, per "
                    "comparison, the failure rate against the nominal level with its 99% "
                    "binomial interval and the mean and spread of the signed z. Exit 0 when "
                    "every comparison is calibrated.")
    p.add_argument("name", metavar="EXPERIMENT")
    p.add_argument("--seeds", type=positive_int, default=100,
                   help="independent seeds (default 100; >= 2)")
    p.add_argument("--quick", action="store_true", help="calibrate quick mode")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="an experiment parameter for every seed (repeatable)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="worker processes (default: all cores)")
    p.add_argument("--executor", choices=EXECUTORS, default=None,
                   help="serial, process (default) or dask (implied by --address)")
    p.add_argument("--address", default=None, metavar="tcp://HOST:PORT",
                   help="Dask scheduler address")
    p.add_argument("--out", default=None,
                   help="output folder (default calibrations/EXPERIMENT[-quick])")
    p.add_argument("--seed", type=nonnegative_int, default=0,
                   help="root seed of the calibration sweep (default 0)")
    p.add_argument("--force", action="store_true",
                   help="replace a different calibration found in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_calibrate)

    t = subparsers.add_parser(
        "calibrations", help="table of stored calibrations (markdown)",
        description="Print one markdown table of the calibrations stored in PATH (folders "
                    "written by `learndyn calibrate --out`, or their calibration.json): per "
                    "calibration the mode, seeds, verdict, runs with any failure against the "
                    "acceptance interval, failures per statistical comparison and the range "
                    "of mean z.")
    t.add_argument("paths", nargs="+", metavar="PATH")
    t.add_argument("--output", default=None, metavar="FILE",
                   help="write the table to FILE instead of printing it")
    t.set_defaults(func=_cmd_calibrations)
