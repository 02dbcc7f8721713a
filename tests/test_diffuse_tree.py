"""DiffuseTree data (seed 001) and the theory of its spectrum, checked against samples."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.diffuse_tree import (
    DiffuseTreeSampler,
    level_basis,
    level_projections,
    tree_spectrum,
)
from theory import diffuse_tree as th
from validate.compare import compare


@pytest.mark.parametrize("depth,b", [(1, 2), (2, 2), (2, 3), (3, 2)])
def test_level_eigenvalues_match_characteristic_polynomial(depth, b):
    assert th.check_spectrum(depth, b)
    assert sum(th.multiplicities(depth, b)) == b**depth


def test_wrong_eigenvalue_is_rejected(monkeypatch):
    real = th.level_eigenvalues(2, 2)
    monkeypatch.setattr(th, "level_eigenvalues", lambda d, b: (2 * real[0], *real[1:]))
    assert not th.check_spectrum(2, 2)


def test_trace_identity():
    # tr C = P (every y_i^2 = 1) = sum of multiplicity * eigenvalue
    for depth, b in [(2, 3), (3, 2), (4, 2)]:
        total = sum(m * e for m, e in zip(th.multiplicities(depth, b),
                                          th.level_eigenvalues(depth, b)))
        assert sp.expand(total - b**depth) == 0


@settings(max_examples=20)
@given(eps=st.floats(0.0, 0.5), depth=st.integers(1, 3), b=st.integers(2, 3))
def test_basis_diagonalises_the_numeric_matrix(eps, depth, b):
    C = np.array(th.correlation_matrix(depth, b).subs(th.epsilon, eps), dtype=float)
    spec = tree_spectrum(depth, b, eps, 10)
    for V, lam in zip(level_basis(depth, b), spec.eigenvalues):
        np.testing.assert_allclose(V.T @ V, np.eye(V.shape[1]), atol=1e-12)
        np.testing.assert_allclose(C @ V, lam * V, atol=1e-10)


def test_sampler_shapes_and_values():
    s = DiffuseTreeSampler(50, 3, 2, 0.1)
    X, Y = s.sample(3)
    np.testing.assert_array_equal(X, np.eye(8))
    assert Y.shape == (8, 50) and set(np.unique(Y)) <= {-1.0, 1.0}
    np.testing.assert_array_equal(Y, s.sample(3)[1])
    assert not np.array_equal(Y, s.sample(4)[1])
    # no flips: every leaf equals the root
    Y0 = DiffuseTreeSampler(20, 2, 3, 0.0).sample(1)[1]
    assert np.all(Y0 == Y0[0])
    # Sigma_x = I / P for one-hot items
    np.testing.assert_allclose(X.T @ X / 8, np.eye(8) / 8)


@pytest.mark.parametrize("kw,name", [({"target_dim": 0}, "target_dim"),
                                     ({"tree_depth": 0}, "tree_depth"),
                                     ({"branching_factor": 1}, "branching"),
                                     ({"epsilon": 0.7}, "epsilon")])
def test_sampler_bad_input(kw, name):
    args = {"target_dim": 5, "tree_depth": 2, "branching_factor": 2, "epsilon": 0.1} | kw
    with pytest.raises(ValueError, match=name):
        DiffuseTreeSampler(**args)


def test_sample_many_and_spectrum_bad_input():
    s = DiffuseTreeSampler(5, 2, 2, 0.1)
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="replicas"):
            s.sample_many(bad)
    with pytest.raises(ValueError, match="target_dim"):
        tree_spectrum(2, 2, 0.1, 2.5)
    with pytest.raises(TypeError, match="epsilon"):
        DiffuseTreeSampler(5, 2, 2, "a lot")


def _level_check(scale=1.0, replicas=300, seed=0):
    s = DiffuseTreeSampler(40, 3, 2, 0.15)
    Ys = s.sample_many(replicas, seed)
    lp = level_projections(Ys, 3, 2)  # (R, levels), unbiased for each eigenvalue
    spec = tree_spectrum(3, 2, 0.15, 40)
    return compare("level eigenvalues vs samples", scale * spec.eigenvalues, lp.mean(0),
                   lp.std(0, ddof=1) / np.sqrt(replicas))


def test_level_eigenvalues_agree_with_samples():
    c = _level_check()
    assert c.passed, c.summary()


def test_doubled_eigenvalues_are_rejected_by_samples():
    assert not _level_check(scale=2.0).passed
    assert not _level_check(scale=0.5).passed


def test_singular_values_approach_theory_at_large_n():
    spec = tree_spectrum(2, 3, 0.2, 20000)
    X, Y = DiffuseTreeSampler(20000, 2, 3, 0.2).sample(7)
    sv = np.linalg.svd(Y.T @ X / 9, compute_uv=False)
    np.testing.assert_allclose(sv, spec.singular_values, rtol=0.03)
    # the total sum of squares is |Y|_F^2 / 81 = P N / 81 for any +-1 sample (an identity, not
    # a check); the per-level sums of squares (rotation invariant within a level) are not:
    # they estimate the level eigenvalues.  Features are independent columns of Y, so the
    # per-feature terms give an exact standard error.
    per_feature = np.stack([np.mean((V.T @ Y) ** 2, axis=0) for V in level_basis(2, 3)], 1)
    lp = level_projections(Y, 2, 3)
    np.testing.assert_allclose(per_feature.mean(0), lp, rtol=1e-12)
    se = per_feature.std(0, ddof=1) / np.sqrt(per_feature.shape[0])
    good = compare("level sums of squares", spec.eigenvalues, lp, se)
    assert good.passed, good.summary()
    assert np.all(se < 0.01 * spec.eigenvalues)  # within about 1% ...
    assert not compare("5% off", 1.05 * spec.eigenvalues, lp, se).passed  # ... and resolved
