"""Reports of experiment runs: ``report.json`` with comparisons, seed and versions."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

__all__ = ["versions", "git_commit", "write_json_atomic", "write_report"]


def versions() -> dict:
    """Versions of learndyn, Python and the numerical stack (for reproducibility)."""
    import matplotlib
    import mpmath
    import numpy
    import scipy
    import sympy

    from validate import __version__

    return {"learndyn": __version__, "python": platform.python_version(),
            "numpy": numpy.__version__, "scipy": scipy.__version__, "sympy": sympy.__version__,
            "mpmath": mpmath.__version__, "matplotlib": matplotlib.__version__}


def git_commit() -> str | None:
    """The commit of the learndyn checkout this code runs from (``+dirty`` if it has
    uncommitted changes), or None when it is not a git checkout (an installed wheel)."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    return commit + ("+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def write_json_atomic(path: str | Path, data) -> None:
    """Write JSON to a temporary file and rename it, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, allow_nan=True))
    os.replace(tmp, path)


def write_report(result, out_dir: str | Path) -> Path:
    """Write ``out_dir/report.json`` for an :class:`validate.registry.ExperimentResult`."""
    path = Path(out_dir) / "report.json"
    write_json_atomic(path, result.to_report())
    return path
