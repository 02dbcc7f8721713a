r"""Gradient estimators for rough losses: exact bias and mean-squared error, and the learning
curves of perturbation learning (seed 003, "Computing Gradient of Mollified Loss",
"Optimizing Methods to Make Them Viable"; Werfel, Xie & Seung 2005).

Every expectation below is derived by SymPy with Isserlis' theorem on linear and quadratic
forms of a standard Gaussian in a *symbolic* dimension (:func:`theory.wick.expect_forms`);
nothing is typed in.

**Local model.**  Around :math:`\theta` the loss is
:math:`L(\theta+\delta) = L_0 + g^\top\delta + \tfrac12\delta^\top H\delta` (``hessian`` None
means :math:`H = 0`, a linear loss), perturbations :math:`\delta = \sigma\varepsilon`,
:math:`\varepsilon\sim N(0, I_d)`, :math:`S` independent directions.

**Score-function (Gaussian-smoothing, "log-likelihood trick") estimators** of
:math:`\nabla L_\sigma(\theta) = \tfrac1\sigma E[L(\theta+\sigma\varepsilon)\varepsilon]`
(seed 003, "Computing Gradient of Mollified Loss"; Nesterov & Spokoiny 2017, eq. (21)):

* ``plain``: :math:`\hat g = \frac{1}{S\sigma}\sum_s L(\theta+\sigma\varepsilon_s)\varepsilon_s`
  (S evaluations);
* ``baseline``: :math:`L(\theta+\sigma\varepsilon_s) - L(\theta)` in its place (S + 1);
* ``antithetic``: :math:`\hat g = \frac{1}{2S\sigma}\sum_s [L(\theta+\sigma\varepsilon_s) -
  L(\theta-\sigma\varepsilon_s)]\varepsilon_s` (2S evaluations).

All three are unbiased for the quadratic model (:func:`score_bias` is derived, and is 0: the
Gaussian-smoothed gradient of a quadratic is :math:`g`).  Their exact mean-squared error
:math:`E|\hat g - g|^2` (:func:`score_mse`) is

.. math::
    \mathrm{plain}: &\ \tfrac1S\big[d L_0^2/\sigma^2 + (d+1)|g|^2 + (d+2)L_0\operatorname{tr}H
        + \tfrac{\sigma^2}{4}(d+4)((\operatorname{tr}H)^2 + 2\operatorname{tr}H^2)\big],\\
    \mathrm{baseline}: &\ \tfrac1S\big[(d+1)|g|^2
        + \tfrac{\sigma^2}{4}(d+4)((\operatorname{tr}H)^2 + 2\operatorname{tr}H^2)\big],\\
    \mathrm{antithetic}: &\ \tfrac1S (d+1)|g|^2,

so the plain estimator's error grows like :math:`1/\sigma^2` (it averages :math:`L_0\varepsilon`,
zero in the mean and huge in the spread), the baseline removes that, and antithetic pairs
also cancel the curvature exactly: on a quadratic its error does not depend on
:math:`\sigma`, :math:`L_0` or :math:`H`.

**Perturbation regression** (the seed's "regression method"): the least-squares fit
:math:`L(\theta+\delta_s) \approx c + b^\top\delta_s` over the :math:`S` perturbations,
:math:`\hat g = b` (for :math:`S \le d`, the minimum-norm solution).  On a *linear* loss,
:math:`\hat g = Pg` exactly, :math:`P` the orthogonal projector onto the span of the
:math:`r = \min(S - 1, d)` centred perturbations (:math:`r = \min(S, d)` without the
intercept); rotational invariance gives :math:`E[P] = (r/d)I`, hence (:func:`regression_linear`)

.. math:: E[\hat g] = \frac rd\,g, \qquad E|\hat g - g|^2 = |g|^2\Big(1 - \frac rd\Big):

the "S must reach the number of parameters" effect (seed 003, "Real Application: MNIST"):
below :math:`S = d + 1` the estimate is the gradient projected on a random
:math:`r`-dimensional subspace, exact from :math:`S = d+1` on.  On a quadratic loss the
residual of the linear fit, :math:`\tfrac12(\delta^\top H\delta - \sigma^2\operatorname{tr}H)`,
is uncorrelated with :math:`\delta` but not independent of it; the leading term for
:math:`S \gg d` is the sandwich variance (:func:`regression_quadratic_leading`)

.. math:: E|\hat g - g|^2 = \frac{1}{S\sigma^2}E\big[r(\delta)^2|\delta|^2\big]/\sigma^2
          + O(S^{-2}) = \frac{\sigma^2 (d+4)\operatorname{tr}H^2}{2S} + O(S^{-2})

(with the intercept; without it, i.e. regression of :math:`L(\theta+\delta) - L(\theta)`, the
baseline score function's curvature term).  The regression removes the :math:`(d+1)|g|^2/S`
that every score-function variant pays.

**Perturbation learning in a linear student-teacher network** (Werfel, Xie & Seung 2005,
*Neural Computation* 17:2699; :func:`learning_recursion`).  Student :math:`y = Wx`,
:math:`W\in\mathbb R^{M\times N}`, teacher :math:`W^*`, inputs :math:`x\sim N(0, I_N)`, one
example per step, error :math:`E = \tfrac12|(W - W^*)x|^2`, generalisation error
:math:`E_g = \tfrac12|D|_F^2`, :math:`D = W - W^*`.  Updates:

* gradient descent: :math:`\Delta W = -\eta\,e x^\top`, :math:`e = Dx`;
* node perturbation: outputs :math:`y + \xi`, :math:`\xi = \sigma z\sim N(0,\sigma^2 I_M)`,
  :math:`\Delta W = -\frac{\eta}{\sigma^2}[E(y+\xi) - E(y)]\,\xi x^\top`;
* weight perturbation: :math:`W + \Psi`, :math:`\Psi = \sigma Z`,
  :math:`\Delta W = -\frac{\eta}{\sigma^2}[E(W+\Psi) - E(W)]\,\Psi`.

The expected squared error obeys the *exact* linear recursion
:math:`E|D_{t+1}|^2 = a\,E|D_t|^2 + b` with

.. math::
    a_{GD} = 1 - 2\eta + \eta^2(N+2),\quad a_{NP} = 1 - 2\eta + \eta^2(M+2)(N+2),\quad
    a_{WP} = 1 - 2\eta + \eta^2(MN+2)(N+2),

:math:`b_{GD} = 0`, :math:`b_{NP} = \eta^2\sigma^2 N M(M+2)(M+4)/4`,
:math:`b_{WP} = \eta^2\sigma^2 N(N+2)M(M+2)(MN+4)/4` (the perturbation's own curvature
term).  The optimal rate :math:`\eta^* = 1/c` for :math:`a = 1 - 2\eta + c\eta^2` gives the
contraction :math:`a^* = 1 - 1/c`: a learning time of :math:`c` steps per e-fold,
:math:`N+2` (GD), :math:`(M+2)(N+2)` (NP: slower by about the number of outputs) and
:math:`(MN+2)(N+2)` (WP: slower again by about the number of inputs), as Werfel et al.
state in their abstract; the largest stable rate is :math:`2/c`.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from theory.latex import Equation, LatexModel, Rel, Sym, Tex, register_latex
from theory.wick import expect_polynomial

__all__ = ["VARIANTS", "RULES", "d", "S", "sigma", "L0", "g2", "trH", "trH2", "eta", "M", "N",
           "D2", "score_sample", "score_bias", "score_second_moment", "score_mse",
           "evaluations", "regression_linear", "regression_quadratic_leading",
           "learning_recursion", "optimal_rate", "learning_time", "stationary_error",
           "TRAIN_VARIANTS", "lam", "p_v", "G2", "score_direction_variance",
           "training_recursion"]

VARIANTS = ("plain", "baseline", "antithetic")
RULES = ("gd", "node", "weight")

d = sp.Symbol("d", positive=True, integer=True)
S = sp.Symbol("S", positive=True, integer=True)
sigma = sp.Symbol("sigma", positive=True)
L0 = sp.Symbol("L0", real=True)
#: |g|^2, tr H, tr H^2 (the invariants the estimators' errors depend on)
g2 = sp.Symbol("g2", nonnegative=True)
trH = sp.Symbol("trH", real=True)
trH2 = sp.Symbol("trH2", nonnegative=True)
#: a fixed direction u (the bias is derived along it): u.g, u.H g
ug = sp.Symbol("ug", real=True)
uHg = sp.Symbol("uHg", real=True)
eta = sp.Symbol("eta", positive=True)
M = sp.Symbol("M", positive=True, integer=True)
N = sp.Symbol("N", positive=True, integer=True)
#: |D|_F^2 = |W - W*|_F^2 (twice the generalisation error)
D2 = sp.Symbol("D2", nonnegative=True)

# placeholders for forms of eps: g.eps, eps^T H eps, |eps|^2, u.eps
_gz, _zHz, _z2, _uz = sp.symbols("gz zHz z2 uz", real=True)
_FORMS = {_gz: ("lin", "g"), _zHz: ("quad", ("H",)), _z2: ("quad", ()), _uz: ("lin", "u")}
_INVARIANTS = {("chain", "g", (), "g"): g2, ("trace", ("H",)): trH, ("trace", ("H", "H")): trH2,
               ("chain", "g", (), "u"): ug, ("chain", "g", ("H",), "u"): uHg}


def _local_loss(sign: int = 1) -> sp.Expr:
    """L(theta + sign sigma eps) of the quadratic model, in the placeholders."""
    return L0 + sign * sigma * _gz + sigma**2 / 2 * _zHz


def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    return variant


def score_sample(variant: str) -> sp.Expr:
    r"""The scalar :math:`c(\varepsilon)` of one sample :math:`X = c(\varepsilon)\,\varepsilon`
    (:math:`\hat g` is the mean of S such samples), in the placeholders ``gz`` =
    :math:`g^\top\varepsilon`, ``zHz`` = :math:`\varepsilon^\top H\varepsilon`."""
    _check_variant(variant)
    if variant == "plain":
        return _local_loss() / sigma
    if variant == "baseline":
        return sp.expand((_local_loss() - L0) / sigma)
    return sp.expand((_local_loss(1) - _local_loss(-1)) / (2 * sigma))


def _expect(expr) -> sp.Expr:
    return sp.expand(expect_polynomial(expr, _FORMS, d, _INVARIANTS))


@cache
def score_bias(variant: str) -> sp.Expr:
    r""":math:`u^\top(E[\hat g] - g)` along a fixed direction :math:`u` (derived; 0 for every
    variant on the quadratic model)."""
    return sp.simplify(_expect(score_sample(variant) * _uz) - ug)


@cache
def score_second_moment(variant: str) -> sp.Expr:
    r""":math:`E|X|^2 = E[c(\varepsilon)^2|\varepsilon|^2]` of one sample."""
    return _expect(score_sample(variant) ** 2 * _z2)


@cache
def score_mse(variant: str) -> sp.Expr:
    r"""Exact :math:`E|\hat g - g|^2` with S independent samples:
    :math:`|E X - g|^2 + (E|X|^2 - |E X|^2)/S`, the bias being 0 (:func:`score_bias`)."""
    if score_bias(variant) != 0:
        raise ArithmeticError(f"the {variant} estimator is biased on the quadratic model")
    return sp.factor_terms(sp.expand((score_second_moment(variant) - g2) / S))


def evaluations(variant: str) -> sp.Expr:
    """Loss evaluations one estimate uses: S (plain), S + 1 (baseline), 2S (antithetic)."""
    return {"plain": S, "baseline": S + 1, "antithetic": 2 * S}[_check_variant(variant)]


def regression_linear(intercept: bool = True) -> dict[str, sp.Expr]:
    r"""Regression estimator on a linear loss: ``rank`` :math:`r`, ``mean_factor``
    :math:`E[\hat g] = (r/d)\,g` and ``mse`` :math:`E|\hat g - g|^2 = |g|^2(1 - r/d)`.

    Derivation: :math:`\hat g = Pg` with :math:`P` the orthogonal projector onto the span of
    the (centred, with the intercept) perturbations, of rank :math:`r = \min(S - 1, d)`
    (:math:`\min(S, d)` without the intercept) almost surely.  The perturbations' law is
    rotation invariant, so :math:`E[P] = cI`, and :math:`\operatorname{tr}P = r` fixes
    :math:`c`; then :math:`E|(I - P)g|^2 = g^\top(I - E[P])g` because :math:`P^2 = P`.
    """
    c = sp.Symbol("c")
    r = sp.Min(S - 1, d) if intercept else sp.Min(S, d)
    c_val = sp.solve(sp.Eq(c * d, r), c)[0]  # tr E[P] = c d = r
    # |(I - P) g|^2 = g^T g - 2 g^T P g + g^T P^2 g = g^T g - g^T P g
    mse = g2 - c_val * g2
    return {"rank": r, "mean_factor": c_val, "mse": sp.factor(mse)}


@cache
def regression_quadratic_leading(intercept: bool = True) -> sp.Expr:
    r"""Leading term (large S) of :math:`E|\hat g - g|^2` of the regression estimator on the
    quadratic model: the sandwich variance
    :math:`\frac1S\operatorname{tr}(\Sigma^{-1}E[\rho^2\delta\delta^\top]\Sigma^{-1})`,
    :math:`\Sigma = \sigma^2 I`, with :math:`\rho = \tfrac12(\delta^\top H\delta -
    \sigma^2\operatorname{tr}H)` the residual of the best linear fit (intercept) or
    :math:`\rho = \tfrac12\delta^\top H\delta` (no intercept: the baseline is subtracted).
    Corrections are :math:`O(1/S^2)`."""
    rho = sigma**2 / 2 * (_zHz - trH) if intercept else sigma**2 / 2 * _zHz
    # delta = sigma eps: tr(Sigma^-1 E[rho^2 delta delta^T] Sigma^-1) = E[rho^2 |eps|^2]/sigma^2
    return sp.factor(_expect(rho**2 * _z2) / (S * sigma**2))


# ----------------------------------------------------------------------------- Werfel-Xie-Seung

_ez, _e2, _x2, _zz, _aZ, _dZ, _ZxZx = sp.symbols("ez e2 x2 zz aZ dZ ZxZx", real=True)


def _check_rule(rule: str) -> str:
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    return rule


@cache
def learning_recursion(rule: str) -> tuple[sp.Expr, sp.Expr]:
    r"""``(a, b)`` with :math:`E|D_{t+1}|_F^2 = a\,E|D_t|_F^2 + b` for one update of ``rule``
    (``"gd"``, ``"node"``, ``"weight"``; module docstring), derived in two stages: the
    expectation over the perturbation given the input, then over the input
    (:math:`e = Dx`, :math:`|e|^2 = x^\top D^\top Dx`, :math:`E_x` with
    :math:`\operatorname{tr}D^\top D = |D|_F^2`).

    :math:`|D + \Delta W|^2 = |D|^2 + 2\langle D, \Delta W\rangle + |\Delta W|^2`.
    """
    _check_rule(rule)
    if rule == "gd":
        # Delta W = -eta e x^T: <D, dW> = -eta e^T D x = -eta |e|^2; |dW|^2 = eta^2 |e|^2 |x|^2
        given_x = -2 * eta * _e2 + eta**2 * _e2 * _x2
    elif rule == "node":
        # z ~ N(0, I_M): dE = sigma e.z + sigma^2 |z|^2 / 2, dW = -(eta/sigma^2) dE sigma z x^T
        c = -eta * (_ez + sigma / 2 * _zz)  # dW = c z x^T
        inner = c * _ez  # <D, z x^T> = z^T D x = e.z
        sq = c**2 * _zz * _x2  # |z x^T|^2 = |z|^2 |x|^2
        given_x = expect_polynomial(2 * inner + sq, {_ez: ("lin", "e"), _zz: ("quad", ())}, M,
                                    {("chain", "e", (), "e"): _e2})
    else:
        # vec Z ~ N(0, I_{MN}); <Z, e x^T> is a linear form with vector a = vec(e x^T);
        # |Zx|^2 = vec(Z)^T K vec(Z) with K = x x^T (x) I_M; <D, Z> a linear form with vec(D)
        c = -eta * (_aZ + sigma / 2 * _ZxZx)  # dW = c Z
        inner = c * _dZ
        sq = c**2 * _zz
        inv = {("chain", "a", (), "a"): _e2 * _x2,  # |e x^T|_F^2
               ("chain", "a", (), "d"): _e2,  # <e x^T, D> = e^T D x
               ("chain", "d", (), "d"): D2,
               ("chain", "a", ("K",), "a"): _e2 * _x2**2,
               ("chain", "a", ("K",), "d"): _e2 * _x2,
               ("chain", "d", ("K",), "d"): _e2,  # |D x|^2
               ("trace", ("K",)): M * _x2, ("trace", ("K", "K")): M * _x2**2,
               ("trace", ("K", "K", "K")): M * _x2**3}
        given_x = expect_polynomial(
            2 * inner + sq, {_aZ: ("lin", "a"), _dZ: ("lin", "d"), _ZxZx: ("quad", ("K",)),
                             _zz: ("quad", ())}, M * N, inv)
    # stage 2: x ~ N(0, I_N), |e|^2 = x^T A x with A = D^T D, tr A = |D|_F^2
    total = expect_polynomial(given_x, {_e2: ("quad", ("A",)), _x2: ("quad", ())}, N,
                              {("trace", ("A",)): D2})
    total = sp.expand(total.subs(D2, D2))
    if total.has(sp.Symbol("tr_AA")):
        raise ArithmeticError("the recursion does not close on |D|^2")
    poly = sp.Poly(total, D2)
    if poly.degree() > 1:
        raise ArithmeticError("the recursion is not linear in |D|^2")
    a = sp.factor(poly.coeff_monomial(D2) + 1)
    b = sp.factor(poly.coeff_monomial(1))
    return a, b


def optimal_rate(rule: str) -> sp.Expr:
    r""":math:`\eta^*` minimising the contraction factor :math:`a(\eta)` (solved by SymPy)."""
    a, _ = learning_recursion(rule)
    sols = [s for s in sp.solve(sp.diff(a, eta), eta) if s.is_positive is not False]
    if len(sols) != 1:
        raise ArithmeticError(f"expected one optimal rate, got {sols}")
    return sp.factor(sols[0])


def learning_time(rule: str) -> sp.Expr:
    r"""Steps per e-fold of the error at the optimal rate, to leading order:
    :math:`1/(1 - a(\eta^*))` (the exact one is :math:`-1/\ln a^*`)."""
    a, _ = learning_recursion(rule)
    return sp.factor(sp.simplify(1 / (1 - a.subs(eta, optimal_rate(rule)))))


def stationary_error(rule: str) -> sp.Expr:
    r""":math:`\lim_t E|D_t|^2 = b/(1 - a)` (for :math:`a < 1`)."""
    a, b = learning_recursion(rule)
    return sp.factor(b / (1 - a))


# ------------------------------------------------------------------ training on a quadratic

TRAIN_VARIANTS = ("exact", "baseline", "antithetic")
#: an eigenvector v of H (|v| = 1, Hv = lam v), p = E[(v.u)^2] with u = theta - theta* (the
#: minimiser), G2 = E|g|^2 = E|Hu|^2 = sum_j lam_j^2 p_j
lam = sp.Symbol("lam", nonnegative=True)
p_v = sp.Symbol("p", nonnegative=True)
G2 = sp.Symbol("G2", nonnegative=True)
_gv = sp.Symbol("gv", real=True)
_vz = sp.Symbol("vz", real=True)


@cache
def score_direction_variance(variant: str) -> sp.Expr:
    r"""Variance of one sample :math:`X = c(\varepsilon)\varepsilon` along a unit eigenvector
    :math:`v` of :math:`H` (:math:`Hv = \lambda v`): :math:`E[c^2(v^\top\varepsilon)^2] -
    (g^\top v)^2`, derived by Isserlis (``gv`` is :math:`g^\top v`).  For ``"baseline"``:
    :math:`|g|^2 + (g^\top v)^2 + \frac{\sigma^2}{4}[(\operatorname{tr}H)^2 +
    2\operatorname{tr}H^2 + 4\lambda\operatorname{tr}H + 8\lambda^2]`; for ``"antithetic"``
    the curvature term is absent."""
    if variant not in ("baseline", "antithetic"):
        raise ValueError(f"variant must be 'baseline' or 'antithetic', got {variant!r}")
    forms = dict(_FORMS)
    forms[_vz] = ("lin", "v")
    inv = dict(_INVARIANTS)
    inv.update({("chain", "v", (), "v"): sp.S.One, ("chain", "g", (), "v"): _gv,
                ("chain", "v", ("H",), "v"): lam, ("chain", "v", ("H", "H"), "v"): lam**2,
                ("chain", "g", ("H",), "v"): lam * _gv})
    mean = sp.expand(expect_polynomial(score_sample(variant) * _vz, forms, d, inv))
    if sp.simplify(mean - _gv) != 0:
        raise ArithmeticError(f"the {variant} estimator is biased along v: {mean}")
    second = expect_polynomial(score_sample(variant) ** 2 * _vz**2, forms, d, inv)
    return sp.expand(second - _gv**2)


@cache
def training_recursion(variant: str) -> sp.Expr:
    r""":math:`p_{t+1}` from :math:`p_t = E[(v^\top u_t)^2]` for the update
    :math:`\theta_{t+1} = \theta_t - \eta\hat g` on the quadratic loss
    :math:`L(\theta) = L^* + \frac12 u^\top Hu`, :math:`u = \theta - \theta^*`, with
    :math:`\hat g` the mean of S independent samples (``"exact"``: :math:`\hat g = g = Hu`).

    Given :math:`u`: :math:`E[(v^\top u')^2 | u] = (1 - \eta\lambda)^2 (v^\top u)^2 +
    \frac{\eta^2}{S}\operatorname{Var}_v` (:func:`score_direction_variance`); the variance is
    linear in :math:`(g^\top v)^2 = \lambda^2 (v^\top u)^2` and :math:`|g|^2`, so the average
    over :math:`u` closes on the eigen-direction second moments, with
    :math:`E|g|^2 = G_2 = \sum_j\lambda_j^2 p_j`.  The excess loss is
    :math:`E[L_t] - L^* = \frac12\sum_j\lambda_j p_{j,t}`.  (The plain estimator is left
    out: its :math:`L_0^2` term is quartic in :math:`u` and the recursion does not close.)"""
    if variant not in TRAIN_VARIANTS:
        raise ValueError(f"variant must be one of {TRAIN_VARIANTS}, got {variant!r}")
    mean_part = (1 - eta * lam) ** 2 * p_v
    if variant == "exact":
        return mean_part
    var = sp.expand(score_direction_variance(variant).subs(g2, G2))
    var = sp.expand(var.subs(_gv**2, lam**2 * p_v))
    if var.has(_gv):
        raise ArithmeticError("the recursion does not close on the eigen-direction moments")
    return sp.collect(sp.expand(mean_part + eta**2 / S * var), [p_v, G2])


# ----------------------------------------------------------------------------- LaTeX

def _collected(expr) -> sp.Expr:
    """Grouped for display: by L0^2, |g|^2, L0 and sigma^2, each coefficient factored."""
    return sp.collect(sp.expand(expr), [L0**2, g2, L0, sigma**2], func=sp.factor)


def _estimators_latex_model() -> LatexModel:
    mse = {v: score_mse(v) for v in VARIANTS}
    lin = regression_linear(True)
    rules_a = {r: learning_recursion(r) for r in RULES}
    G = sp.Symbol("G")
    names = {"gd": "GD", "node": "NP", "weight": "WP"}
    return LatexModel(
        title="Gradient estimators: bias, mean-squared error, perturbation learning",
        summary=r"Local model $L(\theta+\delta) = L_0 + g^\top\delta + \frac{1}{2}\delta^\top H"
                r"\delta$, perturbations $\delta = \sigma\varepsilon$, $\varepsilon \sim "
                r"N(0, I_d)$, $S$ directions. Every expectation is derived by SymPy with "
                r"Isserlis' theorem on linear and quadratic forms in symbolic dimension $d$.",
        source="score-function estimator: seed 003 (Computing Gradient of Mollified Loss), "
               "Nesterov and Spokoiny (2017) eq. (21); perturbation learning: Werfel, Xie and "
               "Seung, Neural Computation 17:2699 (2005)",
        equations=[
            Equation("Score-function estimators (plain, baseline, antithetic) are unbiased on "
                     "the quadratic model; exact mean-squared errors times $S$:",
                     [Rel(Tex(rf"S\,E|\hat g - g|^2_{{\mathrm{{{v}}}}}", ("S", "g")),
                          _collected(S * mse[v])) for v in VARIANTS]),
            Equation("Perturbation regression on a linear loss (rank $r = \\min(S-1, d)$ of "
                     "the centred perturbations):",
                     [Rel(Tex(r"E[\hat g]", ("g",)), lin["mean_factor"] * G),
                      Rel(Tex(r"E|\hat g - g|^2", ("g",)), lin["mse"])]),
            Equation("Perturbation regression on the quadratic model, leading order in $1/S$:",
                     Rel(Tex(r"E|\hat g - g|^2", ("g",)), regression_quadratic_leading(True))),
            Equation("Linear student-teacher network, $E|D_{t+1}|^2 = a\\,E|D_t|^2 + b$:",
                     [Rel(Tex(rf"a_{{\mathrm{{{names[r]}}}}}", ("a",)), sp.expand(rules_a[r][0]))
                      for r in RULES]
                     + [Rel(Tex(rf"b_{{\mathrm{{{names[r]}}}}}", ("b",)), rules_a[r][1])
                        for r in ("node", "weight")]),
            Equation("Training on a quadratic loss, $\\theta_{t+1} = \\theta_t - \\eta\\hat g$: "
                     "second moment along an eigen-direction of $H$ (weight perturbation; "
                     "antithetic pairs drop the $\\sigma^2$ terms):",
                     Rel(Tex("p_{t+1}", ("p",)), training_recursion("baseline").subs(
                         p_v, sp.Symbol("p_t", nonnegative=True)))),
            Equation("Optimal learning rates and learning times (steps per e-fold):",
                     [Rel(Tex(rf"\eta^*_{{\mathrm{{{names[r]}}}}}", ("eta",)),
                          optimal_rate(r)) for r in RULES]
                     + [Rel(Tex(rf"\tau_{{\mathrm{{{names[r]}}}}}", ("tau",)),
                            learning_time(r)) for r in RULES]),
        ],
        symbols=[
            Sym("g", "g", r"the gradient $\nabla L(\theta)$, $\hat g$ its estimate"),
            Sym("G", "g", r"the gradient (as a vector)"),
            Sym("S", "S", "the number of perturbation directions"),
            Sym("d", "d", "the number of parameters"),
            Sym("sigma", r"\sigma", "the perturbation size"),
            Sym("L0", "L_0", r"the loss at $\theta$"),
            Sym("g2", "|g|^2", "the squared norm of the gradient"),
            Sym("trH", r"(\operatorname{tr}H)", "the trace of the Hessian $H$"),
            Sym("trH2", r"\operatorname{tr}(H^2)", "the trace of the squared Hessian"),
            Sym("a", "a", "the contraction factor of one update"),
            Sym("b", "b", "the error that the perturbations add per update"),
            Sym("eta", r"\eta", "the learning rate"),
            Sym("tau", r"\tau", "the learning time at the optimal rate"),
            Sym("p", "p", r"$E[(v^\top(\theta - \theta^*))^2]$ along a unit eigenvector "
                r"$v$ of $H$ ($Hv = \lambda v$)"),
            Sym("p_t", "p_t", "that second moment at step $t$"),
            Sym("lam", r"\lambda", "the eigenvalue of $H$ of that direction"),
            Sym("G2", "G_2", r"$E|g|^2 = \sum_j \lambda_j^2 p_j$"),
            Sym("M", "M", "the number of outputs"),
            Sym("N", "N", "the number of inputs"),
        ],
    )


@register_latex("estimators", "gradient estimators: exact bias/MSE of score-function and "
                "regression estimators, perturbation learning curves (seed 003)")
def estimators_latex() -> LatexModel:
    """LaTeX of the estimator theory."""
    return _estimators_latex_model()
