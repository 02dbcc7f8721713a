r"""Reference trajectories :math:`r(t)` for the cerebellar tracking task (seed 000).

Every reference here is periodic with the trajectory's duration :math:`T`: training that
runs longer than one trajectory repeats it, and the weights then reach a *periodic* steady
state (:mod:`numerics.cerebellum.moments`).

* :func:`sines_reference` — the seed's fix ("the sum of sin with random frequency under some
  cut-off frequency", with random phase shifts between 0 and :math:`\pi/2`): ``n_sines``
  sinusoids with frequencies drawn between :math:`f_c/(n+1)` and :math:`f_c`, amplitudes
  uniform in [0.1, 1]/n (the authors' public code, ``sinFunDef``).  The frequencies are
  rounded to harmonics :math:`k/T` so that the trajectory repeats seamlessly.
* :func:`fourier_reference` — the smoother variant: a truncated Fourier series of a white-noise
  process (independent Gaussian sine and cosine coefficients of equal variance for every
  harmonic :math:`k/T \le f_c`), scaled to a given RMS; the authors' ``refFourier``
  ("white") draws random phases with equal amplitudes, which has the same spectrum.
* :class:`SampledReference` — any callable the user passes, read as :math:`T`-periodic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from numerics.checks import as_int, as_positive

__all__ = ["FourierReference", "SampledReference", "sines_reference", "fourier_reference",
           "as_reference"]


@dataclass(frozen=True)
class FourierReference:
    r""":math:`r(t) = \sum_k a_k\sin(2\pi k t/T) + b_k\cos(2\pi k t/T)` (periodic in ``period``)."""

    period: float
    harmonics: np.ndarray  # integer k
    sin_coef: np.ndarray
    cos_coef: np.ndarray
    kind: str = "fourier"

    def __call__(self, t) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        phase = 2 * np.pi * np.multiply.outer(t, self.harmonics / self.period)
        return np.sin(phase) @ self.sin_coef + np.cos(phase) @ self.cos_coef

    @property
    def cutoff_hz(self) -> float:
        return float(self.harmonics.max() / self.period) if self.harmonics.size else 0.0

    def to_dict(self) -> dict:
        return {"kind": self.kind, "period": self.period, "harmonics": self.harmonics.tolist(),
                "sin_coef": self.sin_coef.tolist(), "cos_coef": self.cos_coef.tolist()}


@dataclass(frozen=True)
class SampledReference:
    """A user's callable ``r(t)``, evaluated at ``t mod period`` (the trajectory repeats)."""

    func: Callable
    period: float
    kind: str = "callable"

    def __call__(self, t) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        try:
            v = np.asarray(self.func(np.mod(t, self.period)), dtype=float)
        except (TypeError, ValueError) as err:
            raise TypeError(f"reference must be a callable r(t) returning real numbers for an "
                            f"array of times: {err}") from None
        if v.shape != t.shape:
            v = np.broadcast_to(v, t.shape).astype(float)
        if not np.all(np.isfinite(v)):
            bad = np.flatnonzero(~np.isfinite(v.ravel()))[0]
            raise ValueError(f"reference must be finite: r(t) is {v.ravel()[bad]} at "
                             f"t = {np.mod(t.ravel()[bad], self.period):.6g} s")
        return v

    def to_dict(self) -> dict:
        return {"kind": self.kind, "period": self.period, "func": repr(self.func)}


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.SeedSequence):
        return np.random.Generator(np.random.PCG64(seed))
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise TypeError(f"seed must be a non-negative int or numpy.random.SeedSequence, got {seed!r}")


def sines_reference(duration_s: float, seed=0, *, n_sines: int = 4,
                    cutoff_hz: float = 0.1) -> FourierReference:
    r"""Sum of ``n_sines`` sinusoids with random frequencies below ``cutoff_hz``.

    :math:`r(t) = \frac1n\sum_i A_i\sin(2\pi f_i t + \phi_i)`, :math:`A_i\sim U(0.1, 1)`,
    :math:`\phi_i\sim U(0, \pi/2)` (seed 000, "attempt 2"), :math:`f_i = k_i/T` with
    :math:`k_i` uniform among the harmonics in :math:`[f_c/(n+1), f_c]`.
    """
    T = as_positive(duration_s, "duration_s")
    n = as_int(n_sines, "n_sines", 1)
    fc = as_positive(cutoff_hz, "cutoff_hz")
    k_lo = max(1, int(np.ceil(fc * T / (n + 1))))
    k_hi = int(np.floor(fc * T))
    if k_hi < k_lo:
        raise ValueError(f"cutoff_hz * duration_s must be >= 1 so that a harmonic lies below "
                         f"the cutoff, got {fc * T:g}")
    rng = _rng(seed)
    k = rng.integers(k_lo, k_hi + 1, size=n)
    amp = rng.uniform(0.1, 1.0, size=n) / n
    phase = rng.uniform(0.0, np.pi / 2, size=n)
    # A sin(wt + phi) = A cos(phi) sin(wt) + A sin(phi) cos(wt); merge repeated harmonics
    ks = np.unique(k)
    s = np.array([np.sum((amp * np.cos(phase))[k == kk]) for kk in ks])
    c = np.array([np.sum((amp * np.sin(phase))[k == kk]) for kk in ks])
    return FourierReference(T, ks.astype(float), s, c, kind="sines")


def fourier_reference(duration_s: float, seed=0, *, cutoff_hz: float = 0.1,
                      rms: float = 0.25) -> FourierReference:
    r"""Truncated Fourier series of white noise: all harmonics :math:`1 \le k \le f_cT`, with
    independent :math:`N(0, \sigma^2)` sine and cosine coefficients, rescaled so that the
    trajectory's RMS is ``rms``."""
    T = as_positive(duration_s, "duration_s")
    fc = as_positive(cutoff_hz, "cutoff_hz")
    rms = as_positive(rms, "rms")
    K = int(np.floor(fc * T))
    if K < 1:
        raise ValueError(f"cutoff_hz * duration_s must be >= 1, got {fc * T:g}")
    rng = _rng(seed)
    coef = rng.standard_normal((2, K))
    scale = rms / np.sqrt(0.5 * np.sum(coef**2))
    return FourierReference(T, np.arange(1, K + 1, dtype=float), coef[0] * scale,
                            coef[1] * scale, kind="fourier")


def as_reference(reference, duration_s: float, seed) -> FourierReference | SampledReference:
    """``"sines"``, ``"fourier"``, a :class:`FourierReference` or a callable ``r(t)``."""
    if isinstance(reference, str):
        if reference == "sines":
            return sines_reference(duration_s, seed)
        if reference == "fourier":
            return fourier_reference(duration_s, seed)
        raise ValueError(f"reference must be 'sines', 'fourier' or a callable r(t), got "
                         f"{reference!r}")
    if isinstance(reference, FourierReference):
        if not np.isclose(reference.period, duration_s):
            raise ValueError(f"reference period {reference.period} must equal duration_s "
                             f"{duration_s}")
        if not (np.all(np.isfinite(reference.sin_coef))
                and np.all(np.isfinite(reference.cos_coef))):
            raise ValueError("reference must be finite: its Fourier coefficients contain "
                             "NaN or inf")
        return reference
    if callable(reference):
        return SampledReference(reference, float(duration_s))
    raise TypeError(f"reference must be 'sines', 'fourier' or a callable r(t), got "
                    f"{type(reference).__name__}")
