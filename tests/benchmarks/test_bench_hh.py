"""Hodgkin-Huxley population: compiled (numba) vs NumPy backend, and learndyn vs Brian2.

Run: pytest -m bench tests/benchmarks/test_bench_hh.py -s
The Brian2 comparison (1000 neurons, 1 s, dt = 0.01 ms, RK4, currents 6-20 uA/cm^2) makes its
own virtual environment for Brian2 2.9 (numpy < 2) on first use, see hh_vs_brian2.py; it
needs network access once and a C compiler.  Set LEARNDYN_SKIP_BRIAN2=1 to skip it.
"""

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from numerics.hh import simulate

pytestmark = pytest.mark.bench
sys.path.insert(0, str(Path(__file__).parent))


def test_numba_vs_numpy_backend(benchmark):
    currents = np.linspace(6, 20, 100)
    simulate(currents[:2], duration_ms=0.1, progress=False)  # compile
    t0 = time.perf_counter()
    slow = simulate(currents, duration_ms=50.0, backend="numpy", progress=False)
    t_numpy = time.perf_counter() - t0
    fast = benchmark.pedantic(lambda: simulate(currents, duration_ms=50.0, progress=False),
                              rounds=3, iterations=1)
    t0 = time.perf_counter()
    simulate(currents, duration_ms=50.0, progress=False)
    t_numba = time.perf_counter() - t0
    assert np.array_equal(slow.spike_counts, fast.spike_counts)
    print(f"\nHH, 100 neurons x 50 ms: numpy {t_numpy:.2f} s, numba {t_numba:.3f} s, "
          f"ratio {t_numpy / t_numba:.0f}x")
    assert t_numpy / t_numba > 10


def test_coupled_networks_numba_vs_numpy_backend(benchmark):
    """Coupled networks (the HH classifier's case: one network per perturbation and example):
    the SIMD-over-networks kernel against the NumPy backend, same spikes."""
    rng = np.random.default_rng(0)
    P, N = 64, 18
    W = rng.normal(0.0, 1.0, (P, N, N))
    W[:, :, 10:] = 0.0  # outputs do not feed back
    cur = rng.uniform(5.0, 12.0, (P, N))
    kw = {"weights": W, "duration_ms": 20.0, "noise": 0.2, "common_noise": False, "seed": 1,
          "progress": False}
    simulate(cur[:2], **{**kw, "weights": W[:2], "duration_ms": 0.1})  # compile
    t0 = time.perf_counter()
    slow = simulate(cur, backend="numpy", **kw)
    t_numpy = time.perf_counter() - t0
    fast = benchmark.pedantic(lambda: simulate(cur, **kw), rounds=3, iterations=1)
    t0 = time.perf_counter()
    simulate(cur, **kw)
    t_numba = time.perf_counter() - t0
    assert np.array_equal(slow.spike_counts, fast.spike_counts)
    steps = P * N * 2000
    print(f"\nHH, {P} coupled networks x {N} cells x 20 ms: numpy {t_numpy:.2f} s "
          f"({t_numpy / steps * 1e9:.0f} ns per cell-step), numba {t_numba:.3f} s "
          f"({t_numba / steps * 1e9:.0f} ns), ratio {t_numpy / t_numba:.0f}x")
    assert t_numpy / t_numba > 10


@pytest.mark.skipif(os.environ.get("LEARNDYN_SKIP_BRIAN2") == "1", reason="asked to skip")
def test_against_brian2_cython():
    import hh_vs_brian2

    assert hh_vs_brian2.main(["--repeats", "2"]) == 0  # counts equal and >= 2x faster (CPU)
