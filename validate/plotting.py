"""Figure helpers in the learndyn style: theory as lines, simulation as points with error bars."""

from __future__ import annotations

import os
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["style", "new_figure", "theory_line", "simulation_points", "save_figure",
           "FIGURE_FORMATS", "figure_formats", "set_figure_formats", "default_formats"]

#: formats :func:`save_figure` can write
FIGURE_FORMATS = ("png", "pdf", "svg")
_OVERRIDES: list[tuple[str, ...]] = []  # figure_formats() blocks, innermost last
_SET: list[tuple[str, ...] | None] = [None]  # set_figure_formats()


def _check_formats(formats) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = [f for f in formats.replace(" ", "").split(",") if f]
    formats = tuple(str(f).lower().lstrip(".") for f in formats)
    bad = [f for f in formats if f not in FIGURE_FORMATS]
    if not formats or bad:
        raise ValueError(f"figure formats must be a non-empty subset of {FIGURE_FORMATS}, "
                         f"got {formats!r}")
    return tuple(dict.fromkeys(formats))


def default_formats() -> tuple[str, ...]:
    """Formats ``save_figure`` writes when given none: an enclosing :func:`figure_formats`
    block, else :func:`set_figure_formats`, else ``LEARNDYN_FIGURE_FORMATS`` (``png,pdf``),
    else PNG."""
    if _OVERRIDES:
        return _OVERRIDES[-1]
    if _SET[0] is not None:
        return _SET[0]
    env = os.environ.get("LEARNDYN_FIGURE_FORMATS", "")
    return _check_formats(env) if env.strip() else ("png",)


def set_figure_formats(formats) -> None:
    """Set the formats every later ``save_figure`` call writes by default (e.g. png + pdf)."""
    _SET[0] = None if formats is None else _check_formats(formats)


@contextmanager
def figure_formats(formats):
    """Within the block, ``save_figure`` writes ``formats`` by default (``learndyn figures``)."""
    _OVERRIDES.append(_check_formats(formats))
    try:
        yield _OVERRIDES[-1]
    finally:
        _OVERRIDES.pop()


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


def save_figure(fig, out_dir: str | Path, stem: str, formats=None) -> list[str]:
    """Save ``fig`` as ``out_dir/stem.{png,pdf,...}`` and close it; returns the paths.

    ``formats`` defaults to :func:`default_formats` (PNG unless set otherwise).
    """
    formats = default_formats() if formats is None else _check_formats(formats)
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
