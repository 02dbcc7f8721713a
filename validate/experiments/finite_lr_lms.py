r"""``learndyn validate finite-lr-lms``: online LMS at a finite learning rate against the
first-order (stochastic modified equation) theory derived for it.

LMS :math:`w \leftarrow w + \gamma(y - w\cdot x)x` on :math:`x\sim N(0, R)`,
:math:`R = \mathrm{diag}(\lambda_0, \lambda_1)`, :math:`y = w_o\cdot x + \xi`,
:math:`\xi\sim N(0, s^2)`.  :mod:`theory.finite_lr` derives, from the drift and the update's
second moment (Isserlis), the first-order system (:func:`numerics.finite_lr.first_order_flow`)

.. math:: E[w_n] = \bar w + \gamma\delta + O(\gamma^2), \quad
          \operatorname{Cov}(w_n) = \gamma\Gamma + O(\gamma^2), \quad t = \gamma n,

so the expected excess loss is :math:`\mathcal E_1(t) = v^\top Rv + \gamma(2v^\top R\delta +
\operatorname{tr}R\Gamma)` with :math:`v = \bar w - w_o`, and the stationary excess loss to
:math:`O(\gamma^2)` (:func:`theory.finite_lr.lms_stationary_expansion`).  LMS has an exact
discrete theory (:mod:`numerics.lms`: the learning curve of the exact second-moment recursion
and the stationary :math:`s^2A/(1-A)`), so every remainder is measured exactly.

Comparisons:

1. the stationary :math:`O(\gamma)` and :math:`O(\gamma^2)` coefficients against the Taylor
   coefficients of the exact stationary loss (polynomial fit of :math:`\mathcal E(\gamma)/\gamma`
   at tiny :math:`\gamma`), relative 1e-6 (tolerance);
2. the first-order learning curve against the exact one at :math:`\gamma` and :math:`\gamma/2`:
   the maximal error must fall as :math:`\gamma^2` (log2 ratio within 0.3 of 2; tolerance);
3. the simulated learning curve at :math:`\gamma` against :math:`\mathcal E_1` at log-spaced
   times (statistical, Šidák; the :math:`O(\gamma^2)` remainder, measured against the exact
   curve, is reported and is a fraction of a standard error);
4. the **measured bias** between independent runs at :math:`\gamma` and :math:`\gamma/2`
   against the predicted :math:`\mathcal E_1(\gamma) - \mathcal E_1(\gamma/2)` (statistical).
"""

from __future__ import annotations

import numpy as np

from numerics.finite_lr import first_order_flow, stationary_values
from numerics.lms import learning_curve, stability_bound, stationary_excess_loss
from numerics.sim.ensemble import simulate_ensemble
from numerics.sim.lms import LmsRule
from theory.finite_lr import derive_finite_lr, lms_stationary_expansion
from theory.lms import lms_drift, lms_second_moment, lms_symbols
from validate.compare import compare, tolerance_check
from validate.params import Float, FloatList, Int
from validate.plotting import new_figure, save_figure, simulation_points, theory_line
from validate.registry import ExperimentResult, RunConfig, register_experiment

PARAMS = {
    "lambdas": FloatList("0.5,2.0", "the two eigenvalues of the input covariance R", gt=0,
                         min_items=2, max_items=2),
    "w_o": FloatList("1.0,-0.5", "teacher weights w_o", ge=-100, le=100, min_items=2,
                     max_items=2),
    "w0": FloatList("0.0,0.0", "initial weights", ge=-100, le=100, min_items=2, max_items=2),
    "noise_var": Float(0.25, "teacher noise variance s^2", gt=0),
    "fraction": Float(0.01, "learning rate gamma as a fraction of the mean-square stability "
                      "bound (gamma/2 is run beside it)", gt=0, lt=0.5),
    "t_max": Float(10.0, "duration t = gamma x updates", gt=0),
    "points": Int(10, "log-spaced times compared", min=2),
    "replicas": Int(2000, "independent learners per learning rate", min=2, quick=1000),
}


def _system():
    sym = lms_symbols(2, diagonal=True)
    return derive_finite_lr(lms_drift(sym), sym.w, lms_second_moment(sym), eta=sym.gamma,
                            name="LMS"), sym


def _params(p: dict) -> dict:
    return {"lambda0": p["lambdas"][0], "lambda1": p["lambdas"][1], "s2": p["noise_var"],
            "wo0": p["w_o"][0], "wo1": p["w_o"][1]}


def first_order_loss(p: dict, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""``(flow_loss, coefficient)``: :math:`v^\top Rv` and the :math:`O(\gamma)` coefficient
    :math:`2v^\top R\delta + \operatorname{tr}R\Gamma` of the excess loss at times ``t``."""
    system, _ = _system()
    fo = first_order_flow(system, p["w0"], t, _params(p))
    R = np.diag(p["lambdas"])
    v = fo.flow - np.asarray(p["w_o"])
    flow_loss = np.einsum("ti,ij,tj->t", v, R, v)
    coef = 2 * np.einsum("ti,ij,tj->t", v, R, fo.delta) + np.einsum("ij,tji->t", R, fo.Gamma)
    return flow_loss, coef


def stationary_coefficients(p: dict) -> tuple[float, float]:
    """The derived O(gamma) and O(gamma^2) coefficients of the stationary excess loss."""
    vals = stationary_values(lms_stationary_expansion(),
                             {k: v for k, v in _params(p).items() if k != "wo0" and k != "wo1"}
                             | {"wo0": p["w_o"][0], "wo1": p["w_o"][1]})
    R = np.diag(p["lambdas"])
    return float(np.trace(R @ vals["K1"])), float(np.trace(R @ vals["K2"]))


def _taylor_of_exact(p: dict) -> tuple[float, float]:
    """c1, c2 of the exact s^2 A/(1-A) by a cubic fit of E(gamma)/gamma at tiny gamma."""
    R = np.diag(p["lambdas"])
    g = stability_bound(R) * np.linspace(1e-4, 1e-3, 12)
    f = np.array([stationary_excess_loss(R, x, p["noise_var"]) for x in g]) / g
    c = np.polynomial.polynomial.polyfit(g, f, 4)
    return float(c[0]), float(c[1])


def _simulate(p: dict, gamma: float, steps, seed, progress):
    rule = LmsRule(np.diag(p["lambdas"]), p["w_o"], gamma, p["noise_var"])
    ens = simulate_ensemble(rule, np.asarray(p["w0"], dtype=float), int(steps[-1]),
                            replicas=p["replicas"], seed=seed, record_steps=list(steps),
                            observable=rule.excess_loss, names=("excess_loss",),
                            progress=progress)
    return np.asarray(ens.mean).ravel(), np.asarray(ens.sem).ravel()


def _steps(p: dict, gamma: float) -> np.ndarray:
    t = np.geomspace(p["t_max"] / 50, p["t_max"], p["points"])
    return np.unique(np.maximum(1, np.round(t / gamma).astype(int)))


@register_experiment(
    "finite-lr-lms",
    "finite learning rate, online LMS: the first-order (stochastic modified equation) learning "
    "curve and stationary O(gamma), O(gamma^2) coefficients against the exact discrete theory "
    "and against simulations at gamma and gamma/2",
    PARAMS)
def run_finite_lr_lms(config: RunConfig) -> ExperimentResult:
    p = dict(config.params)
    R = np.diag(p["lambdas"])
    gamma = p["fraction"] * stability_bound(R)
    comps = []
    c1, c2 = stationary_coefficients(p)
    e1, e2 = _taylor_of_exact(p)
    comps.append(tolerance_check(
        "stationary excess loss: derived O(gamma), O(gamma^2) coefficients vs the Taylor "
        "coefficients of the exact s^2 A/(1-A)", [e1, e2], [c1, c2], rtol=1e-6,
        note="exact coefficients by a quartic fit of E(gamma)/gamma on gamma in [1e-4, 1e-3] x "
             "the stability bound"))
    # first-order learning curve vs the exact one at gamma and gamma/2 (remainder O(gamma^2))
    errs, curves = [], {}
    for g in (gamma, gamma / 2):
        steps = _steps(p, g)
        t = steps * g
        flow, coef = first_order_loss(p, t)
        exact = learning_curve(R, g, p["noise_var"], p["w0"], p["w_o"], int(steps[-1]))[steps]
        errs.append(float(np.max(np.abs(exact - flow - g * coef))))
        curves[g] = (steps, t, flow, coef, exact)
    order = float(np.log2(errs[0] / errs[1]))
    comps.append(tolerance_check(
        "first-order learning curve vs the exact discrete curve: the error is O(gamma^2)",
        [2.0], [order], atol=0.3,
        note=f"log2 of max errors at gamma = {gamma:.4g} and {gamma / 2:.4g}: "
             f"{errs[0]:.3g}, {errs[1]:.3g}"))
    seeds = np.random.SeedSequence(config.seed).spawn(2)
    sims = {}
    for g, s in zip((gamma, gamma / 2), seeds):
        sims[g] = _simulate(p, g, curves[g][0], s, config.progress)
    steps, t, flow, coef, exact = curves[gamma]
    m1, s1 = sims[gamma]
    pred = flow + gamma * coef
    rem = exact - pred
    comps.append(compare(
        f"simulated excess loss at gamma = {gamma:.4g} vs the first-order curve", pred, m1, s1,
        x=t, note=f"{p['replicas']} replicas; the O(gamma^2) remainder (exact - first order) "
                  f"in standard errors: {np.round(rem / s1, 2).tolist()}"))
    # the bias between gamma and gamma/2 at common times (gamma/2 steps = 2 x gamma steps)
    steps_h, t_h, flow_h, coef_h, _ = curves[gamma / 2]
    m2, s2 = sims[gamma / 2]
    common = np.isin(steps_h, 2 * steps)
    pick = np.isin(2 * steps, steps_h)
    diff = m1[pick] - m2[common]
    sdiff = np.hypot(s1[pick], s2[common])
    pred_diff = (gamma * coef)[pick] - (gamma / 2 * coef_h)[common]
    comps.append(compare(
        "measured bias E(gamma) - E(gamma/2) vs the predicted first-order difference",
        pred_diff, diff, sdiff, x=t[pick],
        note=f"independent runs; predicted difference in standard errors: "
             f"{np.round(pred_diff / sdiff, 1).tolist()}"))
    extra = {"gamma": gamma, "t": t.tolist(), "flow_loss": flow.tolist(),
             "first_order_coefficient": coef.tolist(), "exact": exact.tolist(),
             "sim_mean": m1.tolist(), "sim_sem": s1.tolist(),
             "remainder_over_se": (rem / s1).tolist(),
             "stationary_coefficients": {"derived": [c1, c2], "exact_fit": [e1, e2]},
             "first_order_error_max": errs}
    scan = _stationary_scan(p, c1, c2)
    extra["stationary_scan"] = scan
    figures = []
    if config.out_dir is not None and config.figures:
        bias = (t[pick], pred_diff, diff, sdiff)
        figures = _plot(p, gamma, t, pred, flow, exact, m1, s1, scan, bias, config.out_dir)
    return ExperimentResult("finite-lr-lms", tuple(comps), config.seed, tuple(figures), p, extra)


def _stationary_scan(p, c1, c2) -> dict:
    """Exact stationary loss against its O(gamma) and O(gamma^2) truncations over fractions of
    the stability bound (deterministic): where the expansions stop being accurate."""
    R = np.diag(p["lambdas"])
    bound = stability_bound(R)
    fr = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7])
    g = fr * bound
    exact = np.array([stationary_excess_loss(R, x, p["noise_var"]) for x in g])
    o1, o2 = c1 * g, c1 * g + c2 * g**2
    return {"fraction": fr.tolist(), "gamma": g.tolist(), "exact": exact.tolist(),
            "rel_err_order1": (np.abs(o1 - exact) / exact).tolist(),
            "rel_err_order2": (np.abs(o2 - exact) / exact).tolist()}


def _plot(p, gamma, t, pred, flow, exact, m, s, scan, bias, out_dir) -> list[str]:
    fig, axes = new_figure(3, 1)
    ax = axes[0, 0]
    theory_line(ax, t, pred, color="C0", label="first order")
    theory_line(ax, t, flow, color="0.5", ls="--", label=r"flow ($\gamma\to0$)")
    theory_line(ax, t, exact, color="C1", ls=":", label="exact discrete")
    simulation_points(ax, t, m, s, color="C0", label="simulation")
    ax.set(xscale="log", yscale="log", xlabel=r"t = $\gamma$ n", ylabel="excess loss",
           title=rf"LMS learning curve, $\gamma$={gamma:.3g}")
    ax.legend(fontsize="x-small")
    ax = axes[0, 1]
    tb, pred_diff, diff, sdiff = bias
    theory_line(ax, tb, pred_diff, color="C0", label=r"first order: $\gamma c(t) - "
                r"\frac{\gamma}{2}c(t)$")
    simulation_points(ax, tb, diff, sdiff, color="C3",
                      label="simulated, independent runs (±1 SE)")
    ax.axhline(0.0, color="0.7", lw=0.8)
    ax.set(xscale="log", xlabel=r"t = $\gamma$ n",
           ylabel=r"$\mathcal{E}(\gamma) - \mathcal{E}(\gamma/2)$",
           title="finite-learning-rate bias, measured")
    ax.legend(fontsize="x-small")
    ax = axes[0, 2]
    fr = np.array(scan["fraction"])
    theory_line(ax, fr, scan["rel_err_order1"], color="C0", marker="o", label=r"$O(\gamma)$")
    theory_line(ax, fr, scan["rel_err_order2"], color="C2", marker="s",
                label=r"$O(\gamma^2)$")
    ax.set(xscale="log", yscale="log", xlabel=r"$\gamma$ / stability bound",
           ylabel="relative error vs exact",
           title="stationary loss: truncations vs exact (deterministic)")
    ax.legend(fontsize="x-small")
    fig.tight_layout()
    return save_figure(fig, out_dir, "finite_lr_lms")
