"""Input checks that fail early with a message naming the parameter and the allowed range."""

from __future__ import annotations

import numpy as np

__all__ = ["as_covariance", "as_vector", "as_positive", "as_nonnegative", "as_int",
           "as_probability", "as_in_closed_range", "as_bool", "as_seed_sequence", "seed_entropy"]


def as_covariance(value, name: str = "R", *, positive_definite: bool = False,
                  rtol: float = 1e-10) -> np.ndarray:
    """A finite, square, symmetric positive-semidefinite (or -definite) float matrix."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        a = a.reshape(1, 1)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf")
    scale = max(float(np.max(np.abs(a))), 1e-300)
    if not np.allclose(a, a.T, rtol=0, atol=rtol * scale):
        raise ValueError(f"{name} must be symmetric (max |{name} - {name}^T| = "
                         f"{np.max(np.abs(a - a.T)):.3g})")
    a = 0.5 * (a + a.T)
    ev = np.linalg.eigvalsh(a)
    if positive_definite and ev[0] <= rtol * scale:
        raise ValueError(f"{name} must be positive definite (smallest eigenvalue {ev[0]:.3g})")
    if ev[0] < -rtol * scale * a.shape[0]:
        raise ValueError(f"{name} must be positive semidefinite (smallest eigenvalue {ev[0]:.3g})")
    return a


def as_vector(value, name: str, size: int | None = None) -> np.ndarray:
    """A finite 1-D float vector, of length ``size`` if given."""
    a = np.asarray(value, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector, got shape {a.shape}")
    if size is not None and a.size != size:
        raise ValueError(f"{name} must have length {size} (the dimension), got {a.size}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf")
    return a


def as_positive(value, name: str, *, upper: float | None = None, inclusive_upper=False) -> float:
    """A finite float in (0, upper) (or (0, upper] with ``inclusive_upper``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    rng = f"(0, {upper:.6g}{']' if inclusive_upper else ')'}" if upper is not None else "(0, inf)"
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be in {rng}, got {v}")
    if upper is not None and (v > upper or (v == upper and not inclusive_upper)):
        raise ValueError(f"{name} must be in {rng}, got {v}")
    return v


def as_nonnegative(value, name: str) -> float:
    """A finite float >= 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be in [0, inf), got {v}")
    return v


def as_in_closed_range(value, name: str, lo: float, hi: float) -> float:
    """A real number in [lo, hi]: ``TypeError`` if not a number, ``ValueError`` outside."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number in [{lo:g}, {hi:g}], got {value!r}") \
            from None
    if not (lo <= v <= hi):
        raise ValueError(f"{name} must be in [{lo:g}, {hi:g}], got {value}")
    return v


def as_probability(value, name: str) -> float:
    """A float strictly inside (0, 1)."""
    v = float(value)
    if not (0.0 < v < 1.0):
        raise ValueError(f"{name} must be in (0, 1), got {v}")
    return v


def as_int(value, name: str, minimum: int = 0) -> int:
    """An integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def as_bool(value, name: str) -> bool:
    """``True`` or ``False`` (a NumPy bool too); anything else, e.g. the string ``"no"``
    (truthy!) or 0/1, is a ``TypeError``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r}")


def as_seed_sequence(seed) -> np.random.SeedSequence:
    """``seed`` (an int >= 0, not a bool, or a ``numpy.random.SeedSequence``) as a SeedSequence;
    anything else is a ``TypeError``."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return np.random.SeedSequence(int(seed))
    raise TypeError(f"seed must be a non-negative int or numpy.random.SeedSequence, got {seed!r}")


def seed_entropy(seed) -> int | tuple[int, ...]:
    """The entropy of ``as_seed_sequence(seed)`` as a record: an int, or a tuple of ints for a
    SeedSequence made from several (``SeedSequence([seed, stream])``)."""
    e = as_seed_sequence(seed).entropy
    return int(e) if np.ndim(e) == 0 else tuple(int(v) for v in e)
