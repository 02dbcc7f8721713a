r"""``learndyn validate deep-linear-*``: deep linear network dynamics (seed 001) vs theory.

* ``deep-linear-exercise1`` — Exercise 1: the 7x4 :math:`\Sigma^{yx}`, 16 hidden units,
  :math:`\tau = 1/\eta = 2.5`, Euler :math:`\Delta t = 0.1` to T = 15 and ``solve_ivp``;
  modes of the one-hidden-layer and shallow networks against seed eqs. (4), (5);
  the lag caused by small random N(0, 0.01) initialisation, and its absence with a
  decoupled balanced initialisation (within 1% of eq. (4) at every time).
* ``deep-linear-exercise2`` — Exercise 2: DiffuseTree data, hidden [64, 128, 128], online
  SGD at lr 0.5 for 1000 epochs, linear and ReLU networks (batched seeds); singular values
  of :math:`\Sigma^{\hat yx}` per epoch against the linear theory; which modes converge first.
* ``deep-linear-depth`` — half-learning times of the full-matrix flow with decoupled small
  initialisation for depths 1-6 against :func:`numerics.deep_linear.mode_learning_time`.
"""

from __future__ import annotations

import warnings

import numpy as np
import sympy as sp

from numerics.compile import compile_scalar
from numerics.deep_linear import (
    decoupled_init,
    euler_dynamics,
    euler_mode_map,
    exercise_problem,
    flow_rhs,
    integrate_dynamics,
    mode_learning_time,
    mode_strength,
    random_init,
    track_modes,
)
from numerics.diffuse_tree import DiffuseTreeSampler, tree_spectrum
from numerics.sim.deep_network import BatchedDeepNetwork, as_seed_sequence
from numerics.stats import replica_sem
from theory import deep_linear as th
from validate.compare import compare, tolerance_check
from validate.params import Float, FloatList, Int, IntList
from validate.plotting import new_figure, save_figure, simulation_points, theory_line
from validate.registry import ExperimentResult, RunConfig, register_experiment

__all__ = ["half_times", "run_exercise1", "run_exercise2", "run_depth"]

#: tau in epochs of online SGD, lambdified from theory (eta, N)
sgd_tau = compile_scalar(th.online_sgd_time_constant(), sp.symbols("eta N", positive=True))


def half_times(t: np.ndarray, u: np.ndarray, target: np.ndarray) -> np.ndarray:
    """First time each column of ``u`` (T, k) reaches half of ``target`` (k,), linearly
    interpolated; NaN where it never does.  Works on (T, R, k) too (-> (R, k))."""
    u = np.asarray(u, dtype=float)
    half = np.asarray(target, dtype=float) / 2
    above = u >= half
    k = np.argmax(above, axis=0)
    reached = np.take_along_axis(above, k[None], 0)[0] & (k > 0)
    k = np.maximum(k, 1)
    u1 = np.take_along_axis(u, k[None], 0)[0]
    u0 = np.take_along_axis(u, (k - 1)[None], 0)[0]
    t1, t0 = t[k], t[k - 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = t0 + (half - u0) * (t1 - t0) / (u1 - u0)
    return np.where(reached, out, np.nan)


# ---------------------------------------------------------------------------------------
# Exercise 1
# ---------------------------------------------------------------------------------------

EX1 = {
    "eta": Float(0.4, "learning rate of the flow (tau = 1/eta)", gt=0),
    "dt": Float(0.1, "Euler time step (the seed's 0.1)", gt=0, le=1.0),
    "t_max": Float(15.0, "duration T", gt=0),
    "hidden": Int(16, "hidden units of the one-hidden-layer network (>= 4, the rank of "
                  "Sigma_yx)", min=4),
    "init_var": Float(0.01, "variance of the random N(0, var) initialisation", gt=0),
    "a0": Float(0.001, "initial mode strength of the decoupled initialisation", gt=0, lt=1),
    "replicas": Int(20, "random initialisations", min=2, quick=8),
    "halvings": Int(5, "times dt is halved for the Euler convergence order", min=1, max=10),
}


def _check_ex1(p: dict, quick: bool) -> None:
    if p["dt"] > p["t_max"]:
        raise ValueError(f"dt ({p['dt']:g}) must be <= t_max ({p['t_max']:g})")


def _max_rel_err(sim: np.ndarray, theory: np.ndarray) -> float:
    return float(np.max(np.abs(sim - theory) / np.abs(theory)))


@register_experiment("deep-linear-exercise1", "seed 001 Exercise 1: one-hidden-layer and "
                     "shallow modes (Euler, solve_ivp) vs eqs. (4)/(5); Euler convergence "
                     "order; lag of random init", EX1, _check_ex1)
def run_exercise1(config: RunConfig) -> ExperimentResult:
    p = dict(config.params)
    Sx, Syx = exercise_problem()
    tau = 1.0 / p["eta"]
    a0, dt = p["a0"], p["dt"]
    n_out, n_in = Syx.shape
    t_grid = np.round(np.arange(0, p["t_max"] + 1e-9, dt), 12)
    steps = len(t_grid) - 1
    comps = []

    # decoupled balanced initialisation: the flow reduces to the mode ODE
    w_dec = decoupled_init(Syx, a0, [p["hidden"]], seed=config.seed)
    ivp = integrate_dynamics(w_dec, Syx, Sx, tau, t_grid)
    tr = track_modes(ivp.products, Syx)
    s = tr.target
    theory = mode_strength(t_grid[:, None], s[None], tau, a0, 2)
    comps.append(tolerance_check("one hidden layer, decoupled init, solve_ivp vs eq. (4), "
                                 "every time and mode", theory.ravel(),
                                 tr.singular_values.ravel(), rtol=0.01,
                                 note="passes iff every relative error <= 1%"))
    # Euler on the matrices reduces exactly to the per-layer Euler map of the mode ODE
    eul = euler_dynamics(w_dec, Syx, Sx, tau, dt, p["t_max"])
    tre = track_modes(eul.products, Syx)
    euler_map = euler_mode_map(s, tau, a0, 2, dt, steps)
    comps.append(tolerance_check(f"one hidden layer, decoupled init, Euler dt={dt:g} vs Euler "
                                 "map of the mode ODE", euler_map.ravel(),
                                 tre.singular_values.ravel(), rtol=1e-9,
                                 note="exact reduction of the matrix flow to modes"))
    # Euler -> eq. (4) as dt -> 0, first order: errors at dt, dt/2, ..., dt/2^halvings
    dts = dt / 2.0 ** np.arange(p["halvings"] + 1)
    errors = []
    for h in dts:
        e = track_modes(euler_dynamics(w_dec, Syx, Sx, tau, h, p["t_max"]).products,
                        Syx).singular_values
        stride = int(round(dt / h))
        errors.append(_max_rel_err(e[::stride], theory))
    errors = np.array(errors)
    orders = np.log2(errors[:-1] / errors[1:])
    comps.append(tolerance_check("one hidden layer, Euler convergence order vs 1 (forward "
                                 "Euler)", 1.0, orders[-1], atol=0.1,
                         note=f"log2 ratio of max errors at dt={dts[-2]:.4g}, {dts[-1]:.4g}; "
                              f"errors {', '.join(f'{x:.3g}' for x in errors)}"))
    comps.append(tolerance_check(
        f"one hidden layer, decoupled init, Euler dt={dts[-1]:.4g} vs eq. (4), every time and "
        "mode", theory.ravel(),
        track_modes(euler_dynamics(w_dec, Syx, Sx, tau, dts[-1], p["t_max"]).products,
                    Syx).singular_values[::2**p["halvings"]].ravel(), rtol=0.01,
                         note=f"Euler dt={dt:g} itself is off by up to {errors[0]:.1%} "
                              "(first-order error, largest on the exponential rise)"))

    # shallow network: Euler and solve_ivp from decoupled init vs eq. (5) and its Euler map
    w_sh = decoupled_init(Syx, a0, [], seed=config.seed)
    sh_theory = mode_strength(t_grid[:, None], s[None], tau, a0, 1)
    sh_ivp = track_modes(integrate_dynamics(w_sh, Syx, Sx, tau, t_grid).products, Syx)
    comps.append(tolerance_check("shallow, decoupled init, solve_ivp vs eq. (5), every time "
                                 "and mode", sh_theory.ravel(), sh_ivp.singular_values.ravel(),
                                 rtol=0.01, note="passes iff every relative error <= 1%"))
    sh_eul = track_modes(euler_dynamics(w_sh, Syx, Sx, tau, dt, p["t_max"]).products, Syx)
    sh_map = euler_mode_map(s, tau, a0, 1, dt, steps)
    comps.append(tolerance_check(f"shallow, decoupled init, Euler dt={dt:g} vs Euler map of eq. "
                                 "(5)'s ODE", sh_map.ravel(), sh_eul.singular_values.ravel(),
                                 rtol=1e-9,
                         note=f"the map is within {_max_rel_err(sh_map, sh_theory):.2%} of "
                              "eq. (5)"))

    # random N(0, var) initialisation, replicas
    R = p["replicas"]
    seeds = np.random.SeedSequence(config.seed).spawn(R)
    sv_hidden, shallow_err, lags, sv0, sh_proj = [], [], [], [], []
    ex12_deep, ex12_shallow = [], []  # Exercise 1.2 as asked: Euler, SVD after every step
    for ss in seeds:  # a handful of deterministic integrations, one per initialisation
        w = random_init([n_in, p["hidden"], n_out], p["init_var"], seed=ss)
        ex12_deep.append(track_modes(euler_dynamics(w, Syx, Sx, tau, dt, p["t_max"]).products,
                                     Syx).singular_values)
        traj = integrate_dynamics(w, Syx, Sx, tau, t_grid)
        trk = track_modes(traj.products, Syx)
        sv_hidden.append(trk.singular_values)
        u0 = trk.singular_values[0]
        sv0.append(u0)
        th_matched = mode_strength(t_grid[:, None], s[None], tau, u0[None], 2)
        lags.append(half_times(t_grid, trk.singular_values, s)
                    - half_times(t_grid, th_matched, s))
        # shallow: the flow is linear, so every distinct mode's projection u^T W v follows
        # eq. (5) from its own b0 (Euler: the Euler map), whatever the initialisation
        ws = random_init([n_in, n_out], p["init_var"], seed=ss)
        trs = track_modes(euler_dynamics(ws, Syx, Sx, tau, dt, p["t_max"]).products, Syx)
        b0 = np.nan_to_num(trs.projections[0])
        th_b = euler_mode_map(s, tau, b0, 1, dt, steps)
        d = np.abs(trs.projections - th_b)[:, tr.distinct] / s[tr.distinct]
        shallow_err.append(float(np.max(d)))
        sh_proj.append(trs.projections)
        ex12_shallow.append(trs.singular_values)
    sv_hidden = np.array(sv_hidden)
    lags = np.array(lags)
    ex12_deep, ex12_shallow = np.array(ex12_deep), np.array(ex12_shallow)  # (R, T, modes)
    comps.append(tolerance_check(
        f"Exercise 1.2 as asked (Euler dt={dt:g}, N(0, {p['init_var']:g}) init, SVD each "
        f"step): one hidden layer, singular values at T={p['t_max']:g} vs s",
        np.tile(s, R), ex12_deep[:, -1].ravel(), rtol=1e-3,
        note=f"{R} initialisations; passes iff every mode of every run is within 0.1% of s"))
    ex12_half = half_times(t_grid, ex12_deep.transpose(1, 0, 2), s)  # (R, modes)
    ex12_sh_half = half_times(t_grid, ex12_shallow.transpose(1, 0, 2), s)
    comps.append(tolerance_check("shallow, random init, Euler: projections u^T W v vs the Euler "
                                 "map from b0", np.zeros(R), np.array(shallow_err), atol=1e-9,
                         note="max |error| / s per replica (linear flow: exact mode by mode)"))
    dec_half, th_half = half_times(t_grid, tr.singular_values, s), half_times(t_grid, theory, s)
    dec_lag = dec_half - th_half
    comps.append(tolerance_check("decoupled init: half-learning times vs eq. (4)", th_half,
                                 dec_half, atol=dt * 1e-3,
                         note="zero lag (within 1e-3 of a grid step)"))
    lag_mean, lag_sem = lags.mean(0), replica_sem(lags, 0)
    # half-times against the seed's a0 = 0.001 curve
    seed_lag = half_times(t_grid, sv_hidden.transpose(1, 0, 2), s) \
        - half_times(t_grid, theory, s)[None]
    figures = []
    if config.out_dir is not None and config.figures:
        matched = mode_strength(t_grid[:, None], s[None], tau, np.mean(sv0, 0)[None], 2)
        figures = _plot_ex1(t_grid, s, theory, tr, tre, sv_hidden, matched, sh_theory,
                            sh_eul, dts, errors, config.out_dir, ex12_deep, ex12_shallow,
                            p["init_var"])
    extra = {"target_singular_values": s.tolist(), "tau": tau,
             "euler_dt_max_rel_err_vs_eq4": float(errors[0]),
             "euler_convergence": {"dt": dts.tolist(), "max_rel_err": errors.tolist(),
                                   "order": orders.tolist()},
             "random_init_lag_vs_matched_eq4": {"mean": lag_mean.tolist(),
                                                "sem": lag_sem.tolist()},
             "random_init_lag_vs_seed_a0": {"mean": np.nanmean(seed_lag, 0).tolist(),
                                            "sem": replica_sem(seed_lag, 0).tolist()},
             "random_init_initial_singular_values": np.mean(sv0, 0).tolist(),
             "decoupled_lag": dec_lag.tolist(),
             "exercise_1_2": {
                 "deep_half_time_mean": ex12_half.mean(0).tolist(),
                 "deep_half_time_sem": replica_sem(ex12_half, 0).tolist(),
                 "shallow_half_time_mean": ex12_sh_half.mean(0).tolist(),
                 "shallow_half_time_sem": replica_sem(ex12_sh_half, 0).tolist(),
                 "deep_largest_first_every_run": bool(np.all(np.diff(
                     ex12_half[:, [0, 1]], axis=1) > 0) and np.all(
                     ex12_half[:, 1:2] < ex12_half[:, 2:])),
                 "deep_final_max_rel_err": float(np.max(np.abs(ex12_deep[:, -1] / s - 1)))}}
    return ExperimentResult("deep-linear-exercise1", tuple(comps), config.seed, tuple(figures),
                            p, extra)


def _plot_ex1(t, s, theory, tr, tre, sv_hidden, matched, sh_theory, sh_eul, dts, errors,
              out_dir, ex12_deep, ex12_shallow, init_var):
    fig, axes = new_figure(6, 1)
    for ax, sv, name in ((axes[0, 4], ex12_deep, "one hidden layer (16 units)"),
                         (axes[0, 5], ex12_shallow, "shallow")):
        m, se = sv.mean(0), replica_sem(sv, 0)
        for a in range(s.size):
            simulation_points(ax, t[::3], m[::3, a], se[::3, a], color=f"C{a}", ms=2.5,
                              label=f"mode {a + 1}" if a < s.size else None)
            ax.axhline(s[a], color="0.6", lw=0.8, ls=":")
        ax.set(xlabel=r"time $t$ ($\tau = 1/\eta = 2.5$)", ylabel=r"singular values of "
               r"$W^2W^1$" if sv is ex12_deep else r"singular values of $W^{shallow}$",
               title=f"Ex. 1.2: {name}, Euler dt={t[1] - t[0]:g}, N(0, {init_var:g})")
        ax.legend(fontsize=7)
    ax = axes[0, 0]
    for a in range(s.size):
        theory_line(ax, t, theory[:, a], color=f"C{a}", label=f"eq. (4), s={s[a]:.3g}")
        ax.plot(t[::5], tr.singular_values[::5, a], "o", color=f"C{a}", ms=3)
        ax.plot(t[::5], tre.singular_values[::5, a], "x", color=f"C{a}", ms=3)
        ax.axhline(s[a], color="0.7", lw=0.8, ls=":")
    ax.set(ylabel=r"singular value $a_\alpha(t)$",
           title=f"one hidden layer, decoupled: solve_ivp (o), Euler dt={dts[0]:g} (x)")
    ax.set_xlabel(r"time $t$ (same units as $\tau = 1/\eta$)")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    m, se = sv_hidden.mean(0), replica_sem(sv_hidden, 0)
    for a in range(s.size):
        theory_line(ax, t, theory[:, a], color=f"C{a}",
                    label="eq. (4), a0 = 0.001" if a == 0 else None)
        theory_line(ax, t, matched[:, a], color=f"C{a}", ls="--",
                    label="eq. (4), a0 = initial singular value" if a == 0 else None)
        simulation_points(ax, t[::5], m[::5, a], se[::5, a], color=f"C{a}",
                          label="solve_ivp, random init N(0,0.01)" if a == 0 else None)
    ax.set(xlabel=r"time $t$ (same units as $\tau$)", ylabel="singular value",
           title="one hidden layer, random init")
    ax.legend(fontsize=7)
    ax = axes[0, 2]
    for a in range(s.size):
        theory_line(ax, t, sh_theory[:, a], color=f"C{a}", label=f"eq. (5), s={s[a]:.3g}")
        ax.plot(t[::5], sh_eul.singular_values[::5, a], "x", color=f"C{a}", ms=3)
        theory_line(ax, t, theory[:, a], color=f"C{a}", ls="--")
    ax.set(xlabel=r"time $t$ (same units as $\tau$)", ylabel="mode strength",
           title="shallow: eq. (5) (solid), Euler (x); eq. (4) dashed")
    ax.legend(fontsize=7)
    ax = axes[0, 3]
    ax.loglog(dts, errors, "o", color="C0", label="Euler, max rel. error vs eq. (4)")
    theory_line(ax, dts, errors[-1] * dts / dts[-1], color="k", ls="--",
                label=r"slope 1 ($O(\Delta t)$)")
    ax.axhline(0.01, color="C3", lw=1, ls=":", label="1%")
    ax.set(xlabel=r"Euler step $\Delta t$", ylabel="max relative error over t and modes",
           title="Euler converges to eq. (4) at first order")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out_dir, "deep_linear_exercise1")


# ---------------------------------------------------------------------------------------
# Exercise 2
# ---------------------------------------------------------------------------------------

EX2 = {
    "target_dim": Int(100, "output dimension N of the DiffuseTree data", min=1),
    "tree_depth": Int(3, "depth of the DiffuseTree hierarchy", min=1, max=8),
    "branching": Int(2, "children per node of the tree", min=2, max=8),
    "epsilon": Float(0.1, "DiffuseTree flip probability per level", ge=0, le=0.5),
    "lr": Float(0.5, "SGD learning rate (one item per step)", gt=0),
    "epochs": Int(1000, "training epochs", min=10, quick=500),
    "replicas": Int(8, "independent networks per initialisation", min=2, quick=4),
    "a0": Float(1e-3, "initial mode strength of the decoupled initialisation", gt=0, lt=1),
    "init_gain": Float(0.2, "gain of the random initialisation (std gain/sqrt(fan-in))", gt=0),
    "data_seed": Int(2024, "seed of the DiffuseTree sample", min=0),
    "small_lrs": FloatList("0.1,0.05", "two smaller learning rates for the lr -> 0 "
                           "extrapolation", gt=0, min_items=2, max_items=2,
                           quick="0.2,0.1"),
    "small_lr_replicas": Int(4, "networks per small learning rate", min=2, quick=2),
}


#: seed 001 Exercise 2.4 read literally: "a ReLU activation after every linear layer"
RELU_ALL = "ReLU after every layer (incl. output), random init"


def _levels_in_order(s: np.ndarray, ht: np.ndarray) -> bool:
    """Do the distinct singular values (levels of the tree) converge in order of size, the
    largest first?  Mean half-times per level (NaN: never reached half) must increase as s
    decreases; a level never reached counts as last."""
    levels = np.unique(np.round(s, 9))[::-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t = np.array([np.nanmean(ht[:, np.isclose(s, v, rtol=1e-8)]) for v in levels])
    finite = np.isfinite(t)
    k = int(finite.sum())
    return bool(k > 0 and np.all(finite[:k]) and np.all(np.diff(t[:k]) > 0))


def _gain_init(sizes, gain, replicas, seed):
    rngs = [np.random.default_rng(c) for c in as_seed_sequence(seed).spawn(replicas)]
    return [np.stack([gain / np.sqrt(sizes[l]) * r.standard_normal((sizes[l + 1], sizes[l]))
                      for r in rngs]) for l in range(len(sizes) - 1)]


@register_experiment("deep-linear-exercise2", "seed 001 Exercise 2: DiffuseTree data, hidden "
                     "[64,128,128], online SGD lr 0.5; linear and ReLU singular values vs the "
                     "linear theory", EX2)
def run_exercise2(config: RunConfig) -> ExperimentResult:
    p = dict(config.params)
    sampler = DiffuseTreeSampler(p["target_dim"], p["tree_depth"], p["branching"], p["epsilon"])
    X, Y = sampler.sample(p["data_seed"])
    P, N = Y.shape
    hidden = [64, 128, 128]
    sizes = [P, *hidden, N]
    D = len(hidden) + 1
    Sx = X.T @ X / P
    if not np.allclose(Sx * P, np.eye(P)):
        raise AssertionError("one-hot items must give Sigma_x = I/P")
    s = np.linalg.svd(Y.T, compute_uv=False)  # modes of P * Sigma_yx (time in epochs)
    tau = sgd_tau(p["lr"], N)  # epochs: online SGD on the MSE mean over N outputs
    spec = tree_spectrum(p["tree_depth"], p["branching"], p["epsilon"], N)
    R, E = p["replicas"], p["epochs"]
    ss = np.random.SeedSequence(config.seed).spawn(5)
    runs = {}
    W_dec = [decoupled_init(Y.T, p["a0"], hidden, seed=c) for c in ss[0].spawn(R)]
    W_dec = [np.stack([w[l] for w in W_dec]) for l in range(D)]
    for name, act, W in (("linear, decoupled init", "linear", W_dec),
                         ("linear, random init", "linear",
                          _gain_init(sizes, p["init_gain"], R, ss[1])),
                         ("ReLU, random init", "relu",
                          _gain_init(sizes, p["init_gain"], R, ss[2])),
                         (RELU_ALL, "relu_all",
                          _gain_init(sizes, p["init_gain"], R, ss[4]))):
        net = BatchedDeepNetwork(P, hidden, N, replicas=R, activation=act, seed=ss[3],
                                 weights=W)
        rec = net.train(X, Y, epochs=E, lr=p["lr"], progress=config.progress)
        # Sigma_yhat_x * P = Yhat^T: forward propagate the one-hot items
        sv = np.linalg.svd(rec.outputs.transpose(0, 1, 3, 2), compute_uv=False)  # (E+1,R,P)
        runs[name] = (rec, sv)
    ep = runs["linear, decoupled init"][0].epochs.astype(float)
    theory = mode_strength(ep[:, None], s[None], tau, p["a0"], D)
    comps = []
    extra = {"singular_values_target": s.tolist(),
             "tree_theory_singular_values": (spec.singular_values * P).tolist(), "tau_epochs": tau}
    t_theory = np.array([mode_learning_time(x, tau, p["a0"], x / 2, D) for x in s])
    extra["half_time_theory"] = t_theory.tolist()
    for name, (rec, sv) in runs.items():
        final = sv[-1]
        if name != RELU_ALL:  # a ReLU output cannot produce the -1 targets: no target s
            comps.append(compare(f"{name}: final singular values vs s", s, final.mean(0),
                                 replica_sem(final, 0), rel_allowance=1e-3, dof=R - 1,
                                 note=f"epoch {E}; allowance 0.1% of s for the residual "
                                      "transient"))
        ht = half_times(ep, sv, s)  # (R, P)
        with warnings.catch_warnings():  # a mode no replica learned gives NaN, on purpose
            warnings.simplefilter("ignore", RuntimeWarning)
            ht_mean = np.nanmean(ht, 0)
        order = np.argsort(ht_mean)
        extra[name] = {"half_time_mean": ht_mean.tolist(),
                       "half_time_sem": replica_sem(ht, 0).tolist(),
                       "order_of_convergence": order.tolist(),
                       "largest_first": bool(np.all(order == np.arange(P))),
                       "lag_vs_theory_rel": (ht_mean / t_theory - 1).tolist(),
                       "levels_in_order": _levels_in_order(s, ht),
                       "final_singular_values": final.mean(0).tolist(),
                       "final_loss": rec.loss[-1].tolist()}
    # mode dynamics with ReLU against the linear network from the same kind of init
    lin_ht = np.array(extra["linear, random init"]["half_time_mean"])
    for name in ("ReLU, random init", RELU_ALL):
        extra[name]["half_time_over_linear"] = (np.array(extra[name]["half_time_mean"])
                                                / lin_ht).tolist()
    clipped = np.linalg.svd(np.maximum(Y, 0.0).T, compute_uv=False)
    extra[RELU_ALL]["clipped_target_singular_values"] = clipped.tolist()
    # finite learning rate: half-times (in units of tau) at two smaller rates, extrapolated
    # linearly in lr to lr -> 0 (Richardson), against the continuous theory
    lrs = sorted(p["small_lrs"], reverse=True)
    t_over_tau = {p["lr"]: (extra["linear, decoupled init"]["half_time_mean"],
                            extra["linear, decoupled init"]["half_time_sem"])}
    Rs = p["small_lr_replicas"]
    for k, lr in enumerate(lrs):
        tau_k = sgd_tau(lr, N)
        horizon = int(np.ceil(1.3 * t_theory.max() * tau_k / tau))
        W = [decoupled_init(Y.T, p["a0"], hidden, seed=c)
             for c in np.random.SeedSequence([config.seed, 7, k]).spawn(Rs)]
        W = [np.stack([w[l] for w in W]) for l in range(D)]
        net = BatchedDeepNetwork(P, hidden, N, replicas=Rs,
                                 seed=np.random.SeedSequence([config.seed, 8, k]), weights=W)
        rec = net.train(X, Y, epochs=horizon, lr=lr, progress=config.progress)
        sv = np.linalg.svd(rec.outputs.transpose(0, 1, 3, 2), compute_uv=False)
        ht = half_times(rec.epochs.astype(float), sv, s) * tau / tau_k  # in units of tau(0.5)
        # a mode that never reached half within the horizon gives NaN: the comparison then
        # fails (max |z| = inf) instead of stopping the experiment
        t_over_tau[lr] = (np.mean(ht, 0).tolist(),
                          np.nan_to_num(replica_sem(ht, 0), nan=0.0).tolist())
    la, lb = lrs[0], lrs[1]
    ma, sa = (np.array(v) for v in t_over_tau[la])
    mb, sb = (np.array(v) for v in t_over_tau[lb])
    extrap = (la * mb - lb * ma) / (la - lb)
    extrap_sem = np.sqrt((la * sb) ** 2 + (lb * sa) ** 2) / (la - lb)
    comps.append(compare(f"linear SGD half-times extrapolated to lr -> 0 (from lr {la:g}, {lb:g})"
                         " vs mode_learning_time", t_theory, extrap, extrap_sem,
                         rel_allowance=0.01, dof=Rs - 1,
                         note=f"Richardson (linear in lr); 1% allowance for the O(lr^2) rest; "
                              f"Sidak 99% over {s.size} modes; SEM from {Rs} replicas per lr"))
    extra["finite_lr"] = {"half_times_in_tau_units_of_lr_0.5": {str(k): v for k, v in
                                                                 t_over_tau.items()},
                          "relative_lag": {str(k): (np.array(v[0]) / t_theory - 1).tolist()
                                           for k, v in t_over_tau.items()},
                          "extrapolated": extrap.tolist(), "extrapolated_sem": extrap_sem.tolist()}
    figures = []
    if config.out_dir is not None and config.figures:
        figures = _plot_ex2(ep, s, theory, runs, config.out_dir, t_over_tau, t_theory,
                            extra[RELU_ALL]["clipped_target_singular_values"])
    return ExperimentResult("deep-linear-exercise2", tuple(comps), config.seed, tuple(figures),
                            p, extra)


def _plot_ex2(ep, s, theory, runs, out_dir, t_over_tau, t_theory, clipped=None):
    fig, axes = new_figure(5, 1)
    for ax, (name, (_, sv)) in zip(axes[0], runs.items()):
        if name == RELU_ALL and clipped is not None:
            for c in clipped:
                ax.axhline(c, color="0.5", lw=0.8, ls="--")
        m, se = sv.mean(1), replica_sem(sv, 1)
        step = max(1, len(ep) // 60)
        for a in range(s.size):
            theory_line(ax, ep, theory[:, a], color=f"C{a}", lw=1)
            simulation_points(ax, ep[::step], m[::step, a], se[::step, a], color=f"C{a}", ms=2)
            ax.axhline(s[a], color="0.8", lw=0.6, ls=":")
        ax.set(xlabel="epoch", ylabel=r"singular values of $\Sigma^{\hat yx}$", title=name)
    ax = axes[0, 4]
    lrs = sorted(t_over_tau)
    for a in range(s.size):
        m = np.array([t_over_tau[lr][0][a] for lr in lrs]) / t_theory[a]
        e = np.array([t_over_tau[lr][1][a] for lr in lrs]) / t_theory[a]
        simulation_points(ax, lrs, m, e, color=f"C{a}", ls="-", lw=0.8)
    ax.axhline(1.0, color="k", lw=1, label="continuous theory")
    ax.set(xlabel="learning rate", ylabel="half-time / theory", xlim=(0, None),
           title="linear, decoupled: finite-lr lag")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out_dir, "deep_linear_exercise2")


# ---------------------------------------------------------------------------------------
# depth scaling
# ---------------------------------------------------------------------------------------

DEPTH = {
    "depths": IntList("1,2,3,4,5,6", "network depths D (weight matrices)", min=1, max=12),
    "a0": Float(1e-3, "initial mode strength", gt=0, lt=1),
    "eta": Float(0.4, "learning rate of the flow (tau = 1/eta)", gt=0),
    "hidden": Int(16, "hidden units per layer (>= 4, the rank of Sigma_yx)", min=4),
    "points": Int(4000, "time points of the solve_ivp output", min=100, quick=1500),
}


def _half_time_flow(weights, Syx, Sx, tau, t_max, points, U, Vt, s, distinct):
    t = np.linspace(0, t_max, points)
    traj = integrate_dynamics(weights, Syx, Sx, tau, t)
    proj = np.einsum("ia,tij,ja->ta", U, traj.products, Vt.T)[:, distinct]
    target = s[distinct]
    # refine the grid crossing with one Newton step using the simulated velocity u^T dW/dt v
    out = []
    for a in range(target.size):
        k = int(np.argmax(proj[:, a] >= target[a] / 2))
        tk = t[k]
        w = integrate_dynamics(weights, Syx, Sx, tau, np.array([0.0, tk])).final_weights \
            if tk > 0 else weights
        for _ in range(3):
            rhs = flow_rhs(w, Syx, Sx, tau)
            Wp = w[0]
            dW = rhs[0]
            for l in range(1, len(w)):  # d(W_L..W_1) = sum_l W_L..dW_l..W_1
                dW = w[l] @ dW + rhs[l] @ Wp
                Wp = w[l] @ Wp
            u = U[:, distinct][:, a] @ Wp @ Vt.T[:, distinct][:, a]
            du = U[:, distinct][:, a] @ dW @ Vt.T[:, distinct][:, a]
            dt = (target[a] / 2 - u) / du
            if abs(dt) < 1e-13 * max(tk, 1.0):
                break
            t_new = tk + dt
            w = integrate_dynamics(weights, Syx, Sx, tau, np.array([0.0, t_new])).final_weights
            tk = t_new
        out.append(tk)
    return np.array(out)


@register_experiment("deep-linear-depth", "half-learning times of the full-matrix flow with "
                     "decoupled small init, depths 1-6, vs mode_learning_time", DEPTH)
def run_depth(config: RunConfig) -> ExperimentResult:
    p = dict(config.params)
    depths = list(p["depths"])
    Sx, Syx = exercise_problem()
    tau = 1.0 / p["eta"]
    U, s, Vt = np.linalg.svd(Syx, full_matrices=False)
    distinct = track_modes(Syx[None], Syx).distinct
    sim, theory = [], []
    for D in depths:
        th = np.array([mode_learning_time(x, tau, p["a0"], x / 2, D) for x in s[distinct]])
        w = decoupled_init(Syx, p["a0"], [p["hidden"]] * (D - 1), seed=config.seed)
        sim.append(_half_time_flow(w, Syx, Sx, tau, 1.5 * th.max(), p["points"], U, Vt, s,
                                   distinct))
        theory.append(th)
    sim, theory = np.array(sim), np.array(theory)
    comps = [tolerance_check("half-learning time of the full-matrix flow vs mode_learning_time",
                             theory.ravel(), sim.ravel(), rtol=1e-6,
                             note="solve_ivp rtol 1e-10; relative agreement <= 1e-6")]
    figures = []
    if config.out_dir is not None and config.figures:
        fig, axes = new_figure(1, 1)
        ax = axes[0, 0]
        dd = np.linspace(1, max(depths), 100)
        for a, x in enumerate(s[distinct]):
            theory_line(ax, depths, theory[:, a], color=f"C{a}",
                        label=f"mode_learning_time, s={x:.3g}")
            ax.plot(depths, sim[:, a], "o", color=f"C{a}", label="full-matrix flow")
        del dd
        ax.set(xlabel="depth D (weight matrices)", ylabel="time to reach s/2", yscale="log",
               title=f"depth scaling, decoupled init a0={p['a0']:g}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        figures = save_figure(fig, config.out_dir, "deep_linear_depth")
    extra = {"depths": depths, "modes": s[distinct].tolist(), "half_time_sim": sim.tolist(),
             "half_time_theory": theory.tolist(),
             "max_rel_err": float(np.max(np.abs(sim - theory) / theory))}
    return ExperimentResult("deep-linear-depth", tuple(comps), config.seed, tuple(figures), p,
                            extra)
