"""Exact reduced perceptron chain vs the full N = 500 simulator (seed 002, isotropic inputs).

Run: pytest -m bench tests/benchmarks/test_bench_perceptron_sim.py -s
Same rule (SL, erf sigmoid), same replicas, steps and recorded statistics (mu.w, e2.w, |w|^2);
the reduced chain must be at least 50x faster and give the same statistics (Sidak 99%).
"""

import time

import numpy as np
import pytest

from numerics.sim.ensemble import simulate_ensemble
from numerics.sim.perceptron import PerceptronRule, ReducedPerceptronRule
from validate.compare import compare

pytestmark = pytest.mark.bench
N, R, STEPS, LR, LAM, SIGMA = 500, 1000, 1000, 1e-2, 0.1, 1.0


def _setup():
    mu = np.zeros(N)
    mu[0] = 1.0
    w0 = np.zeros(N)
    w0[:2] = (0.3, 0.5)
    e2 = np.eye(N)[1]
    full = PerceptronRule("sl", mu, SIGMA**2 * np.eye(N), lr=LR, lam=LAM)
    red = ReducedPerceptronRule.isotropic("sl", mu, SIGMA, lr=LR, lam=LAM, extra=(w0,))

    def run_full(seed=1):
        return simulate_ensemble(full, w0, STEPS, replicas=R, seed=seed, keep_samples=True,
                                 observable=lambda w: np.stack([w @ mu, w @ e2, (w * w).sum(1)],
                                                               1))

    def run_reduced(seed=2):
        return simulate_ensemble(red, red.reduce(w0), STEPS, replicas=R, seed=seed,
                                 keep_samples=True,
                                 observable=lambda s: np.stack([red.project(s, mu),
                                                                red.project(s, e2),
                                                                red.norm2(s)], 1))

    return run_full, run_reduced


def test_reduced_vs_full_speed_and_statistics(benchmark):
    run_full, run_reduced = _setup()
    t0 = time.perf_counter()
    ef = run_full()
    t_full = time.perf_counter() - t0
    er = benchmark.pedantic(run_reduced, rounds=3, iterations=1)
    t_red = min(benchmark.stats.stats.data) if hasattr(benchmark, "stats") and \
        benchmark.stats is not None else None
    if t_red is None:  # benchmarking disabled (--benchmark-disable): time it directly
        t0 = time.perf_counter()
        er = run_reduced()
        t_red = time.perf_counter() - t0
    a, b = ef.samples[-1], er.samples[-1]
    a2 = np.concatenate([a, (a - a.mean(0)) ** 2], 1)
    b2 = np.concatenate([b, (b - b.mean(0)) ** 2], 1)
    c = compare("reduced vs full (means, variances)", np.zeros(6), a2.mean(0) - b2.mean(0),
                np.sqrt(a2.var(0, ddof=1) / R + b2.var(0, ddof=1) / R))
    ratio = t_full / t_red
    benchmark.extra_info.update({"full_s": t_full, "reduced_s": t_red, "ratio": ratio,
                                 "max_abs_z": c.max_abs_z})
    print(f"\nN={N}, R={R}, steps={STEPS}: full {t_full:.2f} s, reduced {t_red:.3f} s, "
          f"ratio {ratio:.0f}x; statistics max|z| = {c.max_abs_z:.2f} (bound {c.bound:.2f})")
    assert c.passed, c.summary()
    assert ratio >= 50


def test_compiled_reduced_loop_vs_numpy_steps(benchmark):
    """The reduced chain's compiled loop (backend numba, the default) against one NumPy array
    update per step (backend numpy), seed 002 forgetting-like settings: RL, a frame of K = 12
    directions, 100 replicas, 20,000 steps.  Same numbers to 1e-12; the compiled loop must be
    at least 2x faster overall (drawing the random numbers, common to both, is then the
    larger cost)."""
    rng = np.random.default_rng(0)
    mu = np.zeros(N)
    mu[0] = 1.0
    extra = [rng.standard_normal(N) for _ in range(11)]
    w0 = 0.1 * extra[0]

    def run(backend):
        red = ReducedPerceptronRule.isotropic("rl", mu, 1.0, lr=1e-4, lam=1.0, extra=extra,
                                              backend=backend)
        return simulate_ensemble(red, red.reduce(w0), 20_000, replicas=100, seed=3,
                                 keep_samples=True)

    run("numba")  # compile (cached on disk afterwards)
    t0 = time.perf_counter()
    ref = run("numpy")
    t_numpy = time.perf_counter() - t0
    fast = benchmark.pedantic(run, args=("numba",), rounds=3, iterations=1)
    t_numba = min(benchmark.stats.stats.data) if benchmark.stats is not None else None
    if t_numba is None:
        t0 = time.perf_counter()
        fast = run("numba")
        t_numba = time.perf_counter() - t0
    np.testing.assert_allclose(fast.samples, ref.samples, rtol=0, atol=1e-12)
    ratio = t_numpy / t_numba
    benchmark.extra_info.update({"numpy_s": t_numpy, "numba_s": t_numba, "ratio": ratio})
    print(f"\nreduced chain K=12, R=100, 20000 steps: numpy steps {t_numpy:.2f} s, compiled "
          f"loop {t_numba:.2f} s, ratio {ratio:.1f}x")
    assert ratio >= 2
