r"""``learndyn validate finite-lr-deep-linear``: the half-time lag of deep-linear modes at a
finite learning rate, predicted (seed 001; modified equations, Li, Tai & E).

Gradient descent with step :math:`\Delta t` (Euler, seed 001 Exercise 1) on a balanced
decoupled network steps each mode's exact map :math:`c \leftarrow c + (\Delta t/\tau)g(c)`;
the continuous theory is its :math:`\Delta t\to0` limit.  The first-order prediction
(:mod:`numerics.finite_lr_deep_linear`) is
:math:`t_{1/2}(\Delta t)/t_{1/2}^{(0)} - 1 = \Delta t\,T_1/t_{1/2}^{(0)} + O(\Delta t^2)`,
:math:`T_1 = \tfrac12\ln(g(c_{1/2})/g(c_0))`.

Comparisons (deterministic, tolerance checks; there is no sampling error):

1. the full-matrix Euler network (one hidden layer, :func:`numerics.deep_linear.euler_dynamics`
   from :func:`numerics.deep_linear.decoupled_init`, Exercise 1's :math:`\Sigma^{yx}`): its
   half-times equal those of the mode map (relative 1e-6), so the map is what the network does;
2. the **slope** of the relative lag at small step, measured from the map at the two smallest
   steps (:math:`(4\,\ell(h/2) - \ell(h))/h`, error :math:`O(h^2)`), against the predicted
   :math:`T_1/t_{1/2}^{(0)}`, within 1% for every mode and depth;
3. the first-order lag against the measured lag at every step up to ``lr_first_order``, within
   ``rtol`` (5%) of the lag.

``extra`` reports, per depth and mode, the largest step at which the first-order lag is within
5% and 10% of the measured one (the :math:`O(\Delta t^2)` remainder, drawn in the figure).
"""

from __future__ import annotations

import numpy as np

from numerics.deep_linear import decoupled_init, euler_dynamics, exercise_problem, track_modes
from numerics.finite_lr_deep_linear import half_time_coefficients, map_half_time
from validate.compare import tolerance_check
from validate.params import Float, FloatList, IntList
from validate.plotting import new_figure, save_figure, theory_line
from validate.registry import ExperimentResult, RunConfig, register_experiment

PARAMS = {
    "depths": IntList("2,3", "network depths D (number of weight layers)", min=2, max=8),
    "a0": Float(1e-3, "initial mode strength (decoupled init)", gt=0, lt=0.5),
    "tau": Float(1.0, "time constant tau of the flow", gt=0),
    "lrs": FloatList("0.0025,0.005,0.01,0.02,0.05,0.1,0.2,0.5", "Euler steps dt (in units of "
                     "tau: the learning rate), increasing; the two smallest give the measured "
                     "slope", gt=0, min_items=3, quick="0.0025,0.005,0.02,0.1,0.5"),
    "lr_first_order": Float(0.1, "largest step at which the first-order lag is judged", gt=0),
    "rtol": Float(0.05, "relative tolerance of the first-order lag", gt=0, lt=1),
    "network_lr": Float(0.1, "Euler step of the full-matrix network check", gt=0),
}


def _check(p: dict, quick: bool) -> None:
    lrs = list(p["lrs"])
    if lrs != sorted(set(lrs)):
        raise ValueError(f"lrs must be strictly increasing, got {lrs}")
    if 2 * lrs[0] != lrs[1]:
        raise ValueError(f"the two smallest lrs must be h/2 and h (the slope's Richardson "
                         f"estimate), got {lrs[0]:g}, {lrs[1]:g}")
    if p["lr_first_order"] < lrs[1]:
        raise ValueError("lr_first_order must be >= the second smallest lr")


def _lags(s, tau, a0, depth, lrs):
    """(t0, T1, measured relative lag per lr (NaN where the map diverges))."""
    t0, T1 = half_time_coefficients(s, tau, a0, depth)
    out = []
    for h in lrs:
        try:
            out.append(map_half_time(s, tau, a0, depth, h * tau) / t0 - 1)
        except FloatingPointError:
            out.append(np.nan)
    return t0, T1, np.array(out)


def _network_half_times(p: dict, seed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-matrix Euler (one hidden layer of 8; random frames from ``seed``) vs the map:
    (s, network, map) half-times."""
    Sx, Syx = exercise_problem()
    s = np.linalg.svd(Syx, compute_uv=False)
    tau, a0, dt = p["tau"], p["a0"], p["network_lr"] * p["tau"]
    t0 = max(half_time_coefficients(x, tau, a0, 2)[0] for x in s)
    w = decoupled_init(Syx, a0, [8], seed=seed)
    tr = track_modes(euler_dynamics(w, Syx, Sx, tau, dt, 1.5 * t0).products, Syx)
    sv = tr.singular_values
    net = []
    for a, x in enumerate(s):
        k = int(np.flatnonzero(sv[:, a] >= x / 2)[0])
        net.append((k - 1) * dt + (x / 2 - sv[k - 1, a]) * dt / (sv[k, a] - sv[k - 1, a]))
    return s, np.array(net), np.array([map_half_time(x, tau, a0, 2, dt) for x in s])


@register_experiment(
    "finite-lr-deep-linear",
    "finite learning rate, deep linear network (seed 001): the half-time lag of each mode "
    "under gradient descent with step dt, first-order prediction dt T1 / t0 against the exact "
    "mode map and the full-matrix Euler network; slope at small dt and the range of validity",
    PARAMS, _check)
def run_finite_lr_deep_linear(config: RunConfig) -> ExperimentResult:
    p = dict(config.params)
    Sx, Syx = exercise_problem()
    s_all = np.linalg.svd(Syx, compute_uv=False)
    modes = np.unique(np.round(s_all, 12))[::-1]
    lrs = np.array(p["lrs"])
    tau, a0 = p["tau"], p["a0"]
    comps = []
    s, net, mp = _network_half_times(p, config.seed)
    comps.append(tolerance_check(
        f"full-matrix Euler network (D=2, dt={p['network_lr']:g} tau) half-times vs the mode map",
        mp, net, rtol=1e-6, x=s,
        note="decoupled init on Exercise 1's Sigma_yx; per mode, linear interpolation between "
             "steps in both"))
    rows, slope_pred, slope_meas, labels, lag_pred, lag_meas, lag_x = {}, [], [], [], [], [], []
    judged = lrs <= p["lr_first_order"] * (1 + 1e-12)
    for depth in p["depths"]:
        for x in modes:
            t0, T1, lag = _lags(x, tau, a0, depth, lrs)
            pred = lrs * tau * T1 / t0
            h = lrs[1]
            slope_meas.append((4 * lag[0] - lag[1]) / h)
            slope_pred.append(T1 * tau / t0)
            labels.append(f"D={depth}, s={x:.4g}")
            lag_pred += list(pred[judged])
            lag_meas += list(lag[judged])
            lag_x += [f"D={depth}, s={x:.4g}, lr={v:g}" for v in lrs[judged]]
            with np.errstate(invalid="ignore"):
                rel = np.abs(lag - pred) / np.abs(lag)
            ok = np.isfinite(rel)
            within = {f"{int(100 * q)}%": (float(lrs[ok & (rel <= q)].max())
                                           if np.any(ok & (rel <= q)) else None)
                      for q in (0.05, 0.1)}
            rows[labels[-1]] = {"t0": t0, "T1": T1, "lrs": lrs.tolist(),
                                "lag_map": [None if not np.isfinite(v) else float(v)
                                            for v in lag],
                                "lag_first_order": pred.tolist(),
                                "first_order_holds_up_to": within}
    comps.append(tolerance_check(
        "slope of the relative half-time lag at small lr: measured (map) vs T1 / t0",
        slope_pred, slope_meas, rtol=0.01, x=np.arange(len(labels)),
        note=f"measured slope (4 lag(h/2) - lag(h))/h at h = {lrs[1]:g}; points: "
             + ", ".join(labels)))
    comps.append(tolerance_check(
        f"relative half-time lag, first order vs the exact mode map, lr <= "
        f"{p['lr_first_order']:g}", np.array(lag_meas), np.array(lag_pred), rtol=p["rtol"],
        x=np.arange(len(lag_x)), note="points: " + ", ".join(lag_x)))
    extra = {"modes": modes.tolist(), "a0": a0, "tau": tau, "rows": rows,
             "slope_predicted": slope_pred, "slope_measured": slope_meas,
             "network_half_times": net.tolist(), "map_half_times": mp.tolist()}
    figures = []
    if config.out_dir is not None and config.figures:
        figures = _plot(p, rows, config.out_dir)
    return ExperimentResult("finite-lr-deep-linear", tuple(comps), config.seed, tuple(figures),
                            p, extra)


def _plot(p, rows, out_dir) -> list[str]:
    fig, axes = new_figure(2, 1)
    grid = np.linspace(0, max(p["lrs"]) * 1.05, 60)
    for k, (label, r) in enumerate(rows.items()):
        lrs = np.array(r["lrs"])
        lag = np.array([np.nan if v is None else v for v in r["lag_map"]])
        theory_line(axes[0, 0], grid, grid * r["T1"] / r["t0"], color=f"C{k}")
        axes[0, 0].plot(lrs, lag, "o", ms=4, color=f"C{k}", label=label)
        rem = np.abs(lag - lrs * r["T1"] / r["t0"]) / np.abs(lag)
        axes[0, 1].plot(lrs, rem, "o-", ms=4, lw=0.8, color=f"C{k}", label=label)
    axes[0, 0].set(xlabel=r"learning rate $\Delta t/\tau$",
                   ylabel=r"$t_{1/2}(\Delta t)/t_{1/2}^{(0)} - 1$",
                   title="half-time lag: exact map (points), first order (lines)")
    axes[0, 0].legend(fontsize="x-small")
    axes[0, 1].axhline(p["rtol"], color="0.5", ls=":", lw=1, label=f"{p['rtol']:.0%}")
    axes[0, 1].set(xscale="log", yscale="log", xlabel=r"learning rate $\Delta t/\tau$",
                   ylabel="|lag - first order| / lag",
                   title=r"$O(\Delta t^2)$ remainder (deterministic: no error bars)")
    axes[0, 1].legend(fontsize="x-small")
    fig.tight_layout()
    return save_figure(fig, out_dir, "finite_lr_deep_linear")
