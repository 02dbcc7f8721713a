"""The figure gallery: every figure of every registered experiment, with an index.

:func:`build_gallery` runs each experiment of :func:`validate.registry.experiments` (or a
chosen subset) with ``RunConfig(quick=..., seed=..., out_dir=<temporary folder>)``, moves the
figures the experiment wrote (PNG, and PDF/SVG if asked for) into ``out_dir`` under their own
names, keeps the run's ``report.json`` as ``out_dir/reports/NAME.json``, and writes
``out_dir/README.md`` (one section per experiment: description, verdict, figures, the command
that reproduces it) and ``out_dir/gallery.json``.  The figures are the experiments' own: the
gallery draws nothing itself, so it shows whatever experiments are registered.

An experiment that raises is recorded with its error and the others still run.  Full runs
(the default) give the figures the README shows; ``quick=True`` gives the same figures from
fewer replicas in a fraction of the time (for CI and previews).
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from validate.errors import InputError
from validate.plotting import FIGURE_FORMATS, figure_formats

__all__ = ["GalleryEntry", "Gallery", "build_gallery", "gallery_markdown", "run_gallery_job"]


@dataclass(frozen=True)
class GalleryEntry:
    """One experiment's contribution to the gallery."""

    experiment: str
    description: str
    figures: tuple[str, ...] = ()
    passed: bool | None = None
    comparisons: tuple[dict, ...] = ()
    seconds: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict:
        return {"experiment": self.experiment, "description": self.description,
                "figures": list(self.figures), "passed": self.passed,
                "comparisons": list(self.comparisons), "seconds": self.seconds,
                "error": self.error}

    @classmethod
    def from_dict(cls, d: dict) -> GalleryEntry:
        return cls(str(d["experiment"]), str(d["description"]), tuple(d.get("figures", ())),
                   d.get("passed"), tuple(d.get("comparisons", ())),
                   float(d.get("seconds", 0.0)), d.get("error"))


@dataclass(frozen=True)
class Gallery:
    """The gallery written to ``out_dir``."""

    out_dir: Path
    entries: tuple[GalleryEntry, ...]
    quick: bool
    seed: int
    formats: tuple[str, ...]
    created: str = ""
    versions: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every experiment ran and all its comparisons agreed."""
        return all(e.error is None and e.passed for e in self.entries)

    def to_dict(self) -> dict:
        return {"out_dir": str(self.out_dir), "quick": self.quick, "seed": self.seed,
                "formats": list(self.formats), "created": self.created,
                "versions": self.versions, "entries": [e.to_dict() for e in self.entries]}


def _unique_name(name: str, experiment: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    return f"{experiment}-{name}"


def run_gallery_job(job: dict) -> dict:
    """Run one experiment into ``job["tmp"]`` (module-level: runs in worker processes too).

    Returns ``name, figures (paths), passed, comparisons, seconds, error``; the figures stay
    in ``tmp`` for the parent to collect.
    """
    from validate.registry import RunConfig, run_experiment

    t0 = time.perf_counter()
    try:
        with figure_formats(job["formats"]):
            result = run_experiment(job["name"], RunConfig(
                quick=job["quick"], seed=job["seed"], out_dir=Path(job["tmp"]),
                progress=job["progress"]))
        return {"name": job["name"], "figures": [str(f) for f in result.figures],
                "passed": bool(result.passed),
                "comparisons": [c.summary() for c in result.comparisons],
                "seconds": time.perf_counter() - t0, "error": None}
    except Exception as err:  # noqa: BLE001 - one broken experiment must not sink the gallery
        return {"name": job["name"], "figures": [], "passed": None, "comparisons": [],
                "seconds": time.perf_counter() - t0,
                "error": f"{type(err).__name__}: {err}\n{traceback.format_exc()}"}


def _collect(out: dict, description: str, tmp: Path, out_dir: Path,
             taken: set[str]) -> GalleryEntry:
    """Move an experiment's figures from ``tmp`` into ``out_dir``; keep its report."""
    name = out["name"]
    if out["error"] is not None:
        return GalleryEntry(name, description, (), None, (), out["seconds"], out["error"])
    written = [Path(f) for f in out["figures"]]
    written = [f if f.is_absolute() else tmp / f.name for f in written]
    # anything else the experiment saved next to them in a figure format
    written += sorted(p for p in tmp.iterdir()
                      if p.suffix.lstrip(".") in FIGURE_FORMATS and p not in written)
    names = []
    for src in written:
        if not src.exists():
            continue
        dest = _unique_name(src.name, name, taken)
        taken.add(dest)
        shutil.move(str(src), out_dir / dest)
        names.append(dest)
    reports = out_dir / "reports"
    reports.mkdir(exist_ok=True)
    if (tmp / "report.json").exists():
        report = json.loads((tmp / "report.json").read_text())
        report["figures"] = names
        (reports / f"{name}.json").write_text(json.dumps(report, indent=1))
    return GalleryEntry(name, description, tuple(names), out["passed"],
                        tuple(out["comparisons"]), out["seconds"])


def build_gallery(out_dir: str | Path = "figures", *, quick: bool = False, seed: int = 0,
                  only: Iterable[str] | None = None, formats=("png",),
                  progress: bool | None = None, workers: int = 1,
                  log: Callable[[str], None] | None = None, force: bool = False) -> Gallery:
    """Run the experiments and write the gallery into ``out_dir``; see the module docstring.

    An existing gallery in ``out_dir`` made with other settings (quick mode, seed) is never
    overwritten or mixed with this one unless ``force`` (raises ``ValueError`` before any
    work).  ``only`` restricts to some experiment names (unknown names raise ``KeyError``); the
    other entries of an existing gallery with the same ``quick`` and ``seed`` are kept;
    ``formats`` is any of ``png``, ``pdf``, ``svg``; ``workers > 1`` runs that many
    experiments at once in local processes; ``log`` gets one line per finished experiment.
    """
    from numerics.checks import as_int
    from validate.executors import make_executor
    from validate.plotting import _check_formats
    from validate.registry import experiments
    from validate.report import versions

    formats = _check_formats(formats)
    workers = as_int(workers, "workers", 1)
    out_dir = Path(out_dir)
    _check_no_mixing(out_dir, bool(quick), int(seed), force)
    out_dir.mkdir(parents=True, exist_ok=True)
    exps = experiments()
    names = list(exps)
    if only is not None:
        names = list(dict.fromkeys(only))
        unknown = [n for n in names if n not in exps]
        if unknown:
            raise KeyError(f"unknown experiment(s) {unknown}; known experiments: "
                           f"{', '.join(exps)}")
    tmps = {n: Path(tempfile.mkdtemp(prefix=f".run-{n}-", dir=out_dir)).resolve()
            for n in names}
    jobs = [{"name": n, "tmp": str(tmps[n]), "quick": bool(quick), "seed": int(seed),
             "formats": formats, "progress": progress if workers == 1 else False}
            for n in names]
    results: dict[str, dict] = {}
    try:
        ex = make_executor("serial" if workers == 1 else "process", workers=workers)
        with ex:
            for out in ex.imap_unordered(run_gallery_job, jobs):
                results[out["name"]] = out
                if log is not None:
                    verdict = ("ERROR " + out["error"].splitlines()[0] if out["error"]
                               else "PASSED" if out["passed"] else "FAILED")
                    log(f"{out['name']}: {verdict} in {out['seconds']:.1f} s")
        taken: set[str] = set()
        entries = [_collect(results[n], exps[n].description, tmps[n], out_dir, taken)
                   for n in names]
    finally:
        for tmp in tmps.values():
            shutil.rmtree(tmp, ignore_errors=True)
    if only is not None:
        entries = _merge_with_existing(out_dir, entries, list(exps), bool(quick), int(seed),
                                       log)
    gallery = Gallery(out_dir, tuple(entries), bool(quick), int(seed), formats,
                      _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), versions())
    (out_dir / "gallery.json").write_text(json.dumps(gallery.to_dict(), indent=1))
    (out_dir / "README.md").write_text(gallery_markdown(gallery))
    return gallery


def _check_no_mixing(out_dir: Path, quick: bool, seed: int, force: bool) -> None:
    index = out_dir / "gallery.json"
    if force or not index.exists():
        return
    try:
        old = json.loads(index.read_text())
        old_quick, old_seed = bool(old.get("quick")), int(old.get("seed", -1))
    except (OSError, ValueError, TypeError, AttributeError):
        raise InputError(f"{index} is not a readable gallery index; use another --out folder "
                         "or --force to replace it") from None
    if (old_quick, old_seed) != (quick, seed):
        what = "quick-mode" if old_quick else "full-run"
        raise InputError(f"{out_dir} holds a {what} gallery with seed {old_seed}; this "
                         f"{'quick' if quick else 'full'} run with seed {seed} would overwrite "
                         "or mix with it: use another --out folder, or --force to replace it")


def _merge_with_existing(out_dir: Path, entries: list[GalleryEntry], order: list[str],
                         quick: bool, seed: int, log) -> list[GalleryEntry]:
    """With ``only``: keep the other experiments of an existing gallery made with the same
    ``quick`` and ``seed`` (their figures are still there), so the index stays complete."""
    index = out_dir / "gallery.json"
    if not index.exists():
        return entries
    try:
        old = json.loads(index.read_text())
    except (OSError, json.JSONDecodeError):
        return entries
    if bool(old.get("quick")) != quick or int(old.get("seed", -1)) != seed:
        if log is not None:
            log(f"existing gallery in {out_dir} has other settings (quick={old.get('quick')}, "
                f"seed={old.get('seed')}): its index is replaced")
        return entries
    new = {e.experiment: e for e in entries}
    kept = {d["experiment"]: GalleryEntry.from_dict(d) for d in old.get("entries", [])
            if d.get("experiment") not in new and d.get("experiment") in order
            and all((out_dir / f).exists() for f in d.get("figures", []))}
    merged = {**kept, **new}
    return [merged[n] for n in order if n in merged]


def _verdict_line(e: GalleryEntry) -> str:
    if e.error is not None:
        return f"**error** - the experiment raised `{e.error.splitlines()[0]}`"
    n = len(e.comparisons)
    bad = [c for c in e.comparisons if not c["passed"]]
    stat = [c for c in e.comparisons if c.get("kind", "statistical") == "statistical"
            and c.get("max_abs_z") is not None and c.get("bound")]
    worst = max((c["max_abs_z"] / c["bound"] for c in stat), default=None)
    if not bad:
        parts = [f"{len(stat)} statistical (largest max|z| / bound = {worst:.2f})"
                 if stat else "", f"{n - len(stat)} deterministic tolerance checks"
                 if n > len(stat) else ""]
        return (f"**passed** - all {n} comparisons agree: " + ", ".join(p for p in parts if p)
                + f"; {e.seconds:.0f} s")
    return (f"**FAILED** - {len(bad)} of {n} comparisons disagree "
            f"({', '.join(c['name'] for c in bad)}); {e.seconds:.0f} s")


def gallery_markdown(gallery: Gallery) -> str:
    """The gallery index (``README.md``) as Markdown."""
    mode = "quick mode (fewer replicas; preview)" if gallery.quick else "full runs"
    cmd = "learndyn figures" + (" --quick" if gallery.quick else "") + \
        f" --out {gallery.out_dir.name}" + (f" --seed {gallery.seed}" if gallery.seed else "")
    lines = [
        "# learndyn figure gallery", "",
        f"Every figure of every registered experiment, {mode}, seed {gallery.seed}, made "
        f"{gallery.created} with learndyn {gallery.versions.get('learndyn', '?')}. "
        "Theory is drawn as lines, simulation as points with one-standard-error bars "
        "(between independent replicas).", "",
        f"Regenerate with `{cmd}`; each section names the command that reproduces its "
        "experiment with a statistical verdict.", "",
    ]
    lines += ["| experiment | verdict | figures |", "|---|---|---|"]
    for e in gallery.entries:
        v = "error" if e.error else ("passed" if e.passed else "FAILED")
        figs = ", ".join(f"[{f}]({f})" for f in e.figures) or "-"
        lines.append(f"| [{e.experiment}](#{e.experiment}) | {v} | {figs} |")
    lines.append("")
    for e in gallery.entries:
        lines += [f"## {e.experiment}", "", e.description, "", _verdict_line(e), ""]
        for f in e.figures:
            if f.endswith((".png", ".svg")):
                lines += [f"![{e.experiment}: {Path(f).stem}]({f})", ""]
        vector = [f for f in e.figures if f.endswith(".pdf")]
        if vector:
            lines += ["Vector versions: " + ", ".join(f"[{f}]({f})" for f in vector), ""]
        quick = " --quick" if gallery.quick else ""
        lines += [f"Reproduce: `learndyn validate {e.experiment}{quick} --seed {gallery.seed}`"
                  + (f"; report: [reports/{e.experiment}.json](reports/{e.experiment}.json)"
                     if e.error is None else ""), ""]
    return "\n".join(lines)
