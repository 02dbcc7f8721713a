r"""``learndyn validate estimators-hh-training``: training a Hodgkin–Huxley network with
gradient estimators over a short and a long window (seed 003, "Real Application", BNN cases 1
and 2: "autodiff" works for short windows and is said to blow up for long ones).

**Task.**  Two digit classes of scikit-learn's 8x8 digits, average-pooled ``pool x pool`` to
:math:`(8/\mathrm{pool})^2` inputs in [0, 1]; a fixed train/test split.  The network is
:class:`numerics.hh_network.HHClassifier` (``hidden`` HH neurons driven by a fixed random
projection of the input, two HH output neurons with current synapses; trained parameters
:math:`\theta = (W, b)`, :math:`d = 2\,\mathrm{hidden} + 2`), softmax cross-entropy on the
output gating averaged over the window, current noise ``noise`` (one frozen realisation per
training step, shared by all perturbed networks of that step: common random numbers).

**Stable range.**  RK4 at ``dt = 0.05`` ms diverges when an HH cell is held at strongly
hyperpolarising currents (measured: a constant -20 uA/cm^2 with noise 0.5 diverges within
10 ms; -15 does not): the rates of the gating variables grow exponentially at very negative
V.  So after every step the weights are clipped to :math:`|W| \le w_{\max}` and the biases
to :math:`[b_{\min}, b_{\max}]`; the defaults keep the most negative current an output cell
can receive, :math:`b_{\min} - \mathrm{hidden}\,w_{\max}`, at -6 uA/cm^2 (plus noise).

**Check (deterministic, a real test of the tangent code).**  At the initial parameters and
the short window, the pathwise gradient (:mod:`numerics.hh_tangent`) against a centred
finite difference of the *same* noise-frozen loss with spacing ``fd_h`` (one batched
simulation of the 2d shifted networks); both differentiate the same discrete RK4 map, so they
agree to O(h^2).  The same is measured (not judged) at the long window.

**Measurements (demonstrations, in ``extra``).**  (i) Over ``trials`` independent noise
realisations and each window in ``windows``: the pathwise gradient's norm per trial (mean
and standard error), the norm of its mean over the trials (an estimate of the gradient of the
expected loss), their ratio (the signal-to-noise of one trial's gradient) and the largest
tangent entry :math:`\max|\partial y/\partial\theta|`.  (ii) Training for ``steps`` steps at
the short and the long window with the pathwise gradient (one noisy trial per step), the
antithetic score function (``S`` pairs, 2S evaluations) and perturbation regression (2S
perturbations: least squares once 2S > d), all with the same learning rate ``rate``; test
accuracy and training loss after every step; chance is 1/2.
"""

from __future__ import annotations

import numpy as np

from numerics.datasets import load_digits_classes
from numerics.estimators import estimate
from numerics.hh_network import HHClassifier, random_input_weights
from numerics.integrate import DivergenceError
from validate.compare import tolerance_check
from validate.params import Float, FloatList, Int, IntList
from validate.plotting import new_figure, save_figure, simulation_points
from validate.registry import ExperimentResult, RunConfig, register_experiment

PARAMS = {
    "classes": IntList("0,1", "the two digits to tell apart", min=0, max=9),
    "pool": Int(2, "average-pooling size of the 8x8 images (2: 16 inputs)", min=1, max=8),
    "hidden": Int(8, "hidden HH neurons", min=1),
    "train": Int(20, "training examples", min=2, quick=12),
    "test": Int(60, "test examples", min=2, quick=30),
    "short_ms": Float(20.0, "short window (ms)", gt=0),
    "long_ms": Float(200.0, "long window (ms)", gt=0),
    "steps": Int(20, "training steps", min=1, quick=6),
    "S": Int(10, "antithetic pairs per estimate (regression gets 2S perturbations)", min=1),
    "sigma": Float(0.3, "perturbation size (uA/cm^2 per unit of W or b)", gt=0),
    "rate": Float(10.0, "learning rate (all methods)", gt=0),
    "noise": Float(0.2, "current noise sigma (uA cm^-2 ms^1/2)", ge=0),
    "w_max": Float(1.5, "weights are clipped to [-w_max, w_max] (stable range, module "
                   "docstring)", gt=0),
    "b_min": Float(6.0, "lower clip of the output bias currents (uA/cm^2)"),
    "b_max": Float(20.0, "upper clip of the output bias currents (uA/cm^2)"),
    "windows": FloatList("10,20,50,100,200,500", "windows (ms) of the gradient-norm sweep",
                         gt=0, quick="10,50,200"),
    "trials": Int(16, "noise realisations per window in the sweep", min=2, quick=6),
    "fd_h": Float(1e-3, "finite-difference spacing of the pathwise check", gt=0),
    "fd_rtol": Float(1e-2, "tolerance of the pathwise check, relative to max |FD|", gt=0),
}

METHODS = {"pathwise": "pathwise", "antithetic": "score-antithetic",
           "regression": "regression"}
NAMES = {"pathwise": "pathwise (tangent, one noisy trial)",
         "antithetic": "antithetic score function", "regression": "regression"}
COLORS = {"pathwise": "C0", "antithetic": "C2", "regression": "C3"}


def _check(p: dict, quick: bool) -> None:
    if len(p["classes"]) != 2 or len(set(p["classes"])) != 2:
        raise ValueError("parameter 'classes' needs exactly two distinct digits")
    if 8 % p["pool"]:
        raise ValueError(f"parameter 'pool' must divide 8, got {p['pool']}")
    if not p["b_min"] < p["b_max"]:
        raise ValueError(f"parameters 'b_min' < 'b_max' required, got {p['b_min']}, "
                         f"{p['b_max']}")
    if not p["short_ms"] < p["long_ms"]:
        raise ValueError("parameter 'short_ms' must be below 'long_ms'")


def int_seed(ss: np.random.SeedSequence) -> int:
    """An integer seed drawn from ``ss``: the HH simulators spawn from a SeedSequence they
    are given (so reusing one object gives fresh noise each call); an integer seed names one
    frozen noise realisation, as common random numbers need."""
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def pooled_digits(classes, pool: int, train: int, test: int, seed: int = 11):
    """Two digit classes, average-pooled, a fixed train/test split."""
    X, y = load_digits_classes(classes)
    k = 8 // pool
    X = X.reshape(-1, k, pool, k, pool).mean(axis=(2, 4)).reshape(-1, k * k)
    if train + test > X.shape[0]:
        raise ValueError(f"parameters 'train' + 'test' must not exceed the {X.shape[0]} "
                         f"examples of digits {tuple(classes)}")
    idx = np.random.default_rng(seed).permutation(X.shape[0])
    tr, te = idx[:train], idx[train:train + test]
    return X[tr], y[tr], X[te], y[te]


def clip(model: HHClassifier, theta, p: dict) -> np.ndarray:
    """Clip ``theta`` to the stable range (module docstring)."""
    W, b = model.unpack(theta)
    return np.concatenate([np.clip(W, -p["w_max"], p["w_max"]).ravel(),
                           np.clip(b, p["b_min"], p["b_max"])])


def pathwise_check(model, theta, X, y, seed, h: float):
    """Pathwise gradient and the centred finite difference of the same noise-frozen loss."""
    loss0, g, res = model.gradient(theta, X, y, seed)
    d = theta.size
    pts = np.concatenate([theta + h * np.eye(d), theta - h * np.eye(d)])
    vals = model.losses(pts, X, y, seed)
    fd = (vals[:d] - vals[d:]) / (2 * h)
    return g, fd, float(res.max_tangent.max())


def gradient_sweep(model_at, theta, X, y, windows, trials: int, root) -> dict:
    """Pathwise gradients over ``trials`` noise realisations at each window."""
    out = {"window_ms": [], "norm_mean": [], "norm_se": [], "mean_norm": [], "snr": [],
           "max_tangent_median": [], "norm_max": []}
    seeds = [int_seed(s) for s in root.spawn(trials)]
    for w in windows:
        m = model_at(w)
        G, mt = [], []
        for s in seeds:
            _, g, res = m.gradient(theta, X, y, s)
            G.append(g)
            mt.append(float(res.max_tangent.max()))
        G = np.array(G)
        norms = np.linalg.norm(G, axis=1)
        mean = G.mean(axis=0)
        spread = np.sqrt(np.sum(G.var(axis=0, ddof=1)))
        out["window_ms"].append(float(w))
        out["norm_mean"].append(float(norms.mean()))
        out["norm_se"].append(float(norms.std(ddof=1) / np.sqrt(trials)))
        out["norm_max"].append(float(norms.max()))
        out["mean_norm"].append(float(np.linalg.norm(mean)))
        out["snr"].append(float(np.linalg.norm(mean) / spread))
        out["max_tangent_median"].append(float(np.median(mt)))
    return out


def train(model, method: str, theta0, Xtr, ytr, Xte, yte, p: dict, root, eval_seed) -> dict:
    """``steps`` steps of ``theta <- clip(theta - rate g_hat)``; accuracy and loss per step."""
    th = theta0.copy()
    seeds = [int_seed(s) for s in root.spawn(p["steps"])]
    acc, loss, gnorm = [model.accuracy(th, Xte, yte, eval_seed)], [], []
    failed = None
    for t in range(p["steps"]):
        f = model.loss_function(Xtr, ytr, seeds[t])
        try:
            if method == "pathwise":
                lval, g, _ = model.gradient(th, Xtr, ytr, seeds[t])
            else:
                S = p["S"] if method == "antithetic" else 2 * p["S"]
                g = estimate(METHODS[method], f, th, S, p["sigma"], seed=seeds[t]).grad
                lval = float(f(th[None])[0])
        except DivergenceError as exc:
            failed = f"step {t}: {exc}"
            break
        loss.append(float(lval))
        gnorm.append(float(np.linalg.norm(g)))
        th = clip(model, th - p["rate"] * g, p)
        acc.append(model.accuracy(th, Xte, yte, eval_seed))
    return {"test_accuracy": acc, "train_loss": loss, "grad_norm": gnorm, "failed": failed,
            "theta": th.tolist()}


@register_experiment("estimators-hh-training", "seed 003: a Hodgkin-Huxley network trained "
                     "with the pathwise (tangent) gradient, antithetic score function and "
                     "regression over a short and a long window; pathwise gradient vs finite "
                     "differences; gradient norm and signal-to-noise vs window", PARAMS, _check)
def run_hh_training(config: RunConfig) -> ExperimentResult:
    p = dict(config.params)
    Xtr, ytr, Xte, yte = pooled_digits(p["classes"], p["pool"], p["train"], p["test"])
    A = random_input_weights(Xtr.shape[1], p["hidden"], seed=0,
                             typical_input=float(Xtr.mean()))

    def model_at(window):
        return HHClassifier(A, 2, float(window), noise=p["noise"])

    short, long_ = model_at(p["short_ms"]), model_at(p["long_ms"])
    theta0 = clip(short, short.initial(0, weight_scale=1.0, bias=8.0), p)
    root = np.random.SeedSequence(config.seed)
    s_check, s_sweep, s_train, s_eval = root.spawn(4)
    s_check, s_eval = int_seed(s_check), int_seed(s_eval)

    comparisons = []
    g, fd, mt = pathwise_check(short, theta0, Xtr, ytr, s_check, p["fd_h"])
    tol = p["fd_rtol"] * float(np.max(np.abs(fd)))
    comparisons.append(tolerance_check(
        f"pathwise gradient vs centred finite difference, {p['short_ms']:g} ms window "
        f"(noise frozen)", fd, g, atol=tol, x=np.arange(g.size),
        note=f"h = {p['fd_h']:g}; tolerance {p['fd_rtol']:g} x max|FD|; d = {g.size}"))
    gl, fdl, mtl = pathwise_check(long_, theta0, Xtr, ytr, s_check, p["fd_h"])
    check = {"short": {"pathwise": g.tolist(), "fd": fd.tolist(), "max_tangent": mt,
                       "max_abs_diff_rel": float(np.max(np.abs(g - fd)) / np.max(np.abs(fd)))},
             "long": {"pathwise": gl.tolist(), "fd": fdl.tolist(), "max_tangent": mtl,
                      "max_abs_diff_rel": float(np.max(np.abs(gl - fdl))
                                                / np.max(np.abs(fdl)))}}

    sweep = gradient_sweep(model_at, theta0, Xtr, ytr, p["windows"], p["trials"], s_sweep)
    runs: dict = {}
    for wname, model in (("short", short), ("long", long_)):
        runs[wname] = {}
        for method, s in zip(METHODS, s_train.spawn(len(METHODS))):
            runs[wname][method] = train(model, method, theta0, Xtr, ytr, Xte, yte, p, s,
                                        s_eval)
    figures: list[str] = []
    if config.out_dir is not None and config.figures:
        figures = plot_hh_training(sweep, runs, p, short.dim, config.out_dir)
    extra = {
        "d": short.dim, "chance": 0.5, "check": check, "sweep": sweep,
        "training": {w: {m: {k: v for k, v in r.items() if k != "theta"}
                         for m, r in rs.items()} for w, rs in runs.items()},
        "final_test_accuracy": {w: {m: r["test_accuracy"][-1] for m, r in rs.items()}
                                for w, rs in runs.items()},
        "best_test_accuracy": {w: {m: max(r["test_accuracy"]) for m, r in rs.items()}
                               for w, rs in runs.items()},
    }
    return ExperimentResult("estimators-hh-training", tuple(comparisons), config.seed,
                            tuple(figures), p, extra)


def plot_hh_training(sweep, runs, p, d, out_dir) -> list[str]:
    fig, axes = new_figure(3, 1)
    ax = axes[0, 0]
    w = np.array(sweep["window_ms"])
    simulation_points(ax, w, sweep["norm_mean"], sweep["norm_se"], color="C0",
                      label="|pathwise gradient| of one trial (mean)")
    ax.plot(w, sweep["mean_norm"], "s--", color="C1", ms=4,
            label=f"|mean over {p['trials']} trials|")
    ax.plot(w, sweep["snr"], "^:", color="C2", ms=4, label="signal / noise of one trial")
    ax.set(xscale="log", yscale="log", xlabel="window (ms)", ylabel="gradient norm / ratio",
           title=f"pathwise gradient vs window (d={d})")
    ax.legend(fontsize=7)
    for ax, wname in zip(axes[0, 1:], ("short", "long")):
        win = p["short_ms"] if wname == "short" else p["long_ms"]
        for m, r in runs[wname].items():
            acc = r["test_accuracy"]
            lab = NAMES[m] + (" (diverged)" if r["failed"] else "")
            ax.plot(np.arange(len(acc)), acc, "o-", color=COLORS[m], ms=3, label=lab)
        ax.axhline(0.5, color="0.5", ls=":", lw=1, label="chance")
        ax.set(xlabel="training step", ylabel="test accuracy", ylim=(0.3, 1.02),
               title=f"{win:g} ms window (one run each)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out_dir, "estimators_hh_training", caption=(
        "Left: points with error bars of one standard error over the noise realisations; "
        "dashed and dotted lines only join points (no theory). Right: single training runs."))
