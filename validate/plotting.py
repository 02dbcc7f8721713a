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


#: at most this many panels side by side, so that text stays legible at README width
MAX_COLUMNS = 2

#: the caption :func:`save_figure` adds to a figure with error bars
ERROR_BAR_CAPTION = ("Lines: theory. Points: simulation means with error bars of one standard "
                     "error over independent replicas; a bar shorter than its marker is hidden "
                     "by it.")


def new_figure(ncols: int = 1, nrows: int = 1, **kw):
    """``plt.subplots`` under the learndyn style; returns ``(fig, axes)`` with ``axes`` of
    shape ``(nrows, ncols)``.

    More than :data:`MAX_COLUMNS` panels in a row are wrapped onto further rows (the returned
    array keeps the requested shape, row-major), so a wide figure stays legible when shown
    at the README's width; unused cells are hidden.
    """
    n = ncols * nrows
    if ncols > MAX_COLUMNS and "gridspec_kw" not in kw:
        pcols = MAX_COLUMNS
        prows = -(-n // pcols)
    else:
        pcols, prows = ncols, nrows
    with plt.style.context(style()):
        w, h = plt.rcParams["figure.figsize"]
        kw.setdefault("figsize", (w * (0.75 * pcols + 0.25), h * (0.8 * prows + 0.2)))
        fig, grid = plt.subplots(prows, pcols, squeeze=False, **kw)
    flat = grid.ravel()
    for ax in flat[n:]:
        ax.set_visible(False)
    axes = np.empty((nrows, ncols), dtype=object)
    axes.ravel()[:] = list(flat[:n])
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


def _has_error_bars(fig) -> bool:
    from matplotlib.container import ErrorbarContainer

    return any(isinstance(c, ErrorbarContainer) and ax.get_visible()
               for ax in fig.axes for c in ax.containers)


def _dedupe_legends(fig) -> None:
    """Rebuild each axis legend without repeated labels (first handle of each label wins),
    keeping its location, columns and font size."""
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is None:
            continue
        handles = list(getattr(leg, "legend_handles", None) or leg.legendHandles)
        labels = [t.get_text() for t in leg.get_texts()]
        seen: dict[str, object] = {}
        for hnd, lab in zip(handles, labels):
            seen.setdefault(lab, hnd)
        if len(seen) == len(labels):
            continue
        ax.legend(list(seen.values()), list(seen), loc=leg._loc, ncols=leg._ncols,
                  fontsize=leg.get_texts()[0].get_fontsize() if labels else None)


def save_figure(fig, out_dir: str | Path, stem: str, formats=None,
                caption: str | None = None) -> list[str]:
    """Save ``fig`` as ``out_dir/stem.{png,pdf,...}`` and close it; returns the paths.

    ``formats`` defaults to :func:`default_formats` (PNG unless set otherwise).  Repeated
    legend labels are merged; a figure with error bars gets :data:`ERROR_BAR_CAPTION` (or
    ``caption``) under it, so it says what its bars are.
    """
    formats = default_formats() if formats is None else _check_formats(formats)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _dedupe_legends(fig)
    if caption is None and _has_error_bars(fig):
        caption = ERROR_BAR_CAPTION
    if caption:
        import textwrap

        width = max(60, int(fig.get_figwidth() * 14))
        fig.text(0.01, 0.0, "\n".join(textwrap.wrap(caption, width)), ha="left", va="top",
                 fontsize=8, color="0.3", transform=fig.transFigure)
    paths = []
    with plt.style.context(style()):
        for ext in formats:
            p = out / f"{stem}.{ext}"
            fig.savefig(p)
            paths.append(str(p))
    plt.close(fig)
    return paths
