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

from validate.errors import InputError

__all__ = ["render_run_report", "render_sweep_report", "write_markdown_report", "detect_kind",
           "sweep_summary", "read_json_file", "require_fields"]


def read_json_file(path: Path, what: str) -> dict:
    """A JSON object from ``path``, or :class:`InputError` naming the file and the problem
    (missing, binary, truncated or not an object)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file ({what})") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read it ({err.strerror or err})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file ({what} expected)") from None
    if not text.strip():
        raise InputError(f"{path}: empty file ({what} expected)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON at line {err.lineno} column {err.colno} "
                         f"({err.msg}); the file may be truncated") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a JSON object ({what}) expected, got "
                         f"{type(data).__name__}")
    return data


def require_fields(data: dict, path: Path, fields: dict) -> None:
    """:class:`InputError` naming ``path`` and the field unless every ``fields`` key is present
    with one of its types (a bool never passes for an int)."""
    for key, types in fields.items():
        if key not in data:
            raise InputError(f"{path}: missing field {key!r}; not a complete learndyn file")
        if not isinstance(data[key], types) or (isinstance(data[key], bool)
                                                and bool not in _as_tuple(types)):
            raise InputError(f"{path}: field {key!r} has the wrong type "
                             f"({type(data[key]).__name__})")


def _as_tuple(types) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def _load_run_report(folder: Path) -> dict:
    path = folder / "report.json"
    rep = read_json_file(path, "a validate report")
    require_fields(rep, path, {"experiment": str, "passed": bool, "comparisons": list,
                               "seed": int})
    if rep["seed"] < 0:
        raise InputError(f"{path}: field 'seed' must be >= 0, got {rep['seed']}")
    for i, c in enumerate(rep["comparisons"]):
        if not isinstance(c, dict):
            raise InputError(f"{path}: comparisons[{i}] is not an object")
        require_fields(c, path, {"name": str, "passed": bool})
    if not rep["comparisons"]:
        raise InputError(f"{path}: holds no comparisons (an incomplete run?)")
    return rep


def _load_manifest(folder: Path) -> dict:
    from validate.sweep import MANIFEST_FORMAT

    path = folder / "manifest.json"
    man = read_json_file(path, "a sweep manifest")
    if man.get("format") != MANIFEST_FORMAT:
        raise InputError(f"{path}: not a learndyn sweep manifest (format "
                         f"{man.get('format')!r}, expected {MANIFEST_FORMAT!r})")
    require_fields(man, path, {"target": str, "grid": dict, "grid_order": list, "seed": int,
                         "n_grid_points": int, "n_points": int, "replicates": int,
                         "points": list, "seeding": str, "entropy": int})
    for i, e in enumerate(man["points"]):
        if not isinstance(e, dict) or not {"id", "index", "replicate", "params",
                                           "status"} <= set(e):
            raise InputError(f"{path}: points[{i}] is incomplete")
    if not (folder / "table.csv").is_file():
        raise InputError(f"{folder / 'table.csv'}: missing (run `learndyn sweep` again, or "
                         "validate.sweep.collect, to rebuild it)")
    return man


def detect_kind(folder: str | Path) -> str:
    """``"run"`` (report.json), ``"sweep"`` (manifest.json) or ``"gallery"`` (gallery.json)."""
    folder = Path(folder)
    if (folder / "manifest.json").exists():
        return "sweep"
    if (folder / "report.json").exists():
        return "run"
    if (folder / "gallery.json").exists():
        return "gallery"
    if not folder.exists():
        raise InputError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder (give the folder of a run, sweep or gallery)")
    raise InputError(f"{folder} holds no report.json (validate run), manifest.json "
                     "(sweep) or gallery.json (figures)")


def _fmt(v, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
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
    rep = _load_run_report(folder)
    name = rep["experiment"]
    status = "PASSED" if rep["passed"] else "FAILED"
    comps = rep["comparisons"]
    quick = " (quick mode)" if rep.get("quick") else ""
    lines = [f"# {name}: {status}{quick}", "",
             f"{sum(bool(c['passed']) for c in comps)} of {len(comps)} comparisons agree; "
             f"seed {rep['seed']}. A statistical comparison gives z = (simulation mean - "
             "theory) / standard error and passes when max |z| is below its bound (Sidak "
             "over the points, at the stated nominal level); a deterministic check compares "
             "the relative error with a stated tolerance.", ""]
    lines += ["## Comparisons", ""]
    rows = []
    for c in comps:
        stat = c.get("kind", "statistical") == "statistical"
        level = c.get("level")
        rows.append([c["name"], c.get("n_points", "-"),
                     "statistical" if stat else "deterministic check (relative error)",
                     c.get("max_abs_z") if stat else "-", c.get("bound") if stat else "-",
                     f"{100 * level:.2g}%" if stat and level is not None else "-",
                     c.get("rel_err"), "agree" if c["passed"] else "**DISAGREE**",
                     c.get("note") or ""])
    lines += _table(["comparison", "points", "kind", "max abs z", "bound", "nominal level",
                     "max rel. error", "verdict", "note"], rows)
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
    if rep.get("git_commit"):
        lines += [f"learndyn commit: `{rep['git_commit']}`", ""]
    if isinstance(rep.get("elapsed_s"), (int, float)):
        cores = rep.get("cpu_count")
        lines += [f"Wall time: {rep['elapsed_s']:.1f} s"
                  + (f" on a machine with {cores} cores" if cores else ""), ""]
    command = rep.get("command") or (f"learndyn validate {name} --seed {rep['seed']}"
                                     + (" --quick" if rep.get("quick") else ""))
    lines += [f"Reproduce: `{command}`", ""]
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
    man = _load_manifest(folder)
    try:
        cols, rows = _read_table(folder / "table.csv")
    except (UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"{folder / 'table.csv'}: not a readable CSV table ({err})") from None
    missing = {"index", "status"} - set(cols)
    if missing:
        raise InputError(f"{folder / 'table.csv'}: missing columns {sorted(missing)}")
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


_FIELD_WORDS = {"max_abs_z": "max |z|", "rel_err": "max relative error", "passed": "passed",
                "bound": "bound", "level": "nominal level"}


def _axis_labels(man: dict, rows: list[dict]) -> dict[str, str]:
    """Readable axis labels: a declared experiment parameter's meaning, and
    ``cmp<i>.<field>`` as '<field> of <comparison name>'."""
    labels: dict[str, str] = {}
    target = man.get("target", "")
    if man.get("kind") == "experiment":
        try:
            from validate.registry import get_experiment

            exp = get_experiment(target.split(":", 1)[1])
            labels.update({k: f"{k}: {p.help}" for k, p in exp.params.items()})
        except KeyError:
            pass
    names = {}
    for r in rows:
        for k, v in r.items():
            if k.startswith("cmp") and k.endswith(".name") and isinstance(v, str):
                names.setdefault(k[:-5], v)
    for prefix, name in names.items():
        for field, words in _FIELD_WORDS.items():
            labels[f"{prefix}.{field}"] = f"{words} of '{name}'"
    return labels


def _wrap(text: str, width: int = 48) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


def _sweep_figures(folder: Path, summary: dict, outputs: list[str], formats=("png",),
                   labels: dict[str, str] | None = None):
    """Each numeric output against the first numeric grid axis, one series per other setting;
    outputs that are constant over the whole grid are left out (nothing to see)."""
    from validate.plotting import new_figure, save_figure, simulation_points

    labels = labels or {}
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
        means = np.array([p["stats"][out][0] for p in pts], dtype=float)
        sems = np.array([p["stats"][out][1] for p in pts], dtype=float)
        if np.all(means == means[0]) and not np.any(np.nan_to_num(sems) > 0):
            continue  # a constant column: no figure
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
        ax.set(xlabel=_wrap(labels.get(xaxis, xaxis), 60),
               ylabel=_wrap(labels.get(out, out) + " (mean ± s.e.)", 40),
               title=f"{summary['replicates']} replicate(s) per grid point")
        if others:
            ax.legend()
        stem = "sweep_" + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in out)
        written += save_figure(fig, folder, stem, formats=formats)
    return [Path(w).name for w in written]


def render_sweep_report(folder: str | Path, *, outputs: Sequence[str] | None = None,
                        figures: bool = True, max_outputs: int = 6) -> str:
    """Markdown of a sweep folder (writes ``sweep_<output>.png`` figures if ``figures``)."""
    folder = Path(folder)
    man = _load_manifest(folder)
    summary = sweep_summary(folder)
    chosen = list(outputs) if outputs else summary["outputs"][:max_outputs]
    missing = [o for o in chosen if o not in summary["outputs"]]
    if missing:
        raise InputError(f"outputs {missing} are not numeric columns of table.csv; "
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
        _, rows = _read_table(folder / "table.csv")
        figs = _sweep_figures(folder, summary, chosen, labels=_axis_labels(man, rows[:1]))
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

        path = folder / "gallery.json"
        g = read_json_file(path, "a gallery index")
        require_fields(g, path, {"entries": list, "quick": bool, "seed": int, "formats": list,
                           "created": str, "versions": dict})
        try:
            entries = tuple(GalleryEntry.from_dict(e) for e in g["entries"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise InputError(f"{path}: an entry is incomplete") from None
        text = gallery_markdown(Gallery(folder, entries, g["quick"], g["seed"],
                                        tuple(g["formats"]), g["created"], g["versions"]))
    path = Path(output) if output is not None else folder / "report.md"
    path.write_text(text)
    return path
