r"""Mollification and Gaussian smoothing of sampled curves, surfaces and traces.

Kernels come from :mod:`theory.smoothing` (lambdified): the bump mollifier
:math:`\phi_c(x) = c^{-n}k_n e^{1/(|x/c|^2-1)}` (support :math:`|x| < c`) and the Gaussian
:math:`N(0,\sigma^2)`.  A sampled function :math:`y_i = y(x_0 + i\,\Delta)` is convolved as

.. math:: (\phi_c * y)(x_i) \approx \sum_j w_j\,y_{i-j},\qquad
          w_j \propto \phi_c(j\Delta)\,\Delta,\quad \sum_j w_j = 1

(the trapezoid rule, renormalised so that constants are reproduced exactly: the raw sum is
:math:`1 - 1.6\times10^{-4}` at :math:`c = 10\Delta`).  The derivative of the smoothed curve
is the convolution with :math:`\phi_c'` (``derivative=True``), its weights scaled so that
the derivative of a linear function is exact.

**Edges** (seed 003: "ghost points that do not exist"): ``edge="valid"`` returns NaN where the
kernel would need samples beyond the data (no ghost points; the default);
``"renormalize"`` divides by the kernel mass inside the data (exact for constants, a
one-sided average at the edge); ``"reflect"`` mirrors the data about its end samples.

:math:`k_n` numerically in any dimension: :func:`bump_constant` integrates the radial
profile with mpmath (checked against the closed form of :mod:`theory.smoothing` and against
Monte Carlo in the tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mpmath as mp
import numpy as np
from scipy import ndimage

from numerics.checks import as_int, as_positive

__all__ = ["bump_constant", "bump", "bump_derivative", "kernel_weights", "mollify",
           "mollify_nd", "gaussian_smoothed_mc", "MonteCarloMean", "EDGES", "KINDS"]

EDGES = ("valid", "renormalize", "reflect")
KINDS = ("bump", "gaussian")


@lru_cache(maxsize=32)
def bump_constant(n: int = 1) -> float:
    r""":math:`k_n`: one over :math:`\int_{\mathbb R^n}e^{1/(|x|^2-1)}dx`, by radial quadrature
    :math:`S_{n-1}\int_0^1 r^{n-1}e^{-1/(1-r^2)}dr` (mpmath, 30 digits)."""
    n = as_int(n, "n", 1)
    with mp.workdps(30):
        radial = mp.quad(lambda r: r ** (n - 1) * mp.exp(-1 / (1 - r**2)), [0, 0.5, 0.9, 1])
        sphere = 2 * mp.pi ** (mp.mpf(n) / 2) / mp.gamma(mp.mpf(n) / 2)
        return float(1 / (sphere * radial))


def bump(x, width: float = 1.0, n: int = 1) -> np.ndarray:
    r"""The normalised bump :math:`\phi_c` at points ``x``: shape ``(...)`` for n = 1, else
    ``(..., n)`` (the last axis holds the coordinates)."""
    c = as_positive(width, "width")
    x = np.asarray(x, dtype=float)
    r2 = (x / c) ** 2 if n == 1 else np.sum((x / c) ** 2, axis=-1)
    out = np.zeros(r2.shape)
    inside = r2 < 1
    out[inside] = np.exp(1.0 / (r2[inside] - 1.0))
    return bump_constant(n) * out / c**n


def bump_derivative(x, width: float = 1.0) -> np.ndarray:
    r""":math:`\phi_c'(x) = -\frac{2x}{c^2(1 - x^2/c^2)^2}\phi_c(x)` (1-D)."""
    c = as_positive(width, "width")
    x = np.asarray(x, dtype=float)
    u2 = (x / c) ** 2
    out = np.zeros(x.shape)
    inside = u2 < 1
    out[inside] = -2 * x[inside] / (c**2 * (1 - u2[inside]) ** 2)
    return out * bump(x, c)


def kernel_weights(dx: float, width: float, kind: str = "bump", derivative: bool = False,
                   truncate: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Offsets ``j`` and weights ``w_j ~ k(j dx) dx`` of the discretised kernel (normalised:
    sum 1, or for ``derivative`` exact slopes).

    ``width`` is the bump's half-width c or the Gaussian's sigma (truncated at
    ``truncate`` sigma, relative mass lost ``erfc(truncate/sqrt 2)``)."""
    dx = as_positive(dx, "dx")
    width = as_positive(width, "width")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    half = int(np.ceil((width if kind == "bump" else truncate * width) / dx))
    j = np.arange(-half, half + 1)
    xs = j * dx
    if kind == "bump":
        if width < 2 * dx:
            raise ValueError(f"width={width} must be at least 2 grid steps (dx={dx}) for the "
                             "bump to be resolved")
        w = (bump_derivative(xs, width) if derivative else bump(xs, width)) * dx
    else:
        g = np.exp(-xs**2 / (2 * width**2)) / (np.sqrt(2 * np.pi) * width)
        w = (-xs / width**2 * g if derivative else g) * dx
    # discrete normalisation: constants (value kernel) and slopes (derivative kernel) exact
    w = w / (-np.sum(w * xs) if derivative else np.sum(w))
    return j, w


def _correlate(y, w, axis, mode):
    # convolution with a kernel w_j indexed by offset j: sum_j w_j y_{i-j}
    return ndimage.correlate1d(y, w[::-1], axis=axis, mode=mode, cval=0.0)


def mollify(y, dx: float, width: float, *, kind: str = "bump", edge: str = "valid",
            axis: int = -1, derivative: bool = False, times: int = 1) -> np.ndarray:
    """Convolve samples ``y`` (spacing ``dx`` along ``axis``) with the bump or Gaussian kernel.

    ``times`` applies the smoothing repeatedly (seed 003 smooths voltage traces several
    times); ``derivative=True`` returns the derivative of the smoothed curve (valid or
    reflect edges only: renormalising a derivative kernel is meaningless)."""
    if edge not in EDGES:
        raise ValueError(f"edge must be one of {EDGES}, got {edge!r}")
    times = as_int(times, "times", 1)
    if derivative and edge == "renormalize":
        raise ValueError("edge='renormalize' is not defined for derivative=True; use 'valid' "
                         "or 'reflect'")
    y = np.asarray(y, dtype=float)
    if y.ndim == 0 or y.shape[axis] < 2:
        raise ValueError(f"y must have at least 2 samples along axis {axis}, got {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or inf")
    _, w = kernel_weights(dx, width, kind)
    out = y
    for t in range(times):
        last = derivative and t == times - 1
        wk = kernel_weights(dx, width, kind, derivative=True)[1] if last else w
        if edge == "reflect":
            out = _correlate(out, wk, axis, "mirror")
            continue
        num = _correlate(np.nan_to_num(out), wk, axis, "constant")
        ones = np.isfinite(out).astype(float)
        mass = _correlate(ones, w, axis, "constant")
        if edge == "renormalize":
            out = num / mass
        else:
            full = _correlate(np.ones_like(ones), w, axis, "constant")
            complete = (np.abs(mass - w.sum()) <= 1e-12 * w.sum()) & (full > 0)
            out = np.where(complete, num, np.nan)
    return out


def mollify_nd(z, spacing, width: float, edge: str = "valid") -> np.ndarray:
    r"""Convolve an n-D grid ``z`` (spacings ``spacing``) with the radial n-D bump
    :math:`\phi_c` (e.g. a 2-D loss landscape over two weights)."""
    z = np.asarray(z, dtype=float)
    nd = z.ndim
    spacing = np.broadcast_to(np.asarray(spacing, dtype=float), (nd,))
    if edge not in ("valid", "renormalize"):
        raise ValueError("edge must be 'valid' or 'renormalize' for mollify_nd")
    half = [int(np.ceil(width / h)) for h in spacing]
    axes = np.meshgrid(*[np.arange(-k, k + 1) * h for k, h in zip(half, spacing)],
                       indexing="ij")
    pts = np.stack(axes, axis=-1)
    w = bump(pts, width, n=nd) * np.prod(spacing)
    w = w / w.sum()  # discrete normalisation, as in the 1-D kernel
    num = ndimage.correlate(z, w[(slice(None, None, -1),) * nd], mode="constant")
    mass = ndimage.correlate(np.ones_like(z), w[(slice(None, None, -1),) * nd],
                             mode="constant")
    if edge == "renormalize":
        return num / mass
    return np.where(np.abs(mass - w.sum()) <= 1e-12 * w.sum(), num, np.nan)


@dataclass(frozen=True)
class MonteCarloMean:
    """A Monte Carlo estimate with its standard error."""

    mean: np.ndarray
    sem: np.ndarray
    samples: int

    def to_dict(self) -> dict:
        return {"mean": np.asarray(self.mean).tolist(), "sem": np.asarray(self.sem).tolist(),
                "samples": self.samples}


def gaussian_smoothed_mc(f, theta, sigma: float, samples: int, seed) -> MonteCarloMean:
    r""":math:`L_\sigma(\theta) = E[f(\theta + \sigma\varepsilon)]` by Monte Carlo.

    ``f`` takes a batch of parameter vectors ``(S, d)`` and returns ``(S,)`` losses (one
    batched evaluation, e.g. one HH simulation of ``S`` perturbed networks); ``theta`` is
    ``(d,)`` or ``(m, d)`` (m points, each with its own ``samples`` perturbations)."""
    sigma = as_positive(sigma, "sigma")
    samples = as_int(samples, "samples", 2)
    th = np.atleast_2d(np.asarray(theta, dtype=float))
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal((th.shape[0], samples, th.shape[1]))
    vals = np.asarray(f((th[:, None, :] + sigma * eps).reshape(-1, th.shape[1])), dtype=float)
    vals = vals.reshape(th.shape[0], samples)
    mean = vals.mean(axis=1)
    sem = vals.std(axis=1, ddof=1) / np.sqrt(samples)
    if np.ndim(theta) == 1:
        mean, sem = mean[0], sem[0]
    return MonteCarloMean(mean, sem, samples)
