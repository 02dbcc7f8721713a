r"""Real data sets for the perceptron experiments (seed 002, Fig. 5: digits 0 vs 1).

* :func:`load_digits_binary`: the 8x8 handwritten digits bundled with scikit-learn (optional
  extra ``learndyn[data]``; nothing is downloaded), two digit classes as labels -1 / +1;
* :func:`read_idx` / :func:`write_idx` / :func:`load_mnist_idx`: the MNIST IDX format
  (big-endian header: two zero bytes, a type byte (0x08 = unsigned byte), the number of
  dimensions, then one big-endian uint32 per dimension; images have magic 2051 = 0x00000803,
  labels 2049 = 0x00000801), optionally gzip-compressed (``.gz``), for files the user has;
* :func:`train_test_split`, :func:`center`, :func:`class_statistics` (class means and
  covariances that the Gaussian theory of seed 002 eq. (15) takes as input).
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from numerics.checks import as_int, as_seed_sequence

__all__ = ["Dataset", "ClassStatistics", "load_digits_binary", "load_digits_classes",
           "read_idx", "write_idx", "load_mnist_idx", "binary_subset", "train_test_split",
           "center", "class_statistics",
           "IDX_IMAGES_MAGIC", "IDX_LABELS_MAGIC"]

IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


@dataclass(frozen=True)
class Dataset:
    """Inputs ``X`` (n, N) and labels ``y`` in {-1, +1}; ``classes = (negative, positive)``."""

    X: np.ndarray
    y: np.ndarray
    name: str
    classes: tuple[int, int]

    def __post_init__(self):
        if self.X.ndim != 2 or self.y.shape != (self.X.shape[0],):
            raise ValueError(f"X must be (n, N) and y (n,), got {self.X.shape}, {self.y.shape}")

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def dim(self) -> int:
        return self.X.shape[1]

    def to_dict(self) -> dict:
        return {"name": self.name, "classes": list(self.classes), "n": self.n, "dim": self.dim,
                "n_pos": int(np.sum(self.y > 0)), "n_neg": int(np.sum(self.y < 0))}


def binary_subset(X, labels, negative: int, positive: int, name: str) -> Dataset:
    """Rows of ``X`` whose label is ``negative`` (-> -1) or ``positive`` (-> +1)."""
    X = np.asarray(X, dtype=float)
    labels = np.asarray(labels).ravel()
    if X.shape[0] != labels.size:
        raise ValueError(f"need one label per input row: {X.shape[0]} rows, {labels.size} labels")
    if negative == positive:
        raise ValueError(f"negative and positive classes must differ, got {negative}")
    keep = (labels == negative) | (labels == positive)
    for c in (negative, positive):
        if not np.any(labels == c):
            raise ValueError(f"class {c} does not occur in the labels of {name}")
    y = np.where(labels[keep] == positive, 1.0, -1.0)
    return Dataset(X[keep].reshape(int(keep.sum()), -1), y, name, (int(negative), int(positive)))


def load_digits_binary(negative: int = 0, positive: int = 1, *, scale: float = 1.0 / 16) -> Dataset:
    """scikit-learn's bundled 8x8 digits (1797 images, pixel values 0..16 times ``scale``),
    restricted to two digits: ``negative`` -> label -1, ``positive`` -> +1."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("load_digits_binary needs scikit-learn (for its bundled digits data): "
                          "pip install 'learndyn[data]'") from exc
    for name, c in (("negative", negative), ("positive", positive)):
        if not isinstance(c, (int, np.integer)) or not 0 <= c <= 9:
            raise ValueError(f"{name} must be a digit 0..9, got {c!r}")
    d = load_digits()
    return binary_subset(d.data * float(scale), d.target, negative, positive,
                         f"sklearn digits {negative} vs {positive}")


def load_digits_classes(classes=(0, 1, 2, 3), *, scale: float = 1.0 / 16
                        ) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits restricted to ``classes``: inputs ``(n, 64)`` (pixel
    values 0..16 times ``scale``) and labels ``0..K-1`` in the order of ``classes``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("load_digits_classes needs scikit-learn (for its bundled digits "
                          "data): pip install 'learndyn[data]'") from exc
    classes = tuple(classes)
    if len(classes) < 2 or len(set(classes)) != len(classes) or any(
            not isinstance(c, (int, np.integer)) or not 0 <= c <= 9 for c in classes):
        raise ValueError(f"classes must be two or more distinct digits 0..9, got {classes!r}")
    d = load_digits()
    keep = np.isin(d.target, classes)
    lookup = {c: k for k, c in enumerate(classes)}
    y = np.array([lookup[int(t)] for t in d.target[keep]], dtype=np.int64)
    return d.data[keep] * float(scale), y


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path, expect_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (optionally ``.gz``) into an array of its declared shape and type.

    ``ValueError`` for a bad magic number (or not the ``expect_magic`` one), a truncated
    header or body, or trailing bytes.
    """
    path = Path(path)
    with _open(path) as fh:
        data = fh.read()
    if len(data) < 4:
        raise ValueError(f"{path}: not an IDX file (only {len(data)} bytes)")
    (magic,) = struct.unpack(">I", data[:4])
    zero, code, ndim = data[0] << 8 | data[1], data[2], data[3]
    if zero != 0 or code not in _IDX_TYPES or ndim < 1:
        raise ValueError(f"{path}: bad IDX magic number {magic} (0x{magic:08x}); expected "
                         f"e.g. {IDX_IMAGES_MAGIC} (images) or {IDX_LABELS_MAGIC} (labels)")
    if expect_magic is not None and magic != expect_magic:
        raise ValueError(f"{path}: IDX magic number {magic}, expected {expect_magic}")
    head = 4 + 4 * ndim
    if len(data) < head:
        raise ValueError(f"{path}: truncated IDX header")
    shape = struct.unpack(">" + "I" * ndim, data[4:head])
    dtype = _IDX_TYPES[code]
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    body = len(data) - head
    if body != need:
        raise ValueError(f"{path}: IDX body has {body} bytes, the header {shape} needs {need}")
    arr = np.frombuffer(data, dtype=dtype, offset=head).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path, array) -> Path:
    """Write an unsigned-byte array (values 0..255) as IDX (gzip if the name ends in .gz)."""
    a = np.asarray(array)
    if a.ndim < 1 or a.ndim > 255:
        raise ValueError(f"array must have 1..255 dimensions, got {a.ndim}")
    if a.size and (not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() > 255):
        raise ValueError("write_idx writes unsigned bytes: array must hold integers 0..255")
    header = bytes([0, 0, 0x08, a.ndim]) + struct.pack(">" + "I" * a.ndim, *a.shape)
    payload = header + a.astype(np.uint8).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)
    return path


def load_mnist_idx(images, labels, negative: int = 0, positive: int = 1, *,
                   scale: float = 1.0 / 255) -> Dataset:
    """MNIST-format IDX images (magic 2051, (n, rows, cols) bytes) and labels (magic 2049),
    restricted to two classes, pixels times ``scale``, flattened to (n, rows*cols)."""
    imgs = read_idx(images, IDX_IMAGES_MAGIC)
    labs = read_idx(labels, IDX_LABELS_MAGIC)
    if imgs.shape[0] != labs.shape[0]:
        raise ValueError(f"{images} has {imgs.shape[0]} images but {labels} has "
                         f"{labs.shape[0]} labels")
    X = imgs.reshape(imgs.shape[0], -1).astype(float) * float(scale)
    return binary_subset(X, labs, negative, positive, f"IDX {Path(images).name}")


def train_test_split(data: Dataset, test_fraction: float = 0.25, seed=0) -> tuple[Dataset, Dataset]:
    """A random split (stratified by class) with ``SeedSequence(seed)``."""
    f = float(test_fraction)
    if not 0.0 < f < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.Generator(np.random.PCG64(as_seed_sequence(seed)))
    test = np.zeros(data.n, dtype=bool)
    for lab in (-1.0, 1.0):
        idx = np.flatnonzero(data.y == lab)
        k = int(round(f * idx.size))
        if k == 0 or k == idx.size:
            raise ValueError(f"test_fraction {f} leaves class {lab:+.0f} ({idx.size} samples) "
                             "without train or test samples")
        test[rng.choice(idx, size=k, replace=False)] = True
    train_idx = rng.permutation(np.flatnonzero(~test))
    test_idx = rng.permutation(np.flatnonzero(test))
    return (Dataset(data.X[train_idx], data.y[train_idx], data.name + " (train)", data.classes),
            Dataset(data.X[test_idx], data.y[test_idx], data.name + " (test)", data.classes))


def center(train: Dataset, *others: Dataset) -> tuple[Dataset, ...]:
    """Subtract the training inputs' mean from every data set (seed 002: inputs are
    translated so that the data set's mean is zero)."""
    m = train.X.mean(axis=0)
    return tuple(Dataset(d.X - m, d.y, d.name, d.classes) for d in (train, *others))


@dataclass(frozen=True)
class ClassStatistics:
    """Class means and covariances (ML, divisor n) of a labelled data set; ``p_pos`` prior."""

    mu_pos: np.ndarray
    Sigma_pos: np.ndarray
    mu_neg: np.ndarray
    Sigma_neg: np.ndarray
    p_pos: float
    n_pos: int
    n_neg: int

    def to_dict(self) -> dict:
        return {"mu_pos": self.mu_pos.tolist(), "mu_neg": self.mu_neg.tolist(),
                "p_pos": self.p_pos, "n_pos": self.n_pos, "n_neg": self.n_neg,
                "trace_Sigma_pos": float(np.trace(self.Sigma_pos)),
                "trace_Sigma_neg": float(np.trace(self.Sigma_neg))}


def class_statistics(data: Dataset, min_per_class: int = 2) -> ClassStatistics:
    """Means and covariances of the +1 and -1 classes (the Gaussian model of seed 002)."""
    min_per_class = as_int(min_per_class, "min_per_class", 1)
    out = []
    for lab in (1.0, -1.0):
        Xc = data.X[data.y == lab]
        if Xc.shape[0] < min_per_class:
            raise ValueError(f"class {lab:+.0f} has {Xc.shape[0]} samples, need >= "
                             f"{min_per_class}")
        m = Xc.mean(axis=0)
        D = Xc - m
        S = D.T @ D / Xc.shape[0]
        out.append((m, 0.5 * (S + S.T), Xc.shape[0]))
    (mp, Sp, npos), (mn, Sn, nneg) = out
    return ClassStatistics(mp, Sp, mn, Sn, npos / (npos + nneg), npos, nneg)
