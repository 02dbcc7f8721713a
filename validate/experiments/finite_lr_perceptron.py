r"""``learndyn validate finite-lr-perceptron``: the perceptron's O(eta) bias predicted, not
extrapolated away (seed 002, Schmid & Murray; stochastic modified equations, Li, Tai & E).

The perceptron experiments (:mod:`validate.experiments.perceptron`) compare simulations at
:math:`\eta = 10^{-3}` with the :math:`\eta\to0` flow and remove the finite-learning-rate bias
by Richardson extrapolation (:math:`\eta` and :math:`\eta/2`).  Here the bias is *predicted*
by the first-order theory (:mod:`numerics.perceptron_finite_lr`, from
:mod:`theory.finite_lr` and :mod:`theory.perceptron_finite_lr`): at :math:`t = \eta n`,

.. math:: E[w_n] = U(\bar w(t) + \eta\,\delta(t)) + O(\eta^2), \qquad
          E|w_n|^2 = |\bar w|^2 + \eta\,(2\bar w\cdot\delta + \operatorname{tr}\Gamma
          + (N-K)\gamma_\perp) + O(\eta^2),

so the alignment of the mean is :math:`A(\bar w) + \eta\,\nabla A\cdot\delta`.  Classes
:math:`N(\pm\mu, \sigma^2 I)`, :math:`\mu = e_1`, :math:`w_0 = (w_\parallel, w_\perp, 0,
\dots)`, erf sigmoid, exact reduced chain (:class:`numerics.sim.perceptron.ReducedPerceptronRule`).
The bias grows like :math:`\eta N\sigma^2` (the update noise spreads each learner over the
N - 2 orthogonal directions, which bends the mean through the drift's curvature), so two
dimensions are simulated.

Comparisons, per rule (SL, RL), Šidák over the points (dims x times):

1. the alignment of the simulated mean at :math:`\eta` against the first-order theory, with
   no extrapolation;
2. the **measured bias** :math:`A_\eta - A_{\eta/2}` (independent runs) against the predicted
   :math:`\tfrac{\eta}{2}\nabla A\cdot\delta`;
3. the Richardson-extrapolated alignment :math:`2A_{\eta/2} - A_\eta` against the flow
   (the independent check the perceptron experiments use);
4. :math:`E|w|^2` at :math:`\eta` against the first-order theory at the smallest dimension
   (it tests the covariance :math:`\Gamma, \gamma_\perp`: its O(eta) part is ~20 standard
   errors).  At N = 50 the :math:`O(\eta^2)` remainder of :math:`E|w|^2` is visible (about
   10% of the O(eta) part, :math:`\eta N\sigma^2 = 0.2`); it is reported, not judged.

5. the stationary :math:`\mu\cdot\langle w\rangle` of the flow-field setting (start at
   w = 0, weight decay :math:`\lambda`, per-replica time averages over a window after a
   burn-in of :math:`15/\lambda`) against the flow's window average plus
   :math:`\eta\,\mu\cdot\bar\delta` (the first-order system integrated to the window),
   and its measured bias between :math:`\eta` and :math:`\eta/2`, both rules, largest dim.

``extra`` records the z of the zeroth-order theory (the flow alone) at :math:`\eta` (a theory
without the correction fails: RL, N = 50 gives |z| > 10) and the z of the predicted bias
itself.  A scan over learning rates (RL, largest dim, one time) measures where the first-order
prediction stops being accurate (the :math:`O(\eta^2)` remainder), drawn in the figure.
"""

from __future__ import annotations

import numpy as np

from numerics.perceptron_finite_lr import (
    FrameProblem,
    alignment_correction,
    first_order_perceptron,
)
from numerics.sim.ensemble import simulate_ensemble
from numerics.sim.perceptron import ReducedPerceptronRule
from validate.compare import compare, richardson_half_step
from validate.experiments.perceptron import (
    _LABEL,
    _W0_PAR,
    _W0_PERP,
    RULES,
    _check_w0,
    alignment_of_mean,
    case_seeds,
    finish,
    problem,
)
from validate.params import Float, FloatList, Int, IntList
from validate.plotting import new_figure, save_figure, simulation_points, theory_line
from validate.registry import ExperimentResult, RunConfig, register_experiment

PARAMS = {
    "dims": IntList("10,50", "weight dimensions N simulated (the bias grows like eta N "
                    "sigma^2); E|w|^2 is judged at the smallest", min=3),
    "sigma": Float(2.0, "isotropic class noise sigma", gt=0),
    "lr": Float(1e-3, "learning rate eta (the perceptron experiments' value); eta/2 is run "
                "beside it", gt=0, lt=0.1),
    "times": FloatList("0.5,1,2,4", "times t = eta x updates compared", gt=0),
    "replicas": Int(1000, "independent learners per rule, dim and learning rate", min=2,
                    quick=500),
    "scan_lrs": FloatList("5e-4,1e-3,2e-3,4e-3,8e-3", "learning rates of the bias-vs-eta scan "
                          "(RL, largest dim, figure and extra only)", gt=0, lt=0.1,
                          quick="1e-3,4e-3"),
    "scan_time": Float(2.0, "time of the bias-vs-eta scan", gt=0),
    "stat_lams": FloatList("1.0", "L2 strengths lambda of the stationary check (flow-field "
                           "setting: start at w = 0, per-replica time averages)", gt=0),
    "stat_sigma": Float(2.0, "class noise sigma of the stationary check", gt=0),
    "stat_replicas": Int(200, "independent learners per rule, lambda and learning rate in the "
                         "stationary check", min=2, quick=100),
    "window": Float(8.0, "stationary averaging window in time units", gt=0, quick=4.0),
    "w0_par": _W0_PAR, "w0_perp": _W0_PERP,
}


def _check(p: dict, quick: bool) -> None:
    _check_w0(p, quick)
    if list(p["times"]) != sorted(set(p["times"])):
        raise ValueError(f"times must be strictly increasing, got {list(p['times'])}")
    for t in p["times"]:
        if int(round(t / p["lr"])) < 1:
            raise ValueError(f"time {t:g} is less than one update at lr = {p['lr']:g}")


def first_order_alignment(rule: str, dim: int, sigma: float, w0_par: float, w0_perp: float,
                          times):
    r"""The first-order theory of one case: ``(A, dA, norm0, dnorm)`` at ``times``: the
    flow's alignment, its O(eta) coefficient :math:`\nabla A\cdot\delta`, :math:`|\bar w|^2`
    and the O(eta) coefficient of :math:`E|w|^2`."""
    mu, w0 = problem(dim, w0_par, w0_perp)
    red = ReducedPerceptronRule.isotropic(rule, mu, sigma, lr=1e-3, extra=(w0,))
    fo = first_order_perceptron(FrameProblem.from_reduced(red), red.coordinates(w0), times)
    A, dA = alignment_correction(red.coordinates(mu), fo.flow, fo.delta)
    n0 = np.sum(fo.flow**2, axis=1)
    return A, dA, n0, fo.norm2(1.0) - n0


def simulate(rule: str, dim: int, sigma: float, eta: float, w0_par: float, w0_perp: float,
             times, *, replicas: int, seed, progress=None):
    """``(A, se_A, norm2, se_norm2)`` of the simulated ensemble at ``times`` (the step counts
    are round(t/eta); the theory is evaluated at those exact times by the caller)."""
    mu, w0 = problem(dim, w0_par, w0_perp)
    red = ReducedPerceptronRule.isotropic(rule, mu, sigma, lr=eta, extra=(w0,))
    steps = [int(round(t / eta)) for t in times]
    K = red.K
    ens = simulate_ensemble(
        red, red.reduce(w0), steps[-1], replicas=replicas, seed=seed, record_steps=steps,
        observable=lambda s: np.column_stack([s[:, :K], np.sum(s**2, axis=1)]),
        names=tuple(f"c{i}" for i in range(K)) + ("norm2",), progress=progress)
    T = len(steps)
    cov = np.asarray(ens.cov).reshape(T, K + 1, K + 1)[:, :K, :K]
    A, se = alignment_of_mean(ens.mean[:, :K], cov, ens.replicas, red.coordinates(mu))
    return A, se, np.asarray(ens.mean[:, K]), np.asarray(ens.sem[:, K])


def _grid_times(times, eta: float) -> np.ndarray:
    return np.array([int(round(t / eta)) * eta for t in times])


@register_experiment(
    "finite-lr-perceptron",
    "finite learning rate, perceptron SL and RL (seed 002): the O(eta) bias of the mean "
    "alignment and of E|w|^2 predicted by the first-order (stochastic modified equation) "
    "theory, against simulations at eta and eta/2 (no extrapolation), with the Richardson "
    "check beside it; the stationary mu.<w> with weight decay likewise",
    PARAMS, _check)
def run_finite_lr_perceptron(config: RunConfig) -> ExperimentResult:
    p = dict(config.params)
    dims, times, eta, R = list(p["dims"]), list(p["times"]), p["lr"], p["replicas"]
    sigma, wpar, wperp = p["sigma"], p["w0_par"], p["w0_perp"]
    n_dim = min(dims)
    seeds = case_seeds(config.seed, len(RULES) * len(dims) + 2)
    comparisons, extra, cases = [], {"cases": {}}, {}
    k = 0
    for rule in RULES:
        rows = {key: [] for key in ("x", "A0", "dA", "a1", "s1", "a2", "s2", "n0", "dn", "nm",
                                    "ns", "ddim")}
        for dim in dims:
            # the theory at the simulated times (round(t/eta) steps) of each learning rate
            th1 = first_order_alignment(rule, dim, sigma, wpar, wperp, _grid_times(times, eta))
            th2 = first_order_alignment(rule, dim, sigma, wpar, wperp,
                                        _grid_times(times, eta / 2))
            s_eta, s_half = seeds[k].spawn(2)
            k += 1
            a1, s1, n1, ns1 = simulate(rule, dim, sigma, eta, wpar, wperp, times,
                                       replicas=R, seed=s_eta, progress=config.progress)
            a2, s2, _, _ = simulate(rule, dim, sigma, eta / 2, wpar, wperp, times,
                                    replicas=R, seed=s_half, progress=config.progress)
            # both runs are referred to the eta-grid times by the flow's change over the
            # step rounding (zero where t/eta is an integer)
            a2 = a2 - (th2[0] - th1[0])
            rows["x"] += [f"N={dim}, t={t:g}" for t in times]
            for key, v in (("A0", th1[0]), ("dA", th1[1]), ("a1", a1), ("s1", s1), ("a2", a2),
                           ("s2", s2), ("n0", th1[2]), ("dn", th1[3]), ("nm", n1),
                           ("ns", ns1)):
                rows[key] += list(np.asarray(v, dtype=float))
            rows["ddim"] += [dim] * len(times)
        r = {key: np.asarray(v) if key != "x" else v for key, v in rows.items()}
        labels = r["x"]
        xs = np.arange(len(labels))
        where = "; points: " + ", ".join(labels)
        comparisons.append(compare(
            f"alignment of <w> at eta = {eta:g} vs first-order theory, {rule.upper()}",
            r["A0"] + eta * r["dA"], r["a1"], r["s1"], x=xs,
            note=f"A(flow) + eta grad A . delta, no extrapolation; sigma = {sigma:g}, "
                 f"{R} replicas{where}"))
        diff, sdiff = r["a1"] - r["a2"], np.hypot(r["s1"], r["s2"])
        comparisons.append(compare(
            f"measured bias A(eta) - A(eta/2) vs predicted (eta/2) grad A . delta, "
            f"{rule.upper()}", 0.5 * eta * r["dA"], diff, sdiff, x=xs,
            note=f"independent runs at eta = {eta:g} and {eta / 2:g}; predicted bias in "
                 f"standard errors: {np.round(0.5 * eta * r['dA'] / sdiff, 2).tolist()}"
                 f"{where}"))
        m0, se0 = richardson_half_step(r["a1"], r["s1"], r["a2"], r["s2"])
        comparisons.append(compare(
            f"Richardson-extrapolated alignment vs the eta -> 0 flow, {rule.upper()}",
            r["A0"], m0, se0, x=xs,
            note=f"2 A(eta/2) - A(eta), the perceptron experiments' check{where}"))
        sel = r["ddim"] == n_dim
        comparisons.append(compare(
            f"E|w|^2 at eta = {eta:g} vs first-order theory (covariance), {rule.upper()}, "
            f"N = {n_dim}",
            (r["n0"] + eta * r["dn"])[sel], r["nm"][sel], r["ns"][sel], x=np.array(times),
            note=f"|flow|^2 + eta (2 flow . delta + tr Gamma + (N-K) gamma_perp); O(eta) part "
                 f"in standard errors: {np.round((eta * r['dn'] / r['ns'])[sel], 1).tolist()}"))
        z0 = (r["a1"] - r["A0"]) / r["s1"]
        zn2 = (r["nm"] - r["n0"] - eta * r["dn"]) / r["ns"]
        extra["cases"][rule] = {
            "points": labels, "flow_alignment": r["A0"].tolist(),
            "first_order_coefficient": r["dA"].tolist(),
            "sim_alignment_eta": r["a1"].tolist(), "se_eta": r["s1"].tolist(),
            "sim_alignment_half": r["a2"].tolist(), "se_half": r["s2"].tolist(),
            "z_flow_alone_at_eta": z0.tolist(),
            "z_predicted_bias": (0.5 * eta * r["dA"] / sdiff).tolist(),
            "norm2_flow": r["n0"].tolist(), "norm2_coefficient": r["dn"].tolist(),
            "norm2_sim": r["nm"].tolist(), "norm2_se": r["ns"].tolist(),
            "z_norm2_first_order_all_dims": zn2.tolist()}
        cases[rule] = r
    comparisons += _stationary(p, seeds[-2], extra, config.progress)
    scan = _scan(p, seeds[-1], config.progress)
    extra["scan"] = scan
    return finish("finite-lr-perceptron", config, p, comparisons, extra,
                  plot=lambda out: _plot(p, cases, scan, out))


def stationary_first_order(rule: str, dim: int, sigma: float, lam: float, t0: float,
                           t1: float) -> tuple[float, float]:
    r"""``(flow, delta)``: the time averages over ``[t0, t1]`` of :math:`\mu\cdot\bar w` and of
    its O(eta) coefficient :math:`\mu\cdot\delta`, from w = 0 (trapezoid on 201 points; after
    the burn-in both are at their fixed point up to the rest of the transient)."""
    mu, _ = problem(dim, 0.0, 1.0)
    red = ReducedPerceptronRule.isotropic(rule, mu, sigma, lr=1e-3, lam=lam)
    t = np.linspace(t0, t1, 201)
    fo = first_order_perceptron(FrameProblem.from_reduced(red), np.zeros(red.K),
                                np.concatenate([[0.0], t]))
    span = t1 - t0
    return (float(np.trapezoid(fo.flow[1:, 0], t) / span),
            float(np.trapezoid(fo.delta[1:, 0], t) / span))


def _stationary(p: dict, seed, extra: dict, progress) -> list:
    """Stationary mu.<w> at eta and eta/2 (per-replica time averages after a burn-in of
    15/lambda) against the fixed point + eta mu.delta*, both rules, largest dim."""
    dim, sigma, eta, R = max(p["dims"]), p["stat_sigma"], p["lr"], p["stat_replicas"]
    mu, _ = problem(dim, 0.0, 1.0)
    th, dl, m1, e1, m2, e2, labels = [], [], [], [], [], [], []
    cases = [(r, lam) for r in RULES for lam in p["stat_lams"]]
    for (rule, lam), ss in zip(cases, seed.spawn(len(cases))):
        burn = 15.0 / lam
        flow, delta = stationary_first_order(rule, dim, sigma, lam, burn, burn + p["window"])
        out = []
        for e, s in zip((eta, eta / 2), ss.spawn(2)):
            red = ReducedPerceptronRule.isotropic(rule, mu, sigma, lr=e, lam=lam)
            start = int(round(burn / e))
            total = start + int(round(p["window"] / e))
            ens = simulate_ensemble(red, red.reduce(np.zeros(dim)), total, replicas=R, seed=s,
                                    record_steps=[total], average_from=start,
                                    observable=lambda st: st[:, :1], names=("c0",),
                                    progress=progress)
            out.append((float(ens.time_average.mean[0]), float(ens.time_average.sem[0])))
        th.append(flow)
        dl.append(delta)
        (a, b), (c, d) = out
        m1.append(a)
        e1.append(b)
        m2.append(c)
        e2.append(d)
        labels.append(f"{rule.upper()}, lambda={lam:g}")
    th, dl, m1, e1, m2, e2 = (np.array(v) for v in (th, dl, m1, e1, m2, e2))
    sd = np.hypot(e1, e2)
    where = "; points: " + ", ".join(labels)
    extra["stationary"] = {"points": labels, "flow": th.tolist(), "delta": dl.tolist(),
                           "sim_eta": m1.tolist(), "se_eta": e1.tolist(),
                           "sim_half": m2.tolist(), "se_half": e2.tolist(),
                           "z_flow_alone_at_eta": ((m1 - th) / e1).tolist(),
                           "z_predicted_bias": (0.5 * eta * dl / sd).tolist()}
    return [
        compare(f"stationary mu.<w> at eta = {eta:g} vs fixed point + eta mu.delta*, N = {dim}",
                th + eta * dl, m1, e1, x=np.arange(len(labels)),
                note=f"per-replica time averages over [15/lambda, +{p['window']:g}] from w = 0; "
                     f"sigma = {sigma:g}, {R} replicas; the flow alone: z = "
                     f"{np.round((m1 - th) / e1, 2).tolist()}{where}"),
        compare("stationary bias mu.<w>(eta) - mu.<w>(eta/2) vs predicted (eta/2) mu.delta*",
                0.5 * eta * dl, m1 - m2, sd, x=np.arange(len(labels)),
                note=f"predicted bias in standard errors: "
                     f"{np.round(0.5 * eta * dl / sd, 2).tolist()}{where}"),
    ]


def _scan(p: dict, seed, progress) -> dict:
    """RL at the largest dim: alignment bias A_sim(eta) - A_flow at ``scan_time`` over
    ``scan_lrs``, with the first-order prediction eta grad A . delta."""
    dim, t, R = max(p["dims"]), p["scan_time"], p["replicas"]
    out = {"rule": "rl", "dim": dim, "t": t, "eta": [], "bias": [], "se": [], "slope": [],
           "flow": []}
    for eta, s in zip(p["scan_lrs"], seed.spawn(len(p["scan_lrs"]))):
        tt = _grid_times([t], eta)
        A0, dA, _, _ = first_order_alignment("rl", dim, p["sigma"], p["w0_par"], p["w0_perp"],
                                             tt)
        a, se, _, _ = simulate("rl", dim, p["sigma"], eta, p["w0_par"], p["w0_perp"], [t],
                               replicas=R, seed=s, progress=progress)
        out["eta"].append(float(eta))
        out["bias"].append(float(a[0] - A0[0]))
        out["se"].append(float(se[0]))
        out["slope"].append(float(dA[0]))
        out["flow"].append(float(A0[0]))
    b, e, sl = (np.array(out[k]) for k in ("bias", "se", "slope"))
    eta = np.array(out["eta"])
    out["remainder"] = (b - eta * sl).tolist()
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = (b - eta * sl) / (eta * sl)
    out["remainder_over_first_order"] = [float(v) if np.isfinite(v) else None for v in rel]
    out["z_remainder"] = ((b - eta * sl) / e).tolist()
    return out


def _plot(p, cases, scan, out_dir) -> list[str]:
    fig, axes = new_figure(3, 1)
    eta = p["lr"]
    for j, rule in enumerate(RULES):
        ax = axes[0, j]
        r = cases[rule]
        for c, dim in enumerate(sorted(set(r["ddim"].tolist()))):
            sel = r["ddim"] == dim
            t = np.array(p["times"])
            theory_line(ax, t, 0.5 * eta * r["dA"][sel], color=f"C{c}",
                        label=rf"predicted $\frac{{\eta}}{{2}}\nabla A\cdot\delta$, N={dim}")
            simulation_points(ax, t, (r["a1"] - r["a2"])[sel],
                              np.hypot(r["s1"], r["s2"])[sel], color=f"C{c}",
                              label=rf"$A_\eta - A_{{\eta/2}}$, N={dim}")
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set(xscale="log", xlabel="t", ylabel="alignment bias",
               title=rf"{_LABEL[rule]}: $\eta$={eta:g}, $\sigma$={p['sigma']:g}")
        ax.legend(fontsize="x-small")
    ax = axes[0, 2]
    e = np.array(scan["eta"])
    grid = np.linspace(0.0, e.max() * 1.1, 50)
    theory_line(ax, grid, grid * np.mean(scan["slope"]), color="C3",
                label=r"first order $\eta\,\nabla A\cdot\delta$")
    simulation_points(ax, e, scan["bias"], scan["se"], color="C3",
                      label=r"simulation $A_\eta - A_{flow}$")
    ax.axhline(0, color="0.6", lw=0.6)
    ax.set(xlabel=r"learning rate $\eta$", ylabel="alignment bias",
           title=f"RL, N={scan['dim']}, t={scan['t']:g}: bias vs $\\eta$")
    ax.legend(fontsize="x-small")
    fig.tight_layout()
    return save_figure(fig, out_dir, "finite_lr_perceptron")
