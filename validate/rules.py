r"""One call from a learning rule's definition to a verdict: :func:`check_rule`.

``check_rule(rule, ...)`` takes a :class:`theory.rules.LearningRule` and

1. **derives** its drift and second moment (:func:`theory.rules.derive`: Isserlis, the
   Gaussian table or quadrature, whichever applies) and the moment equations (Schmid &
   Murray, eqs. (10)-(11) with the :math:`O(\eta)` diffusion term);
2. **integrates** them as the discrete moment map with time step :math:`\eta`
   (:func:`numerics.rules.moment_trajectory`; its continuous-time limit is the ODE, whose
   :math:`O(\eta)` Euler bias would be as large as the standard error of an ensemble of
   :math:`\gtrsim 1/\eta` replicas);
3. **simulates** an ensemble of independent learners with the simulator generated from the
   same definition (:class:`numerics.sim.generated.GeneratedRule`);
4. **compares** the mean weights and the weight covariance at ``points`` update counts with
   :func:`validate.compare.compare` (Šidák bound over every compared entry and time; Student-t
   quantiles with ``replicas - 1`` degrees of freedom; standard errors
   :math:`\max(\mathrm{SE}_\text{sample}, \mathrm{SE}_\text{theory})`, where the theory's own
   covariance gives :math:`\sqrt{C_{ii}/R}` for a mean and, for Gaussian weights,
   :math:`\sqrt{(C_{ii}C_{jj} + C_{ij}^2)/(R-1)}` for a covariance entry);
5. **prints** the derivation as LaTeX (:func:`theory.rules.rule_latex_model`, the project's
   LaTeX format) and, with ``out_dir``, writes ``report.json``, the figure and
   ``derivation.tex`` like any experiment.

The closure of eqs. (10)-(11) (second order in :math:`w - \langle w\rangle`) and the diffusion
term evaluated at the mean leave relative errors :math:`O(\eta)` in the covariance and
:math:`O(\eta^2)` in the mean; at the default :math:`\eta` they are far below the standard
errors (the calibration in the README measures the false-failure rate).

:func:`load_rule` imports a user's Python file (``FILE.py:NAME``) as code — the user's own
file, run the way ``python FILE.py`` would run it; nothing is ``eval``'ed — and returns the
rule called ``NAME`` (a :class:`~theory.rules.LearningRule` or a function returning one).
"""

from __future__ import annotations

import importlib.util
import math
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from numerics.rules import (
    DEFAULT_NODES,
    CompiledRule,
    MomentTrajectory,
    compiled_rule,
    moment_trajectory,
)
from numerics.sim.ensemble import Ensemble, simulate_ensemble
from numerics.sim.generated import GeneratedRule
from theory.latex import render
from theory.rules import DerivedRule, LearningRule, derive, rule_latex_model
from validate.compare import Comparison, compare
from validate.errors import InputError
from validate.registry import ExperimentResult

__all__ = ["check_rule", "RuleCheck", "load_rule", "rule_comparisons", "plot_rule_check",
           "DEFAULT_REPLICAS", "DEFAULT_POINTS"]

DEFAULT_REPLICAS = 1000
DEFAULT_POINTS = 10


@dataclass(frozen=True)
class RuleCheck:
    """The outcome of :func:`check_rule`: the experiment result (comparisons, figures, report
    content), the derivation, the theory trajectory, the simulated ensemble and the LaTeX."""

    result: ExperimentResult
    derived: DerivedRule
    theory: MomentTrajectory
    ensemble: Ensemble
    latex: str
    curve: MomentTrajectory | None = None
    compiled: CompiledRule | None = None

    @property
    def passed(self) -> bool:
        return self.result.passed

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        return self.result.comparisons

    def table(self) -> str:
        """The comparisons as a text table (what ``learndyn validate`` prints)."""
        rows = [("comparison", "max|z|", "bound", "rel.err", "verdict")]
        for c in self.comparisons:
            rel = f"{c.rel_err:.2%}" if math.isfinite(c.rel_err) else "n/a"
            z = f"{c.max_abs_z:.2f}" if c.kind == "statistical" else "-"
            b = f"{c.bound:.2f}" if c.kind == "statistical" else "tol."
            rows.append((c.name, z, b, rel, c.verdict))
        width = max(len(r[0]) for r in rows)
        lines = [f"{r[0]:<{width}}  {r[1]:>7}  {r[2]:>6}  {r[3]:>8}  {r[4]}" for r in rows]
        paths = ", ".join(f"{k}: {v}" for k, v in self.derived.paths.items())
        lines.append(f"rule {self.derived.rule.name}: {'PASSED' if self.passed else 'FAILED'} "
                     f"(derived by {paths})")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"report": self.result.to_report(), "derivation": self.derived.to_dict(),
                "theory": self.theory.to_dict(), "ensemble": self.ensemble.to_dict()}


def _check_w0(rule: LearningRule, w0) -> np.ndarray:
    if w0 is None:
        w0 = rule.defaults.get("w0")
    if w0 is None:
        raise ValueError(f"rule {rule.name!r}: give the initial weights w0 ({rule.n} numbers)")
    w = np.asarray(w0, dtype=float).ravel()
    if w.shape != (rule.n,) or not np.all(np.isfinite(w)):
        raise ValueError(f"w0 must be {rule.n} finite numbers (one per weight: "
                         f"{', '.join(map(str, rule.weights))}), got {w0!r}")
    return w


def _positive(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def rule_comparisons(theory: MomentTrajectory, ens: Ensemble, names, *, alpha: float = 0.01,
                     label: str = "") -> list[Comparison]:
    """Mean and covariance trajectories of ``ens`` (recorded with ``keep_samples``) against
    ``theory`` at the same update counts (module docstring for the statistics)."""
    if ens.samples is None:
        raise ValueError("the ensemble must keep its samples (keep_samples=True)")
    if not np.array_equal(theory.steps, ens.steps):
        raise ValueError("theory and simulation must be recorded at the same update counts")
    R = ens.replicas
    m, n = theory.mean.shape
    t = np.repeat(ens.times, n)
    C = theory.cov
    var = np.clip(np.diagonal(C, axis1=1, axis2=2), 0.0, None)
    mean = compare(f"{label}mean weights", theory.mean.ravel(), ens.mean.ravel(),
                   ens.sem.ravel(), x=t, dof=R - 1, alpha=alpha,
                   exact_sem=np.sqrt(var / R).ravel(),
                   note=f"{n} weights ({', '.join(names)}) x {m} times, Sidak over all; "
                        "SE = max(sample, theory's sqrt(C_ii/R))")
    dev = ens.samples - ens.mean[:, None, :]
    iu = np.triu_indices(n)
    prod = dev[:, :, iu[0]] * dev[:, :, iu[1]]  # (m, R, pairs)
    cov_hat = prod.sum(1) / (R - 1)
    se = prod.std(1, ddof=1) / np.sqrt(R)
    th = C[:, iu[0], iu[1]]
    # a theory whose covariance has gone negative (a wrong drift) still gets a finite SE and
    # fails on its own values
    gauss_se = np.sqrt((var[:, iu[0]] * var[:, iu[1]] + th**2) / (R - 1))
    pairs = [f"C({names[i]},{names[j]})" for i, j in zip(*iu)]
    cov = compare(f"{label}weight covariance", th.ravel(), cov_hat.ravel(), se.ravel(),
                  x=np.repeat(ens.times, len(pairs)), dof=R - 1, alpha=alpha,
                  exact_sem=gauss_se.ravel(),
                  note=f"{len(pairs)} entries x {m} times, Sidak over all; SE = max(sample, "
                       "Gaussian-theory sqrt((C_ii C_jj + C_ij^2)/(R-1)))")
    return [mean, cov]


def check_rule(rule: LearningRule, *, w0=None, eta: float | None = None,
               t_end: float | None = None, replicas: int | None = None, seed: int = 0,
               params: Mapping | None = None, points: int = DEFAULT_POINTS,
               correction: float = 0.5, nodes: int = DEFAULT_NODES, out_dir=None,
               figures: bool = True, progress: bool | None = None, alpha: float = 0.01,
               experiment: str | None = None) -> RuleCheck:
    r"""Derive, integrate, simulate, compare and print ``rule`` (module docstring).

    ``w0``: initial weights (default ``rule.defaults["w0"]``); ``eta``: learning rate
    (default ``rule.defaults["eta"]`` or 0.005); ``t_end``: continuous time
    :math:`\eta\times` updates (default ``rule.defaults["t_end"]`` or 5); ``replicas``:
    independent learners (default 1000); ``params``: values of the rule's parameters (names
    or symbols; defaults from the rule); ``points``: update counts compared;
    ``correction``: the coefficient of eq. (10)'s second-order term (1/2); ``nodes``:
    quadrature nodes; ``out_dir``: write ``report.json``, the figure and ``derivation.tex``.
    """
    if not isinstance(rule, LearningRule):
        raise TypeError(f"check_rule needs a theory.rules.LearningRule, got "
                        f"{type(rule).__name__}")
    d = rule.defaults
    w0 = _check_w0(rule, w0)
    eta = _positive(d.get("eta", 0.005) if eta is None else eta, "eta")
    t_end = _positive(d.get("t_end", 5.0) if t_end is None else t_end, "t_end")
    replicas = int(d.get("replicas", DEFAULT_REPLICAS) if replicas is None else replicas)
    if replicas < 10:
        raise ValueError(f"replicas must be >= 10 (standard errors from independent learners), "
                         f"got {replicas}")
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 1:
        raise ValueError(f"points must be an integer >= 1, got {points!r}")
    steps = max(1, int(round(t_end / eta)))
    if steps < points:
        raise ValueError(f"t_end/eta = {steps} updates is fewer than the {points} points to "
                         "compare; lengthen t_end or lower eta")
    rec = np.unique(np.linspace(0, steps, points + 1)[1:].round().astype(np.int64))
    t0 = time.perf_counter()
    derived = derive(rule)
    compiled = compiled_rule(derived, params, nodes=nodes, correction=correction)
    t_derive = time.perf_counter() - t0
    dense = np.unique(np.concatenate([np.linspace(0, steps, 201).round().astype(np.int64), rec]))
    t0 = time.perf_counter()
    traj = _trajectory(compiled, tuple(w0), eta, steps, tuple(dense))
    at = np.searchsorted(traj.steps, rec)
    theory = MomentTrajectory(steps=rec, times=traj.times[at], mean=traj.mean[at],
                              cov=traj.cov[at], eta=eta)
    t_theory = time.perf_counter() - t0
    sim = GeneratedRule(rule, compiled.values, lr=eta)
    t0 = time.perf_counter()
    ens = simulate_ensemble(sim, w0, steps, replicas=replicas, seed=seed, record_steps=rec,
                            keep_samples=True, names=tuple(map(str, rule.weights)),
                            progress=progress)
    t_sim = time.perf_counter() - t0
    names = [str(w) for w in rule.weights]
    comps = rule_comparisons(theory, ens, names, alpha=alpha)
    quad_err = compiled.quadrature_error(traj.mean) if compiled.uses_quadrature else 0.0
    if compiled.uses_quadrature:
        comps = [replace(c, note=c.note + f"; quadrature error of the drift <= {quad_err:.1e} "
                                          f"({nodes} vs {2 * nodes} nodes)") for c in comps]
    name = experiment or f"rule:{rule.name}"
    figs: list[str] = []
    latex = _latex(derived)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "derivation.tex").write_text(latex)
        if figures:
            figs = plot_rule_check(rule, traj, ens, comps, out, stem=name.replace(":", "_"))
    values = {p.name: v for p, v in compiled.values.items()}
    result = ExperimentResult(
        name, tuple(comps), int(seed), tuple(figs),
        {"rule": rule.name, "w0": w0.tolist(), "eta": eta, "t_end": t_end, "steps": steps,
         "replicas": replicas, "points": points, "correction": correction, **values},
        {"paths": dict(derived.paths), "quadrature_nodes": nodes if derived.averages else None,
         "quadrature_error": quad_err, "seconds": {"derive_compile": t_derive,
                                                    "moment_map": t_theory, "simulate": t_sim}})
    if out_dir is not None:
        from validate.report import write_report

        write_report(result, out_dir)
    return RuleCheck(result=result, derived=derived, theory=theory, ensemble=ens, latex=latex,
                     curve=traj, compiled=compiled)


@lru_cache(maxsize=32)
def _trajectory(compiled: CompiledRule, w0: tuple, eta: float, steps: int, record: tuple):
    """The moment map's trajectory, computed once per process for repeated checks (seeds)."""
    return moment_trajectory(compiled, np.array(w0), eta, steps, record_steps=np.array(record))


@lru_cache(maxsize=32)
def _latex(derived: DerivedRule) -> str:
    return render(rule_latex_model(derived))


def plot_rule_check(rule: LearningRule, traj: MomentTrajectory, ens: Ensemble, comps,
                    out_dir, stem: str, extra=None) -> list[str]:
    """Mean weights and covariance entries: theory (the moment map) as lines, simulation as
    points with one-standard-error bars.  ``extra(axes)`` may draw more (e.g. a known
    answer)."""
    from validate.plotting import new_figure, save_figure, simulation_points, theory_line

    n = rule.n
    fig, axes = new_figure(2, 1)
    ax = axes[0, 0]
    for i, w in enumerate(rule.weights):
        theory_line(ax, traj.times, traj.mean[:, i], color=f"C{i}",
                    label=rf"$\langle {_tex(w)}\rangle$ theory")
        simulation_points(ax, ens.times, ens.mean[:, i], ens.sem[:, i], color=f"C{i}",
                          label=f"simulation ({ens.replicas} learners)")
    ax.set(xlabel=r"time $t = \eta \times$ updates", ylabel="mean weight",
           title=f"{rule.name}: mean ({comps[0].verdict}, max|z| {comps[0].max_abs_z:.2f})")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    dev = ens.samples - ens.mean[:, None, :]
    R = ens.replicas
    k = 0
    for i in range(n):
        for j in range(i, n):
            prod = dev[:, :, i] * dev[:, :, j]
            theory_line(ax, traj.times, traj.cov[:, i, j], color=f"C{k}",
                        label=rf"$C_{{{_tex(rule.weights[i])},{_tex(rule.weights[j])}}}$")
            simulation_points(ax, ens.times, prod.sum(1) / (R - 1),
                              prod.std(1, ddof=1) / np.sqrt(R), color=f"C{k}")
            k += 1
    ax.set(xlabel=r"time $t = \eta \times$ updates", ylabel="weight covariance",
           title=f"covariance ({comps[1].verdict}, max|z| {comps[1].max_abs_z:.2f})")
    ax.legend(fontsize=7, ncols=2)
    if extra is not None:
        extra(axes)
    fig.tight_layout()
    return save_figure(fig, out_dir, stem)


def _tex(sym) -> str:
    import sympy as sp

    return sp.latex(sym)


# ------------------------------------------------------------------------ user files


def load_rule(spec: str) -> LearningRule:
    """The rule ``NAME`` of the user's file ``FILE.py`` (``spec = "FILE.py:NAME"``).

    The file is imported as a module (``importlib``, as ``python FILE.py`` would run it:
    it is the user's own code); ``NAME`` may be a :class:`LearningRule` or a function of no
    arguments returning one.  Clear errors for a missing file, a file that fails to import, a
    missing name, or a name that is not a rule."""
    if not isinstance(spec, str) or ":" not in spec:
        raise InputError(f"expected FILE.py:NAME (a Python file and the name of the rule it "
                         f"defines), got {spec!r}")
    file, _, name = spec.rpartition(":")
    path = Path(file)
    if not name.isidentifier():
        raise InputError(f"{spec}: {name!r} is not a Python name")
    if path.suffix != ".py":
        raise InputError(f"{spec}: the rule file must be a .py file, got {file!r}")
    if not path.is_file():
        raise InputError(f"rule file {file} does not exist")
    mod_name = f"learndyn_user_rule_{abs(hash(str(path.resolve())))}"
    loader_spec = importlib.util.spec_from_file_location(mod_name, path)
    if loader_spec is None or loader_spec.loader is None:  # pragma: no cover - a .py file
        raise InputError(f"cannot import {file}")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[mod_name] = module
    try:
        loader_spec.loader.exec_module(module)
    except Exception as err:  # the user's code failed: say where, keep the cause
        sys.modules.pop(mod_name, None)
        raise InputError(f"importing rule file {file} failed: {type(err).__name__}: {err}") \
            from err
    if not hasattr(module, name):
        rules = sorted(k for k, v in vars(module).items()
                       if isinstance(v, LearningRule) and not k.startswith("_"))
        raise InputError(f"rule file {file} defines no {name!r} (rules it defines: "
                         f"{', '.join(rules) or 'none'})")
    obj = getattr(module, name)
    if callable(obj) and not isinstance(obj, LearningRule):
        try:
            obj = obj()
        except TypeError as err:
            raise InputError(f"{spec}: {name} is a function; it must take no arguments and "
                             f"return a LearningRule ({err})") from None
    if not isinstance(obj, LearningRule):
        raise InputError(f"{spec}: {name} is a {type(obj).__name__}, not a "
                         "theory.rules.LearningRule")
    return obj


# ------------------------------------------------------------------------ declared settings

#: the settings of a check, declared next to the rule's own parameters
SETTINGS = ("w0", "eta", "t_end", "replicas", "points")


def rule_params(rule: LearningRule) -> dict:
    """Declared, typed parameters (:mod:`validate.params`) of a check of ``rule``: the check
    settings (``w0``, ``eta``, ``t_end``, ``replicas``, ``points``) and the rule's own
    parameters with their defaults (a parameter without a default must be given)."""
    from validate.params import Float, FloatList, Int, Param

    d = rule.defaults
    w0 = d.get("w0", (0.0,) * rule.n)
    out = {
        "w0": FloatList(",".join(repr(float(v)) for v in w0),
                        f"initial weights ({', '.join(map(str, rule.weights))})",
                        min_items=rule.n, max_items=rule.n, unique=False),
        "eta": Float(float(d.get("eta", 0.005)), "learning rate (w <- w + eta f)", gt=0),
        "t_end": Float(float(d.get("t_end", 5.0)), "duration in continuous time "
                       "t = eta x updates", gt=0),
        "replicas": Int(int(d.get("replicas", DEFAULT_REPLICAS)), "independent learners",
                        min=10, quick=int(d.get("quick_replicas", 400))),
        "points": Int(DEFAULT_POINTS, "update counts at which mean and covariance are "
                      "compared", min=1),
    }
    for p in rule.param_symbols:
        if p.name in out:
            raise InputError(f"rule {rule.name!r}: its parameter {p.name!r} has the name of a "
                             f"check setting ({', '.join(SETTINGS)}); rename it")
        v = rule.params[p]
        meaning = next((s.meaning for s in rule.symbols if s.tex_for(p.name) is not None),
                       None)
        text = f"{meaning} ({p.name})" if meaning else f"parameter {p.name} of rule {rule.name}"
        # the symbol's SymPy assumptions are its declared range
        bounds = {"gt": 0.0} if p.is_positive else {"ge": 0.0} if p.is_nonnegative else {}
        out[p.name] = Float(v, text, **bounds) if v is not None \
            else Param("float", None, f"{text} (no default: give it)", **bounds)
    return out


def _require_values(rule: LearningRule):
    def check(p: dict, quick: bool) -> None:
        missing = [k for k, v in p.items() if v is None]
        if missing:
            raise ValueError(f"rule {rule.name!r}: give a value for {', '.join(missing)} "
                             f"(--param {missing[0]}=VALUE)")
    return check


def resolve_rule_params(rule: LearningRule, overrides=None, quick: bool = False) -> dict:
    """The complete, typed settings and parameter values of a check of ``rule``."""
    from validate.params import resolve

    return resolve(rule_params(rule), overrides, quick=quick, experiment=f"rule {rule.name}",
                   check=_require_values(rule))


def check_rule_with(rule: LearningRule, p: Mapping, *, seed: int = 0, out_dir=None,
                    progress: bool | None = None, figures: bool = True,
                    experiment: str | None = None) -> RuleCheck:
    """:func:`check_rule` with the resolved settings ``p`` of :func:`resolve_rule_params`."""
    values = {k: v for k, v in p.items() if k not in SETTINGS}
    return check_rule(rule, w0=p["w0"], eta=p["eta"], t_end=p["t_end"], replicas=p["replicas"],
                      points=p["points"], params=values, seed=seed, out_dir=out_dir,
                      progress=progress, figures=figures, experiment=experiment)


def cli_validate_rule(args, print_table) -> int:
    """``learndyn validate rule FILE.py:NAME [--param k=v ...]``: load, check, report."""
    from numerics.progress import set_quiet
    from validate.cli import check_output_dir, parse_params

    if args.quiet:
        set_quiet(True)
    if not args.target:
        raise InputError("learndyn validate rule needs the rule: FILE.py:NAME (a Python file "
                         "and the name of the LearningRule it defines)")
    rule = load_rule(args.target)
    p = resolve_rule_params(rule, parse_params(args.param), args.quick)
    out = check_output_dir(args.out if args.out else Path("runs") / f"rule-{rule.name}")
    t0 = time.perf_counter()
    check = check_rule_with(rule, p, seed=args.seed, out_dir=out)
    elapsed = time.perf_counter() - t0
    print_table(check.result)
    paths = ", ".join(f"{k} by {v}" for k, v in check.derived.paths.items())
    print(f"\nrule {rule.name} ({paths}): {'PASSED' if check.passed else 'FAILED'} in "
          f"{elapsed:.1f} s; report: {out / 'report.json'}")
    print(f"derivation (LaTeX): {out / 'derivation.tex'}")
    for f in check.result.figures:
        print(f"figure: {f}")
    return 0 if check.passed else 1
