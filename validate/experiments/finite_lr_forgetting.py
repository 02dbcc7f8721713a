r"""``learndyn validate finite-lr-perceptron-forgetting``: seed 002 Fig. 6 at the paper's
learning rate, the forgetting curve predicted to first order in eta (no extrapolation).

The paper's continual-learning setting (:mod:`validate.experiments.perceptron_forgetting`,
``perceptron-forgetting-paper``: N = 500, :math:`\lambda = 10`, :math:`\eta = 10^{-2}`, each
later task until 80% alignment with its own mean) is far from the :math:`\eta\to0` flow:
there the flow alone misses the simulated alignment after task 0 by more than ten standard
errors at :math:`\sigma = 0.1`.  The first-order theory (:mod:`numerics.perceptron_finite_lr`,
:func:`numerics.perceptron_finite_lr.first_order_protocol`: flow, mean shift :math:`\delta` and
covariance carried across the task changes) predicts

.. math:: A_k(\eta) = A(\bar w_k) + \eta\,\nabla A\cdot\delta_k + O(\eta^2)

for the alignment of :math:`\langle w\rangle` with :math:`\mu_0` after task k, on the
simulation's step grid (each task's time rounded to whole updates).

Comparisons per rule (SL, RL), Šidák over noise levels x tasks:

1. the simulated forgetting curve at :math:`\eta` against the first-order prediction;
2. the measured bias :math:`A_k(\eta) - A_k(\eta/2)` (independent runs) against the predicted
   difference (first order on each run's own step grid).

``extra`` holds the z of the flow alone (what a theory without the correction scores).
The noise levels are :math:`\sigma = 0.1` (:math:`\eta N\sigma^2 = 0.05`) and 0.5 (1.25, which
the perceptron-forgetting-paper experiment leaves unjudged as outside the :math:`\eta\to0`
theory; the first-order theory holds there within the simulation's error).
"""

from __future__ import annotations

import numpy as np

from numerics.perceptron_finite_lr import (
    FrameProblem,
    alignment_correction,
    first_order_protocol,
)
from numerics.sim.perceptron import ReducedPerceptronRule
from validate.compare import compare
from validate.experiments.perceptron import _LABEL, RULES, case_seeds, finish
from validate.experiments.perceptron_forgetting import (
    FG_PAPER_PARAMS,
    simulate_forgetting,
    task_vectors,
)
from validate.params import FloatList
from validate.plotting import new_figure, save_figure, simulation_points, theory_line
from validate.registry import ExperimentResult, RunConfig, register_experiment

_KEEP = ("dim", "lr", "lam", "tasks", "task_time", "replicas", "threshold", "w0_norm",
         "task_seed", "orthogonal_tasks", "curve_points")
PARAMS = {k: FG_PAPER_PARAMS[k] for k in _KEEP}
PARAMS["sigmas"] = FloatList("0.1,0.5", "isotropic class noise levels sigma", gt=0)


def first_order_forgetting(rule: str, sigma: float, p: dict, durations):
    """``(A, dA)`` after each task: the flow's alignment with mu_0 and its O(eta) coefficient,
    the protocol run with the given task ``durations`` (the simulation's step grid)."""
    vecs = task_vectors(p["dim"], p["tasks"], p["task_seed"], bool(p["orthogonal_tasks"]))
    means, w0 = vecs[:-1], p["w0_norm"] * vecs[-1]
    base = ReducedPerceptronRule.isotropic(rule, means[0], sigma, lr=p["lr"], lam=p["lam"],
                                           extra=(*means[1:], w0))
    prob = FrameProblem.from_reduced(base)
    means_c = means @ base.frame
    fo = first_order_protocol([prob.with_means(m) for m in means_c], durations,
                              base.coordinates(w0))
    flow = np.array([f.flow[-1] for f in fo])
    delta = np.array([f.delta[-1] for f in fo])
    return alignment_correction(means_c[0], flow, delta)


@register_experiment(
    "finite-lr-perceptron-forgetting",
    "finite learning rate, seed 002 Fig 6 in the paper's setting (N = 500, lambda = 10, "
    "eta = 1e-2, tasks to 80%): the forgetting curve at eta against the first-order "
    "prediction (no extrapolation), and the measured eta vs eta/2 bias",
    PARAMS)
def run_finite_lr_forgetting(config: RunConfig) -> ExperimentResult:
    p = dict(config.params)
    eta, sigmas = p["lr"], list(p["sigmas"])
    cases = [(r, s) for r in RULES for s in sigmas]
    comparisons, extra, curves = [], {}, {}
    seeds = iter(case_seeds(config.seed, len(cases)))
    for rule in RULES:
        rows = {k: [] for k in ("pred", "a1", "s1", "pred_d", "d", "sd", "flow", "x")}
        for sigma in sigmas:
            s_eta, s_half = next(seeds).spawn(2)
            v1 = simulate_forgetting(rule, sigma, p, s_eta)
            v2 = simulate_forgetting(rule, sigma, {**p, "lr": eta / 2}, s_half)
            A1, dA1 = first_order_forgetting(rule, sigma, p, v1["steps"] * eta)
            A2, dA2 = first_order_forgetting(rule, sigma, p, v2["steps"] * eta / 2)
            pred1, pred2 = A1 + eta * dA1, A2 + eta / 2 * dA2
            rows["pred"] += list(pred1)
            rows["flow"] += list(A1)
            rows["a1"] += list(v1["sim"])
            rows["s1"] += list(v1["sem"])
            rows["pred_d"] += list(pred1 - pred2)
            rows["d"] += list(v1["sim"] - v2["sim"])
            rows["sd"] += list(np.hypot(v1["sem"], v2["sem"]))
            rows["x"] += [f"sigma={sigma:g}, task {k}" for k in range(len(A1))]
            curves[(rule, sigma)] = (A1, pred1, v1["sim"], v1["sem"])
        r = {k: np.asarray(v) if k != "x" else v for k, v in rows.items()}
        xs = np.arange(len(r["x"]))
        z_flow = (r["a1"] - r["flow"]) / r["s1"]
        comparisons.append(compare(
            f"forgetting curve at eta = {eta:g} vs first-order theory, {rule.upper()}",
            r["pred"], r["a1"], r["s1"], x=xs,
            note=f"alignment of <w> with mu_0 after each task; N={p['dim']}, "
                 f"lambda={p['lam']:g}, {p['replicas']} replicas; the flow alone: max|z| = "
                 f"{np.max(np.abs(z_flow)):.2f}; points: " + ", ".join(r["x"])))
        comparisons.append(compare(
            f"forgetting: measured bias A(eta) - A(eta/2) vs predicted, {rule.upper()}",
            r["pred_d"], r["d"], r["sd"], x=xs,
            note="independent runs at eta and eta/2, first order on each run's step grid; "
                 f"predicted difference in standard errors: "
                 f"{np.round(r['pred_d'] / r['sd'], 1).tolist()}"))
        extra[rule] = {"points": r["x"], "flow": r["flow"].tolist(),
                       "first_order": r["pred"].tolist(), "sim": r["a1"].tolist(),
                       "sem": r["s1"].tolist(), "z_flow_alone_at_eta": z_flow.tolist(),
                       "z_predicted_bias": (r["pred_d"] / r["sd"]).tolist()}
    return finish("finite-lr-perceptron-forgetting", config, p, comparisons, extra,
                  plot=lambda out: _plot(p, sigmas, curves, out))


def _plot(p, sigmas, curves, out_dir) -> list[str]:
    fig, axes = new_figure(2, 1)
    for j, rule in enumerate(RULES):
        ax = axes[0, j]
        for c, sigma in enumerate(sigmas):
            A, pred, m, s = curves[(rule, sigma)]
            k = np.arange(A.size)
            theory_line(ax, k, pred - A, color=f"C{c}",
                        label=rf"first order $\eta\nabla A\cdot\delta$, $\sigma$={sigma:g}")
            simulation_points(ax, k, m - A, s, color=f"C{c}",
                              label=rf"simulation $-$ flow, $\sigma$={sigma:g}")
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set(xlabel="task k", ylabel=r"alignment with $\mu_0$: bias vs the flow",
               title=rf"{_LABEL[rule]}: $\eta$={p['lr']:g}, $\lambda$={p['lam']:g}, "
               rf"N={p['dim']}")
        ax.legend(fontsize="x-small")
    fig.tight_layout()
    return save_figure(fig, out_dir, "finite_lr_perceptron_forgetting")
