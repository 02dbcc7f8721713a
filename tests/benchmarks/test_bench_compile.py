"""Lambdified moment right-hand side vs a hand-written NumPy one (LMS, n = 4, finite eta).

Run: pytest -m bench tests/benchmarks/test_bench_compile.py
The lambdified (cse) function must be within 1.5x of the hand-written NumPy version.
"""

import time

import numpy as np
import pytest

from numerics.compile import compile_rhs
from theory.lms import lms_moment_system

pytestmark = pytest.mark.bench
N = 4


def _setup():
    system = lms_moment_system(N, finite_lr=True)
    rhs, state, params = compile_rhs(system)
    rng = np.random.default_rng(0)
    G = rng.standard_normal((N, N))
    R = G @ G.T / N + np.eye(N)
    wo = rng.standard_normal(N)
    gamma, s2 = 0.05, 0.3
    values = {"gamma": gamma, "s2": s2}
    for i in range(N):
        values[f"wo{i}"] = wo[i]
        for j in range(i, N):
            values[f"R_{i}_{j}"] = R[i, j]
    p = np.array([values[str(s)] for s in params])
    w = rng.standard_normal(N)
    C = np.cov(rng.standard_normal((N, 50)))
    iu = np.triu_indices(N)
    y = np.concatenate([w, C[iu]])

    def hand(t, y, R=R, wo=wo, gamma=gamma, s2=s2):
        w = y[:N]
        C = np.zeros((N, N))
        C[iu] = y[N:]
        C = C + np.triu(C, 1).T
        v = wo - w
        Rv = R @ v
        dw = Rv  # the drift is linear: the Hessian term vanishes
        RC = R @ C
        dC = -(RC + RC.T) + gamma * (np.outer(Rv, Rv) + (v @ Rv) * R + s2 * R)
        return np.concatenate([dw, dC[iu]])

    return rhs, hand, y, p


def _best(f, *args, repeat=7, number=2000):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            f(*args)
        times.append((time.perf_counter() - t0) / number)
    return min(times)


def test_lambdified_equals_hand_written():
    rhs, hand, y, p = _setup()
    assert np.allclose(rhs(0.0, y, p), hand(0.0, y), rtol=1e-12, atol=1e-12)


def test_lambdified_rhs_speed(benchmark):
    rhs, hand, y, p = _setup()
    benchmark(rhs, 0.0, y, p)
    t_lambdified = _best(rhs, 0.0, y, p)
    t_hand = _best(hand, 0.0, y)
    ratio = t_lambdified / t_hand
    benchmark.extra_info.update({"lambdified_us": t_lambdified * 1e6, "hand_numpy_us": t_hand * 1e6,
                                 "ratio": ratio})
    print(f"\nlambdified {t_lambdified * 1e6:.1f} us, hand-written NumPy {t_hand * 1e6:.1f} us, "
          f"ratio {ratio:.2f}")
    assert ratio < 1.5
