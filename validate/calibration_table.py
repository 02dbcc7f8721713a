"""The calibration table: stored calibrations (``calibration.json`` from ``learndyn
calibrate``) as one markdown table, the table of the README's calibration section.

One row per calibration: the experiment and its mode (defaults or quick, any ``--param``
overrides, a root seed other than 0), the seeds run, the verdict, the runs with any failed
comparison against their acceptance interval, the failures of each statistical comparison
(tolerance checks counted apart) and the range of the comparisons' mean signed z.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from validate.errors import InputError
from validate.markdown_report import read_json_file, require_fields

__all__ = ["load_calibration", "calibration_row", "calibration_table", "HEADER"]

HEADER = ("experiment (mode)", "seeds", "verdict", "runs with any failure (acceptance)",
          "failures per statistical comparison", "mean z range")


def load_calibration(path: str | Path) -> dict:
    """The calibration stored at ``path`` (a ``calibration.json`` or the folder holding it),
    checked field by field: :class:`~validate.errors.InputError` names the file and what is
    wrong with it."""
    path = Path(path)
    if path.is_dir():
        path = path / "calibration.json"
    cal = read_json_file(path, "a learndyn calibration")
    require_fields(cal, path, {"experiment": str, "quick": bool, "seeds": int, "runs": int,
                               "passed": bool, "any_failures": int,
                               "combined_acceptance_interval": list, "comparisons": list,
                               "params": dict})
    acc = cal["combined_acceptance_interval"]
    if len(acc) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in acc):
        raise InputError(f"{path}: field 'combined_acceptance_interval' must be two integers")
    root = cal.setdefault("root_seed", 0)  # absent in files written before it was recorded
    if isinstance(root, bool) or not isinstance(root, int) or root < 0:
        raise InputError(f"{path}: field 'root_seed' must be an integer >= 0, got {root!r}")
    for i, c in enumerate(cal["comparisons"]):
        if not isinstance(c, dict):
            raise InputError(f"{path}: comparisons[{i}] is not an object")
        require_fields(c, path, {"name": str, "kind": str, "runs": int, "failures": int})
        if c["kind"] not in ("statistical", "tolerance"):
            raise InputError(f"{path}: comparisons[{i}] has kind {c['kind']!r} (statistical "
                             "or tolerance expected)")
        mz = c.get("mean_z")
        if mz is not None and (isinstance(mz, bool) or not isinstance(mz, (int, float))):
            raise InputError(f"{path}: comparisons[{i}].mean_z is not a number")
    return cal


def _mode(cal: dict) -> str:
    parts = ["quick" if cal["quick"] else "defaults"]
    parts += [f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}"
              for k, v in cal["params"].items()]
    if cal["root_seed"]:
        parts.append(f"root seed {cal['root_seed']}")
    return ", ".join(parts)


def calibration_row(cal: dict) -> tuple[str, ...]:
    """The table's cells for one loaded calibration."""
    stat = [c for c in cal["comparisons"] if c["kind"] == "statistical"]
    tol = len(cal["comparisons"]) - len(stat)
    fails = ", ".join(f"{c['failures']}/{c['runs']}" for c in stat) or "-"
    if tol:
        fails += f"; +{tol} tolerance check{'s' if tol > 1 else ''}"
    mz = [c["mean_z"] for c in stat if c.get("mean_z") is not None]
    z_range = f"{min(mz):+.2f} .. {max(mz):+.2f}" if mz else "-"
    lo, hi = cal["combined_acceptance_interval"]
    return (f"{cal['experiment']} ({_mode(cal)})", str(cal["runs"]),
            "CALIBRATED" if cal["passed"] else "NOT CALIBRATED",
            f"{cal['any_failures']}/{cal['runs']} ({lo}..{hi})", fails, z_range)


def calibration_table(calibrations: Iterable[dict]) -> str:
    """A markdown table of loaded calibrations, sorted by experiment, then defaults before
    quick, then overrides and root seed."""
    cals = sorted(calibrations, key=lambda c: (c["experiment"], c["quick"], bool(c["params"]),
                                               repr(sorted(c["params"].items())),
                                               c["root_seed"]))
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(calibration_row(c)) + " |" for c in cals]
    return "\n".join(lines)
