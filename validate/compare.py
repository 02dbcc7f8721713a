r"""Theory-versus-simulation comparisons with statistical verdicts.

At each compared point the z-score is

.. math:: z = \frac{\bar m - \theta}{\sqrt{\mathrm{SE}^2 + a^2}},

with :math:`\bar m` the simulation mean, :math:`\mathrm{SE}` its standard error from
independent replicas, :math:`\theta` the theory value and :math:`a` a *stated* model-error
allowance (e.g. the known finite-learning-rate bias; zero by default).  A curve of ``m``
points passes when :math:`\max|z|` is below the Šidák-corrected two-sided bound at
family-wise level :math:`\alpha` (default 1%):
:math:`\Phi^{-1}(1 - \alpha_1/2)` with :math:`\alpha_1 = 1-(1-\alpha)^{1/m}`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

__all__ = ["Comparison", "compare", "sidak_bound", "richardson_half_step"]


def sidak_bound(m: int, alpha: float = 0.01) -> float:
    """Two-sided |z| bound for ``m`` independent-ish tests at family-wise level ``alpha``."""
    if m < 1:
        raise ValueError(f"m must be >= 1, got {m}")
    if not (0 < alpha < 1):
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    per_test = -np.expm1(np.log1p(-alpha) / m)
    return float(norm.isf(per_test / 2))


@dataclass(frozen=True)
class Comparison:
    """One theory curve (or value) against a simulation mean with standard errors."""

    name: str
    x: np.ndarray
    theory: np.ndarray
    mean: np.ndarray
    sem: np.ndarray
    allowance: np.ndarray
    z: np.ndarray
    max_abs_z: float
    bound: float
    rel_err: float
    passed: bool
    alpha: float
    note: str = ""

    @property
    def verdict(self) -> str:
        return "agree" if self.passed else "DISAGREE"

    def summary(self) -> dict:
        """The report line: name, max |z|, bound, max relative error, verdict.

        ``rel_err`` is ``None`` where it is undefined (a theory value of exactly 0)."""
        return {"name": self.name, "max_abs_z": self.max_abs_z, "bound": self.bound,
                "rel_err": self.rel_err if np.isfinite(self.rel_err) else None,
                "n_points": int(self.z.size), "passed": self.passed,
                "note": self.note}

    def to_dict(self) -> dict:
        d = self.summary()
        d.update({"x": self.x.tolist(), "theory": self.theory.tolist(), "mean": self.mean.tolist(),
                  "sem": self.sem.tolist(), "allowance": self.allowance.tolist(),
                  "z": self.z.tolist(), "alpha": self.alpha})
        return d


def compare(
    name: str,
    theory,
    mean,
    sem,
    *,
    x=None,
    allowance=0.0,
    rel_allowance: float = 0.0,
    alpha: float = 0.01,
    bound: float | None = None,
    note: str = "",
) -> Comparison:
    """Compare theory with a simulation mean in units of standard error.

    ``allowance`` (absolute) and ``rel_allowance`` (times |theory|) add in quadrature
    to the standard error; ``bound`` overrides the Šidák bound (e.g. 3.0 for a single
    "within 3 standard errors" check).
    """
    theory = np.atleast_1d(np.asarray(theory, dtype=float))
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    sem = np.atleast_1d(np.asarray(sem, dtype=float))
    if not (theory.shape == mean.shape == sem.shape):
        raise ValueError(f"theory {theory.shape}, mean {mean.shape} and sem {sem.shape} must "
                         "have the same shape")
    if np.any(~np.isfinite(sem)) or np.any(sem < 0):
        raise ValueError("sem must be finite and non-negative (need >= 2 replicas)")
    if rel_allowance < 0:
        raise ValueError(f"rel_allowance must be >= 0, got {rel_allowance}")
    x = np.arange(theory.size) if x is None else np.atleast_1d(np.asarray(x, dtype=float))
    allow = np.broadcast_to(np.asarray(allowance, dtype=float), theory.shape) \
        + rel_allowance * np.abs(theory)
    scale = np.sqrt(sem**2 + allow**2)
    diff = mean - theory
    with np.errstate(divide="ignore", invalid="ignore"):
        # where there is no spread at all (e.g. a deterministic start), only rounding may differ
        exact_match = np.abs(diff) <= 1e-12 * np.maximum(np.abs(theory), 1e-300)
        z = np.where(scale > 0, diff / scale, np.where(exact_match, 0.0, np.inf))
        rel = np.abs(diff) / np.abs(theory)
    rel = np.where(np.isfinite(rel), rel, np.where(diff == 0, 0.0, np.inf))
    finite_ok = np.all(np.isfinite(mean)) and np.all(np.isfinite(theory))
    max_z = float(np.max(np.abs(z))) if finite_ok else float("inf")
    bnd = sidak_bound(theory.size, alpha) if bound is None else float(bound)
    return Comparison(name=name, x=x, theory=theory, mean=mean, sem=sem,
                      allowance=np.asarray(allow, dtype=float), z=z, max_abs_z=max_z, bound=bnd,
                      rel_err=float(np.max(rel)), passed=bool(max_z < bnd), alpha=alpha, note=note)


def richardson_half_step(at_eta, se_eta, at_half, se_half):
    r"""Linear extrapolation to :math:`\eta\to0` of simulation means taken at :math:`\eta`
    and :math:`\eta/2` (independent runs): :math:`m_0 = 2m_{\eta/2} - m_\eta`, removing an
    :math:`O(\eta)` finite-learning-rate bias, with standard error
    :math:`\sqrt{4\,\mathrm{SE}_{\eta/2}^2 + \mathrm{SE}_\eta^2}`.  Returns ``(m0, se0)``."""
    at_eta, at_half = np.asarray(at_eta, dtype=float), np.asarray(at_half, dtype=float)
    return 2 * at_half - at_eta, np.hypot(2 * np.asarray(se_half, dtype=float),
                                          np.asarray(se_eta, dtype=float))
