r"""``learndyn validate estimators-training``: training with gradient estimators on the
handwritten digits (seed 003, "Real Application: MNIST": linear classifier and ANN).

* **Linear classifier** (mean-squared-error loss on one-hot targets, so the loss is exactly
  quadratic in the weights, Hessian :math:`I_K\otimes\frac1n X^\top X`): ``replicas``
  learners trained side by side with weight perturbation (the baseline score function,
  S + 1 evaluations per step) and with antithetic pairs (2S), against the *exact* expected
  learning curve :math:`E[L_t] - L^* = \frac12\sum_j\lambda_j p_{j,t}` of
  :func:`theory.estimators.training_recursion` (per eigen-direction of the Hessian); exact
  gradient descent against the same recursion without noise (deterministic).  Test
  accuracy curves for all three, chance level marked.
* **Sigmoid network** (one hidden layer, every weight trained): exact back-propagation
  against the antithetic score function, perturbation regression with S far below the
  number of parameters (minimum-norm solution) and node perturbation; test accuracy curves
  (no closed form: a demonstration, numbers in the report's ``extra``).

The learning rate of the estimators is ``rate`` times
:math:`\eta = 1/(\lambda_{\max}(1 + (d_{\mathrm{eff}} + 1)/S))`,
:math:`d_{\mathrm{eff}} = \operatorname{tr}H^2/\lambda_{\max}^2` (the optimal rate of the
antithetic recursion for an isotropic Hessian, as in Werfel, Xie & Seung 2005); exact
gradient descent uses :math:`1/\lambda_{\max}`.
"""

from __future__ import annotations

import numpy as np

from numerics.datasets import load_digits_classes
from numerics.estimators import estimate, quadratic_training_curve
from numerics.small_nets import LinearClassifier, SigmoidNetwork
from validate.compare import compare, tolerance_check
from validate.params import Float, Int, IntList
from validate.plotting import new_figure, save_figure, simulation_points, theory_line
from validate.registry import ExperimentResult, RunConfig, register_experiment

PARAMS = {
    "classes": IntList("0,1,2,3", "digits to classify", min=0, max=9),
    "train": Int(300, "training examples (the rest of those digits are the test set)", min=10),
    "S": Int(8, "perturbations per estimate", min=1),
    "sigma": Float(0.01, "perturbation size (weight perturbation's noise floor grows as "
                   "sigma^2; antithetic pairs do not depend on it)", gt=0),
    "rate": Float(1.0, "learning rate of the estimators in units of the isotropic optimum "
                  "(module docstring)", gt=0, lt=2),
    "steps": Int(400, "training steps of the linear classifier", min=2, quick=150),
    "replicas": Int(100, "learners trained side by side per estimator", min=10, quick=60),
    "points": Int(8, "log-spaced steps compared on each learning curve", min=2),
    "hidden": Int(16, "hidden units of the sigmoid network", min=1),
    "net_steps": Int(400, "training steps of the sigmoid network", min=2, quick=50),
    "net_rate": Float(2.0, "learning rate of the sigmoid network (backprop and estimators "
                      "alike)", gt=0),
}

ESTIMATORS = {"baseline": "weight-perturbation", "antithetic": "score-antithetic"}
NAMES = {"exact": "exact gradient", "baseline": "weight perturbation (baseline)",
         "antithetic": "antithetic score function", "regression": "regression (min-norm)",
         "node": "node perturbation"}
COLORS = {"exact": "k", "baseline": "C1", "antithetic": "C2", "regression": "C3",
          "node": "C4"}


def _check(p: dict, quick: bool) -> None:
    if len(set(p["classes"])) < 2:
        raise ValueError("parameter 'classes' needs two or more distinct digits")


def digits_split(classes, train: int, seed: int = 11):
    """A fixed train/test split of the digits ``classes`` (the rest are the test set)."""
    X, y = load_digits_classes(classes)
    if train >= X.shape[0]:
        raise ValueError(f"parameter 'train' must be below the {X.shape[0]} examples of "
                         f"digits {tuple(classes)}, got {train}")
    idx = np.random.default_rng(seed).permutation(X.shape[0])
    return X[idx[:train]], y[idx[:train]], X[idx[train:]], y[idx[train:]]


def linear_problem(X, y, K):
    """The classifier, its Hessian spectrum (eigen-directions of the weight space), the
    minimiser and the minimum loss."""
    clf = LinearClassifier(X, y, K)
    Xb = np.concatenate([X, np.ones((X.shape[0], 1))], axis=1)
    C = Xb.T @ Xb / Xb.shape[0]
    lam, Q = np.linalg.eigh(C)
    lam = np.clip(lam, 0.0, None)
    T = np.eye(K)[y]
    W_star = np.linalg.lstsq(Xb, T, rcond=None)[0].T  # (K, n_in + 1)
    L_star = float(clf.losses(W_star.ravel())[0])
    return clf, lam, Q, W_star, L_star


def _accuracy(outputs, y):
    """Accuracy ``(R,)`` of outputs ``(R, n, K)``."""
    return np.mean(np.argmax(outputs, axis=-1) == y, axis=-1)


@register_experiment("estimators-training", "seed 003: training a linear classifier and a "
                     "sigmoid network on handwritten digits with weight perturbation, "
                     "antithetic score function, regression and node perturbation vs exact "
                     "gradients; exact expected learning curves of the linear classifier",
                     PARAMS, _check)
def run_training(config: RunConfig) -> ExperimentResult:
    p = dict(config.params)
    K = len(p["classes"])
    Xtr, ytr, Xte, yte = digits_split(p["classes"], p["train"])
    clf, lam1, Q, W_star, L_star = linear_problem(Xtr, ytr, K)
    test = LinearClassifier(Xte, yte, K)
    d, S, sigma, T, R = clf.dim, p["S"], p["sigma"], p["steps"], p["replicas"]
    lam = np.tile(lam1, K)  # H = I_K (x) C: the eigenvalues of C, K times
    lmax = float(lam.max())
    d_eff = float(np.sum(lam**2)) / lmax**2
    eta_gd = 1.0 / lmax
    eta = p["rate"] / (lmax * (1.0 + (d_eff + 1.0) / S))
    theta0 = np.zeros(d)
    p0 = (((theta0.reshape(K, -1) - W_star) @ Q) ** 2).ravel()
    rec = np.unique(np.r_[0, np.geomspace(1, T, p["points"]).astype(int)])
    root = np.random.SeedSequence(config.seed)
    comparisons = []
    lin: dict = {}

    # exact gradient descent (deterministic): the recursion without noise
    th, ex_loss, ex_acc = theta0.copy(), [], []
    for t in range(T + 1):
        if t in rec:
            ex_loss.append(float(clf.losses(th)[0]) - L_star)
            ex_acc.append(test.accuracy(th))
        th = th - eta_gd * clf.gradient(th)
    ex_theory = quadratic_training_curve("exact", lam, p0, eta_gd, S, sigma, T)[rec]
    comparisons.append(tolerance_check(
        "linear classifier, exact gradient: excess loss vs the recursion", ex_theory, ex_loss,
        rtol=1e-6, atol=1e-12, x=rec, note="deterministic; eta = 1/lambda_max"))
    lin["exact"] = (eta_gd, np.array(ex_loss), np.zeros(len(rec)), ex_theory,
                    np.array(ex_acc), np.zeros(len(rec)))

    for v, method in ESTIMATORS.items():
        ths = np.tile(theta0, (R, 1))
        seeds = root.spawn(T)
        m, se, am, ase = [], [], [], []
        for t in range(T + 1):
            if t in rec:
                e = clf.losses(ths) - L_star
                m.append(float(e.mean()))
                se.append(float(e.std(ddof=1) / np.sqrt(R)))
                a = _accuracy(test.outputs(ths), yte)
                am.append(float(a.mean()))
                ase.append(float(a.std(ddof=1) / np.sqrt(R)))
            if t < T:
                ths = ths - eta * estimate(method, clf, ths, S, sigma, seed=seeds[t]).grad
        theory = quadratic_training_curve(v, lam, p0, eta, S, sigma, T)[rec]
        comparisons.append(compare(  # t = 0 is deterministic (every learner at theta_0)
            f"linear classifier, {NAMES[v]}: excess loss E[L_t] - L* (S={S}, d={d})",
            theory[1:], m[1:], se[1:], x=rec[1:],
            note=f"{len(rec) - 1} steps, Sidak 99%, {R} learners; eta = {eta:.3g}"))
        lin[v] = (eta, np.array(m), np.array(se), theory, np.array(am), np.array(ase))

    t_all = np.arange(1, T + 1)
    full = {"exact": (t_all, quadratic_training_curve("exact", lam, p0, eta_gd, S, sigma, T)[1:])}
    full.update({v: (t_all, quadratic_training_curve(v, lam, p0, eta, S, sigma, T)[1:])
                 for v in ESTIMATORS})

    # sigmoid network: every weight trained; accuracy curves (no closed form)
    net = SigmoidNetwork(Xtr, ytr, K, p["hidden"])
    net_test = SigmoidNetwork(Xte, yte, K, p["hidden"])
    th0 = net.initial(3, scale=1.0)
    Tn, eta_n = p["net_steps"], p["net_rate"]
    rec_n = np.unique(np.r_[0, np.geomspace(1, Tn, p["points"]).astype(int)])
    nets: dict = {}
    for key, method in (("exact", "pathwise"), ("antithetic", "score-antithetic"),
                        ("regression", "regression"), ("node", "node-perturbation")):
        th = th0.copy()
        seeds = root.spawn(Tn)
        acc, loss = [], []
        for t in range(Tn + 1):
            if t in rec_n:
                acc.append(net_test.accuracy(th))
                loss.append(float(net.losses(th)[0]))
            if t < Tn:
                if key == "exact":
                    g = net.gradient(th)
                else:
                    g = estimate(method, net, th, S, sigma, seed=seeds[t]).grad
                th = th - eta_n * g
        nets[key] = (np.array(acc), np.array(loss))

    figures: list[str] = []
    if config.out_dir is not None and config.figures:
        figures = plot_training(lin, full, rec, nets, rec_n, p, d, net.dim, K, config.out_dir)
    extra = {
        "linear": {"d": d, "lambda_max": lmax, "d_eff": d_eff, "eta_gd": eta_gd,
                   "eta_estimators": eta, "L_star": L_star,
                   "final_test_accuracy": {k: float(v[4][-1]) for k, v in lin.items()},
                   "final_excess_loss": {k: float(v[1][-1]) for k, v in lin.items()}},
        "sigmoid": {"d": net.dim, "steps": Tn, "eta": eta_n,
                    "final_test_accuracy": {k: float(v[0][-1]) for k, v in nets.items()},
                    "final_train_loss": {k: float(v[1][-1]) for k, v in nets.items()}},
        "chance": 1.0 / K,
    }
    return ExperimentResult("estimators-training", tuple(comparisons), config.seed,
                            tuple(figures), p, extra)


def plot_training(lin, full, rec, nets, rec_n, p, d, dn, K, out_dir) -> list[str]:
    fig, axes = new_figure(3, 1)
    ax = axes[0, 0]
    for k, (eta, m, se, _th, _, _) in lin.items():
        c = COLORS[k]
        theory_line(ax, full[k][0], full[k][1], color=c, label=f"{NAMES[k]}, $\\eta$={eta:.2g}")
        simulation_points(ax, rec[1:], m[1:], se[1:], color=c)
    ax.set(xscale="log", yscale="log", xlabel="training steps",
           ylabel=r"excess loss $E[L_t] - L^*$",
           title=f"linear classifier on digits, d={d}, S={p['S']}")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    for k, (_, _, _, _, am, ase) in lin.items():
        simulation_points(ax, rec, am, ase, color=COLORS[k], fmt="o-", label=NAMES[k])
    ax.axhline(1.0 / K, color="0.5", ls=":", lw=1, label="chance")
    ax.set_xscale("symlog", linthresh=1)
    ax.set(xlabel="training steps (symmetric log: 0, then log)", ylabel="test accuracy",
           ylim=(0, 1), xlim=(0, None),
           title="linear classifier: test accuracy")
    ax.legend(fontsize=7)
    ax = axes[0, 2]
    for k, (acc, _) in nets.items():
        ax.plot(rec_n, acc, "o-", color=COLORS[k], ms=3.5, label=NAMES[k])
    ax.axhline(1.0 / K, color="0.5", ls=":", lw=1, label="chance")
    ax.set_xscale("symlog", linthresh=1)
    ax.set(xlabel="training steps (symmetric log: 0, then log)", ylabel="test accuracy",
           ylim=(0, 1), xlim=(0, None),
           title=f"sigmoid network, d={dn}, S={p['S']} (one run each)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out_dir, "estimators_training")
