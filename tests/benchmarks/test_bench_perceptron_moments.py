"""Benchmark: the N = 500 perceptron moment ODEs (seed 002 eqs. (10)-(11)) on t in [0, 40].

Run with ``pytest -m bench tests/benchmarks/test_bench_perceptron_moments.py``.  The state has
N + N^2 = 250,500 components; the right-hand side is assembled from lambdified scalar
functions with matrix-vector products (no N^3 tensor).  Asserted: under 5 s per integration.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from numerics.perceptron import moment_flow

N = 500


def _setup(general: bool):
    rng = np.random.default_rng(0)
    mu = rng.normal(size=N)
    mu /= np.linalg.norm(mu)
    w0 = rng.normal(size=N) / np.sqrt(N)
    if general:
        A = rng.normal(size=(N, N)) / np.sqrt(N)
        Sigma = 0.5 * np.eye(N) + 0.25 * A @ A.T
    else:
        Sigma = np.eye(N)
    return mu, Sigma, w0, 0.01 * np.eye(N)


@pytest.mark.bench
@pytest.mark.parametrize("rule", ["sl", "rl"])
@pytest.mark.parametrize("general", [False, True], ids=["isotropic", "general-Sigma"])
def test_bench_moment_flow_n500(benchmark, rule, general):
    mu, Sigma, w0, C0 = _setup(general)
    t_eval = np.linspace(0.0, 40.0, 41)
    moment_flow(rule, mu[:3], np.eye(3), w0[:3], np.eye(3), [1.0], lam=0.1)  # compile once

    def run():
        start = time.perf_counter()
        res = moment_flow(rule, mu, Sigma, w0, C0, t_eval, lam=0.1)
        return res, time.perf_counter() - start

    res, elapsed = benchmark.pedantic(run, rounds=2, iterations=1)
    assert res.trace_cov[-1] < res.trace_cov[0]
    assert elapsed < 5.0, f"N = {N} moment ODE took {elapsed:.2f} s (limit 5 s)"
