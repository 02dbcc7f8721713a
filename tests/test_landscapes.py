"""numerics.landscapes and the landscapes-* experiments (full runs are @slow)."""

import numpy as np
import pytest

from numerics.landscapes import (
    grid_descent,
    local_slope,
    scan_complete_graph,
    scan_direction,
    scan_grid,
    scan_single_neuron,
)
from validate.experiments import landscapes as exp
from validate.registry import RunConfig, run_experiment


def test_local_slope_is_exact_on_a_line_and_has_a_standard_error():
    x = np.linspace(0, 1, 51)
    s, se = local_slope(x, 3 * x + 1, 25, 5)
    assert s == pytest.approx(3.0) and se == pytest.approx(0.0, abs=1e-9)
    rng = np.random.default_rng(0)
    slopes = [local_slope(x, 3 * x + 0.1 * rng.standard_normal(51), 25, 10) for _ in range(400)]
    est = np.array(slopes)
    # the reported SE matches the spread of the estimates (within 15%)
    assert np.mean(est[:, 1]) == pytest.approx(np.std(est[:, 0]), rel=0.15)


def test_descent_on_a_staircase_finite_differences_stick_regression_moves():
    w = np.linspace(0, 1, 201)
    stair = np.floor(w * 20) / 20  # plateaus 10 grid points wide, minimum at w = 0
    fd = grid_descent(w, stair, 0.62, method="finite-difference", lr=0.01, steps=30)
    reg = grid_descent(w, stair, 0.62, method="regression", lr=0.01, steps=200, neighbors=10)
    assert fd.w[-1] == pytest.approx(0.62, abs=0.006)  # zero gradient on the plateau
    assert reg.w[-1] < 0.1
    with pytest.raises(ValueError, match="smoothed_slope"):
        grid_descent(w, stair, 0.5, method="mollified")
    with pytest.raises(ValueError, match="method must be one of"):
        grid_descent(w, stair, 0.5, method="adam")


def test_scans_shapes_and_rate_consistency():
    s = scan_single_neuron([0.0, 0.1, 0.2], tau_ms=100.0, trials=2, noise=1.0, seed=1)
    assert s.loss.shape == (3, 2) and s.rate.shape == (3, 2)
    assert np.all(s.rate == s.counts / 0.1)
    assert s.loss[0].max() < 1e-3 < s.loss[2].min()  # off at w = 0, firing at I = 20
    g = scan_complete_graph([0.0, 1.0], n=3, perturbation=0.2, tau_ms=50.0)
    assert g.loss.shape == (2, 1)

    def build(thetas):
        return {"current": thetas[:, :1] * 100.0}

    d = scan_direction(build, np.array([0.1]), np.array([1.0]), [0.0, 0.1], tau_ms=50.0)
    assert np.allclose(d.loss[:, 0], scan_single_neuron([0.1, 0.2], tau_ms=50.0).loss[:, 0])

    def chain2(thetas):  # input weight of neuron 0, synapse 0 -> 1; the loss reads neuron 1
        W = np.zeros((thetas.shape[0], 2, 2))
        W[:, 1, 0] = thetas[:, 1]
        cur = np.stack([thetas[:, 0] * 100.0, np.zeros(thetas.shape[0])], axis=1)
        return {"current": cur, "weights": W, "output_neurons": [1]}

    loss, rate = scan_grid(chain2, [0.0, 0.2], [0.0, 40.0], tau_ms=40.0)
    assert loss.shape == (2, 2, 1)
    assert rate[1, 1, 0] > 0 and rate[0, 1, 0] == 0 and rate[1, 0, 0] == 0


def test_mollifying_recorded_voltage_traces_along_time():
    """Seed 003, 'Mollifying Voltages': smooth V(t) of many neurons along the time axis; the
    spike is spread (lower peak), the edges without ghost points are NaN, area is kept."""
    from numerics.hh import simulate
    from numerics.smoothing import mollify

    r = simulate([[12.0], [20.0]], duration_ms=30.0, noise=1.0, trials=3, seed=5, record=True,
                 record_every=5, progress=False)
    dt = 0.05
    V = r.V  # (T, P, R, N)
    sm = mollify(V, dt, 0.5, axis=0, times=2)
    assert sm.shape == V.shape
    half = int(np.ceil(0.5 / dt)) - 1
    assert np.isnan(sm[:half]).all() and np.isfinite(sm[2 * half + 2:-2 * half - 2]).all()
    inner = slice(2 * half + 2, -2 * half - 2)
    assert np.nanmax(sm[inner]) < np.max(V[inner])  # peaks are flattened
    assert np.nanmean(sm[inner]) == pytest.approx(np.mean(V[inner]), abs=0.5)


def test_gaussian_mc_vs_convolution_on_a_known_curve():
    """The experiment's smoothing check on a synthetic noisy 'scan' whose trials are
    L(w) + noise: passes for the right kernel, fails for a doubled curve."""
    from numerics.landscapes import LandscapeScan

    rng = np.random.default_rng(2)
    x = np.linspace(0, 1, 401)
    R = 30

    def curve(w):
        return np.sin(6 * w) + np.floor(w * 40) / 40

    loss = curve(x)[:, None] + 0.05 * rng.standard_normal((1, R))
    scan = LandscapeScan(x, loss, loss, loss, 1.0, 0.0)

    def mc(ws):
        return curve(ws) + 0.05 * rng.standard_normal(ws.size)

    comp, _ = exp._gaussian_mc_vs_convolution(scan, [0.3, 0.5, 0.7], 0.03, 4000, mc, 3, "t")
    assert comp.passed

    def mc_doubled(ws):
        return 2 * mc(ws)

    bad, _ = exp._gaussian_mc_vs_convolution(scan, [0.3, 0.5, 0.7], 0.03, 4000, mc_doubled, 3,
                                             "t")
    assert not bad.passed


def test_bad_experiment_parameters_are_named():
    from validate.params import ParameterError

    with pytest.raises(ParameterError, match="trials"):
        run_experiment("landscapes-variance", RunConfig(quick=True, params={"trials": "10"}))
    with pytest.raises(ValueError, match="same length"):
        run_experiment("landscapes-hh", RunConfig(quick=True,
                                                  params={"noise_sigmas": "0.1,0.2"}))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["landscapes-hh", "landscapes-single", "landscapes-variance",
                                  "landscapes-complete-graph"])
def test_experiments_pass_quick(name):
    assert run_experiment(name, RunConfig(quick=True, seed=0, figures=False)).passed


@pytest.mark.slow
@pytest.mark.parametrize("name, target, factory", [
    ("landscapes-hh", "linear_noise_covariance",
     lambda f: lambda *a, **k: 2 * f(*a, **k)),
    ("landscapes-variance", "var_of_mean", lambda f: lambda v, n: 2 * f(v, n)),
    ("landscapes-single", "mollify", lambda f: lambda *a, **k: 2 * f(*a, **k)),
    ("landscapes-complete-graph", "mollify", lambda f: lambda *a, **k: 2 * f(*a, **k)),
])
def test_experiments_fail_with_doubled_theory(monkeypatch, name, target, factory):
    monkeypatch.setattr(exp, target, factory(getattr(exp, target)))
    res = run_experiment(name, RunConfig(quick=True, seed=0, figures=False))
    stat = [c for c in res.comparisons if c.kind == "statistical"]
    assert stat and not all(c.passed for c in stat)
