r"""``learndyn validate estimators-*``: gradient estimators against their closed forms, and
training with them (seed 003, "Computing Gradient of Mollified Loss", "Optimizing Methods to
Make Them Viable", "Real Application: MNIST").

* ``estimators-mse``: the exact mean-squared error of the score-function estimators
  (plain, baseline, antithetic) on a quadratic local loss vs S and vs sigma, against Monte
  Carlo of the estimators; the regression estimator's "S must reach d" effect (exact on a
  linear loss), its leading-order error on a quadratic (Richardson-extrapolated in 1/S); and
  the same formulas on a real network (the output layer of a sigmoid network on
  scikit-learn's handwritten digits, with its exact gradient and Hessian), including the
  regression spike near S = d + 1 that the seed saw at 1000 samples.
* ``estimators-learning-curves``: gradient descent vs node vs weight perturbation in a linear
  student-teacher network (Werfel, Xie & Seung 2005): learning curves, the error after a
  fixed time vs the learning rate, and the learning time vs the input dimension.

Training with the estimators (``estimators-training``) is in
:mod:`validate.experiments.estimators_training`.

Every statistical comparison takes its standard errors from independent replicas and is
judged with a Šidák bound over its points (1% family-wise).
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import NullFormatter

from numerics.datasets import load_digits_classes
from numerics.estimators import (
    estimate,
    estimator_mse,
    expected_learning_curve,
    optimal_rate,
    perturbation_recursion,
    regression_mse,
    simulate_student_teacher,
)
from numerics.small_nets import SigmoidNetwork
from theory import estimators as te
from validate.compare import compare, richardson_half_step, tolerance_check
from validate.params import Float, FloatList, Int, IntList
from validate.plotting import new_figure, save_figure, simulation_points, theory_line
from validate.registry import ExperimentResult, RunConfig, register_experiment

VARIANT_COLORS = {"plain": "C0", "baseline": "C1", "antithetic": "C2"}


def quadratic_model(d: int, seed: int = 2024, loss0: float = 1.0):
    """A fixed local model: gradient g ~ N(0, I), Hessian H = (A + A^T)/sqrt(2d)."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(d)
    A = rng.standard_normal((d, d))
    H = (A + A.T) / np.sqrt(2 * d)

    def loss(th):
        return loss0 + th @ g + 0.5 * np.einsum("bi,ij,bj->b", th, H, th)

    return loss, g, H


def seed_stream(seed):
    """Independent child seeds, as many as asked for (SeedSequence.spawn, one at a time)."""
    root = np.random.SeedSequence(seed)
    while True:
        yield root.spawn(1)[0]


def _mc(method, loss, theta, S, sigma, g, replicas, seed):
    """Mean and SE over replicas of |g_hat - g|^2, and the replicas' estimates."""
    est = estimate(method, loss, theta, S, sigma, seed=seed, replicas=replicas).grad
    e = np.sum((est - g) ** 2, axis=1)
    return float(e.mean()), float(e.std(ddof=1) / np.sqrt(e.size)), est


# ----------------------------------------------------------------------------- estimators-mse

MSE_PARAMS = {
    "dim": Int(8, "dimension d of the local quadratic model", min=1),
    "loss0": Float(1.0, "loss L0 at theta (the plain estimator pays d L0^2/(S sigma^2))"),
    "sigma": Float(0.5, "perturbation size for the sweep over S", gt=0),
    "S_values": IntList("1,2,4,8,16,32", "numbers of perturbations S (sweep at fixed sigma)",
                        min=1),
    "sigmas": FloatList("0.03,0.1,0.3,1,3", "perturbation sizes (sweep at S = S_fixed)", gt=0),
    "S_fixed": Int(8, "S for the sweep over sigma", min=1),
    "replicas": Int(20000, "independent estimates per point (Monte Carlo of the estimator)",
                    min=100, quick=4000),
    "reg_large_S": Int(16, "regression on the quadratic: S = this x d and twice that, "
                       "extrapolated to S -> infinity (Richardson in 1/S)", min=4),
    "hidden": Int(16, "hidden units of the sigmoid network (its output layer, "
                  "K x (hidden + 1) weights, is the estimated gradient)", min=1),
    "classes": IntList("0,1,2,3", "digits classified by the network", min=0, max=9),
    "examples": Int(100, "digits in the loss (a fixed batch)", min=2),
    "net_sigma": Float(0.01, "perturbation size on the network (the local quadratic model "
                       "holds there)", gt=0),
    "net_S": IntList("4,16,64", "S for the score-function estimators on the network", min=1),
    "net_replicas": Int(2000, "independent estimates per point on the network", min=100,
                        quick=600),
    "reg_sigma": Float(0.001, "perturbation size of the network's regression S-vs-d check "
                       "(small: linear regime)", gt=0),
    "spike_sigma": Float(0.03, "perturbation size of the measured regression curve with the "
                         "spike at S = d + 1", gt=0),
}


def _check_mse(p: dict, quick: bool) -> None:
    if len(set(p["classes"])) < 2:
        raise ValueError("parameter 'classes' needs two or more distinct digits")


def digits_network(p: dict, seed: int = 7):
    """The sigmoid network on the digits with only its output layer trained, and theta."""
    X, y = load_digits_classes(p["classes"])
    rng = np.random.default_rng(seed)
    idx = rng.choice(X.shape[0], p["examples"], replace=False)
    full = SigmoidNetwork(X[idx], y[idx], len(p["classes"]), p["hidden"])
    th = full.initial(seed, scale=2.0)
    net = SigmoidNetwork(X[idx], y[idx], len(p["classes"]), p["hidden"], trained="output",
                         fixed=th[:full.n1])
    return net, th[full.n1:]


def hessian_fd(grad_fn, theta, h: float = 1e-5) -> np.ndarray:
    """Hessian by centred differences of an exact gradient (symmetrised)."""
    d = theta.size
    H = np.empty((d, d))
    for i in range(d):
        e = np.zeros(d)
        e[i] = h
        H[i] = (grad_fn(theta + e) - grad_fn(theta - e)) / (2 * h)
    return 0.5 * (H + H.T)


@register_experiment("estimators-mse", "seed 003: exact E|g_hat - g|^2 of score-function "
                     "estimators (plain/baseline/antithetic) and perturbation regression "
                     "(S vs d) vs Monte Carlo, on a quadratic model and on a sigmoid network "
                     "on handwritten digits", MSE_PARAMS, _check_mse)
def run_mse(config: RunConfig) -> ExperimentResult:
    p = dict(config.params)
    d, L0, R = p["dim"], p["loss0"], p["replicas"]
    loss, g, H = quadratic_model(d, loss0=L0)
    theta = np.zeros(d)
    ss = seed_stream(config.seed)
    comparisons = []
    res: dict = {"S": {}, "sigma": {}}

    # 1. score-function variants vs S (fixed sigma) and vs sigma (fixed S)
    for v in te.VARIANTS:
        m, se, th = [], [], []
        for S in p["S_values"]:
            a, b, _ = _mc(f"score-{v}", loss, theta, S, p["sigma"], g, R, next(ss))
            m.append(a)
            se.append(b)
            th.append(estimator_mse(v, g, p["sigma"], S, L0, H))
        comparisons.append(compare(f"quadratic model, {v}: MSE vs S (sigma={p['sigma']:g})",
                                   th, m, se, x=p["S_values"],
                                   note=f"{len(th)} points, Sidak 99%, {R} replicas each"))
        res["S"][v] = (m, se, th)
        m, se, th = [], [], []
        for sg in p["sigmas"]:
            a, b, _ = _mc(f"score-{v}", loss, theta, p["S_fixed"], sg, g, R, next(ss))
            m.append(a)
            se.append(b)
            th.append(estimator_mse(v, g, sg, p["S_fixed"], L0, H))
        comparisons.append(compare(f"quadratic model, {v}: MSE vs sigma (S={p['S_fixed']})",
                                   th, m, se, x=p["sigmas"],
                                   note=f"{len(th)} points, Sidak 99%, {R} replicas each"))
        res["sigma"][v] = (m, se, th)

    # 2. regression on a linear loss: E|g_hat - g|^2 = |g|^2 (1 - (S-1)/d), exact from S = d+1
    def linear(th):
        return L0 + th @ g

    S_lin = sorted({s for s in (2, max(2, d // 2), d) if s <= d})
    m, se, th = [], [], []
    for S in S_lin:
        a, b, _ = _mc("regression", linear, theta, S, p["sigma"], g, R, next(ss))
        m.append(a)
        se.append(b)
        th.append(regression_mse(g, S)["mse_linear"])
    comparisons.append(compare("linear loss, regression: MSE = |g|^2 (1 - (S-1)/d) for S <= d",
                               th, m, se, x=S_lin,
                               note=f"{len(th)} points, Sidak 99%; min-norm solution"))
    full_rank = [d + 1, 2 * d]
    err_full = [float(np.max(np.abs(estimate("regression", linear, theta, S, p["sigma"],
                                             seed=next(ss)).grad - g))) for S in full_rank]
    comparisons.append(tolerance_check(
        "linear loss, regression: exact slope from S = d + 1", [0.0] * len(full_rank),
        err_full, atol=1e-9 * float(np.max(np.abs(g))), x=full_rank,
        note="max |g_hat - g| (rounding only)"))
    res["reg_linear"] = (S_lin, m, se, th)

    # 3. regression on the quadratic: S * MSE -> sigma^2 (d+4) tr H^2 / 2 as S -> infinity
    S1 = p["reg_large_S"] * d
    a1, b1, _ = _mc("regression", loss, theta, S1, p["sigma"], g, R, next(ss))
    a2, b2, _ = _mc("regression", loss, theta, 2 * S1, p["sigma"], g, R, next(ss))
    m0, se0 = richardson_half_step(S1 * a1, S1 * b1, 2 * S1 * a2, 2 * S1 * b2)
    lead = regression_mse(g, S1, p["sigma"], H)["mse_curvature_leading"] * S1
    comparisons.append(compare(
        "quadratic model, regression: S x MSE -> sigma^2 (d+4) tr H^2 / 2", [lead],
        [float(m0)], [float(se0)], x=[S1],
        note=f"Richardson in 1/S from S = {S1}, {2 * S1}: {S1 * a1:.4g}, {2 * S1 * a2:.4g}"))
    res["reg_quad"] = (S1, a1, b1, a2, b2, lead)

    # 4. the same formulas on the output layer of a sigmoid network on the digits
    net, th_net = digits_network(p)
    g_net = net.gradient(th_net)
    H_net = hessian_fd(net.gradient, th_net)
    L0_net = float(net.losses(th_net)[0])
    dn, Rn = net.dim, p["net_replicas"]
    res["net"] = {"dim": dn}
    for v in te.VARIANTS:
        m, se, th = [], [], []
        for S in p["net_S"]:
            a, b, _ = _mc(f"score-{v}", net, th_net, S, p["net_sigma"], g_net, Rn, next(ss))
            m.append(a)
            se.append(b)
            th.append(estimator_mse(v, g_net, p["net_sigma"], S, L0_net, H_net))
        comparisons.append(compare(
            f"sigmoid network on digits (d={dn}), {v}: MSE vs S (sigma={p['net_sigma']:g})",
            th, m, se, x=p["net_S"],
            note=f"exact gradient and Hessian (centred differences of backprop) in the "
                 f"closed form; {Rn} replicas"))
        res["net"][v] = (m, se, th)
    # regression S vs d on the network (linear regime: relative error 1 - (S-1)/d)
    S_net = sorted({s for s in (2, dn // 4, dn // 2, (3 * dn) // 4, dn - 4) if 2 <= s <= dn - 4})
    gg = float(g_net @ g_net)
    m, se, th = [], [], []
    for S in S_net:
        a, b, _ = _mc("regression", net, th_net, S, p["reg_sigma"], g_net, Rn, next(ss))
        m.append(a / gg)
        se.append(b / gg)
        th.append(regression_mse(g_net, S)["mse_linear"] / gg)
    comparisons.append(compare(
        f"sigmoid network, regression: E|g_hat - g|^2/|g|^2 = 1 - (S-1)/d (sigma="
        f"{p['reg_sigma']:g})", th, m, se, x=S_net,
        note=f"{len(th)} points, Sidak 99%; away from S = d + 1 where curvature is amplified"))
    res["net"]["reg"] = (S_net, m, se, th)
    # the measured curve through S = d + 1 at a larger sigma (figure and extra only: computed
    # only when a figure is drawn)
    S_spike = sorted({int(s) for s in np.unique(np.r_[np.linspace(2, 2 * dn, 12).astype(int),
                                                      dn, dn + 1, dn + 2, dn + 4])})
    spike = []
    make_figures = config.out_dir is not None and config.figures
    for S in (S_spike if make_figures else ()):
        a, b, est = _mc("regression", net, th_net, S, p["spike_sigma"], g_net, Rn // 2,
                        next(ss))
        e = np.sum((est - g_net) ** 2, axis=1) / gg
        spike.append((S, float(np.median(e)), a / gg, b / gg))
    res["net"]["spike"] = spike

    figures: list[str] = []
    if make_figures:
        figures = plot_mse(res, p, g, H, L0, net, g_net, H_net, L0_net, config.out_dir)
    extra = {
        "quadratic_model": {"d": d, "g2": float(g @ g), "trH": float(np.trace(H)),
                            "trH2": float(np.sum(H * H)), "loss0": L0},
        "network": {"d": dn, "g2": gg, "trH": float(np.trace(H_net)),
                    "trH2": float(np.sum(H_net * H_net)), "loss0": L0_net},
        "regression_spike": [{"S": s, "median_rel_err": md, "mean_rel_err": mn, "sem": sm}
                             for s, md, mn, sm in spike],
        "regression_quadratic": {"S": S1, "S_mse": S1 * a1, "S2_mse": 2 * S1 * a2,
                                 "extrapolated": float(m0), "leading": lead},
    }
    return ExperimentResult("estimators-mse", tuple(comparisons), config.seed, tuple(figures),
                            p, extra)


def plot_mse(res, p, g, H, L0, net, g_net, H_net, L0_net, out_dir) -> list[str]:
    fig, axes = new_figure(2, 2)
    d = g.size
    ax = axes[0, 0]
    Sg = np.geomspace(min(p["S_values"]), max(p["S_values"]), 60)
    for v in te.VARIANTS:
        c = VARIANT_COLORS[v]
        theory_line(ax, Sg, estimator_mse(v, g, p["sigma"], 1, L0, H) / Sg, color=c, label=v)
        m, se, _ = res["S"][v]
        simulation_points(ax, p["S_values"], m, se, color=c)
    S_lin, m, se, _ = res["reg_linear"]
    Sr = np.arange(1, 2 * d + 1)
    theory_line(ax, Sr, [regression_mse(g, int(s))["mse_linear"] for s in Sr], color="C3",
                ls="--", label="regression, linear loss")
    simulation_points(ax, S_lin, m, se, color="C3", fmt="s")
    ax.set(xscale="log", yscale="log", xlabel="perturbations S",
           ylabel=r"$E|\hat g - g|^2$",
           title=f"quadratic model, d={d}, $\\sigma$={p['sigma']:g}")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    sg = np.geomspace(min(p["sigmas"]), max(p["sigmas"]), 60)
    for v in te.VARIANTS:
        c = VARIANT_COLORS[v]
        theory_line(ax, sg, [estimator_mse(v, g, s, p["S_fixed"], L0, H) for s in sg], color=c,
                    label=v)
        m, se, _ = res["sigma"][v]
        simulation_points(ax, p["sigmas"], m, se, color=c)
    ax.set(xscale="log", yscale="log", xlabel=r"perturbation size $\sigma$",
           ylabel=r"$E|\hat g - g|^2$", title=f"quadratic model, S={p['S_fixed']}")
    ax.legend(fontsize=7)
    ax = axes[1, 0]
    Sn = np.geomspace(min(p["net_S"]), max(p["net_S"]), 40)
    for v in te.VARIANTS:
        c = VARIANT_COLORS[v]
        theory_line(ax, Sn, [estimator_mse(v, g_net, p["net_sigma"], 1, L0_net, H_net) / s
                             for s in Sn], color=c, label=v)
        m, se, _ = res["net"][v]
        simulation_points(ax, p["net_S"], m, se, color=c)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(xscale="log", yscale="log", xlabel="perturbations S", ylabel=r"$E|\hat g - g|^2$",
           title=f"sigmoid net on digits, output layer d={net.dim}, $\\sigma$="
                 f"{p['net_sigma']:g}")
    ax.legend(fontsize=7)
    ax = axes[1, 1]
    dn = net.dim
    Sr = np.arange(1, 2 * dn + 1)
    gg = float(g_net @ g_net)
    theory_line(ax, Sr, [max(regression_mse(g_net, int(s))["mse_linear"] / gg, 1e-4)
                         for s in Sr], color="k", label="linear-loss theory 1 - (S-1)/d")
    S_net, m, se, _ = res["net"]["reg"]
    simulation_points(ax, S_net, m, se, color="C3",
                      label=f"regression, $\\sigma$={p['reg_sigma']:g}")
    sp_ = np.array(res["net"]["spike"])
    simulation_points(ax, sp_[:, 0], sp_[:, 2], sp_[:, 3], color="C4", fmt="^",
                      label=f"regression, $\\sigma$={p['spike_sigma']:g} (mean)")
    ax.plot(sp_[:, 0], sp_[:, 1], color="C4", ls=":", lw=1, label="same, median")
    ax.axvline(dn + 1, color="0.6", lw=1, ls="--")
    ax.set(yscale="log", xlabel="perturbations S", ylabel=r"$E|\hat g - g|^2 / |g|^2$",
           title="regression on the network: S must reach d + 1", ylim=(1e-4, None))
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out_dir, "estimators_mse")


# ----------------------------------------------------------------------------- learning curves

LC_PARAMS = {
    "M": Int(4, "outputs of the linear student-teacher network", min=1),
    "N": Int(16, "inputs of the network", min=1),
    "sigma": Float(0.02, "perturbation size of node and weight perturbation", gt=0),
    "efolds": Float(3.0, "simulated time in learning times (e-folds of the error) of each rule",
                    gt=0),
    "replicas": Int(1000, "independent learners per curve", min=10, quick=300),
    "points": Int(16, "log-spaced times compared on each learning curve", min=2),
    "rate_factors": FloatList("0.25,0.5,1,1.5,1.9", "learning rates eta/eta* of the sweep "
                              "(error after one learning time)", gt=0, lt=2),
    "N_values": IntList("4,8,16,32", "input dimensions of the learning-time scan",
                        min=1, quick="4,8,16"),
}


@register_experiment("estimators-learning-curves", "Werfel-Xie-Seung: exact learning curves of "
                     "gradient descent, node and weight perturbation in a linear student-teacher "
                     "network; optimal rates and learning time vs dimension", LC_PARAMS)
def run_learning_curves(config: RunConfig) -> ExperimentResult:
    p = dict(config.params)
    M, N, s, R = p["M"], p["N"], p["sigma"], p["replicas"]
    ss = seed_stream(config.seed)
    comparisons = []
    curves = {}
    D0 = np.random.default_rng(12345).standard_normal((M, N)) / np.sqrt(N)
    D0sq = float(np.sum(D0**2))
    for rule in te.RULES:
        eta = optimal_rate(rule, M, N)
        tau = float(te.learning_time(rule).subs({te.M: M, te.N: N}))
        steps = int(np.ceil(p["efolds"] * tau))
        rec = np.unique(np.r_[0, np.geomspace(1, steps, p["points"]).astype(int)])
        run = simulate_student_teacher(rule, eta, M, N, s, steps, R, seed=next(ss), record=rec,
                                       D0=D0)
        theory = expected_learning_curve(rule, eta, M, N, s, D0sq, steps)[rec]
        comparisons.append(compare(
            f"{rule}: learning curve at eta* = {eta:.4g} (M={M}, N={N})", theory[1:],
            run.mean[1:], run.sem[1:], x=rec[1:],
            note=f"{rec.size - 1} points, Sidak 99%, {R} learners"))
        curves[rule] = (eta, tau, rec, run, theory)

    sweep = {}
    for rule in ("node", "weight"):
        eta0 = optimal_rate(rule, M, N)
        tau = float(te.learning_time(rule).subs({te.M: M, te.N: N}))
        T = int(np.ceil(tau))
        m, se, th = [], [], []
        for f in p["rate_factors"]:
            run = simulate_student_teacher(rule, f * eta0, M, N, s, T, R, seed=next(ss),
                                           record=[T], D0=D0)
            m.append(float(run.mean[0]))
            se.append(float(run.sem[0]))
            th.append(float(expected_learning_curve(rule, f * eta0, M, N, s, D0sq, T)[-1]))
        comparisons.append(compare(f"{rule}: error after {T} steps vs eta/eta*", th, m, se,
                                   x=p["rate_factors"],
                                   note=f"{len(th)} rates, Sidak 99%, {R} learners"))
        sweep[rule] = (T, m, se, th)

    scan = {}
    for rule in te.RULES:
        m, se, th, taus = [], [], [], []
        for n_in in p["N_values"]:
            D0n = np.random.default_rng(12345).standard_normal((M, n_in)) / np.sqrt(n_in)
            eta = optimal_rate(rule, M, n_in)
            tau = float(te.learning_time(rule).subs({te.M: M, te.N: n_in}))
            T = int(np.ceil(tau))
            run = simulate_student_teacher(rule, eta, M, n_in, s, T, R, seed=next(ss),
                                           record=[0, T], D0=D0n)
            curve = expected_learning_curve(rule, eta, M, n_in, s, float(np.sum(D0n**2)), T)
            m.append(float(run.mean[1] / run.mean[0]))
            se.append(float(run.sem[1] / run.mean[0]))
            th.append(float(curve[-1] / curve[0]))
            taus.append((n_in, tau, T))
        comparisons.append(compare(
            f"{rule}: error ratio after one learning time tau(N) vs N", th, m, se,
            x=p["N_values"], note="tau = (N+2), (M+2)(N+2), (MN+2)(N+2): the ratio stays near "
                                  "1/e as N grows only if tau scales as derived"))
        scan[rule] = (taus, m, se, th)

    figures: list[str] = []
    if config.out_dir is not None and config.figures:
        figures = plot_learning_curves(curves, sweep, scan, p, D0sq, config.out_dir)
    extra = {r: {"eta_star": c[0], "learning_time": c[1],
                 "contraction": perturbation_recursion(r, c[0], M, N, s)[0]}
             for r, c in curves.items()}
    return ExperimentResult("estimators-learning-curves", tuple(comparisons), config.seed,
                            tuple(figures), p, extra)


RULE_COLORS = {"gd": "C0", "node": "C1", "weight": "C2"}
RULE_NAMES = {"gd": "gradient descent", "node": "node perturbation",
              "weight": "weight perturbation"}


def plot_learning_curves(curves, sweep, scan, p, D0sq, out_dir) -> list[str]:
    M, N, s = p["M"], p["N"], p["sigma"]
    fig, axes = new_figure(3, 1)
    ax = axes[0, 0]
    for rule, (eta, _tau, rec, run, _) in curves.items():
        c = RULE_COLORS[rule]
        t = np.arange(rec[-1] + 1)
        theory_line(ax, t[1:], expected_learning_curve(rule, eta, M, N, s, D0sq, rec[-1])[1:],
                    color=c, label=f"{RULE_NAMES[rule]}, $\\eta^*$={eta:.2g}")
        simulation_points(ax, rec[1:], run.mean[1:], run.sem[1:], color=c)
    ax.set(xscale="log", yscale="log", xlabel="updates (one example each)",
           ylabel=r"generalisation error $\frac{1}{2}E|W - W^*|^2$",
           title=f"linear student-teacher, M={M}, N={N}")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    f = np.linspace(0.05, 1.98, 100)
    for rule, (T, m, se, _) in sweep.items():
        c = RULE_COLORS[rule]
        eta0 = optimal_rate(rule, M, N)
        theory_line(ax, f, [expected_learning_curve(rule, x * eta0, M, N, s, D0sq, T)[-1]
                            for x in f], color=c, label=f"{RULE_NAMES[rule]}, after {T} steps")
        simulation_points(ax, p["rate_factors"], m, se, color=c)
    ax.set(yscale="log", xlabel=r"learning rate $\eta/\eta^*$", ylabel="generalisation error",
           title="error after one learning time")
    ax.legend(fontsize=7)
    ax = axes[0, 2]
    Ng = np.arange(1, max(p["N_values"]) * 2 + 1)
    for rule, (taus, m, se, _th) in scan.items():
        c = RULE_COLORS[rule]
        exact = [-1.0 / np.log(perturbation_recursion(rule, optimal_rate(rule, M, int(n)), M,
                                                      int(n))[0]) for n in Ng]
        theory_line(ax, Ng, exact, color=c,
                    label=f"{RULE_NAMES[rule]}: " + {"gd": "N+2", "node": "(M+2)(N+2)",
                                                     "weight": "(MN+2)(N+2)"}[rule])
        # measured learning time from the error ratio after T steps: tau = -T / ln(ratio)
        n_in = np.array([t[0] for t in taus])
        T = np.array([t[2] for t in taus], dtype=float)
        ratio = np.array(m)
        tau_m = -T / np.log(ratio)
        tau_se = tau_m**2 / T * np.array(se) / ratio
        simulation_points(ax, n_in, tau_m, tau_se, color=c)
    ax.set(xscale="log", yscale="log", xlabel="inputs N", ylabel="learning time (steps/e-fold)",
           title=f"learning time at the optimal rate, M={M}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out_dir, "estimators_learning_curves")
