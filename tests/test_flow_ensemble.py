"""numerics/flow_ensemble.py: exact eta -> 0 ensemble moments of the perceptron flows, against a
Monte Carlo ensemble of N-dimensional flows and the moment ODEs (10)-(11)."""

import numpy as np
import pytest

from numerics.flow_ensemble import isotropic_flow_ensemble
from numerics.integrate import integrate
from numerics.perceptron import mean_drift, moment_flow
from validate.compare import compare

N, LAM, C0 = 5, 0.1, 0.1
MU = np.eye(N)[0]
W0 = np.array([-0.2, 0.5, 0.0, 0.0, 0.0])
T = np.array([0.0, 1.0, 3.0, 6.0])


def _monte_carlo_flows(rule, sigma2, R=3000, seed=0):
    """tr Cov over R independent starts w0 ~ N(W0, C0 I_N), each flowed in N dimensions; the
    standard error of the trace from the replicas' squared deviations."""
    rng = np.random.default_rng(seed)
    starts = W0 + np.sqrt(C0) * rng.standard_normal((R, N))
    traj = integrate(lambda _, y: mean_drift(rule, y.reshape(R, N), MU, sigma2, LAM).ravel(),
                     (0.0, T[-1]), starts.ravel(), t_eval=T, method="RK45", rtol=1e-9,
                     atol=1e-12)
    Y = traj.y.T.reshape(T.size, R, N)
    dev2 = ((Y - Y.mean(1, keepdims=True)) ** 2).sum(2) * R / (R - 1)
    return dev2.mean(1), dev2.std(1, ddof=1) / np.sqrt(R)


@pytest.mark.parametrize("rule,sigma", [("sl", 0.6), ("rl", 0.6), ("rl", 0.3)])
def test_quadrature_equals_monte_carlo_of_n_dimensional_flows(rule, sigma):
    exact = isotropic_flow_ensemble(rule, MU, sigma**2, W0, C0, T, LAM)
    np.testing.assert_allclose(exact.trace_cov[0], N * C0, rtol=1e-12)
    mc, se = _monte_carlo_flows(rule, sigma**2)
    assert compare("mc", exact.trace_cov, mc, se).passed
    assert not compare("2x", 2 * exact.trace_cov, mc, se).passed
    assert not compare("x1.1", 1.1 * exact.trace_cov, mc, se).passed


@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_moment_ode_closure_error_is_second_order_in_c0(rule):
    """The moment ODEs' trace approaches the exact one with relative error O(c0)
    (absolute O(c0^2)): halving c0 roughly halves the relative error."""
    errs = []
    for c0 in (0.1, 0.05, 0.025):
        exact = isotropic_flow_ensemble(rule, MU, 0.36, W0, c0, T, LAM)
        mf = moment_flow(rule, MU, 0.36 * np.eye(N), W0, c0 * np.eye(N), T, lam=LAM)
        errs.append(np.max(np.abs(mf.trace_cov / exact.trace_cov - 1)))
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 1.6) & (ratios < 2.5)), (errs, ratios)
    assert errs[0] < 0.1


def test_bad_input():
    with pytest.raises(ValueError, match="mu"):
        isotropic_flow_ensemble("sl", np.zeros(3), 0.1, np.ones(3), 0.1, T)
    with pytest.raises(ValueError, match="m0"):
        isotropic_flow_ensemble("sl", MU, 0.1, np.ones(3), 0.1, T)
    with pytest.raises(ValueError, match="c0"):
        isotropic_flow_ensemble("sl", MU, 0.1, W0, -0.1, T)
    with pytest.raises(ValueError, match="t_eval"):
        isotropic_flow_ensemble("sl", MU, 0.1, W0, 0.1, [1.0, 0.5])
    with pytest.raises(ValueError, match="rule"):
        isotropic_flow_ensemble("xx", MU, 0.1, W0, 0.1, T)
