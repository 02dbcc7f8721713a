"""Data sets for seed 002 Fig. 5: IDX reader/writer, digits, splits, class statistics,
and the Gaussian accuracy formula (theory.classification) against Monte Carlo."""

import gzip
import struct

import numpy as np
import pytest

from numerics.classification import empirical_accuracy, gaussian_accuracy
from numerics.datasets import (
    Dataset,
    center,
    class_statistics,
    load_digits_binary,
    load_mnist_idx,
    read_idx,
    train_test_split,
    write_idx,
)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(7, 4, 3), dtype=np.uint8)
    labs = np.array([0, 1, 2, 1, 0, 1, 9], dtype=np.uint8)
    pi = write_idx(tmp_path / f"img.idx3-ubyte{suffix}", imgs)
    pl = write_idx(tmp_path / f"lab.idx1-ubyte{suffix}", labs)
    assert np.array_equal(read_idx(pi, 2051), imgs)
    assert np.array_equal(read_idx(pl, 2049), labs)
    raw = gzip.open(pi).read() if suffix else pi.read_bytes()
    assert struct.unpack(">IIII", raw[:16]) == (2051, 7, 4, 3)  # big-endian header
    d = load_mnist_idx(pi, pl, 0, 1)
    assert d.X.shape == (5, 12) and d.dim == 12
    assert np.array_equal(d.y, [-1, 1, 1, -1, 1])
    assert np.allclose(d.X[0], imgs[0].ravel() / 255)


def test_idx_errors(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(b"\x01\x00\x08\x01" + struct.pack(">I", 2) + b"ab")
    with pytest.raises(ValueError, match="magic"):
        read_idx(p)
    good = write_idx(tmp_path / "l.idx", np.arange(5, dtype=np.uint8))
    with pytest.raises(ValueError, match="expected 2051"):
        read_idx(good, 2051)
    trunc = tmp_path / "t.idx"
    trunc.write_bytes(good.read_bytes()[:-2])
    with pytest.raises(ValueError, match="needs"):
        read_idx(trunc)
    extra = tmp_path / "x.idx"
    extra.write_bytes(good.read_bytes() + b"\x00")
    with pytest.raises(ValueError, match="needs"):
        read_idx(extra)
    short = tmp_path / "s.idx"
    short.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="not an IDX"):
        read_idx(short)
    with pytest.raises(ValueError, match="0..255"):
        write_idx(tmp_path / "w.idx", np.array([300]))
    imgs = write_idx(tmp_path / "i.idx", np.zeros((3, 2, 2), dtype=np.uint8))
    labs = write_idx(tmp_path / "j.idx", np.array([0, 1], dtype=np.uint8))
    with pytest.raises(ValueError, match="labels"):
        load_mnist_idx(imgs, labs)
    labs2 = write_idx(tmp_path / "k.idx", np.array([0, 0, 2], dtype=np.uint8))
    with pytest.raises(ValueError, match="class 1 does not occur"):
        load_mnist_idx(imgs, labs2)


def test_digits_shapes():
    pytest.importorskip("sklearn")
    d = load_digits_binary(0, 1)
    assert d.X.shape == (360, 64)
    assert set(np.unique(d.y)) == {-1.0, 1.0}
    assert d.X.min() >= 0 and d.X.max() <= 1
    assert d.to_dict()["n_pos"] == 182
    with pytest.raises(ValueError, match="positive"):
        load_digits_binary(0, 12)


def _toy(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.4, 1.0, -1.0)
    X = rng.standard_normal((n, 3)) + y[:, None] * np.array([1.0, 0.5, 0.0])
    return Dataset(X, y, "toy", (0, 1))


def test_split_center_and_class_statistics():
    d = _toy()
    tr, te = train_test_split(d, 0.25, seed=3)
    tr2, te2 = train_test_split(d, 0.25, seed=3)
    assert np.array_equal(tr.X, tr2.X) and np.array_equal(te.y, te2.y)
    assert tr.n + te.n == d.n
    assert abs(np.mean(te.y > 0) - np.mean(d.y > 0)) < 0.03  # stratified
    ctr, cte = center(tr, te)
    assert np.allclose(ctr.X.mean(0), 0)
    assert np.allclose(cte.X - te.X, ctr.X[0] - tr.X[0])
    cs = class_statistics(d)
    Xp = d.X[d.y > 0]
    assert np.allclose(cs.mu_pos, Xp.mean(0))
    assert np.allclose(cs.Sigma_pos, np.cov(Xp.T, bias=True))
    assert cs.p_pos == pytest.approx(np.mean(d.y > 0))
    with pytest.raises(ValueError, match="test_fraction"):
        train_test_split(d, 1.5)


def test_gaussian_accuracy_matches_monte_carlo():
    rng = np.random.default_rng(1)
    mp, mn = np.array([0.5, 0.2]), np.array([-0.3, 0.1])
    Sp, Sn = np.array([[1.0, 0.3], [0.3, 0.5]]), np.array([[0.4, 0.0], [0.0, 2.0]])
    w = np.array([1.0, -0.4])
    n = 400_000
    y = np.where(rng.random(n) < 0.3, 1.0, -1.0)
    X = np.where(y[:, None] > 0, rng.multivariate_normal(mp, Sp, n),
                 rng.multivariate_normal(mn, Sn, n))
    emp = empirical_accuracy(w, X, y)
    th = gaussian_accuracy(w, mp, Sp, mn, Sn, 0.3)
    se = np.sqrt(emp * (1 - emp) / n)
    assert abs(emp - th) < 4 * se
    assert abs(emp - gaussian_accuracy(w, mp, Sp, mn, Sn, 0.9)) > 10 * se  # prior matters
    batch = gaussian_accuracy(np.stack([w, 2 * w]), mp, Sp, mn, Sn, 0.3)
    assert np.allclose(batch, th)  # scale invariant
