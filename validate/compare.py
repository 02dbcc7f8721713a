r"""Theory-versus-simulation comparisons with statistical verdicts.

At each compared point the z-score is

.. math:: z = \frac{\bar m - \theta}{\sqrt{\mathrm{SE}^2 + a^2}},

with :math:`\bar m` the simulation mean, :math:`\mathrm{SE}` its standard error from
independent replicas, :math:`\theta` the theory value and :math:`a` a *stated* model-error
allowance (e.g. the known finite-learning-rate bias; zero by default).  A curve of ``m``
points passes when :math:`\max|z|` is below the Šidák-corrected two-sided bound at
family-wise level :math:`\alpha` (default 1%):
:math:`\Phi^{-1}(1 - \alpha_1/2)` with :math:`\alpha_1 = 1-(1-\alpha)^{1/m}`; when each
standard error comes from only ``dof + 1`` replicas, the Student-t quantile with ``dof``
degrees of freedom replaces the normal one.

Every comparison states its *nominal level* (``level``): the probability that it fails when
the theory is right, which ``learndyn calibrate`` checks against the measured failure rate.

Two kinds of comparison:

* ``statistical`` — the sampling error (standard error from independent replicas) is a
  substantial part of the scale; the verdict is a statistical test at ``level``;
* ``tolerance`` — a deterministic check (no sampling error, or a stated allowance that dwarfs
  it, ``allowance >= 2 SE`` at every point): it passes iff every error is within the stated
  tolerance (:func:`tolerance_check`), or, from :func:`compare`, within the bound times the
  allowance (combined in quadrature with the SE).  It is not a statistical test and has no
  nominal level.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t

from numerics.stats import replica_sem

__all__ = ["Comparison", "compare", "skew_compare", "tolerance_check", "sidak_bound",
           "nominal_level", "richardson_half_step"]

#: a comparison is a tolerance check when its allowance is at least this many standard errors
TOLERANCE_DOMINANCE = 2.0


def _check_dof(dof) -> float | None:
    if dof is None:
        return None
    d = float(dof)
    if not (np.isfinite(d) and d >= 1):
        raise ValueError(f"dof must be >= 1 (standard errors from >= 2 replicas), got {dof!r}")
    return d


def sidak_bound(m: int, alpha: float = 0.01, dof: float | None = None) -> float:
    """Two-sided |z| bound for ``m`` independent-ish tests at family-wise level ``alpha``.

    With ``dof`` the per-test quantile is Student t with ``dof`` degrees of freedom (each
    standard error estimated from ``dof + 1`` replicas) instead of the normal.
    """
    if isinstance(m, bool) or int(m) != m or m < 1:
        raise ValueError(f"m must be an integer >= 1, got {m!r}")
    if not (0 < alpha < 1):
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    dof = _check_dof(dof)
    per_test = -np.expm1(np.log1p(-alpha) / m)
    if dof is None:
        return float(norm.isf(per_test / 2))
    return float(student_t.isf(per_test / 2, dof))


def nominal_level(bound: float, m: int, dof: float | None = None) -> float:
    """False-failure probability of ``max |z| >= bound`` over ``m`` independent points
    (normal, or Student t with ``dof``): :math:`1 - (1 - 2Q(b))^m`."""
    dof = _check_dof(dof)
    tail = norm.sf(bound) if dof is None else student_t.sf(bound, dof)
    return float(-np.expm1(m * np.log1p(-2 * tail)))


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
    kind: str = "statistical"
    level: float | None = None
    dof: float | None = None

    @property
    def verdict(self) -> str:
        return "agree" if self.passed else "DISAGREE"

    def summary(self) -> dict:
        """The report line: name, kind, max |z|, bound, level, max relative error, verdict.

        ``rel_err`` is ``None`` where it is undefined (a theory value of exactly 0);
        ``max_abs_z``, ``bound`` and ``level`` are ``None`` for a tolerance check."""
        stat = self.kind == "statistical"
        return {"name": self.name, "kind": self.kind,
                "max_abs_z": _finite_or_none(self.max_abs_z) if stat else None,
                "bound": self.bound if stat else None, "level": self.level if stat else None,
                "dof": self.dof, "mean_z": _finite_or_none(float(np.mean(self.z)))
                if stat and self.z.size else None,
                "rel_err": self.rel_err if np.isfinite(self.rel_err) else None,
                "n_points": int(self.z.size), "passed": self.passed,
                "note": self.note}

    def to_dict(self) -> dict:
        d = self.summary()
        d.update({"x": self.x.tolist(), "theory": self.theory.tolist(), "mean": self.mean.tolist(),
                  "sem": self.sem.tolist(), "allowance": self.allowance.tolist(),
                  "z": self.z.tolist(), "alpha": self.alpha})
        return d


def _finite_or_none(v: float):
    return float(v) if np.isfinite(v) else None


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
    dof: float | None = None,
    exact_sem=None,
    note: str = "",
) -> Comparison:
    r"""Compare theory with a simulation mean in units of standard error.

    ``allowance`` (absolute) and ``rel_allowance`` (times |theory|) add in quadrature
    to the standard error; ``bound`` overrides the Šidák bound (e.g. 3.0 for a single
    "within 3 standard errors" check); ``dof`` (standard errors from ``dof + 1``
    replicas) uses Student-t quantiles for the Šidák bound and the nominal level.
    ``exact_sem`` is the standard error implied by the *theory's own* variance of the
    observable, where the theory gives it (e.g. the LMS fourth moments): the z then uses
    :math:`\max(\mathrm{SE}, \mathrm{SE}_\text{exact})`.  For a skewed observable the
    sample SE is too small exactly when the sample mean is low (left tail of mean/SE heavier
    than normal), while mean/SE_exact has a heavy right tail; the larger of the two keeps
    both tails within the nominal level (the stored ``sem`` is the one used).
    Where the allowance is at least ``TOLERANCE_DOMINANCE`` standard errors at every point
    the comparison is labelled a tolerance check (``kind="tolerance"``).
    """
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if bound is not None and not (np.isfinite(bound) and bound > 0):
        raise ValueError(f"bound must be a finite number > 0, got {bound!r}")
    dof = _check_dof(dof)
    theory = np.atleast_1d(np.asarray(theory, dtype=float))
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    sem = np.atleast_1d(np.asarray(sem, dtype=float))
    if not (theory.shape == mean.shape == sem.shape):
        raise ValueError(f"theory {theory.shape}, mean {mean.shape} and sem {sem.shape} must "
                         "have the same shape")
    if np.any(~np.isfinite(sem)) or np.any(sem < 0):
        raise ValueError("sem must be finite and non-negative (need >= 2 replicas)")
    if exact_sem is not None:
        exact = np.broadcast_to(np.asarray(exact_sem, dtype=float), sem.shape)
        if np.any(~np.isfinite(exact)) or np.any(exact < 0):
            raise ValueError("exact_sem must be finite and non-negative")
        sem = np.maximum(sem, exact)
    if not (np.isfinite(rel_allowance) and rel_allowance >= 0):
        raise ValueError(f"rel_allowance must be >= 0, got {rel_allowance}")
    if theory.size == 0:
        raise ValueError("nothing to compare: theory is empty")
    allowance = np.asarray(allowance, dtype=float)
    if np.any(~np.isfinite(allowance)) or np.any(allowance < 0):
        raise ValueError("allowance must be finite and >= 0")
    x = np.arange(theory.size) if x is None else np.atleast_1d(np.asarray(x, dtype=float))
    allow = np.broadcast_to(allowance, theory.shape) + rel_allowance * np.abs(theory)
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
    tolerance = bool(np.all(allow >= TOLERANCE_DOMINANCE * sem))
    kind = "tolerance" if tolerance else "statistical"
    # a tolerance check's scale is its allowance, not an estimated SE: no Student-t widening
    bnd = (sidak_bound(theory.size, alpha, None if tolerance else dof) if bound is None
           else float(bound))
    level = None if tolerance else (alpha if bound is None
                                    else nominal_level(bnd, theory.size, dof))
    return Comparison(name=name, x=x, theory=theory, mean=mean, sem=sem,
                      allowance=np.asarray(allow, dtype=float), z=z, max_abs_z=max_z, bound=bnd,
                      rel_err=float(np.max(rel)), passed=bool(max_z < bnd), alpha=alpha, note=note,
                      kind=kind, level=level, dof=dof)


def tolerance_check(name: str, reference, value, *, rtol: float = 0.0, atol: float = 0.0,
                    x=None, note: str = "") -> Comparison:
    r"""A deterministic check: passes iff :math:`|v - r| \le \mathrm{atol} + \mathrm{rtol}|r|`
    at every point.  Not a statistical test (``kind="tolerance"``, no nominal level); ``z``
    holds the error in units of the tolerance."""
    ref = np.atleast_1d(np.asarray(reference, dtype=float))
    val = np.atleast_1d(np.asarray(value, dtype=float))
    if ref.shape != val.shape:
        raise ValueError(f"reference {ref.shape} and value {val.shape} must have the same shape")
    if ref.size == 0:
        raise ValueError("nothing to compare: reference is empty")
    if not (np.isfinite(rtol) and rtol >= 0 and np.isfinite(atol) and atol >= 0) \
            or rtol + atol == 0:
        raise ValueError(f"rtol and atol must be >= 0 and not both 0, got {rtol!r}, {atol!r}")
    x = np.arange(ref.size) if x is None else np.atleast_1d(np.asarray(x, dtype=float))
    tol = atol + rtol * np.abs(ref)
    diff = val - ref
    finite = np.all(np.isfinite(val)) and np.all(np.isfinite(ref))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(tol > 0, diff / tol, np.where(diff == 0, 0.0, np.inf))
        rel = np.abs(diff) / np.abs(ref)
    rel = np.where(np.isfinite(rel), rel, np.where(diff == 0, 0.0, np.inf))
    max_z = float(np.max(np.abs(z))) if finite else float("inf")
    return Comparison(name=name, x=x, theory=ref, mean=val, sem=np.zeros_like(ref),
                      allowance=np.broadcast_to(tol, ref.shape).astype(float), z=z,
                      max_abs_z=max_z, bound=1.0, rel_err=float(np.max(rel)),
                      passed=bool(finite and max_z <= 1.0), alpha=float("nan"), note=note,
                      kind="tolerance", level=None, dof=None)


def skew_compare(name: str, theory, samples, *, x=None, note: str = ""):
    r"""``compare`` for the mean of skewed per-replica values, with Hall's (1992)
    skewness-removing transformation of the t statistic :math:`T = \sqrt n(\bar x - \theta)/s`
    (P. Hall, "On the removal of skewness by transformation", JRSS B 54, 221-228, 1992):

    .. math:: T_H = T + \frac{\hat\gamma}{\sqrt n}\Big(\frac{T^2}{3} + \frac16\Big)
              + \frac{\hat\gamma^2}{27n}T^3 ,

    :math:`\hat\gamma` the sample skewness; :math:`T_H` is monotone in :math:`T` and normal
    to :math:`O(1/n)` (Johnson's 1978 modified t plus Hall's cubic term).  Used where the
    per-replica values are skewed: the cerebellum's task losses (quadratic forms of
    Gaussian-like weights; a 40-seed calibration had shown the plain t failing at 2.5x its
    nominal rate, skewness ~2.3 with 150 replicas).  ``samples`` is (R, m): R independent
    replicas of m points; the comparison keeps the plain mean and standard error and judges
    :math:`T_H`."""
    X = np.asarray(samples, dtype=float)
    theory = np.asarray(theory, dtype=float)
    if X.ndim != 2 or X.shape[0] < 3:
        raise ValueError(f"samples must be (replicas, points) with at least 3 replicas (the "
                         f"skewness needs them), got shape {X.shape}")
    n = X.shape[0]
    m = X.mean(axis=0)
    sem = replica_sem(X, axis=0)
    sd = sem * np.sqrt(n)
    plain = compare(name, theory, m, sem, x=x,
                    note=(note + "; " if note else "") + "Hall (1992) skewness-corrected t")
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(sd > 0, np.mean((X - m) ** 3, axis=0) / sd**3, 0.0)
    T = plain.z
    zh = np.where(np.isfinite(T), T + g / np.sqrt(n) * (T**2 / 3 + 1 / 6)
                  + g**2 * T**3 / (27 * n), T)
    max_z = float(np.max(np.abs(zh))) if np.all(np.isfinite(m)) else float("inf")
    return replace(plain, z=zh, max_abs_z=max_z, passed=bool(max_z < plain.bound))


def richardson_half_step(at_eta, se_eta, at_half, se_half):
    r"""Linear extrapolation to :math:`\eta\to0` of simulation means taken at :math:`\eta`
    and :math:`\eta/2` (independent runs): :math:`m_0 = 2m_{\eta/2} - m_\eta`, removing an
    :math:`O(\eta)` finite-learning-rate bias, with standard error
    :math:`\sqrt{4\,\mathrm{SE}_{\eta/2}^2 + \mathrm{SE}_\eta^2}`.  Returns ``(m0, se0)``."""
    at_eta, at_half = np.asarray(at_eta, dtype=float), np.asarray(at_half, dtype=float)
    return 2 * at_half - at_eta, np.hypot(2 * np.asarray(se_half, dtype=float),
                                          np.asarray(se_eta, dtype=float))
