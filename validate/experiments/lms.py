r"""``learndyn validate lms``: online LMS learning curves and stationary loss vs simulation.

For each learning rate (given as fractions of the mean-square stability bound) an
ensemble of independent LMS learners on Gaussian inputs is compared with

* the exact expected learning curve (discrete recursion, :func:`numerics.lms.learning_curve`)
  at log-spaced update counts, judged with a Šidák bound for that many points;
* the exact stationary excess loss (:func:`numerics.lms.stationary_excess_loss`), against
  per-replica time averages taken after a burn-in that the exact learning curve itself
  certifies (the transient is below 1e-4 of the stationary value), within 3 standard errors.

Standard errors.  A single learner's excess loss is heavy-tailed near the stability bound
(at dim = 3 and half the bound its tail index is about 2: the variance barely exists), so
the sample SE of a few hundred learners is unreliable, and mean/SE failed up to 12 times
more often than its 1% level (always with the simulation *below* the theory: the samples
that miss the tail have both a low mean and a low SE).  The theory gives the spread
exactly (:func:`numerics.lms_fluctuations.excess_loss_statistics`: the fourth-moment
recursion, and the lag covariances for the time averages), and each z uses
max(sample SE, exact SE) (:func:`validate.compare.compare`, ``exact_sem``).  Learning rates
at or above the fourth-moment stability bound, where that variance is infinite and no
standard error exists, are refused.

The small-learning-rate formula :math:`\gamma s^2\operatorname{tr}R/2` is reported next to
it: at half the stability bound it is off by about 50%, while the exact one still holds.
"""

from __future__ import annotations

import numpy as np

from numerics.lms import learning_curve, stability_bound, stationary_excess_loss
from numerics.lms_fluctuations import (
    excess_loss_statistics,
    fourth_moment_spectral_radius,
    fourth_moment_stability_bound,
)
from numerics.sim.ensemble import simulate_ensemble
from numerics.sim.lms import LmsRule
from validate.compare import compare
from validate.params import Float, FloatList, Int
from validate.plotting import new_figure, save_figure, simulation_points, theory_line
from validate.registry import ExperimentResult, RunConfig, register_experiment

PARAMS = {
    "dim": Int(20, "input dimension n (R has eigenvalues log-spaced in [lambda_min, "
               "lambda_max] in a random basis)", min=1),
    "lambda_min": Float(0.2, "smallest eigenvalue of the input covariance R", gt=0),
    "lambda_max": Float(2.0, "largest eigenvalue of R (>= lambda_min)", gt=0),
    "noise_var": Float(0.25, "teacher noise variance s^2 (> 0: the stationary loss is "
                       "s^2 A/(1-A))", gt=0),
    "fractions": FloatList("0.05,0.2,0.5", "learning rates as fractions of the mean-square "
                           "stability bound", gt=0, lt=1),
    "replicas": Int(1000, "independent learners per learning rate", min=2, quick=300),
    "window_factor": Float(10.0, "stationary window in units of the slowest time constant "
                           "1/(gamma lambda_min)", gt=0, quick=4.0),
    "points": Int(25, "log-spaced update counts compared on each learning curve (repeated "
                  "counts are merged)", min=1),
}


def _check(p: dict, quick: bool) -> None:
    if p["lambda_min"] > p["lambda_max"]:
        raise ValueError(f"lambda_min ({p['lambda_min']:g}) must be <= lambda_max "
                         f"({p['lambda_max']:g})")
    R, _ = problem(p["dim"], p["lambda_min"], p["lambda_max"])
    ms = stability_bound(R)
    top = max(p["fractions"])
    if fourth_moment_spectral_radius(R, top * ms) >= 1.0:
        f4 = fourth_moment_stability_bound(R) / ms
        raise ValueError(f"parameter 'fractions': at {top:g} of the mean-square bound a single "
                         f"learner's excess loss has infinite variance for this R (dim="
                         f"{p['dim']}; its fourth moments diverge above {f4:.3f} of the bound), "
                         "so no standard error exists and no statistical verdict is possible; "
                         f"use fractions below {f4:.3f}")


def problem(dim: int, lambda_min: float, lambda_max: float, instance_seed: int = 12345):
    """The regression task: R with log-spaced eigenvalues in a random basis, a random w_o."""
    rng = np.random.default_rng(instance_seed)
    lam = np.geomspace(lambda_min, lambda_max, dim)
    Q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    R = (Q * lam) @ Q.T
    R = 0.5 * (R + R.T)
    w_o = rng.standard_normal(dim)
    return R, w_o


def _burn_in(curve: np.ndarray, stationary: float, rtol: float = 1e-4) -> int:
    """First update after which the expected curve stays within ``rtol`` of its limit."""
    far = np.flatnonzero(np.abs(curve - stationary) > rtol * stationary)
    return int(far[-1] + 1) if far.size else 0


@register_experiment("lms", "online LMS: exact learning curves and stationary excess loss vs "
                     "simulation ensembles at three learning rates", PARAMS, _check)
def run(config: RunConfig) -> ExperimentResult:
    p = dict(config.params)
    fractions = list(p["fractions"])
    R, w_o = problem(p["dim"], p["lambda_min"], p["lambda_max"])
    s2 = p["noise_var"]
    bound = stability_bound(R)
    w0 = np.zeros(p["dim"])
    lam_min = float(np.linalg.eigvalsh(R)[0])
    seeds = np.random.SeedSequence(config.seed).spawn(len(fractions))

    comparisons, curves, stationary = [], [], []
    for frac, ss in zip(fractions, seeds):
        gamma = frac * bound
        exact = stationary_excess_loss(R, gamma, s2, exact=True)
        small = stationary_excess_loss(R, gamma, s2, exact=False)
        # long enough for the exact transient to vanish, then a window of stationary samples
        horizon = int(40.0 / (2 * gamma * lam_min))
        theory = learning_curve(R, gamma, s2, w0, w_o, horizon)
        # burn-in certified by the exact curve itself: its transient has decayed below 1e-4
        burn = max(_burn_in(theory[:-1], theory[-1]), 1)
        window = int(p["window_factor"] / (gamma * lam_min))
        total = burn + window
        rec = np.unique(np.geomspace(1, burn, p["points"]).astype(int))
        rule = LmsRule(R, w_o, gamma, s2)
        ens = simulate_ensemble(rule, w0, total, replicas=p["replicas"], seed=ss,
                                record_steps=rec, observable=rule.excess_loss,
                                names=("excess_loss",), average_from=burn,
                                progress=config.progress)
        # the exact spread of one learner's excess loss (fourth moments) and of its average
        spread = excess_loss_statistics(R, gamma, s2, w0, w_o, total, window=(burn, total))
        R_rep = p["replicas"]
        label = f"gamma={gamma:.4g} ({frac:g} of bound)"
        comparisons.append(compare(
            f"learning curve, {label}", theory[rec], ens.mean[:, 0], ens.sem[:, 0],
            x=ens.times, exact_sem=spread.sem(R_rep)[rec],
            note=f"{len(rec)} points, Sidak 99%; SE = max(sample, exact from the fourth "
                 "moments)"))
        ta = ens.time_average
        ta_se = max(float(ta.sem[0]), spread.window_sem(R_rep))
        comparisons.append(compare(
            f"stationary excess loss (exact), {label}", exact, ta.mean[0], ta.sem[0], bound=3.0,
            exact_sem=spread.window_sem(R_rep),
            note=f"per-replica averages over updates {burn}..{total}, SE = max(sample, exact); "
                 f"small-gamma formula {small:.4g} is off by {abs(small - exact) / exact:.1%}, "
                 f"z = {(small - ta.mean[0]) / ta_se:.1f}"))
        curves.append((gamma, ens, theory, rec))
        stationary.append((gamma, exact, small, ta.mean[0], ta_se))

    figures: list[str] = []
    if config.out_dir is not None and config.figures:
        figures = plot(curves, stationary, bound, R, s2, config.out_dir)
    extra = {"stability_bound": bound,
             "stationary": [{"gamma": g, "exact": e, "small_lr": s, "sim_mean": m, "sim_sem": se,
                             "small_lr_rel_err": abs(s - e) / e}
                            for g, e, s, m, se in stationary]}
    return ExperimentResult("lms", tuple(comparisons), config.seed, tuple(figures), p, extra)


def plot(curves, stationary, bound, R, s2, out_dir) -> list[str]:
    fig, axes = new_figure(2, 1)
    ax = axes[0, 0]
    for i, (gamma, ens, theory, _) in enumerate(curves):
        color = f"C{i}"
        steps = np.arange(theory.size)
        theory_line(ax, gamma * steps[1:], theory[1:], color=color,
                    label=rf"theory $\gamma$={gamma:.3g}")
        simulation_points(ax, ens.times, ens.mean[:, 0], ens.sem[:, 0], color=color,
                          label=f"simulation ({ens.replicas} replicas)" if i == 0 else None)
        ax.axhline(stationary[i][1], color=color, ls=":", lw=1)
    ax.set(xscale="log", yscale="log", xlabel=r"time $t = \gamma \times$ updates (dimensionless)",
           ylabel=r"excess loss $E[(w-w_o)^\top R (w-w_o)]$", title="LMS learning curves")
    ax.legend()
    ax = axes[0, 1]
    g = np.linspace(0.01, 0.95, 200) * bound
    ex = [stationary_excess_loss(R, gi, s2) for gi in g]
    sm = [stationary_excess_loss(R, gi, s2, exact=False) for gi in g]
    theory_line(ax, g, ex, color="k", label="exact recursion")
    theory_line(ax, g, sm, color="0.5", ls="--",
                label=r"small-$\gamma$: $\gamma s^2 \mathrm{tr}R/2$")
    st = np.array([(s[0], s[3], s[4]) for s in stationary])
    simulation_points(ax, st[:, 0], st[:, 1], st[:, 2], color="C1", label="simulation")
    ax.axvline(bound, color="C3", lw=1, ls=":", label="stability bound")
    ax.set(xlabel=r"learning rate $\gamma$", ylabel="stationary excess loss", yscale="log",
           title="steady state vs learning rate")
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, out_dir, "lms")
