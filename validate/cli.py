"""learndyn: learning dynamics derived by SymPy, integrated by SciPy, checked by simulation.

Commands list, latex and validate live here; sweep, figures and report in ``cli_sweep``.

Subcommands are small functions taking the parsed arguments; ``main`` returns the exit
code (0 only when every comparison of a validation passed).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from validate import __version__

__all__ = ["main", "build_parser"]


def _cmd_list(args) -> int:
    from theory.catalog import models
    from validate.registry import experiments

    exps = experiments()
    mods = models()
    if args.json:
        print(json.dumps({"experiments": list(exps), "models": list(mods)}))
        return 0
    print("experiments:")
    for name, e in exps.items():
        print(f"  {name:28s} {e.description}")
    print("models (learndyn latex MODEL):")
    for name, m in mods.items():
        print(f"  {name:28s} {m.description}")
    return 0


def _cmd_latex(args) -> int:
    from theory.catalog import get_model
    from theory.latex import document

    try:
        entry = get_model(args.model)
    except KeyError as err:
        print(f"learndyn: {err.args[0]}", file=sys.stderr)
        return 2
    if args.out and not args.document:
        print("learndyn: --out needs --document (the .tex file to write)", file=sys.stderr)
        return 2
    if not args.document:
        print(entry.latex())
        return 0
    try:
        tex = document(args.model)
    except TypeError as err:
        print(f"learndyn: {err}", file=sys.stderr)
        return 2
    if not args.out:
        print(tex, end="")
        return 0
    out = Path(args.out)
    if out.is_dir():
        out = out / f"{args.model}.tex"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(tex)
    except OSError as err:
        print(f"learndyn: cannot write --out {args.out}: {err.strerror or err}", file=sys.stderr)
        return 2
    print(f"wrote {out} (compile with: pdflatex {out.name})")
    return 0


def _print_table(result) -> None:
    rows = [("comparison", "max|z|", "bound", "rel.err", "verdict")]
    for c in result.comparisons:
        rel = f"{c.rel_err:.2%}" if math.isfinite(c.rel_err) else "n/a"
        rows.append((c.name, f"{c.max_abs_z:.2f}", f"{c.bound:.2f}", rel, c.verdict))
    width = max(len(r[0]) for r in rows)
    for r in rows:
        print(f"{r[0]:<{width}}  {r[1]:>7}  {r[2]:>6}  {r[3]:>8}  {r[4]}")


def _parse_params(items) -> dict:
    params = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--param expects NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        params[k.strip()] = v.strip()
    return params


def _cmd_validate(args) -> int:
    from numerics.progress import set_quiet
    from validate.registry import RunConfig, get_experiment, run_experiment

    if args.quiet:
        set_quiet(True)
    try:
        get_experiment(args.name)
        params = _parse_params(args.param)
    except (KeyError, ValueError) as err:
        print(f"learndyn: {err.args[0]}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("runs") / args.name
    config = RunConfig(quick=args.quick, seed=args.seed, out_dir=out, params=params)
    t0 = time.perf_counter()
    result = run_experiment(args.name, config)
    elapsed = time.perf_counter() - t0
    _print_table(result)
    status = "PASSED" if result.passed else "FAILED"
    print(f"\n{args.name}: {status} in {elapsed:.1f} s; report: {out / 'report.json'}")
    for f in result.figures:
        print(f"figure: {f}")
    return 0 if result.passed else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="learndyn", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"learndyn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list experiments and models")
    p.add_argument("--json", action="store_true",
                   help='print {"experiments": [...], "models": [...]}')
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("latex", help="print the derived equations of a model as LaTeX")
    p.add_argument("model")
    p.add_argument("--document", action="store_true",
                   help="a standalone .tex (article, amsmath, amssymb) that compiles")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="with --document: write it to FILE (a folder: FILE/MODEL.tex)")
    p.set_defaults(func=_cmd_latex)

    p = sub.add_parser("validate", help="run an experiment: theory vs simulation with verdicts")
    p.add_argument("name")
    p.add_argument("--quick", action="store_true", help="fewer replicas/steps (about a minute)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="output folder (default runs/NAME)")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="override an experiment parameter (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_validate)

    from validate.cli_sweep import add_commands  # sweep, figures, report

    add_commands(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
