"""numerics.fast_exp: the vectorisable exp of the compiled HH kernels, against the C library."""

import math

import numba
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.fast_exp import exp


@numba.njit(cache=True, error_model="numpy")
def _exp_array(x):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = exp(x[i])
    return out


def _ulps(a, b):
    return np.abs(a - b) / np.spacing(np.abs(b))


def test_within_one_ulp_of_the_c_library_over_the_normal_range():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-708.0, 709.78, 400_001), rng.uniform(-60, 60, 200_000),
                        rng.uniform(-1e-3, 1e-3, 10_000), np.arange(-1021, 1024) * math.log(2)])
    x = x[(x >= -708.0) & (x <= 709.78)]
    ours, ref = _exp_array(x), np.exp(x)
    u = _ulps(ours, ref)
    assert u.max() <= 1.0
    assert np.mean(u == 0) > 0.8  # mostly the correctly rounded value itself


@settings(max_examples=300, deadline=None)
@given(st.floats(-708.0, 709.78))
def test_hypothesis_one_ulp(x):
    assert _ulps(_exp_array(np.array([x]))[0], np.exp(x)) <= 1.0


def test_edges_inf_nan_and_underflow():
    x = np.array([0.0, -0.0, 1.0, np.inf, -np.inf, np.nan, 709.78, 709.8, 1e300, -708.5,
                  -745.2, -1e300, 5e-324])
    out = _exp_array(x)
    assert out[0] == 1.0 and out[1] == 1.0 and _ulps(out[2], np.exp(1.0)) <= 1.0
    assert out[3] == np.inf and out[4] == 0.0 and np.isnan(out[5])
    assert np.isfinite(out[6]) and _ulps(out[6], np.exp(709.78)) <= 1.0
    assert out[7] == np.inf and out[8] == np.inf
    assert np.all(out[9:12] == 0.0) and np.all(np.abs(np.exp(x[9:12])) < 2.3e-308)
    assert out[12] == 1.0


def test_the_loop_compiles_to_vector_instructions():
    """The point of the module: LLVM vectorises a loop that calls it (no scalar exp call)."""
    _exp_array(np.zeros(4))
    llvm_ir = _exp_array.inspect_llvm(_exp_array.signatures[0])
    assert "x double>" in llvm_ir  # a vector of doubles
    assert "@exp(" not in llvm_ir and "llvm.exp." not in llvm_ir


def test_kernel_text_carries_the_hash_of_fast_exp():
    """numba's cache is keyed by the kernel module's text, not by what it imports: the text
    must change when fast_exp does, or an edited exp would run as stale machine code."""
    import hashlib
    from pathlib import Path

    import numerics
    from numerics.hh_codegen import numba_cell_source

    source = (Path(numerics.__file__).parent / "fast_exp.py").read_bytes()
    assert hashlib.sha256(source).hexdigest()[:16] in numba_cell_source()
