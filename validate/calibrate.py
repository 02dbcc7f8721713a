r"""Calibration of an experiment's verdicts: how often does it fail when the theory is right?

A comparison that claims a nominal false-failure level :math:`\ell` (1% for a Šidák curve,
:math:`2\Phi(-3) = 0.27\%` for a single "within 3 standard errors" check) should fail in
about :math:`\ell K` of :math:`K` independent seeds.  :func:`calibrate` runs the experiment
over ``seeds`` seeds through the sweep machinery (:mod:`validate.sweep`: resumable, any
executor, Dask included) and reports, per comparison,

* the number of failures with the two-sided binomial acceptance interval of
  :math:`\mathrm{Bin}(K, \ell)`: *calibrated* inside it, *too many failures* above it (the
  verdict is not to be trusted), *conservative* below it;
* the measured failure rate with its Clopper–Pearson 99% interval;
* the mean signed z (over the compared points, then over seeds) with its standard error
  from the seed-to-seed spread — a bias of the simulation or the theory shows as a mean
  away from 0 long before single runs fail — and the spread (SD) of all z, about 1 when the
  standard errors are honest;

and for the experiment as a whole the rate of runs with any failed comparison against the
Šidák-combined level :math:`1 - \prod_i (1 - \ell_i)`.  Tolerance checks (deterministic, no
nominal level; :func:`validate.compare.tolerance_check`) are listed with their pass rate and
are not counted as statistical tests.

**The verdict is itself a test, at 99% for the experiment as a whole.**  An experiment with m
statistical comparisons is judged by m + 1 binomial tests (each comparison, and the runs with
any failure).  Were each held at 99%, a perfectly calibrated experiment with ten comparisons
would be called NOT CALIBRATED in about one calibration of twenty, and a table of forty
experiments would always show some.  So each of the m + 1 intervals is held at the Šidák
confidence :math:`0.99^{1/(m+1)}` (:func:`family_confidence`): the probability that a
calibrated experiment passes is at least 99% when the tests are independent, and at least
:math:`1 - (m+1)(1 - 0.99^{1/(m+1)}) \approx 99\%` by Bonferroni when they are not.  With
m = 1 and 100 seeds at a 1% level the interval is 0..5 failures instead of 0..4.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import binom, norm
from scipy.stats import t as student_t

__all__ = ["ComparisonCalibration", "Calibration", "calibrate", "acceptance_interval",
           "clopper_pearson", "summarize_points"]

CONFIDENCE = 0.99


def family_confidence(tests: int, confidence: float = CONFIDENCE) -> float:
    """Per-test confidence :math:`c^{1/m}` that holds ``tests`` binomial tests at family
    confidence ``confidence`` (Šidák)."""
    if tests < 1:
        raise ValueError(f"tests must be >= 1, got {tests}")
    return float(confidence ** (1.0 / tests))


def acceptance_interval(k: int, level: float, confidence: float = CONFIDENCE) -> tuple[int, int]:
    """Failure counts ``[lo, hi]`` holding ``Bin(k, level)`` with probability >= ``confidence``
    (equal tails)."""
    tail = (1 - confidence) / 2
    lo = int(binom.ppf(tail, k, level))  # smallest x with P(X <= x) >= tail
    if binom.cdf(lo, k, level) <= tail:
        lo += 1  # then P(X < lo) <= tail as well
    hi = int(binom.ppf(1 - tail, k, level))  # smallest x with P(X > x) <= tail
    return lo, hi


def clopper_pearson(failures: int, k: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact binomial confidence interval of a rate from ``failures`` of ``k``."""
    from scipy.stats import beta

    a = (1 - confidence) / 2
    lo = 0.0 if failures == 0 else float(beta.ppf(a, failures, k - failures + 1))
    hi = 1.0 if failures == k else float(beta.ppf(1 - a, failures + 1, k - failures))
    return lo, hi


@dataclass(frozen=True)
class ComparisonCalibration:
    """Calibration of one comparison (matched by name across seeds)."""

    name: str
    kind: str
    runs: int
    failures: int
    level: float | None
    accept: tuple[int, int] | None
    rate_interval: tuple[float, float]
    mean_z: float | None
    mean_z_se: float | None
    sd_z: float | None
    n_points: int
    dof: float | None = None
    z: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def rate(self) -> float:
        return self.failures / self.runs if self.runs else float("nan")

    @property
    def verdict(self) -> str:
        if self.kind == "tolerance":
            return "tolerance check" if self.failures == 0 else "tolerance check failed"
        lo, hi = self.accept
        if self.failures > hi:
            return "too many failures"
        if self.failures < lo:
            return "conservative"
        return "calibrated"

    @property
    def ok(self) -> bool:
        return self.verdict in ("calibrated", "conservative", "tolerance check")

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "runs": self.runs,
                "failures": self.failures, "failure_rate": self.rate, "level": self.level,
                "acceptance_interval": list(self.accept) if self.accept else None,
                "rate_interval_99": list(self.rate_interval), "mean_z": self.mean_z,
                "mean_z_se": self.mean_z_se, "sd_z": self.sd_z, "n_points": self.n_points,
                "dof": self.dof, "verdict": self.verdict}


@dataclass(frozen=True)
class Calibration:
    """Calibration of one experiment over many seeds (see the module docstring)."""

    experiment: str
    quick: bool
    seeds: int
    params: Mapping[str, object]
    comparisons: tuple[ComparisonCalibration, ...]
    runs: int
    any_failures: int
    combined_level: float
    combined_accept: tuple[int, int]
    errors: int
    test_confidence: float = CONFIDENCE
    seconds_per_seed: float | None = None
    out_dir: Path | None = None
    figures: tuple[str, ...] = ()
    root_seed: int = 0
    #: how many seeds each code identity computed (:func:`validate.sweep.code_counts`)
    code: Mapping[str, int] = field(default_factory=dict)
    #: seeds reused from the stored sweep that other code computed (0 for a fresh sweep)
    reused_other_code: int = 0

    @property
    def command(self) -> str:
        """The ``learndyn calibrate`` command line that reproduces this calibration."""
        import shlex

        from validate.registry import param_arguments

        parts = ["learndyn", "calibrate", self.experiment]
        if self.quick:
            parts.append("--quick")
        parts += ["--seeds", str(self.seeds), "--seed", str(self.root_seed)]
        return " ".join(shlex.quote(p) for p in parts + param_arguments(self.params))

    @property
    def tests(self) -> int:
        """The binomial tests the verdict makes: one per statistical comparison, and the runs
        with any failure (held together at :data:`CONFIDENCE` by ``test_confidence``)."""
        return sum(c.kind == "statistical" for c in self.comparisons) + 1

    @property
    def passed(self) -> bool:
        lo, hi = self.combined_accept
        return (self.errors == 0 and self.runs > 0 and self.any_failures <= hi
                and all(c.ok for c in self.comparisons))

    def to_dict(self) -> dict:
        return {"experiment": self.experiment, "quick": self.quick, "seeds": self.seeds,
                "root_seed": self.root_seed, "command": self.command,
                "params": dict(self.params), "runs": self.runs, "errors": self.errors,
                "any_failures": self.any_failures,
                "any_failure_rate": self.any_failures / self.runs if self.runs else None,
                "combined_level": self.combined_level,
                "combined_acceptance_interval": list(self.combined_accept),
                "passed": self.passed, "confidence": CONFIDENCE,
                "test_confidence": self.test_confidence,
                "seconds_per_seed": self.seconds_per_seed,
                "comparisons": [c.to_dict() for c in self.comparisons],
                "figures": list(self.figures), "code": dict(self.code),
                "reused_other_code": self.reused_other_code}


def summarize_points(experiment: str, records: list[dict], *, quick: bool, seeds: int,
                     params: Mapping[str, object], root_seed: int = 0) -> Calibration:
    """A :class:`Calibration` from sweep point records (``load_points(..., arrays=True)``) of
    the sweep with root seed ``root_seed``."""
    from validate.sweep import code_counts

    ok = [r for r in records if r["status"] == "ok"]
    errors = sum(r["status"] == "error" for r in records)
    by_name: dict[str, dict] = {}
    any_fail = 0
    for r in ok:
        sc, arr = r["scalars"], r.get("arrays_data", {})
        n = int(sc.get("n_comparisons", 0))
        failed = False
        for i in range(n):
            name = sc[f"cmp{i}.name"]
            e = by_name.setdefault(name, {"kind": sc.get(f"cmp{i}.kind", "statistical"),
                                          "passed": [], "level": [], "z": [], "seed_mean": []})
            e["passed"].append(bool(sc[f"cmp{i}.passed"]))
            lvl = sc.get(f"cmp{i}.level")
            if lvl is not None and not (isinstance(lvl, float) and math.isnan(lvl)):
                e["level"].append(float(lvl))
            z = np.asarray(arr.get(f"cmp{i}.z", np.zeros(0)), dtype=float)
            z = z[np.abs(z) < 1e299]
            if z.size:
                e["z"].append(z)
                e["seed_mean"].append(float(np.mean(z)))
            failed |= not sc[f"cmp{i}.passed"]
        any_fail += failed
    cals = []
    levels = []
    n_stat = sum(1 for e in by_name.values() if e["kind"] != "tolerance" and e["level"])
    conf = family_confidence(n_stat + 1) if n_stat else CONFIDENCE
    for name, e in by_name.items():
        runs = len(e["passed"])
        fails = runs - sum(e["passed"])
        zall = np.concatenate(e["z"]) if e["z"] else np.zeros(0)
        if e["kind"] == "tolerance" or not e["level"]:
            cals.append(ComparisonCalibration(name, "tolerance", runs, fails, None, None,
                                              clopper_pearson(fails, runs), None, None, None,
                                              int(zall.size)))
            continue
        level = float(np.mean(e["level"]))
        levels.append(level)
        sm = np.asarray(e["seed_mean"])
        cals.append(ComparisonCalibration(
            name, "statistical", runs, fails, level, acceptance_interval(runs, level, conf),
            clopper_pearson(fails, runs), float(sm.mean()) if sm.size else None,
            float(sm.std(ddof=1) / math.sqrt(sm.size)) if sm.size > 1 else None,
            float(zall.std(ddof=1)) if zall.size > 1 else None, int(zall.size), z=zall))
    combined = float(-np.expm1(np.sum(np.log1p(-np.asarray(levels))))) if levels else 0.0
    times = [float(r["elapsed_s"]) for r in ok if isinstance(r.get("elapsed_s"), (int, float))]
    return Calibration(experiment, quick, seeds, dict(params), tuple(cals), len(ok), any_fail,
                       combined, acceptance_interval(max(len(ok), 1), combined, conf) if levels
                       else (0, 0), errors, conf,
                       float(np.mean(times)) if times else None, root_seed=int(root_seed),
                       code=code_counts(ok))


def calibrate(name: str, seeds: int = 100, *, quick: bool = False,
              params: Mapping[str, object] | None = None, out_dir: str | Path | None = None,
              seed: int = 0, executor: str = "process", workers: int | None = None,
              address: str | None = None, progress: bool | None = None,
              force: bool = False, figures: bool = True) -> Calibration:
    """Run experiment ``name`` over ``seeds`` seeds and measure its false-failure rates.

    The runs are a sweep (``out_dir/sweep``, resumable: re-running computes only missing
    seeds; more ``seeds`` extend it).  Writes ``out_dir/calibration.json`` and, with
    ``figures``, ``out_dir/calibration.png`` (z histograms against the reference law).
    """
    from numerics.checks import as_int
    from validate.report import write_json_atomic
    from validate.sweep import load_points, run_sweep

    seeds = as_int(seeds, "seeds", 2)
    params = dict(params or {})
    out = Path(out_dir) if out_dir is not None else Path("calibrations") / (
        name + ("-quick" if quick else ""))
    sweep_dir = out / "sweep"
    swept = run_sweep(name, {}, replicates=seeds, seed=seed, params=params, out_dir=sweep_dir,
                      executor=executor, workers=workers, address=address, quick=quick,
                      progress=progress, force=force)
    records = load_points(sweep_dir, arrays=True)
    cal = summarize_points(name, records, quick=quick, seeds=seeds, params=params,
                           root_seed=seed)
    figs: tuple[str, ...] = ()
    if figures and cal.comparisons:
        figs = tuple(plot_calibration(cal, out))
    from dataclasses import replace

    cal = replace(cal, out_dir=out, figures=figs, reused_other_code=swept.reused_other_code)
    write_json_atomic(out / "calibration.json", cal.to_dict())
    return cal


def plot_calibration(cal: Calibration, out_dir: Path) -> list[str]:
    """Histogram of the z-scores of each statistical comparison against its reference law
    (standard normal, or Student t where the standard errors have few degrees of freedom)."""
    from validate.plotting import new_figure, save_figure

    stats = [c for c in cal.comparisons if c.kind == "statistical" and c.z.size]
    if not stats:
        return []
    ncols = min(3, len(stats))
    nrows = math.ceil(len(stats) / ncols)
    fig, axes = new_figure(ncols, nrows)
    grid = np.linspace(-5, 5, 401)
    for k, c in enumerate(stats):
        ax = axes[k // ncols, k % ncols]
        z = np.clip(c.z, -6, 6)
        ax.hist(z, bins=np.linspace(-6, 6, 49), density=True, color="C0", alpha=0.6,
                label=f"z, {c.runs} seeds x {c.n_points // max(c.runs, 1)} pts")
        ref = norm.pdf(grid) if c.dof is None else student_t.pdf(grid, c.dof)
        ax.plot(grid, ref, color="k", lw=1.2,
                label="N(0, 1)" if c.dof is None else f"t({c.dof:g})")
        mz = "n/a" if c.mean_z is None else f"{c.mean_z:+.2f}"
        ax.set_title(f"{_short(c.name)}\nfail {c.failures}/{c.runs} (nominal "
                     f"{100 * c.level:.2g}%), mean z {mz}: {c.verdict}", fontsize=8)
        ax.set_xlabel("z = (simulation - theory) / SE")
        ax.legend(fontsize=7)
    for k in range(len(stats), nrows * ncols):
        axes[k // ncols, k % ncols].set_visible(False)
    fig.suptitle(f"calibration of {cal.experiment}{' (quick)' if cal.quick else ''}: "
                 f"{cal.any_failures}/{cal.runs} runs with a failure (nominal "
                 f"{100 * cal.combined_level:.2g}%)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, out_dir, "calibration")


def _short(name: str, width: int = 48) -> str:
    return name if len(name) <= width else name[: width - 3] + "..."
