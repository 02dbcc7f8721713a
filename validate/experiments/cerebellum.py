r"""``learndyn validate cerebellum-*``: seed 000, learning speed vs steady-state loss of online
learning in a cerebellum-like expanded layer, with the steady state measured properly.

Model: :mod:`numerics.cerebellum` (the seed's plant and PID, a reference of four sinusoids,
``N = 10 q`` granule cells, the authors' LMS-like rule every second with learning-rule noise
of size :math:`\gamma/\mathrm{SNR}` (``noise=step``) or proportional to the update
(``noise=proportional``)).  Theory: the exact mean and covariance of the online rule
(:mod:`numerics.cerebellum.moments`): expected task loss after every update, the exact
periodic steady state (discrete Lyapunov equation), the exact dynamic learning speed.
Simulation: :mod:`numerics.sim.cerebellum`, all expansions, learning steps and replicas in
one array.  Learning steps are fractions of each expansion's stability bound of the mean
(:func:`~numerics.cerebellum.moments.max_stable_gamma` without noise), which is the
mean-square bound for noise of size gamma/SNR.

* ``cerebellum-moments`` — expected task-loss curves :math:`E[L(w_j)]` against ensemble
  means (standard errors from independent replicas, Šidák over the recorded updates), for
  several learning steps, expansions and both noise models.
* ``cerebellum-protocols`` — the seed's naive protocol (small initial weights, 400 s,
  "steady state" = mean task loss over the last 10 updates) against the correct one (start
  from the exact stationary distribution, average over a whole period of the reference,
  intervals from independent runs).  Both are judged against their exact expectations; the
  naive one also against the true steady state, which it misses (the seed's wrong shape:
  loss falling with :math:`\gamma` at small :math:`\gamma`).  Each single run's series is
  also put through :func:`numerics.stats.steady_state`, which flags the naive small-step
  runs as not stationary.
* ``cerebellum-tradeoff`` — the seed's figure: dynamic learning speed over the first updates
  against steady-state loss, one curve per expansion, exact lines and simulated points.

Statistics: every comparison is a mean over independent replicas judged with a Šidák bound
over its points; the per-replica losses are right-skewed (quadratic forms of Gaussian-like
weights), so the t statistic is corrected for skewness (Hall 1992,
:func:`validate.compare.skew_compare`).
Calibration (``learndyn calibrate NAME --seeds 100 --quick``): every comparison inside its
99% acceptance interval; failure rates 1.0% (moments), 1.0% (protocols) and 2.2% (trade-off)
against a nominal 1%, mean signed z within +-0.13.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from numerics.cerebellum import CerebellarTask
from numerics.cerebellum.moments import (
    OnlineRule,
    dynamic_speed_expansion,
    learning_geometry,
    max_stable_gamma,
    propagate_moments,
    small_gamma_stationary,
    static_learning_speed,
    stationary_moments,
)
from numerics.sim.cerebellum import simulate_online_learning
from numerics.stats import steady_state
from validate.compare import skew_compare
from validate.params import Choice, Float, FloatList, Int, IntList, Text
from validate.plotting import new_figure, save_figure, simulation_points, theory_line
from validate.registry import ExperimentResult, RunConfig, register_experiment


def _common(decay_gt0: bool) -> dict:
    decay = (Float(3e-3, "weight decay kappa of the rule (> 0: without it no steady state is in "
                   "reach)", gt=0) if decay_gt0 else
             Float(3e-3, "weight decay kappa of the rule", ge=0))
    return {
        "task_seed": Int(0, "seed of the task: reference trajectory and granule layer", min=0),
        "reference": Choice("sines", ("sines", "fourier"), "reference trajectory: four "
                            "sinusoids (the seed's) or a truncated white-noise Fourier series"),
        "duration_s": Float(400.0, "trajectory length T in seconds (one period of the "
                            "reference; a multiple of the 1 s update interval)", ge=20),
        "decay": decay,
        "snr": Float(3.0, "signal-to-noise ratio of the learning-rule noise", gt=0),
    }


def _check_duration(p: dict, quick: bool) -> None:
    if abs(p["duration_s"] - round(p["duration_s"])) > 1e-9:
        raise ValueError(f"parameter 'duration_s' must be a whole number of seconds (the "
                         f"update interval is 1 s), got {p['duration_s']:g}")


@lru_cache(maxsize=64)
def _task(q: int, task_seed: int, reference: str, duration_s: float) -> CerebellarTask:
    return CerebellarTask(q, seed=task_seed, duration_s=duration_s, reference=reference)


@lru_cache(maxsize=256)
def _bound(q: int, task_seed: int, reference: str, duration_s: float, decay: float) -> float:
    """The stability bound of the mean (spectral radius of the monodromy below 1); it is
    also the mean-square bound with noise of size gamma/SNR, and an upper bound of the
    mean-square bound with noise proportional to the update (the exact moments hold over any
    finite horizon either way)."""
    task = _task(q, task_seed, reference, duration_s)
    return max_stable_gamma(task, OnlineRule(0.01, noise="none", decay=decay), rtol=1e-2)


@lru_cache(maxsize=1024)  # the tradeoff at its defaults needs ~800 entries (tens of MB)
def _theory(fn, task: CerebellarTask, rule: OnlineRule, *args):
    """``fn(task, rule, *args)`` remembered for the process, tuple arguments passed on as
    arrays (the initial weights).  The exact theory of a (task, rule) pair does not depend on
    the seed, so a calibration sweep running many seeds in one worker computes it once (the
    tradeoff's exact lines were ~85% of a run).  The key holds ``fn`` itself, so a test that
    patches a theory function never reads a value cached from the real one; tasks come from
    :func:`_task` (one object per task) and rules are frozen dataclasses (equal by value)."""
    return fn(task, rule, *(np.asarray(a) if isinstance(a, tuple) else a for a in args))


def _naive_expectation(task, rule, n: int, last: int, w0, propagate) -> float:
    """Exact expectation of the naive protocol: the mean expected loss over the last
    ``last`` of ``n`` updates from ``w0`` (``propagate``: :func:`propagate_moments`)."""
    return float(propagate(task, rule, n, w0=w0).expected_loss[n - last + 1:].mean())


def clear_cache() -> None:
    """Forget cached tasks, stability bounds and exact theory."""
    _task.cache_clear()
    _bound.cache_clear()
    _theory.cache_clear()


def _tasks_and_rules(p: dict, qs, fractions, noise: str):
    tasks = [_task(q, p["task_seed"], p["reference"], p["duration_s"]) for q in qs]
    rules = {}
    for i, q in enumerate(qs):
        b = _bound(q, p["task_seed"], p["reference"], p["duration_s"], p["decay"])
        rules[i] = [OnlineRule(f * b, noise=noise, snr=p["snr"], decay=p["decay"])
                    for f in fractions]
    return tasks, rules


def initial_weights(task: CerebellarTask, seed: int = 1000) -> np.ndarray:
    """Small random initial weights, :math:`N(0, 1/N)` (the authors' ``nn_matrices``); the
    same for every run of a task (``seed`` + q)."""
    rng = np.random.default_rng(seed + task.q)
    return rng.normal(0.0, 1.0 / np.sqrt(task.n_weights), task.n_weights)


# ------------------------------------------------------------------------------------------
# cerebellum-moments
# ------------------------------------------------------------------------------------------

MOMENTS_PARAMS = {
    **_common(decay_gt0=False),
    "qs": IntList("1,3,9", "expansions q (N = 10 q granule cells)", min=1, quick="1,3"),
    "fractions": FloatList("0.05,0.3", "learning steps as fractions of each expansion's "
                           "stability bound of the mean", gt=0, lt=1),
    "noises": Text("step,proportional", "learning-rule noise models, comma-separated: step "
                   "(size gamma/SNR, the authors') and/or proportional (to the update)"),
    "moment_snr": Float(1.0, "signal-to-noise ratio of the noise in this experiment (strong, "
                        "so that the covariance term matters)", gt=0),
    "updates": Int(400, "updates simulated (1 s each)", min=1, quick=200),
    "replicas": Int(300, "independent runs per configuration", min=2, quick=150),
    "points": Int(20, "log-spaced updates compared on each curve (repeats merged)", min=1,
                  quick=15),
}


def _check_moments(p: dict, quick: bool) -> None:
    _check_duration(p, quick)
    noises = [n.strip() for n in p["noises"].split(",") if n.strip()]
    bad = [n for n in noises if n not in ("step", "proportional", "additive")]
    if not noises or bad:
        raise ValueError(f"parameter 'noises' must list step and/or proportional, got "
                         f"{p['noises']!r}")
    if "additive" in noises:
        raise ValueError("parameter 'noises': additive noise needs a fixed noise_std, which "
                         "this experiment does not set; use step (the same noise with "
                         "sigma = gamma/SNR)")


@register_experiment("cerebellum-moments", "cerebellar online learning (seed 000): exact "
                     "expected task-loss curves vs simulation ensembles", MOMENTS_PARAMS,
                     _check_moments)
def run_moments(config: RunConfig) -> ExperimentResult:
    p = dict(config.params)
    qs, fr = list(p["qs"]), list(p["fractions"])
    noises = [n.strip() for n in p["noises"].split(",") if n.strip()]
    n = int(p["updates"])
    rec = np.unique(np.geomspace(1, n, int(p["points"])).astype(int))
    tasks = [_task(q, p["task_seed"], p["reference"], p["duration_s"]) for q in qs]
    pairs, labels = [], []
    for i, q in enumerate(qs):
        for noise in noises:
            b = _bound(q, p["task_seed"], p["reference"], p["duration_s"], p["decay"])
            for f in fr:
                pairs.append((i, OnlineRule(f * b, noise=noise, snr=p["moment_snr"],
                                            decay=p["decay"])))
                labels.append(f"q={q}, gamma={f * b:.4g} ({f:g} of bound), noise={noise}")
    w0 = {t.q: initial_weights(t) for t in tasks}
    ens = simulate_online_learning(tasks, None, n, replicas=int(p["replicas"]), seed=config.seed,
                                   configs=pairs, record_updates=rec, progress=config.progress,
                                   start=lambda task, rule: (w0[task.q], None))
    comparisons, curves = [], []
    for ci, ((i, rule), label) in enumerate(zip(pairs, labels)):
        exact = propagate_moments(tasks[i], rule, n, w0=w0[tasks[i].q])
        comparisons.append(skew_compare(f"E[L(w_j)], {label}", exact.expected_loss[rec],
                                           ens.losses[ci], x=rec,
                                           note=f"{rec.size} updates, Sidak 99%"))
        curves.append((tasks[i].q, rule, exact, ens.mean[ci], ens.sem[ci]))
    figures: list[str] = []
    if config.out_dir is not None and config.figures:
        figures = _plot_moments(curves, rec, qs, ens.replicas, config.out_dir)
    extra = {"configs": labels, "replicas": ens.replicas,
             "L_min": {str(t.q): t.L_min for t in tasks}}
    return ExperimentResult("cerebellum-moments", tuple(comparisons), config.seed,
                            tuple(figures), p, extra)


def _plot_moments(curves, rec, qs, replicas, out_dir) -> list[str]:
    fig, axes = new_figure(len(qs), 1)
    for k, q in enumerate(qs):
        ax = axes[0, k]
        i = 0
        for cq, rule, exact, mean, sem in curves:
            if cq != q:
                continue
            color = f"C{i}"
            i += 1
            theory_line(ax, exact.updates[1:], exact.expected_loss[1:], color=color,
                        label=rf"$\gamma$={rule.gamma:.3g}, {rule.noise}")
            simulation_points(ax, rec, mean, sem, color=color)
        ax.set(xscale="log", yscale="log", xlabel="update j (s)",
               ylabel=r"$E[L(w_j)]$" if k == 0 else None, title=f"q = {q}")
        ax.legend(fontsize="x-small")
    axes[0, 0].text(0.02, 0.02, f"lines: exact moments; points: mean of {replicas} runs "
                    "± 1 s.e.", transform=axes[0, 0].transAxes, fontsize="x-small")
    fig.tight_layout()
    return save_figure(fig, out_dir, "cerebellum_moments")


# ------------------------------------------------------------------------------------------
# cerebellum-protocols
# ------------------------------------------------------------------------------------------

PROTOCOL_PARAMS = {
    **_common(decay_gt0=True),
    "qs": IntList("1,3,9", "expansions q (N = 10 q granule cells)", min=1, quick="1,9"),
    "fractions": FloatList("0.02,0.05,0.1,0.2,0.4", "learning steps as fractions of each "
                           "expansion's mean-square stability bound (ascending)", gt=0, lt=1,
                           min_items=2, quick="0.02,0.1,0.4"),
    "noise": Choice("step", ("step", "proportional"), "learning-rule noise: size gamma/SNR "
                    "(the authors') or proportional to the update"),
    "replicas": Int(200, "independent runs per configuration", min=2, quick=150),
    "naive_updates": Int(400, "length of the naive protocol's run (the seed: 400 s)", min=2),
    "last": Int(10, "the naive 'steady state' averages the last this many updates", min=1),
    "speed_updates": Int(20, "updates over which the dynamic learning speed is measured",
                         min=1),
}


def _check_protocols(p: dict, quick: bool) -> None:
    _check_duration(p, quick)
    if list(p["fractions"]) != sorted(p["fractions"]):
        raise ValueError("parameter 'fractions' must be ascending")
    for k in ("last", "speed_updates"):
        if p[k] > p["naive_updates"]:
            raise ValueError(f"parameter {k!r} ({p[k]}) must be <= naive_updates "
                             f"({p['naive_updates']})")


@register_experiment("cerebellum-protocols", "cerebellar online learning (seed 000): the "
                     "seed's naive steady-state protocol vs the exact steady state",
                     PROTOCOL_PARAMS, _check_protocols)
def run_protocols(config: RunConfig) -> ExperimentResult:
    p = dict(config.params)
    qs, fr = list(p["qs"]), list(p["fractions"])
    tasks, rules = _tasks_and_rules(p, qs, fr, p["noise"])
    pairs = [(i, r) for i in range(len(qs)) for r in rules[i]]
    n, last = int(p["naive_updates"]), int(p["last"])
    R = int(p["replicas"])
    w0 = {t.q: initial_weights(t) for t in tasks}
    seeds = np.random.SeedSequence(config.seed).spawn(2)
    naive = simulate_online_learning(tasks, None, n, replicas=R, seed=seeds[0], configs=pairs,
                                     progress=config.progress,
                                     start=lambda task, rule: (w0[task.q], None))
    stat = [_theory(stationary_moments, tasks[i], r) for i, r in pairs]
    K = stat[0].phase_loss.size
    correct = simulate_online_learning(tasks, None, K - 1, replicas=R, seed=seeds[1],
                                       configs=pairs, progress=config.progress,
                                       start=[(s.mean, s.cov) for s in stat])
    naive_mean, naive_sem = naive.time_average(n - last + 1, n)
    ns = int(p["speed_updates"])
    corr_mean, corr_sem = correct.time_average(0, K - 1)
    comparisons, rows = [], []
    for k, q in enumerate(qs):
        idx = [ci for ci, (i, _) in enumerate(pairs) if i == k]
        gam = np.array([pairs[ci][1].gamma for ci in idx])
        w0t = tuple(w0[q])
        ex_naive = np.array([_theory(_naive_expectation, tasks[k], pairs[ci][1], n, last, w0t,
                                     propagate_moments) for ci in idx])
        xi = np.array([stat[ci].loss for ci in idx])
        L0 = tasks[k].task_loss(w0[q])
        j_ns = int(np.searchsorted(naive.updates, ns))
        speed_samples = (L0 - naive.losses[idx, :, j_ns].T) / (ns * L0)  # (R, steps)
        speed_sim = speed_samples.mean(axis=0)
        speed_sem = speed_samples.std(axis=0, ddof=1) / np.sqrt(R)
        speed_ex = np.array([_theory(_dyn_speed, tasks[k], pairs[ci][1], w0t, ns)
                             for ci in idx])
        comparisons.append(skew_compare(
            f"dynamic learning speed over {ns} updates, q={q}: simulation vs exact", speed_ex,
            speed_samples, x=gam, note=f"{len(idx)} learning steps, Sidak"))
        naive_per = naive.losses[idx][:, :, n - last + 1:].mean(axis=2).T
        comparisons.append(skew_compare(
            f"naive protocol (mean task loss over the last {last} of {n} updates from small "
            f"weights), q={q}: simulation vs its exact expectation", ex_naive, naive_per,
            x=gam, note=f"{len(idx)} learning steps, Sidak"))
        corr_per = correct.losses[idx].mean(axis=2).T
        comparisons.append(skew_compare(
            f"correct protocol (stationary start, average over one period), q={q}: simulation"
            " vs exact steady-state loss", xi, corr_per, x=gam,
            note=f"{len(idx)} learning steps, Sidak"))
        for j, ci in enumerate(idx):
            single_naive = steady_state(naive.losses[ci, 0])
            single_corr = steady_state(correct.losses[ci, 0])
            rows.append({"q": q, "gamma": float(gam[j]), "fraction": fr[j],
                         "naive_sim": float(naive_mean[ci]), "naive_sem": float(naive_sem[ci]),
                         "naive_exact": float(ex_naive[j]),
                         "steady_sim": float(corr_mean[ci]), "steady_sem": float(corr_sem[ci]),
                         "steady_exact": float(xi[j]),
                         "naive_z_vs_steady": float((naive_mean[ci] - xi[j]) / naive_sem[ci]),
                         "speed_sim": float(speed_sim[j]), "speed_sem": float(speed_sem[j]),
                         "speed_exact": float(speed_ex[j]),
                         "single_run_naive": single_naive.to_dict(),
                         "single_run_correct": single_corr.to_dict()})
    shape = {}
    for q in qs:
        r = [x for x in rows if x["q"] == q]
        shape[str(q)] = {
            "naive_falls_at_small_gamma": bool(r[1]["naive_exact"] < r[0]["naive_exact"]),
            "steady_rises_at_small_gamma": bool(r[1]["steady_exact"] > r[0]["steady_exact"]),
            "steady_rises_everywhere": bool(np.all(np.diff([x["steady_exact"] for x in r]) > 0)),
            "naive_flagged_not_stationary": [not x["single_run_naive"]["stationary"]
                                             for x in r]}
    figures: list[str] = []
    if config.out_dir is not None and config.figures:
        figures = _plot_protocols(rows, qs, R, n, last, config.out_dir)
    extra = {"rows": rows, "shape": shape, "replicas": R, "period_updates": K}
    return ExperimentResult("cerebellum-protocols", tuple(comparisons), config.seed,
                            tuple(figures), p, extra)


def _plot_protocols(rows, qs, R, n, last, out_dir) -> list[str]:
    fig, axes = new_figure(3, 1)
    for k, q in enumerate(qs):
        r = [x for x in rows if x["q"] == q]
        g = np.array([x["gamma"] for x in r])
        color = f"C{k}"
        nv = np.array([x["naive_sim"] for x in r])
        nv_se = np.array([x["naive_sem"] for x in r])
        st = np.array([x["steady_sim"] for x in r])
        st_se = np.array([x["steady_sem"] for x in r])
        sp = np.array([x["speed_sim"] for x in r])
        sp_se = np.array([x["speed_sem"] for x in r])
        ax = axes[0, 0]
        theory_line(ax, g, [x["naive_exact"] for x in r], color=color, label=f"q = {q}")
        simulation_points(ax, g, nv, nv_se, color=color)
        flagged = np.array([not x["single_run_naive"]["stationary"] for x in r])
        if flagged.any():
            ax.plot(g[flagged], nv[flagged], "o", mfc="none", mec="k", ms=9)
        ax = axes[0, 1]
        theory_line(ax, g, [x["steady_exact"] for x in r], color=color, label=f"q = {q}")
        simulation_points(ax, g, st, st_se, color=color)
        ax = axes[0, 2]
        theory_line(ax, [x["naive_exact"] for x in r], [x["speed_exact"] for x in r],
                    color=color, ls="--")
        simulation_points(ax, nv, sp, sp_se, xerr=nv_se, color=color, mfc="none")
        theory_line(ax, [x["steady_exact"] for x in r], [x["speed_exact"] for x in r],
                    color=color, label=f"q = {q}")
        simulation_points(ax, st, sp, sp_se, xerr=st_se, color=color)
    axes[0, 0].plot([], [], "o", mfc="none", mec="k", ms=9,
                    label="its single run: 'not stationary'")
    axes[0, 0].set(xscale="log", yscale="log", xlabel=r"learning step $\gamma$",
                   ylabel="steady-state loss",
                   title=f"naive: mean of the last {last} of {n} updates")
    axes[0, 1].set(xscale="log", yscale="log", xlabel=r"learning step $\gamma$",
                   title="correct: the exact periodic steady state")
    vals = [x[k] for x in rows for k in ("naive_sim", "naive_exact", "steady_sim",
                                         "steady_exact")]
    for ax in axes[0, :2]:
        ax.set_ylim(0.8 * min(vals), 1.25 * max(vals))
    axes[0, 2].set(xscale="log", xlabel="steady-state loss",
                   ylabel="learning speed (first updates)",
                   title="trade-off: naive (dashed, open) vs correct")
    for ax in axes[0]:
        ax.legend(fontsize="x-small")
    axes[0, 1].text(0.02, 0.02, f"lines: exact moments; points: {R} runs ± 1 s.e.",
                    transform=axes[0, 1].transAxes, fontsize="x-small")
    fig.tight_layout()
    return save_figure(fig, out_dir, "cerebellum_protocols")


# ------------------------------------------------------------------------------------------
# cerebellum-tradeoff
# ------------------------------------------------------------------------------------------

TRADEOFF_PARAMS = {
    **_common(decay_gt0=True),
    "qs": IntList("1,2,3,4,5,6,7,8,9", "expansions q (N = 10 q granule cells)", min=1,
                  quick="1,3,9"),
    "fractions": FloatList("0.02,0.05,0.1,0.2,0.4", "simulated learning steps as fractions of "
                           "each expansion's mean-square stability bound", gt=0, lt=1,
                           quick="0.03,0.3"),
    "line_points": Int(16, "learning steps on each exact line (plus the simulated ones)", min=2,
                       quick=6),
    "noise": Choice("step", ("step", "proportional"), "learning-rule noise: size gamma/SNR "
                    "(the authors') or proportional to the update"),
    "replicas": Int(100, "independent runs per configuration", min=2, quick=60),
    "speed_updates": Int(20, "updates over which the dynamic learning speed is measured",
                         min=1),
}


@register_experiment("cerebellum-tradeoff", "cerebellar online learning (seed 000): learning "
                     "speed vs steady-state loss, one curve per expansion", TRADEOFF_PARAMS,
                     _check_duration)
def run_tradeoff(config: RunConfig) -> ExperimentResult:
    p = dict(config.params)
    qs, fr = list(p["qs"]), list(p["fractions"])
    tasks, rules = _tasks_and_rules(p, qs, fr, p["noise"])
    pairs = [(i, r) for i in range(len(qs)) for r in rules[i]]
    R, ns = int(p["replicas"]), int(p["speed_updates"])
    w0 = {t.q: initial_weights(t) for t in tasks}
    seeds = np.random.SeedSequence(config.seed).spawn(2)
    early = simulate_online_learning(tasks, None, ns, replicas=R, seed=seeds[0], configs=pairs,
                                     record_updates=[0, ns], progress=config.progress,
                                     start=lambda task, rule: (w0[task.q], None))
    stat = [_theory(stationary_moments, tasks[i], r) for i, r in pairs]
    K = stat[0].phase_loss.size
    late = simulate_online_learning(tasks, None, K - 1, replicas=R, seed=seeds[1],
                                    configs=pairs, progress=config.progress,
                                    start=[(s.mean, s.cov) for s in stat])
    xi_mean, xi_sem = late.time_average(0, K - 1)
    comparisons, curves = [], []
    line_fr = np.geomspace(min(fr) / 2, max(fr) * 1.5, int(p["line_points"]))
    for k, q in enumerate(qs):
        task = tasks[k]
        idx = [ci for ci, (i, _) in enumerate(pairs) if i == k]
        gam = np.array([pairs[ci][1].gamma for ci in idx])
        L0 = task.task_loss(w0[q])
        speed_samples = (L0 - early.losses[idx, :, 1].T) / (ns * L0)  # (R, steps)
        speed_sim = speed_samples.mean(axis=0)
        speed_sem = speed_samples.std(axis=0, ddof=1) / np.sqrt(R)
        w0t = tuple(w0[q])
        speed_ex = np.array([_theory(_dyn_speed, task, pairs[ci][1], w0t, ns) for ci in idx])
        xi = np.array([stat[ci].loss for ci in idx])
        comparisons.append(skew_compare(f"dynamic learning speed over {ns} updates, q={q}: "
                                           "simulation vs exact", speed_ex, speed_samples, x=gam,
                                           note=f"{len(idx)} learning steps, Sidak"))
        comparisons.append(skew_compare(
            f"steady-state loss, q={q}: simulation (stationary start, one period) vs exact", xi,
            late.losses[idx].mean(axis=2).T, x=gam, note=f"{len(idx)} learning steps, Sidak"))
        base = pairs[idx[0]][1]
        bound = gam[0] / fr[0]
        g_line = np.unique(np.concatenate([line_fr * bound, gam]))  # through the points
        line = {"gamma": g_line.tolist(), "speed": [], "steady": [], "static": [],
                "speed_small": [], "steady_small": []}
        exp = _theory(dynamic_speed_expansion, task, base, w0t, ns)
        for g in g_line:
            r = base.with_gamma(float(g))
            line["speed"].append(_theory(_dyn_speed, task, r, w0t, ns))
            line["steady"].append(_theory(stationary_moments, task, r).loss)
            line["static"].append(_theory(static_learning_speed, task, r, w0t)["speed"])
            line["speed_small"].append(float(exp.speed(g)))
            line["steady_small"].append(_theory(small_gamma_stationary, task, r).loss)
        curves.append({"q": q, "gamma": gam.tolist(), "speed_sim": speed_sim.tolist(),
                       "speed_sem": speed_sem.tolist(), "speed_exact": speed_ex.tolist(),
                       "steady_sim": xi_mean[idx].tolist(), "steady_sem": xi_sem[idx].tolist(),
                       "steady_exact": xi.tolist(), "line": line, "L0": L0,
                       "L_min": task.L_min, "bound": bound})
    # how the first update's geometry scales with q (the seed's theory: |grad L| ~ q^(1/2),
    # Hessian projection ~ q^rho, tr H / N constant)
    geometry = {str(q): _theory(learning_geometry, tasks[k], rules[k][0], tuple(w0[q])) for k, q in
                enumerate(qs)}
    scaling = {}
    if len(qs) >= 2:
        lq = np.log(np.array(qs, dtype=float))
        for key in ("grad_norm", "hess_proj", "trH_N", "update_norm"):
            v = np.array([geometry[str(q)][key] for q in qs])
            scaling[key] = float(np.polyfit(lq, np.log(np.abs(v)), 1)[0])
        best = [max(c["line"]["speed"]) for c in curves]
        scaling["max_speed"] = float(np.polyfit(lq, np.log(best), 1)[0])
    figures: list[str] = []
    if config.out_dir is not None and config.figures:
        figures = _plot_tradeoff(curves, ns, R, config.out_dir)
    extra = {"curves": curves, "replicas": R, "geometry": geometry,
             "scaling_exponents": scaling}
    return ExperimentResult("cerebellum-tradeoff", tuple(comparisons), config.seed,
                            tuple(figures), p, extra)


def _dyn_speed(task, rule, w0, n) -> float:
    tr = propagate_moments(task, rule, n, w0=w0)
    return float((tr.expected_loss[0] - tr.expected_loss[-1]) / (n * tr.expected_loss[0]))


def _plot_tradeoff(curves, ns, R, out_dir) -> list[str]:
    import matplotlib as mpl

    fig, axes = new_figure(3, 1)
    cmap = mpl.colormaps["viridis"]
    qs = [c["q"] for c in curves]
    for c in curves:
        color = cmap((c["q"] - min(qs)) / max(1, max(qs) - min(qs)) * 0.9)
        ln = c["line"]
        ax = axes[0, 0]
        theory_line(ax, ln["steady"], ln["speed"], color=color, label=f"q = {c['q']}")
        simulation_points(ax, c["steady_sim"], c["speed_sim"], c["speed_sem"], color=color,
                          xerr=c["steady_sem"])
        ax = axes[0, 1]
        theory_line(ax, ln["gamma"], ln["speed"], color=color)
        static = np.array(ln["static"])
        theory_line(ax, np.array(ln["gamma"])[static > 0], static[static > 0], color=color,
                    ls=":")
        simulation_points(ax, c["gamma"], c["speed_sim"], c["speed_sem"], color=color)
        ax = axes[0, 2]
        theory_line(ax, ln["gamma"], ln["steady"], color=color)
        theory_line(ax, ln["gamma"], ln["steady_small"], color=color, ls="--", lw=0.8)
        simulation_points(ax, c["gamma"], c["steady_sim"], c["steady_sem"], color=color)
    axes[0, 0].set(xscale="log", xlabel=r"steady-state loss $\xi$",
                   ylabel=f"learning speed (first {ns} updates)",
                   title="trade-off (points: vary $\\gamma$)")
    axes[0, 0].legend(fontsize="x-small", ncol=2)
    axes[0, 1].set(xscale="log", yscale="log", xlabel=r"learning step $\gamma$",
                   ylabel="relative loss decrease per update",
                   title="speed: first updates (solid), one update (dotted)")
    axes[0, 2].set(xscale="log", yscale="log", xlabel=r"learning step $\gamma$",
                   ylabel=r"steady-state loss $\xi$",
                   title=r"steady state: exact (solid), small-$\gamma$ (dashed)")
    axes[0, 0].text(0.02, 0.02, f"lines: exact moments; points: {R} runs ± 1 s.e.",
                    transform=axes[0, 0].transAxes, fontsize="x-small")
    fig.tight_layout()
    return save_figure(fig, out_dir, "cerebellum_tradeoff")
