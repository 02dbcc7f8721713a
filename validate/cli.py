"""learndyn: learning dynamics derived by SymPy, integrated by SciPy, checked by simulation.

Commands list, describe, latex and validate live here; sweep, figures and report in
``cli_sweep``, calibrate in ``cli_calibrate``.

Subcommands are small functions taking the parsed arguments; ``main`` returns the exit
code: 0 when every comparison of a validation passed, 1 when one failed, 2 for bad input
(a one-line message naming the parameter and its allowed range, no traceback; ``--debug``
shows it), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from numerics.integrate import DivergenceError
from validate import __version__
from validate.errors import InputError

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line (``learndyn: error: ...``) with exit 2."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(2, f"learndyn: error: {message} (see '{self.prog} --help')\n")


def _cmd_list(args) -> int:
    from theory.catalog import models
    from validate.registry import experiments

    if args.name:
        return _cmd_describe(args)
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


def _cmd_describe(args) -> int:
    from validate.params import describe
    from validate.registry import get_experiment

    exp = get_experiment(args.name)
    rows = describe(exp.params)
    if getattr(args, "json", False):
        print(json.dumps({"experiment": exp.name, "description": exp.description,
                          "parameters": rows}))
        return 0
    print(f"{exp.name}: {exp.description}\n")
    print("parameters (--param NAME=VALUE; quick: the default under --quick):")
    wname = max(len(r["name"]) for r in rows) if rows else 4
    for r in rows:
        quick = f"; quick {r['quick']}" if r["quick"] is not None else ""
        print(f"  {r['name']:<{wname}}  {r['help']}")
        print(f"  {'':<{wname}}  {r['allowed']}; default {r['default'] or '(empty)'}{quick}")
    return 0


def _cmd_latex(args) -> int:
    from theory.catalog import get_model
    from theory.latex import document

    entry = get_model(args.model)
    if args.out and not args.document:
        raise InputError("--out needs --document (the .tex file to write)")
    if not args.document:
        print(entry.latex())
        return 0
    try:
        tex = document(args.model)
    except TypeError as err:
        raise InputError(str(err)) from None
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
        raise InputError(f"--out {args.out}: cannot write there ({err.strerror or err})") \
            from None
    print(f"wrote {out} (compile with: pdflatex {out.name})")
    return 0


def _print_table(result) -> None:
    rows = [("comparison", "kind", "max|z|", "bound", "rel.err", "verdict")]
    for c in result.comparisons:
        rel = f"{c.rel_err:.2%}" if math.isfinite(c.rel_err) else "n/a"
        if c.kind == "tolerance":
            rows.append((c.name, "tolerance", "-", "-", rel, c.verdict))
        else:
            rows.append((c.name, "statistical", f"{c.max_abs_z:.2f}", f"{c.bound:.2f}", rel,
                         c.verdict))
    width = max(len(r[0]) for r in rows)
    for r in rows:
        print(f"{r[0]:<{width}}  {r[1]:<11}  {r[2]:>7}  {r[3]:>6}  {r[4]:>8}  {r[5]}")
    if any(c.kind == "tolerance" for c in result.comparisons):
        print("(tolerance: a deterministic check of the relative error against a stated "
              "tolerance, not a statistical test)")


def parse_params(items) -> dict:
    """``["k=v", ...]`` -> ``{"k": "v"}`` (text; typed by the experiment's declarations)."""
    params = {}
    for item in items or []:
        if "=" not in item:
            raise InputError(f"--param expects NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        k = k.strip()
        if not k:
            raise InputError(f"--param expects NAME=VALUE, got {item!r}")
        if k in params:
            raise InputError(f"--param {k} given twice")
        params[k] = v.strip()
    return params


def check_output_dir(path: str | Path, option: str = "--out") -> Path:
    """A folder that exists or can be created, and is writable; checked before any work."""
    import os
    import tempfile

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{option} {path}: exists and is not a folder")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"{option} {path}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: {probe} is not writable")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise InputError(f"{option} {path}: cannot write there ({err.strerror or err})") \
            from None
    return path


def check_output_file(path: str | Path, option: str = "--output") -> Path:
    """A file that can be written: not a folder, in an existing writable folder; checked
    before any work, so a bad name never throws a finished rendering away."""
    import os

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder (give a file name)")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"{option} {path}: folder {parent} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"{option} {path}: is not writable")
    if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: folder {parent} is not writable")
    return path


def _cmd_validate(args) -> int:
    from numerics.progress import set_quiet
    from validate.registry import RunConfig, resolve_params, run_experiment

    if args.name == "rule":  # learndyn validate rule FILE.py:NAME (validate.rules)
        from validate.rules import cli_validate_rule

        return cli_validate_rule(args, _print_table)
    if getattr(args, "target", None):
        raise InputError(f"unexpected argument {args.target!r} (only 'learndyn validate rule "
                         "FILE.py:NAME' takes a second argument)")
    if args.quiet:
        set_quiet(True)
    params = parse_params(args.param)
    resolve_params(args.name, params, args.quick)  # every input checked before any work
    out = check_output_dir(args.out if args.out else Path("runs") / args.name)
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


def _int_at_least(text: str, minimum: int) -> int:
    """``text`` as an integer >= ``minimum``, or the ``ArgumentTypeError`` argparse reports."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}") \
            from None
    if v < minimum:
        raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
    return v


def nonnegative_int(text: str) -> int:
    """argparse type: an integer >= 0 (seeds)."""
    return _int_at_least(text, 0)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (workers, replicates, seeds to calibrate)."""
    return _int_at_least(text, 1)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="learndyn", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"learndyn {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="list experiments and models (with NAME: its parameters)")
    p.add_argument("name", nargs="?", default=None,
                   help="an experiment: print its parameters (same as describe)")
    p.add_argument("--json", action="store_true",
                   help='print {"experiments": [...], "models": [...]}')
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("describe", help="an experiment's parameters: type, range, default, "
                                        "quick default, meaning")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=_cmd_describe)

    p = sub.add_parser("latex", help="print the derived equations of a model as LaTeX")
    p.add_argument("model")
    p.add_argument("--document", action="store_true",
                   help="a standalone .tex (article, amsmath, amssymb) that compiles")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="with --document: write it to FILE (a folder: FILE/MODEL.tex)")
    p.set_defaults(func=_cmd_latex)

    p = sub.add_parser("validate", help="run an experiment: theory vs simulation with verdicts "
                                        "(or 'validate rule FILE.py:NAME': your own rule)")
    p.add_argument("name")
    p.add_argument("target", nargs="?", default=None,
                   help="with NAME 'rule': FILE.py:NAME, a LearningRule in your Python file")
    p.add_argument("--quick", action="store_true", help="fewer replicas/steps (about a minute)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed (integer >= 0)")
    p.add_argument("--out", default=None, help="output folder (default runs/NAME)")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="override an experiment parameter (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_validate)

    from validate.cli_calibrate import add_command as add_calibrate
    from validate.cli_sweep import add_commands  # sweep, figures, report

    add_commands(sub)
    add_calibrate(sub)
    return parser


def _input_errors() -> tuple[type[BaseException], ...]:
    return (InputError, KeyError, ValueError, TypeError, FileNotFoundError,
            NotADirectoryError, IsADirectoryError, PermissionError, ImportError)


def _one_line(err: BaseException) -> str:
    msg = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    msg = " ".join(str(msg).split())
    return msg or type(err).__name__


def main(argv=None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("\nlearndyn: interrupted", file=sys.stderr)
        return 130
    except DivergenceError as err:
        if args.debug:
            raise
        print(f"learndyn: diverged: {_one_line(err)}", file=sys.stderr)
        return 1
    except _input_errors() as err:
        if args.debug:
            raise
        hint = "" if isinstance(err, (InputError, KeyError)) else " (--debug shows where)"
        print(f"learndyn: error: {_one_line(err)}{hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
