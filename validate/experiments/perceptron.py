r"""``learndyn validate perceptron-*``: seed 002 (Schmid & Murray) Figs. 2-6, theory vs simulation.

Theory: :mod:`numerics.perceptron` (mean flow, moment ODEs (10)-(11), fixed points, alignment
times, all lambdified from :mod:`theory.perceptron`).  Simulation: the online rules of
:mod:`numerics.sim.perceptron` with the erf sigmoid (for which the theory is exact as
:math:`\eta\to0`), mostly the exact reduced chain (cost independent of N).  Problem: classes
:math:`N(\pm\mu, \Sigma)`, :math:`\mu = e_1` (:math:`|\mu| = 1`), initial weights
:math:`w_0 = (w_\parallel, w_\perp, 0, \dots)`.

Statistics.  Replicas are independent; a mean curve is judged with a Šidák bound over its
points (:func:`validate.compare.compare`).  The alignment of the mean,
:math:`A = \mu\cdot\langle w\rangle/(|\mu||\langle w\rangle|)`, is computed from the frame
coordinates of :math:`\langle w\rangle` (its out-of-frame part is zero by rotation
invariance) with a delta-method standard error from the between-replica covariance.

Finite learning rate.  The flow is the :math:`\eta\to0` limit at fixed N; the leading
correction is the SGD noise :math:`\eta\langle ff^\top\rangle`, which spreads each replica
over the N - 2 orthogonal directions by :math:`O(\eta N\sigma^2 t)` and biases the mean at
:math:`O(\eta N\sigma^2)`.  The experiments therefore use a modest N (default 10; the reduced
simulator's cost does not depend on N, so ``--param dim=500`` is cheap, and at
:math:`\eta N = 0.5` the bias is visible: see the report's notes).
"""

from __future__ import annotations

import numpy as np

from numerics.classification import empirical_accuracy, gaussian_accuracy
from numerics.perceptron import (
    alignment,
    alignment_time,
    anisotropic_covariance,
    asymptotic_norm,
    mean_flow,
    moment_flow,
    reduced_rates,
)
from numerics.sim.ensemble import simulate_ensemble
from numerics.sim.perceptron import (
    PerceptronRule,
    ReducedPerceptronRule,
    train_on_dataset,
)
from validate.compare import compare
from validate.plotting import new_figure, save_figure, simulation_points, theory_line
from validate.registry import ExperimentResult, RunConfig, register_experiment

RULES = ("sl", "rl")
_LABEL = {"sl": "SL (logistic regression)", "rl": "RL (REINFORCE)"}


def _floats(text) -> list[float]:
    return [float(v) for v in str(text).split(",") if v.strip()]


def _params(config: RunConfig, defaults: dict, quick: dict) -> dict:
    p = {k: config.param(k, v) for k, v in defaults.items()}
    if config.quick:
        p.update({k: v for k, v in quick.items() if k not in config.params})
    return p


def problem(dim: int, w0_par: float, w0_perp: float):
    r""":math:`\mu = e_1` and :math:`w_0 = w_\parallel e_1 + w_\perp e_2` in N = ``dim``."""
    if dim < 3:
        raise ValueError(f"dim must be >= 3 (mu, w0 and an orthogonal rest), got {dim}")
    mu = np.zeros(dim)
    mu[0] = 1.0
    w0 = np.zeros(dim)
    w0[0], w0[1] = w0_par, w0_perp
    return mu, w0


def _frame_theory(mu, w0):
    """mu and w0 in 2-D frame coordinates (the flow stays in span(mu, w0) for these Sigma)."""
    return np.array([mu[0], 0.0]), np.array([w0[0], w0[1]])


def frame_ensemble(red: ReducedPerceptronRule, w0, steps: int, *, replicas: int, seed,
                   record_steps, progress=None, average_from=None):
    """Simulate the reduced chain from the deterministic ``w0``; records frame coordinates."""
    K = red.K
    return simulate_ensemble(red, red.reduce(w0), steps, replicas=replicas, seed=seed,
                             record_steps=record_steps, observable=lambda s: s[:, :K],
                             names=tuple(f"c{i}" for i in range(K)), average_from=average_from,
                             progress=progress)


def alignment_of_mean(mean_c: np.ndarray, cov_c: np.ndarray, replicas: int, mu_c: np.ndarray):
    r"""Alignment of the mean (frame coordinates) and its delta-method standard error.

    :math:`A = \hat\mu\cdot m/|m|`, :math:`\nabla_m A = (\hat\mu - A\,m/|m|)/|m|`,
    :math:`\mathrm{SE}^2 = \nabla A^\top(\mathrm{Cov}/R)\nabla A`.
    """
    mean_c = np.atleast_2d(mean_c)
    cov_c = np.asarray(cov_c).reshape(mean_c.shape[0], mean_c.shape[1], mean_c.shape[1])
    mhat = mu_c / np.linalg.norm(mu_c)
    r = np.linalg.norm(mean_c, axis=1)
    A = mean_c @ mhat / r
    grad = (mhat[None, :] - A[:, None] * mean_c / r[:, None]) / r[:, None]
    var = np.einsum("ti,tij,tj->t", grad, cov_c, grad) / replicas
    return A, np.sqrt(np.maximum(var, 0.0))


# ====================================================================== Fig. 2 C, D

LC_DEFAULTS = {"dim": 10, "lr": 1e-3, "sigmas": "0.1,1.0", "t_max": 10.0, "replicas": 200,
               "points": 15, "w0_par": -0.2, "w0_perp": 0.5}
LC_QUICK = {"replicas": 100, "points": 12}


@register_experiment(
    "perceptron-learning-curves",
    "seed 002 Fig 2C-D: alignment of <w> with mu over time, SL and RL, sigma = 0.1 and 1; "
    "mean flow vs erf-sigmoid simulation ensembles (exact reduced chain) at eta = 1e-3",
    LC_DEFAULTS)
def run_learning_curves(config: RunConfig) -> ExperimentResult:
    p = _params(config, LC_DEFAULTS, LC_QUICK)
    mu, w0 = problem(p["dim"], p["w0_par"], p["w0_perp"])
    mu2, w02 = _frame_theory(mu, w0)
    lr, t_max = p["lr"], p["t_max"]
    steps = int(round(t_max / lr))
    rec = np.unique(np.geomspace(0.02 * steps, steps, p["points"]).astype(int))
    sigmas = _floats(p["sigmas"])
    seeds = np.random.SeedSequence(config.seed).spawn(len(RULES) * len(sigmas))
    comparisons, curves = [], []
    t_dense = np.linspace(0, t_max, 300)
    for i, (rule, sigma) in enumerate((r, s) for r in RULES for s in sigmas):
        red = ReducedPerceptronRule.isotropic(rule, mu, sigma, lr=lr, extra=(w0,))
        ens = frame_ensemble(red, w0, steps, replicas=p["replicas"], seed=seeds[i],
                             record_steps=rec, progress=config.progress)
        mu_c = red.coordinates(mu)
        A, se = alignment_of_mean(ens.mean, ens.cov, ens.replicas, mu_c)
        flow = mean_flow(rule, mu2, sigma**2 * np.eye(2), w02, ens.times)
        theory = alignment(mu2, flow.y.T)
        comparisons.append(compare(
            f"alignment of <w>, {rule.upper()}, sigma={sigma:g}", theory, A, se, x=ens.times,
            note=f"{len(rec)} times, {ens.replicas} replicas, N={p['dim']}, eta={lr:g}, "
                 "erf sigmoid; Sidak 99%"))
        dense = mean_flow(rule, mu2, sigma**2 * np.eye(2), w02, t_dense)
        curves.append((rule, sigma, ens.times, A, se, t_dense, alignment(mu2, dense.y.T)))
    figures = []
    if config.out_dir is not None and config.figures:
        fig, axes = new_figure(2, 1)
        for j, rule in enumerate(RULES):
            ax = axes[0, j]
            k = 0
            for (r, sigma, t, A, se, td, th) in curves:
                if r != rule:
                    continue
                theory_line(ax, td, th, color=f"C{k}", label=rf"theory $\sigma$={sigma:g}")
                simulation_points(ax, t, A, se, color=f"C{k}",
                                  label=f"simulation ({p['replicas']} runs)")
                k += 1
            ax.set(xlabel=r"time $t = \eta\times$updates", ylabel=r"alignment "
                   r"$\mu\cdot\langle w\rangle/|\mu||\langle w\rangle|$", title=_LABEL[rule])
            ax.legend()
        fig.tight_layout()
        figures = save_figure(fig, config.out_dir, "perceptron_learning_curves")
    return ExperimentResult("perceptron-learning-curves", tuple(comparisons), config.seed,
                            tuple(figures), p, {})


# ====================================================================== Fig. 2 A, B, E

FF_DEFAULTS = {"dim": 10, "lr": 1e-3, "sigma": 0.5, "lams": "0.3,1.0,3.0", "replicas": 100,
               "window": 8.0, "flow_lam": 0.1, "flow_sigma": 0.0}
FF_QUICK = {"lams": "0.5,2.0", "window": 4.0, "replicas": 60}


def _burn_in_time(rule, sigma, lam, w_star, rtol=1e-3) -> float:
    """Time after which the mean flow from w = 0+ stays within ``rtol`` of |w*|."""
    t = np.linspace(0, 200.0 / max(lam, 0.05), 4000)
    fl = mean_flow(rule, [1.0, 0.0], sigma**2 * np.eye(2), [1e-3, 0.0], t, lam)
    far = np.flatnonzero(np.abs(fl.y[0] - w_star) > rtol * w_star)
    if far.size and far[-1] == t.size - 1:
        raise RuntimeError("the mean flow did not reach its fixed point")
    return float(t[far[-1] + 1]) if far.size else 0.0


@register_experiment(
    "perceptron-flow-field",
    "seed 002 Fig 2A-B, E: flow fields in (mu.w, |w|) with trajectories; asymptotic |w*| vs "
    "lambda (fixed point, eq. (43)) against stationary simulation averages",
    FF_DEFAULTS)
def run_flow_field(config: RunConfig) -> ExperimentResult:
    p = _params(config, FF_DEFAULTS, FF_QUICK)
    mu, _ = problem(p["dim"], 0.0, 1.0)
    lr, sigma = p["lr"], p["sigma"]
    lams = _floats(p["lams"])
    seeds = np.random.SeedSequence(config.seed).spawn(len(RULES))
    comparisons, stationary = [], {}
    for rule, ss in zip(RULES, seeds):
        theory, means, sems = [], [], []
        for lam, s in zip(lams, ss.spawn(len(lams))):
            w_star = asymptotic_norm(rule, sigma, lam)
            burn = _burn_in_time(rule, sigma, lam, w_star)
            red = ReducedPerceptronRule.isotropic(rule, mu, sigma, lr=lr, lam=lam)
            start = int(round(burn / lr))
            total = start + int(round(p["window"] / lr))
            ens = frame_ensemble(red, np.zeros(p["dim"]), total, replicas=p["replicas"],
                                 seed=s, record_steps=[total], average_from=start,
                                 progress=config.progress)
            theory.append(w_star)
            means.append(ens.time_average.mean[0])
            sems.append(ens.time_average.sem[0])
        comparisons.append(compare(
            f"stationary mu.<w> = |w*| vs lambda, {rule.upper()}, sigma={sigma:g}", theory,
            means, sems, x=lams,
            note=f"per-replica time averages over t in [burn-in, +{p['window']:g}] after a "
                 f"burn-in certified by the mean flow (within 1e-3 of |w*|); {p['replicas']} "
                 f"replicas, N={p['dim']}, eta={lr:g}"))
        stationary[rule] = (np.array(theory), np.array(means), np.array(sems))
    figures = []
    if config.out_dir is not None and config.figures:
        figures = _plot_flow(p, lams, stationary, config.out_dir)
    extra = {"stationary": {r: {"lam": lams, "theory": v[0].tolist(), "sim": v[1].tolist(),
                                "sem": v[2].tolist()} for r, v in stationary.items()}}
    return ExperimentResult("perceptron-flow-field", tuple(comparisons), config.seed,
                            tuple(figures), p, extra)


def _plot_flow(p, lams, stationary, out_dir) -> list[str]:
    fig, axes = new_figure(3, 1)
    lam_f, sig_f = p["flow_lam"], p["flow_sigma"]
    r = np.linspace(0.02, 3.0, 40)
    P = np.linspace(-3.0, 3.0, 41)
    PP, RR = np.meshgrid(P, r)
    inside = np.abs(PP) < RR * (1 - 1e-9)
    for j, rule in enumerate(RULES):
        ax = axes[0, j]
        dP = np.full(PP.shape, np.nan)
        dR = np.full(PP.shape, np.nan)
        for idx in zip(*np.nonzero(inside)):
            a, b = reduced_rates(rule, PP[idx], RR[idx] ** 2, sigma_par=sig_f, lam=lam_f)
            dP[idx], dR[idx] = a, b / (2 * RR[idx])
        ax.streamplot(P, r, dP, dR, color="0.7", density=0.9, linewidth=0.6)
        for k, ang in enumerate(np.linspace(0.15, np.pi - 0.15, 6)):
            w0 = 0.8 * np.array([np.cos(ang), np.sin(ang)]) * (1 + k % 2)
            fl = mean_flow(rule, [1.0, 0.0], sig_f**2 * np.eye(2), w0, np.linspace(0, 40, 400),
                           lam_f)
            theory_line(ax, fl.y[0], np.hypot(fl.y[0], fl.y[1]), color=f"C{k}", lw=1.2)
        ax.plot([0, 3], [0, 3], "k:", lw=0.8)
        ax.plot([0, -3], [0, 3], "k:", lw=0.8)
        ax.set(xlabel=r"$\mu\cdot w$", ylabel=r"$|w|$", xlim=(-3, 3), ylim=(0, 3),
               title=rf"{_LABEL[rule]}: flow, $\sigma$={sig_f:g}, $\lambda$={lam_f:g}")
    ax = axes[0, 2]
    lam_grid = np.geomspace(1e-2, 10, 40)
    for k, rule in enumerate(RULES):
        theory_line(ax, lam_grid, [asymptotic_norm(rule, 0.0, lm) for lm in lam_grid],
                    color=f"C{k}", label=rf"{rule.upper()} theory, $\sigma$=0")
        theory_line(ax, lam_grid, [asymptotic_norm(rule, p["sigma"], lm) for lm in lam_grid],
                    color=f"C{k}", ls="--", label=rf"{rule.upper()} theory, $\sigma$={p['sigma']:g}")
        th, m, s = stationary[rule]
        simulation_points(ax, lams, m, s, color=f"C{k}", label=f"{rule.upper()} simulation")
    ax.set(xscale="log", xlabel=r"$\lambda$", ylabel=r"$|w^*|$", title="asymptotic weight norm")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, out_dir, "perceptron_flow_field")


# ====================================================================== Fig. 3 A, C

LT_DEFAULTS = {"dim": 10, "lr": 1e-3, "sim_sigmas": "0.25,1.0,2.0", "sim_eps": "-0.6,0.0,0.6",
               "replicas": 200, "threshold": 0.8, "w0_par": -0.2, "w0_perp": 0.5}
LT_QUICK = {"replicas": 100, "sim_sigmas": "0.25,1.5", "sim_eps": "-0.5,0.5"}


def _anisotropic_frame_cov(eps: float) -> np.ndarray:
    return anisotropic_covariance([1.0, 0.0], eps)


@register_experiment(
    "perceptron-learning-time",
    "seed 002 Fig 3A, C: time for the alignment of <w> to reach 80% vs isotropic noise sigma "
    "and vs anisotropy epsilon (sigma_par^2 = 1 + eps, sigma_perp^2 = 1 - eps); simulated "
    "alignment at the predicted time vs the threshold",
    LT_DEFAULTS)
def run_learning_time(config: RunConfig) -> ExperimentResult:
    p = _params(config, LT_DEFAULTS, LT_QUICK)
    mu, w0 = problem(p["dim"], p["w0_par"], p["w0_perp"])
    mu2, w02 = _frame_theory(mu, w0)
    thr, lr = p["threshold"], p["lr"]
    sig_grid = np.linspace(0.05, 2.5, 25)
    eps_grid = np.linspace(-0.9, 0.9, 19)
    curves = {}
    for rule in RULES:
        curves[rule] = (
            np.array([alignment_time(rule, mu2, s**2 * np.eye(2), w02, threshold=thr)
                      for s in sig_grid]),
            np.array([alignment_time(rule, mu2, _anisotropic_frame_cov(e), w02, threshold=thr)
                      for e in eps_grid]))
    sim_sig, sim_eps = _floats(p["sim_sigmas"]), _floats(p["sim_eps"])
    seeds = np.random.SeedSequence(config.seed).spawn(2 * len(RULES))
    comparisons, sims = [], {}
    for i, rule in enumerate(RULES):
        for kind, values, ss in (("sigma", sim_sig, seeds[2 * i]), ("eps", sim_eps,
                                                                    seeds[2 * i + 1])):
            t_pred, A, se = [], [], []
            for v, s in zip(values, ss.spawn(len(values))):
                if kind == "sigma":
                    red = ReducedPerceptronRule.isotropic(rule, mu, v, lr=lr, extra=(w0,))
                    t_star = alignment_time(rule, mu2, v**2 * np.eye(2), w02, threshold=thr)
                else:
                    red = ReducedPerceptronRule.isotropic(rule, mu, np.sqrt(1 - v), lr=lr,
                                                          extra=(w0,), sigma_par=np.sqrt(1 + v))
                    t_star = alignment_time(rule, mu2, _anisotropic_frame_cov(v), w02,
                                            threshold=thr)
                n = int(round(t_star / lr))
                ens = frame_ensemble(red, w0, n, replicas=p["replicas"], seed=s,
                                     record_steps=[n], progress=config.progress)
                a, e = alignment_of_mean(ens.mean[-1:], ens.cov[-1:], ens.replicas,
                                         red.coordinates(mu))
                t_pred.append(n * lr)
                A.append(a[0])
                se.append(e[0])
            comparisons.append(compare(
                f"alignment at the predicted 80% time, {rule.upper()}, vs {kind}",
                np.full(len(values), thr), A, se, x=values,
                note=f"simulated alignment of <w> at t*(theory) = {np.round(t_pred, 3).tolist()}"
                     f"; {p['replicas']} replicas, N={p['dim']}, eta={lr:g}"))
            sims[(rule, kind)] = (values, t_pred, A, se)
    extra = {f"t80_vs_sigma_{r}": {"sigma": sig_grid.tolist(), "t": curves[r][0].tolist()}
             for r in RULES}
    extra.update({f"t80_vs_eps_{r}": {"eps": eps_grid.tolist(), "t": curves[r][1].tolist()}
                  for r in RULES})
    figures = []
    if config.out_dir is not None and config.figures:
        fig, axes = new_figure(2, 1)
        for k, rule in enumerate(RULES):
            theory_line(axes[0, 0], sig_grid, curves[rule][0], color=f"C{k}",
                        label=f"{rule.upper()} theory")
            theory_line(axes[0, 1], eps_grid, curves[rule][1], color=f"C{k}",
                        label=f"{rule.upper()} theory")
            for j, kind in enumerate(("sigma", "eps")):
                v, t_pred, _, _ = sims[(rule, kind)]
                axes[0, j].plot(v, t_pred, "o", color=f"C{k}", mfc="none",
                                label=f"{rule.upper()}: simulated alignment {thr:g} checked")
        axes[0, 0].set(xlabel=r"isotropic input noise $\sigma$",
                       ylabel=rf"time to {thr:.0%} alignment", title="Fig 3A")
        axes[0, 1].set(xlabel=r"anisotropy $\epsilon$ ($\sigma_\parallel^2=1+\epsilon$, "
                       r"$\sigma_\perp^2=1-\epsilon$)", ylabel=rf"time to {thr:.0%} alignment",
                       title="Fig 3C")
        for ax in axes[0]:
            ax.legend(fontsize="small")
        fig.tight_layout()
        figures = save_figure(fig, config.out_dir, "perceptron_learning_time")
    return ExperimentResult("perceptron-learning-time", tuple(comparisons), config.seed,
                            tuple(figures), p, extra)


# ====================================================================== Fig. 4

COV_DEFAULTS = {"dim": 5, "lr": 1e-3, "lam": 0.1, "sigmas": "0.3,0.6", "c0": 0.1,
                "t_max": 10.0, "replicas": 1000, "control_replicas": 300, "points": 11,
                "w0_par": -0.2, "w0_perp": 0.5}
COV_QUICK = {"replicas": 400, "control_replicas": 150, "t_max": 8.0, "points": 9}


def _trace_cov(samples: np.ndarray):
    """tr of the between-replica covariance at each record, with its standard error from the
    per-replica terms :math:`|w_r-\\bar w|^2 R/(R-1)`."""
    R = samples.shape[1]
    dev = samples - samples.mean(axis=1, keepdims=True)
    per = np.sum(dev**2, axis=2) * R / (R - 1)
    return per.mean(axis=1), per.std(axis=1, ddof=1) / np.sqrt(R)


@register_experiment(
    "perceptron-covariance",
    "seed 002 Fig 4: decay of tr Cov(w) for a Gaussian initial ensemble of networks, moment "
    "ODEs (10)-(11) vs simulated ensembles (full N-dimensional simulator)",
    COV_DEFAULTS)
def run_covariance(config: RunConfig) -> ExperimentResult:
    p = _params(config, COV_DEFAULTS, COV_QUICK)
    n = p["dim"]
    mu, w0 = problem(n, p["w0_par"], p["w0_perp"])
    lr, lam, c0 = p["lr"], p["lam"], p["c0"]
    steps = int(round(p["t_max"] / lr))
    rec = np.unique(np.linspace(0, steps, p["points"]).astype(int))
    sigmas = _floats(p["sigmas"])
    seeds = np.random.SeedSequence(config.seed).spawn(len(RULES) * len(sigmas))
    comparisons, curves = [], []
    sd0 = np.sqrt(c0)
    for i, (rule, sigma) in enumerate((r, s) for r in RULES for s in sigmas):
        Sigma = sigma**2 * np.eye(n)
        sim = PerceptronRule(rule, mu, Sigma, lr=lr, lam=lam)
        main, control = seeds[i].spawn(2)
        ens = simulate_ensemble(sim, lambda g: w0 + sd0 * g.standard_normal(n), steps,
                                replicas=p["replicas"], seed=main, record_steps=rec,
                                keep_samples=True, progress=config.progress)
        ctl = simulate_ensemble(sim, w0, steps, replicas=p["control_replicas"], seed=control,
                                record_steps=rec, keep_samples=True, progress=config.progress)
        tr, se = _trace_cov(ens.samples)
        tr0, se0 = _trace_cov(ctl.samples)
        mf = moment_flow(rule, mu, Sigma, w0, c0 * np.eye(n), ens.times, lam=lam)
        raw = compare("raw", mf.trace_cov, tr, se)
        comparisons.append(compare(
            f"tr Cov(w), {rule.upper()}, sigma={sigma:g}", mf.trace_cov, tr - tr0,
            np.hypot(se, se0), x=ens.times,
            note=f"moment ODEs (correction 1/2) vs {p['replicas']} networks from N(w0, {c0:g} I),"
                 f" N={n}, eta={lr:g}, lambda={lam:g}; the O(eta) SGD-noise covariance that "
                 f"the eta->0 equations omit is measured by a control ensemble started at w0 "
                 f"({p['control_replicas']} replicas, tr at t_max {tr0[-1]:.3g}) and "
                 f"subtracted (first order in eta); without it max|z| = {raw.max_abs_z:.2f}"))
        dense_t = np.linspace(0, p["t_max"], 200)
        dense = moment_flow(rule, mu, Sigma, w0, c0 * np.eye(n), dense_t, lam=lam)
        curves.append((rule, sigma, ens.times, tr - tr0, np.hypot(se, se0), dense_t,
                       dense.trace_cov))
    extra = {"decay_ratio": {f"{r}_sigma{s:g}": float(d[-1] / d[0])
                             for (r, s, _, _, _, _, d) in curves}}
    figures = []
    if config.out_dir is not None and config.figures:
        fig, axes = new_figure(2, 1)
        for j, rule in enumerate(RULES):
            ax = axes[0, j]
            k = 0
            for (r, sigma, t, m, s, td, th) in curves:
                if r != rule:
                    continue
                theory_line(ax, td, th, color=f"C{k}", label=rf"moment ODEs, $\sigma$={sigma:g}")
                simulation_points(ax, t, m, s, color=f"C{k}", label="simulated ensemble")
                k += 1
            ax.set(yscale="log", xlabel=r"time $t$", ylabel=r"$\mathrm{tr\,Cov}(w)$",
                   title=f"{_LABEL[rule]}, $\\lambda$={lam:g}")
            ax.legend(fontsize="small")
        fig.tight_layout()
        figures = save_figure(fig, config.out_dir, "perceptron_covariance")
    return ExperimentResult("perceptron-covariance", tuple(comparisons), config.seed,
                            tuple(figures), p, extra)
