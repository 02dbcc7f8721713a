"""Markdown summaries (``report.md``) of a validation run or of a sweep folder.

* A *run* folder (``learndyn validate NAME --out DIR``) holds ``report.json`` and figures:
  the summary gives the verdict, the comparison table (max |z|, Sidak bound, relative
  error), parameters, seed, versions and the figures inline.
* A *sweep* folder (``learndyn sweep ... --out DIR``) holds ``manifest.json``, ``table.csv``
  and ``points/``: the summary gives the sweep definition and seeding, point counts by status,
  timings, a table of each scalar output as mean +- standard error over replicates per grid
  point (standard error = sample std / sqrt(n) over independent replicates), the errors with
  their tracebacks, and figures of the numeric outputs against the first numeric grid axis
  (simulation as points with error bars, in the learndyn style).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["render_run_report", "render_sweep_report", "write_markdown_report", "detect_kind",
           "sweep_summary"]


def detect_kind(folder: str | Path) -> str:
    """``"run"`` (report.json), ``"sweep"`` (manifest.json) or ``"gallery"`` (gallery.json)."""
    folder = Path(folder)
    if (folder / "manifest.json").exists():
        return "sweep"
    if (folder / "report.json").exists():
        return "run"
    if (folder / "gallery.json").exists():
        return "gallery"
    raise FileNotFoundError(f"{folder} holds no report.json (validate run), manifest.json "
                            "(sweep) or gallery.json (figures)")


def _fmt(v, digits: int = 4) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return str(v)
        return f"{v:.{digits}g}"
    return str(v).replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence]) -> list[str]:
    out = ["| " + " | ".join(str(h).replace("|", "\\|") for h in header) + " |",
           "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_fmt(c) for c in r) + " |" for r in rows]
    return out


# ---------------------------------------------------------------------------- runs


def render_run_report(folder: str | Path) -> str:
    """Markdown of ``folder/report.json`` and the figures in ``folder``."""
    folder = Path(folder)
    rep = json.loads((folder / "report.json").read_text())
    name = rep.get("experiment", folder.name)
    status = "PASSED" if rep.get("passed") else "FAILED"
    comps = rep.get("comparisons", [])
    lines = [f"# {name}: {status}", "",
             f"{sum(bool(c.get('passed')) for c in comps)} of {len(comps)} theory-vs-simulation "
             f"comparisons agree; seed {rep.get('seed')}. z = (simulation mean - theory) / "
             "standard error; a curve passes when max |z| is below its Sidak bound.", ""]
    if comps:
        lines += ["## Comparisons", ""]
        lines += _table(["comparison", "points", "max abs z", "bound", "max rel. error",
                         "verdict", "note"],
                        [[c.get("name"), c.get("n_points", ""), c.get("max_abs_z"),
                          c.get("bound"), c.get("rel_err"),
                          "agree" if c.get("passed") else "**DISAGREE**", c.get("note", "")]
                         for c in comps])
        lines.append("")
    figs = []
    for f in rep.get("figures", []):
        p = folder / Path(f).name
        if p.exists() and p.name not in figs:
            figs.append(p.name)
    figs += sorted(p.name for p in folder.glob("*.png") if p.name not in figs)
    if figs:
        lines += ["## Figures", ""]
        for f in figs:
            lines += ([f"![{Path(f).stem}]({f})", ""] if f.endswith((".png", ".svg"))
                      else [f"[{f}]({f})", ""])
    params = rep.get("params", {})
    if params:
        lines += ["## Parameters", ""] + _table(["parameter", "value"],
                                                [[k, v] for k, v in params.items()]) + [""]
    extra = rep.get("extra", {})
    if extra:
        text = json.dumps(extra, indent=1, default=str)
        lines += ["## Extra measurements", "", "```json", text, "```", ""]
    vers = rep.get("versions", {})
    if vers:
        lines += ["## Versions", "", ", ".join(f"{k} {v}" for k, v in vers.items()), ""]
    lines += [f"Reproduce: `learndyn validate {name} --seed {rep.get('seed')}`"
              + "".join(f" --param {k}={v}" for k, v in params.items()), ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- sweeps


def _parse(text: str):
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _read_table(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = [{k: _parse(v) for k, v in row.items()} for row in reader]
        return list(reader.fieldnames or []), rows


def sweep_summary(folder: str | Path) -> dict:
    """Per grid point: parameters, replicates done, and mean/sem/n of every scalar output.

    Returns ``{"grid": [names], "outputs": [names], "booleans": [names], "points": [{"params",
    "n_ok", "n_error", "stats": {output: (mean, sem, n)}}]}``; booleans are averaged as
    fractions (and shown as ``k/n``).
    """
    folder = Path(folder)
    man = json.loads((folder / "manifest.json").read_text())
    cols, rows = _read_table(folder / "table.csv")
    grid = list(man["grid_order"])
    fixed = {"point", "index", "replicate", "status", "error", *grid}
    outputs: list[str] = []
    booleans: list[str] = []
    for c in cols:
        if c in fixed:
            continue
        vals = [r[c] for r in rows if r["status"] == "ok" and r[c] is not None]
        if vals and all(isinstance(v, (int, float, bool)) for v in vals):
            outputs.append(c)
            if all(isinstance(v, bool) for v in vals):
                booleans.append(c)
    by_index: dict[int, list[dict]] = {}
    for r in rows:
        by_index.setdefault(int(r["index"]), []).append(r)
    points = []
    n_grid = int(man["n_grid_points"])
    params_of = {e["index"]: {k: e["params"][k] for k in grid} for e in man["points"]}
    for i in range(n_grid):
        rs = by_index.get(i, [])
        ok = [r for r in rs if r["status"] == "ok"]
        stats = {}
        for c in outputs:
            v = np.array([float(r[c]) for r in ok if r[c] is not None], dtype=float)
            n = v.size
            mean = float(v.mean()) if n else float("nan")
            sem = float(v.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
            stats[c] = (mean, sem, n)
        points.append({"index": i, "params": params_of.get(i, {}), "n_ok": len(ok),
                       "n_error": sum(r["status"] == "error" for r in rs), "stats": stats})
    return {"grid": grid, "outputs": outputs, "booleans": booleans, "points": points,
            "replicates": int(man["replicates"])}


def _mean_sem(stat, boolean: bool = False) -> str:
    mean, sem, n = stat
    if n == 0:
        return "-"
    if boolean:
        return f"{round(mean * n)}/{n}"
    if math.isnan(sem):
        return _fmt(mean)
    return f"{_fmt(mean)} ± {_fmt(sem, 2)}"


def _sweep_figures(folder: Path, summary: dict, outputs: list[str], formats=("png",)):
    """Each numeric output against the first numeric grid axis, one series per other setting."""
    from validate.plotting import new_figure, save_figure, simulation_points

    grid = summary["grid"]
    pts = summary["points"]
    xaxis = next((g for g in grid if pts and all(isinstance(p["params"].get(g), (int, float))
                                                 and not isinstance(p["params"].get(g), bool)
                                                 for p in pts)), None)
    if xaxis is None or not outputs:
        return []
    others = [g for g in grid if g != xaxis]
    series: dict[tuple, list[dict]] = {}
    for p in pts:
        series.setdefault(tuple(p["params"][g] for g in others), []).append(p)
    written = []
    for out in outputs:
        fig, axes = new_figure(1, 1)
        ax = axes[0, 0]
        for k, (key, group) in enumerate(list(series.items())[:8]):
            group = sorted(group, key=lambda p: p["params"][xaxis])
            x = np.array([p["params"][xaxis] for p in group], dtype=float)
            m = np.array([p["stats"][out][0] for p in group])
            s = np.array([p["stats"][out][1] for p in group])
            s = np.where(np.isfinite(s), s, 0.0)
            label = ", ".join(f"{g}={v}" for g, v in zip(others, key)) or None
            simulation_points(ax, x, m, s, label=label, color=f"C{k % 8}")
        ax.set(xlabel=f"{xaxis} (units of the parameter)",
               ylabel=f"{out}\n(target's units; mean ± s.e.)",
               title=f"sweep: {out}, {summary['replicates']} replicate(s) per point")
        if others:
            ax.legend()
        stem = "sweep_" + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in out)
        written += save_figure(fig, folder, stem, formats=formats)
    return [Path(w).name for w in written]


def render_sweep_report(folder: str | Path, *, outputs: Sequence[str] | None = None,
                        figures: bool = True, max_outputs: int = 6) -> str:
    """Markdown of a sweep folder (writes ``sweep_<output>.png`` figures if ``figures``)."""
    folder = Path(folder)
    man = json.loads((folder / "manifest.json").read_text())
    summary = sweep_summary(folder)
    chosen = list(outputs) if outputs else summary["outputs"][:max_outputs]
    missing = [o for o in chosen if o not in summary["outputs"]]
    if missing:
        raise ValueError(f"outputs {missing} are not numeric columns of table.csv; "
                         f"choose from {summary['outputs']}")
    counts = man.get("counts", {})
    timing = man.get("timing", {})
    lines = [f"# sweep of {man['target']}", "",
             f"State **{man.get('state')}**: {counts.get('ok', 0)} points ok, "
             f"{counts.get('error', 0)} errors, {counts.get('missing', 0)} missing, of "
             f"{man['n_points']} ({man['n_grid_points']} grid points x {man['replicates']} "
             "replicates).", "",
             f"Seed {man['seed']} (entropy {man['entropy']}); seeding: {man['seeding']}.",
             f"Quick mode: {man.get('quick')}. Fixed parameters: "
             f"{json.dumps(man.get('fixed_params', {}))}.", ""]
    lines += ["## Grid", ""] + _table(["parameter", "values"],
                                      [[k, ", ".join(map(str, v))]
                                       for k, v in man["grid"].items()]) + [""]
    if timing.get("compute_s_total") is not None:
        per = timing.get("compute_s_per_point")
        lines += [f"Compute time {timing['compute_s_total']:.1f} s in total"
                  + (f", {per:.3g} s per point" if per else "") + "."]
    runs = man.get("runs", [])
    if runs:
        lines += ["", "## Runs", ""]
        lines += _table(["started", "executor", "computed", "reused", "wall s", "state"],
                        [[r.get("started"), json.dumps(r.get("executor", {})),
                          r.get("computed", ""), r.get("reused", ""),
                          r.get("wall_s", float("nan")), r.get("state", "")] for r in runs])
    lines += ["", "## Outputs (mean ± standard error over replicates)", ""]
    if chosen:
        header = [*summary["grid"], "ok", *chosen]
        rows = [[*(p["params"].get(g) for g in summary["grid"]),
                 f"{p['n_ok']}/{summary['replicates']}",
                 *(_mean_sem(p["stats"][o], o in summary["booleans"]) for o in chosen)]
                for p in summary["points"]]
        lines += _table(header, rows)
        rest = [o for o in summary["outputs"] if o not in chosen]
        if rest:
            lines += ["", f"Other numeric columns in [table.csv](table.csv): {', '.join(rest)}."]
    else:
        lines.append("No numeric outputs yet.")
    if figures and chosen:
        figs = _sweep_figures(folder, summary, chosen)
        if figs:
            lines += ["", "## Figures", ""]
            for f in figs:
                lines += [f"![{f}]({f})", ""]
    errors = [e for e in man.get("points", []) if e.get("status") == "error"]
    if errors:
        lines += ["", f"## Errors ({len(errors)})", ""]
        from validate import store

        for e in errors[:20]:
            rec = store.read_point(folder / "points", e["id"]) or {}
            err = rec.get("error") or {}
            lines += [f"- point {e['id']} (index {e['index']}, replicate {e['replicate']}, "
                      f"{json.dumps(e['params'])}): `{err.get('type')}: {err.get('message')}`",
                      "", "  <details><summary>traceback</summary>", "",
                      "  ```text", *("  " + t for t in
                                     str(err.get("traceback", "")).rstrip().splitlines()),
                      "  ```", "  </details>", ""]
        if len(errors) > 20:
            lines.append(f"... and {len(errors) - 20} more (see manifest.json).")
    lines += ["", "Files: [manifest.json](manifest.json), [table.csv](table.csv), "
              "points/ (one JSON record + NPZ arrays per point).", ""]
    return "\n".join(lines)


def write_markdown_report(folder: str | Path, output: str | Path | None = None, **kw) -> Path:
    """Render ``folder`` (run or sweep) to ``output`` (default ``folder/report.md``)."""
    folder = Path(folder)
    kind = detect_kind(folder)
    if kind == "sweep":
        text = render_sweep_report(folder, **kw)
    elif kind == "run":
        text = render_run_report(folder)
    else:
        from validate.gallery import Gallery, GalleryEntry, gallery_markdown

        g = json.loads((folder / "gallery.json").read_text())
        entries = tuple(GalleryEntry(**{k: (tuple(v) if isinstance(v, list) else v)
                                        for k, v in e.items()}) for e in g["entries"])
        text = gallery_markdown(Gallery(folder, entries, g["quick"], g["seed"],
                                        tuple(g["formats"]), g["created"], g["versions"]))
    path = Path(output) if output is not None else folder / "report.md"
    path.write_text(text)
    return path
