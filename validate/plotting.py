"""Figure helpers in the learndyn style: theory as lines, simulation as points with error bars."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["style", "new_figure", "theory_line", "simulation_points", "save_figure"]


def style() -> str:
    """Path of the packaged ``learndyn.mplstyle``."""
    return str(resources.files("validate") / "learndyn.mplstyle")


def new_figure(ncols: int = 1, nrows: int = 1, **kw):
    """``plt.subplots`` under the learndyn style."""
    with plt.style.context(style()):
        w, h = plt.rcParams["figure.figsize"]
        kw.setdefault("figsize", (w * (0.75 * ncols + 0.25), h * (0.8 * nrows + 0.2)))
        fig, axes = plt.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def theory_line(ax, x, y, label=None, **kw):
    """Theory: a line."""
    kw.setdefault("ls", "-")
    return ax.plot(x, y, label=label, **kw)


def simulation_points(ax, x, mean, sem, label=None, **kw):
    """Simulation: points with 1-standard-error bars."""
    kw.setdefault("fmt", "o")
    kw.setdefault("ms", 3.5)
    kw.setdefault("elinewidth", 1)
    return ax.errorbar(x, mean, yerr=np.asarray(sem), label=label, **kw)


def save_figure(fig, out_dir: str | Path, stem: str, formats=("png",)) -> list[str]:
    """Save ``fig`` as ``out_dir/stem.{png,pdf,...}`` and close it; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with plt.style.context(style()):
        for ext in formats:
            p = out / f"{stem}.{ext}"
            fig.savefig(p)
            paths.append(str(p))
    plt.close(fig)
    return paths
