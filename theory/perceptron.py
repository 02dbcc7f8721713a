r"""Supervised (SL) and reinforcement (RL) learning in the nonlinear perceptron, derived.

Seed 002 (Schmid & Murray, "Dynamics of supervised and reinforcement learning in the
non-linear perceptron").  Inputs :math:`x\sim N(\mu_y,\Sigma_y)` with labels
:math:`y=\pm1`, :math:`p(y)=1/2`; erf sigmoid
:math:`\phi(z) = \tfrac12(1+\operatorname{erf}(\sqrt\pi z/4)) = \Phi(\sqrt{\pi/8}\,z)`.

Update rules (:math:`w \leftarrow w + \eta f(w)`):

* SL, online logistic regression, eq. (12): :math:`f = (\tilde y - \phi(w\cdot x))x - \lambda w`,
  :math:`\tilde y = (y+1)/2`;
* RL, REINFORCE with reward baseline, eq. (13):
  :math:`f = \hat y\,\delta\,\phi(-\hat y\,w\cdot x)\,x - \lambda w`, :math:`\hat y = \pm1`
  with :math:`\pi(\hat y) = \phi(\hat y\, w\cdot x)`,
  :math:`\delta = y\hat y - B` with the baseline :math:`B = \langle y\hat y\rangle`.  The
  derivation keeps :math:`B` as a symbol independent of :math:`\hat y`: averaging over
  :math:`\hat y` it cancels exactly (:math:`\langle\hat y(y\hat y-B)\phi(-\hat y s)\rangle_{\hat y}
  = 2y\,\phi(s)\phi(-s)`), so the drift does not depend on which baseline
  (per-input or global expected reward) is used; only the update noise does.

**Derivation.**  With :math:`s = w\cdot x`, :math:`m = \mu\cdot w`, :math:`v = w^\top\Sigma w`,
:math:`x - \mu - \Sigma w (s-m)/v` is independent of :math:`s`, so for any :math:`G`,
:math:`E[G(s)\,x] = \mu\,E[G] + \Sigma w\,E[G(s)(s-m)]/v`.  Writing
:math:`s = (a + b u)/k`, :math:`k=\sqrt{\pi/8}`, :math:`a = k\,\mu\cdot w`,
:math:`b = k\sqrt{w^\top\Sigma w}` (seed eqs. (16)-(17)), :math:`u\sim N(0,1)`:

.. math:: E[G(s)\,x] = \mu\, g_1(a, b^2) + k\,\Sigma w\, g_2(a, b^2), \quad
          g_1 = E[G], \quad g_2 = E[u\,G]/b,

and the Gaussian table of :mod:`theory.gaussian` evaluates :math:`g_1, g_2` for
:math:`G^{SL}_+ = 1-\phi`, :math:`G^{SL}_- = -\phi`, :math:`G^{RL}_y = 2y\,\phi(s)\phi(-s)`.
The drift is

.. math:: \langle f\rangle(w) = \tfrac12\sum_{y=\pm1}\big[\mu_y g_1^y(a_y,c_y)
          + k\,\Sigma_y w\, g_2^y(a_y,c_y)\big] - \lambda w, \qquad c_y = b_y^2,

which reproduces eqs. (15) and (20) (tests).  Functions of :math:`c = b^2` are smooth at
:math:`w = 0`, which is why the numerics differentiate through :math:`(a, c)`.

Reductions derived here by substitution: the closed two-scalar flow of
:math:`(P,W) = (\mu\cdot w, |w|^2)` for :math:`\mu_\pm=\pm\mu`,
:math:`\Sigma = \sigma_\parallel^2 nn^\top + \sigma_\perp^2(I-nn^\top)`, :math:`n=\mu/|\mu|`
(isotropic case: eqs. (18), (19), (22), (23)); the fixed-point equation (43); the
:math:`\sigma\to0` drift (26) and trace-covariance rate (27); the :math:`O(\sigma^2)` and
:math:`O(\epsilon)` coefficients of the log-alignment rate (24)-(25).

**RL fixed point.**  The seed states a unique fixed point "whenever lambda > 0 or sigma > 0"
for both rules.  For SL the derived radial drift confirms it.  For RL at :math:`\lambda = 0`
the radial drift :math:`w\cdot\langle f\rangle/|w|` at :math:`w\parallel\mu` stays positive
for every :math:`|w|` (its two :math:`O(1/|w|)` terms cancel and the rest decays like
:math:`|w|^{-3}`): REINFORCE keeps sharpening its policy, so a finite fixed point needs
:math:`\lambda > 0` (tests scan the sign on a grid).

**Seed typo in (27).**  With :math:`\phi'(z) = \tfrac14 e^{-\pi z^2/16}`, eq. (11) gives
:math:`\frac{d}{dt}\operatorname{tr}C = -\tfrac12 e^{-\pi(\mu\cdot w)^2/16}\mu^\top C\mu
- 2\lambda\operatorname{tr}C`; the seed prints :math:`\tfrac14` for the first coefficient
(while keeping the :math:`2\lambda` that comes from the same factor 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from theory.gaussian import expect, owens_t
from theory.latex import Equation, LatexModel, Rel, Sym, Tex, register_latex
from theory.moments import derive_moments

__all__ = [
    "RULES", "K", "sigmoid", "logistic", "SIGMOIDS", "check_rule", "class_update_factor",
    "ClassScalars",
    "class_scalars", "drift_vector", "ReducedFlow", "reduced_flow", "log_alignment_rate",
    "noise_coefficient", "anisotropy_coefficient", "fixed_point_function",
    "small_noise_drift", "small_noise_trace_rate", "scalar_derivatives", "fixed_point_jacobian",
]

RULES = ("sl", "rl")
#: :math:`k = \sqrt{\pi/8}`: :math:`\phi(z) = \Phi(k z)`, :math:`\tilde w = k w`.
K = sp.sqrt(sp.pi / 8)

_u = sp.Symbol("u", real=True)
_s = sp.Symbol("s", real=True)
_y, _yhat = sp.Symbol("y", real=True), sp.Symbol("yhat", real=True)
_baseline = sp.Symbol("B", real=True)
lam = sp.Symbol("lambda", nonnegative=True)


def sigmoid(z):
    r"""The erf sigmoid of seed 002:
    :math:`\phi(z) = \tfrac12(1+\operatorname{erf}(\sqrt\pi z/4))`."""
    return (1 + sp.erf(sp.sqrt(sp.pi) * z / 4)) / 2


def check_rule(rule: str) -> str:
    """Normalise ``rule`` ('sl' or 'rl'); ValueError otherwise."""
    if not isinstance(rule, str):
        raise TypeError(f"rule must be a str, 'sl' or 'rl'; got {rule!r}")
    r = rule.lower()
    if r not in RULES:
        raise ValueError(f"rule must be 'sl' (supervised) or 'rl' (REINFORCE), got {rule!r}")
    return r


def logistic(z):
    r"""The logistic sigmoid :math:`1/(1+e^{-z})` that seed 002's simulations used."""
    return 1 / (1 + sp.exp(-z))


#: the output nonlinearities by name (the theory's closed forms are for ``"erf"``)
SIGMOIDS = {"erf": sigmoid, "logistic": logistic}


def class_update_factor(rule: str, y: int, s=_s, phi=sigmoid):
    r""":math:`G_y(s)` with :math:`\langle f\rangle_{x|y} = E[G_y(w\cdot x)\,x] - \lambda w`.

    SL (eq. (12)): :math:`G_y = \tilde y - \phi(s)`.  RL (eq. (13)): the average of
    :math:`\hat y(y\hat y - B)\phi(-\hat y s)` over :math:`\hat y=\pm1` with
    :math:`\pi(\hat y)=\phi(\hat y s)`; the baseline :math:`B` cancels (checked here).
    ``phi`` is the sigmoid (default the erf one; :func:`logistic` for the paper's
    simulations, whose Gaussian expectations have no closed form: see
    :func:`numerics.perceptron.mean_flow_sigmoid`).
    """
    rule = check_rule(rule)
    if y not in (1, -1):
        raise ValueError(f"y must be +1 or -1, got {y!r}")
    if rule == "sl":
        return sp.Rational(1 + y, 2) - phi(s)
    yhat_avg = sum(
        phi(yh * s) * (yh * (_y * yh - _baseline) * phi(-yh * s)) for yh in (1, -1)
    )
    g = sp.expand(yhat_avg.subs(_y, y))
    if g.has(_baseline):
        raise AssertionError("the reward baseline should cancel in the RL drift")
    return g


@dataclass(frozen=True)
class ClassScalars:
    r""":math:`g_1^y(a, c)`, :math:`g_2^y(a, c)` of one rule for both classes (module docstring)."""

    rule: str
    a: sp.Symbol
    c: sp.Symbol
    g1: dict
    g2: dict


@lru_cache(maxsize=4)
def class_scalars(rule: str) -> ClassScalars:
    r"""Derive :math:`g_1^y = E[G_y]`, :math:`g_2^y = E[u G_y]/b` with :math:`s=(a+bu)/k`, by
    :func:`theory.gaussian.expect`, as functions of :math:`(a, c=b^2)`."""
    rule = check_rule(rule)
    a = sp.Symbol("a", real=True)
    b = sp.Symbol("b", positive=True)
    c = sp.Symbol("c", nonnegative=True)
    g1, g2 = {}, {}
    for y in (1, -1):
        G = class_update_factor(rule, y, (a + b * _u) / K)
        e1 = expect(G, _u)
        e2 = sp.simplify(sp.expand(expect(_u * G, _u) / b))
        if e2.has(b) and not e2.subs(b, sp.sqrt(c)).has(c):
            raise AssertionError("g2 should depend on b only through b^2")
        g1[y] = sp.simplify(e1.subs(b, sp.sqrt(c)))
        g2[y] = sp.simplify(e2.subs(b, sp.sqrt(c)))
    return ClassScalars(rule, a, c, g1, g2)



def scalar_derivatives(rule: str, order: int = 2) -> tuple[tuple[sp.Symbol, sp.Symbol], list]:
    r"""``((a, c), exprs)`` with, for y in (+1, -1), for g in (g1, g2):
    :math:`[g, g_a, g_c]` (order 1) or :math:`[g, g_a, g_c, g_{aa}, g_{ac}, g_{cc}]` (order 2)."""
    cs = class_scalars(rule)
    a, c = cs.a, cs.c
    out = []
    for y in (1, -1):
        for g in (cs.g1[y], cs.g2[y]):
            ga, gc = sp.diff(g, a), sp.diff(g, c)
            out += [g, ga, gc]
            if order >= 2:
                out += [sp.diff(ga, a), sp.diff(ga, c), sp.diff(gc, c)]
    return (a, c), out


def drift_vector(rule: str, w, mu_pos, Sigma_pos, mu_neg, Sigma_neg, lam_value=lam):
    r"""The drift :math:`\langle f\rangle(w)` as a SymPy column for explicit (small) vectors.

    ``w``, ``mu_*`` are sequences/Matrices, ``Sigma_*`` square Matrices (symbols or numbers).
    """
    cs = class_scalars(rule)
    w = sp.Matrix(w)
    out = -lam_value * w
    for y, mu_y, S_y in ((1, mu_pos, Sigma_pos), (-1, mu_neg, Sigma_neg)):
        mu_y, S_y = sp.Matrix(mu_y), sp.Matrix(S_y)
        a_y = K * (mu_y.T * w)[0, 0]
        c_y = K**2 * (w.T * S_y * w)[0, 0]
        sub = {cs.a: a_y, cs.c: c_y}
        out += sp.Rational(1, 2) * (mu_y * cs.g1[y].subs(sub) + K * (S_y * w) * cs.g2[y].subs(sub))
    return out


@dataclass(frozen=True)
class ReducedFlow:
    r"""Closed flow of :math:`P=\mu\cdot w` and :math:`W=|w|^2` for :math:`\mu_\pm = \pm\mu`,
    :math:`\Sigma = \sigma_\parallel^2 nn^\top + \sigma_\perp^2 (I - nn^\top)`.

    ``dP = mu.<f>``, ``dW = 2 w.<f>``; symbols ``P, W, M2`` (:math:`|\mu|^2`), ``s_par``,
    ``s_perp`` (the variances :math:`\sigma_\parallel^2, \sigma_\perp^2`), ``lam``.
    """

    rule: str
    P: sp.Symbol
    W: sp.Symbol
    M2: sp.Symbol
    s_par: sp.Symbol
    s_perp: sp.Symbol
    lam: sp.Symbol
    dP: sp.Expr
    dW: sp.Expr

    @property
    def symbols(self) -> tuple[sp.Symbol, ...]:
        return (self.P, self.W, self.M2, self.s_par, self.s_perp, self.lam)

    def isotropic(self, sigma2: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        """``(dP, dW)`` with both variances set to ``sigma2`` (eqs. (18)-(19), (22)-(23))."""
        sub = {self.s_par: sigma2, self.s_perp: sigma2}
        return self.dP.subs(sub), self.dW.subs(sub)


@lru_cache(maxsize=4)
def reduced_flow(rule: str) -> ReducedFlow:
    r"""Derive the two-scalar flow by substituting a 2-D frame into :func:`drift_vector`.

    Frame: :math:`n = e_1`, :math:`\mu = |\mu| e_1`, :math:`w = (P/|\mu|, \sqrt{W - P^2/|\mu|^2})`,
    :math:`\Sigma = \operatorname{diag}(\sigma_\parallel^2, \sigma_\perp^2)`.
    """
    rule = check_rule(rule)
    P = sp.Symbol("P", real=True)
    W = sp.Symbol("W", positive=True)
    M2 = sp.Symbol("M2", positive=True)
    s_par = sp.Symbol("sigma_par2", nonnegative=True)
    s_perp = sp.Symbol("sigma_perp2", nonnegative=True)
    m = sp.sqrt(M2)
    mu = sp.Matrix([m, 0])
    w = sp.Matrix([P / m, sp.sqrt(W - P**2 / M2)])
    Sigma = sp.diag(s_par, s_perp)
    F = drift_vector(rule, w, mu, Sigma, -mu, Sigma, lam)
    dP = sp.simplify(sp.expand((mu.T * F)[0, 0]))
    dW = sp.expand(2 * (w.T * F)[0, 0])
    return ReducedFlow(rule, P, W, M2, s_par, s_perp, lam, dP, dW)


def log_alignment_rate(rule: str) -> tuple[ReducedFlow, sp.Expr]:
    r""":math:`\frac{d}{dt}\log\frac{\mu\cdot w}{|w|} = \dot P/P - \dot W/(2W)` (eqs. (24)-(25))."""
    rf = reduced_flow(rule)
    return rf, rf.dP / rf.P - rf.dW / (2 * rf.W)


def _taylor1(expr, x, x0):
    """Zeroth and first Taylor coefficients of ``expr`` in ``x`` at ``x0``.

    Equal to the coefficients of ``sympy.series(expr, x, x0, 2)`` (a test checks it); the
    derivative route is much faster when Owen's T is present.
    """
    g = sp.simplify(expr.subs(x, x0))
    h = sp.diff(expr, x).subs(x, x0)
    return g, h if h.has(owens_t) else sp.simplify(h)


@lru_cache(maxsize=4)
def noise_coefficient(rule: str) -> tuple[ReducedFlow, sp.Symbol, sp.Expr, sp.Expr]:
    r"""Isotropic :math:`\sigma^2` expansion of the log-alignment rate, eq. (24), at ``lam = 0``.

    Returns ``(flow, s2, g_iso, h)`` with rate :math:`= g_{iso} + \sigma^2 h + O(\sigma^4)`
    (the seed writes :math:`h = h_{iso}^2`; for SL the derivation gives
    :math:`h = \pi(|\mu|^2|w|^2 - (\mu\cdot w)^2)e^{-\pi(\mu\cdot w)^2/16}/64 \ge 0`).
    """
    rf, rate = log_alignment_rate(rule)
    s2 = sp.Symbol("sigma2", nonnegative=True)
    r = rate.subs({rf.s_par: s2, rf.s_perp: s2, rf.lam: 0})
    g, h = _taylor1(r, s2, 0)
    return rf, s2, g, h


@lru_cache(maxsize=4)
def anisotropy_coefficient(rule: str) -> tuple[ReducedFlow, sp.Symbol, sp.Expr, sp.Expr]:
    r"""Expansion in the anisotropy :math:`\epsilon` (:math:`\sigma_\parallel^2 = 1+\epsilon`,
    :math:`\sigma_\perp^2 = 1-\epsilon`), eq. (25), at ``lam = 0``:
    ``(flow, eps, g_an, h)`` with rate :math:`= g_{an} + \epsilon h + O(\epsilon^2)`."""
    rf, rate = log_alignment_rate(rule)
    eps = sp.Symbol("epsilon", real=True)
    r = rate.subs({rf.s_par: 1 + eps, rf.s_perp: 1 - eps, rf.lam: 0})
    g, h = _taylor1(r, eps, 0)
    return rf, eps, g, h


@lru_cache(maxsize=4)
def fixed_point_function(rule: str) -> tuple[tuple[sp.Symbol, ...], sp.Expr]:
    r"""Radial fixed-point function :math:`R(r) = w\cdot\langle f\rangle / r` at
    :math:`w = r\mu/|\mu|`, isotropic :math:`\Sigma = \sigma^2 I` (eq. (43) is
    :math:`r R(r)/1` at :math:`|\mu| = 1`, :math:`\lambda = 0`).

    Returns ``((r, sigma2, lam, M2), R)``; the fixed point :math:`|w^*|` is the positive root.
    """
    rf = reduced_flow(rule)
    r = sp.Symbol("r", positive=True)
    s2 = sp.Symbol("sigma2", nonnegative=True)
    sub = {rf.P: r * sp.sqrt(rf.M2), rf.W: r**2, rf.s_par: s2, rf.s_perp: s2}
    R = sp.simplify(rf.dW.subs(sub) / (2 * r))
    if rule == "sl":
        # SL's radial drift holds 1/2 - erf(x)/2 with x = h/sqrt(2) > 0; the exact rewrite
        # erf = 1 - erfc keeps it accurate in the tail (small sigma, large |w*|), where the
        # erf form cancels to 0.  (RL's erf has a small argument there: left as is.)
        R = sp.expand(R.xreplace({e: 1 - sp.erfc(e.args[0]) for e in R.atoms(sp.erf)}))
    return (r, s2, rf.lam, rf.M2), R


@lru_cache(maxsize=4)
def fixed_point_jacobian(rule: str) -> tuple[tuple[sp.Symbol, ...], sp.Matrix]:
    r"""Jacobian :math:`J_{ik} = \partial_k\langle f_i\rangle` of the isotropic drift
    (:math:`\mu_\pm = \pm e_1`, :math:`\Sigma = \sigma^2 I`) at :math:`w = r e_1`, derived
    by differentiating :func:`drift_vector` in a 2-D frame :math:`(e_1, e_2)`.

    By the rotation symmetry about :math:`\mu` the off-diagonal entries vanish (checked
    here), so the eigenvalues are :math:`J_{11}` (perturbations along :math:`\mu`) and
    :math:`J_{22}` (each of the N - 1 directions orthogonal to :math:`\mu`): at the fixed
    point :math:`r = |w^*|` both negative means local stability (seed 002, fixed-point
    analysis, which argues stability by a Lyapunov function instead).
    Returns ``((r, sigma2, lam), J)``.
    """
    rule = check_rule(rule)
    r = sp.Symbol("r", positive=True)
    w2 = sp.Symbol("w2", real=True)
    s2 = sp.Symbol("sigma2", nonnegative=True)
    mu = sp.Matrix([1, 0])
    F = drift_vector(rule, [r, w2], mu, s2 * sp.eye(2), -mu, s2 * sp.eye(2), lam)
    J = F.jacobian([r, w2]).subs(w2, 0)
    if sp.simplify(J[0, 1]) != 0 or sp.simplify(J[1, 0]) != 0:
        raise AssertionError("the Jacobian at w = r mu should be diagonal (rotation symmetry)")
    return (r, s2, lam), sp.diag(J[0, 0], J[1, 1])


def small_noise_drift(rule: str, n: int = 2):
    r""":math:`\sigma\to0` drift (eq. (26) for SL): ``(w, mu, drift)`` with
    :math:`\Sigma_\pm = 0`, :math:`\mu_\pm = \pm\mu`, in ``n`` dimensions."""
    w = sp.Matrix(sp.symbols(f"w0:{n}", real=True))
    mu = sp.Matrix(sp.symbols(f"mu0:{n}", real=True))
    Z = sp.zeros(n, n)
    F = drift_vector(rule, w, mu, Z, -mu, Z, lam)
    return w, mu, F.applyfunc(sp.simplify)


def small_noise_trace_rate(rule: str, n: int = 2):
    r""":math:`\frac{d}{dt}\operatorname{tr}C` from eq. (11) at :math:`\sigma\to0` (eq. (27)):
    ``(system, w, mu, rate)``; ``system`` is the :func:`theory.moments.derive_moments` result."""
    w, mu, F = small_noise_drift(rule, n)
    system = derive_moments(F, tuple(w), name=f"perceptron-{rule} sigma->0")
    rate = sum(system.cov_rhs[i, i] for i in range(n))
    return system, w, mu, sp.simplify(rate)


# --------------------------------------------------------------------------- LaTeX


def _display(expr, M2, m):
    r"""``expr`` with :math:`|\mu|^2` written through :math:`|\mu|` and simplified (checked)."""
    e = expr.subs(M2, m**2)
    out = sp.simplify(e)
    if sp.simplify(out - e) != 0:
        raise ArithmeticError("simplification changed a displayed perceptron expression")
    return out


def _latex(rule: str) -> LatexModel:
    cs = class_scalars(rule)
    rf = reduced_flow(rule)
    (r, s2, _, M2), R = fixed_point_function(rule)
    dP, dW = rf.isotropic(s2)
    m = sp.Symbol("mu_norm", positive=True)
    t = sp.Symbol("t", positive=True)
    z = sp.Symbol("z", real=True)
    name = {"sl": ("supervised learning", "online logistic regression, "
                   r"$f = (\tilde y - \phi(w\cdot x))\,x - \lambda w$, $\tilde y = (y+1)/2$, "
                   "seed eq. (12)"),
            "rl": ("REINFORCE", r"$f = \hat y\,\delta\,\phi(-\hat y\,w\cdot x)\,x - \lambda w$ "
                   r"with $\hat y = \pm 1$ drawn with probability $\phi(\hat y\, w\cdot x)$, "
                   r"$\delta = y\hat y - B$ and a reward baseline $B$ (it cancels in the drift), "
                   "seed eq. (13)")}[rule]
    k = r"\sqrt{\pi/8}"
    g_lines = []
    for y in (1, -1):
        sgn = "+" if y == 1 else "-"
        g_lines.append(Rel(Tex(rf"g_1^{{{sgn}}}(a, c)", ("g", "y")), cs.g1[y]))
        g_lines.append(Rel(Tex(rf"g_2^{{{sgn}}}(a, c)", ("g", "y")), cs.g2[y]))
    return LatexModel(
        title=f"Nonlinear perceptron, {name[0]} (Schmid and Murray)",
        summary=f"Update $w \\leftarrow w + \\eta f$ on inputs $x \\sim N(\\mu_y, \\Sigma_y)$ with "
                f"labels $y = \\pm 1$ of probability 1/2: {name[1]}. Continuous time "
                r"$t = \eta \times$ updates. The drift, its isotropic reduction and the "
                "fixed-point equation are derived by SymPy from the rule with a table of "
                "Gaussian identities (Owen 1980).",
        source="Schmid and Murray, eqs. (10)-(13), (15)-(23) and (43)",
        equations=[
            Equation("The erf sigmoid and the two scalars the drift depends on:",
                     [Rel(Tex(r"\phi(z)", ("phi", "z")), sigmoid(z)),
                      Rel(Tex("a_y", ("a", "y")),
                          Tex(rf"{k}\,\mu_y\cdot w", ("mu_y", "w"))),
                      Rel(Tex("c_y", ("c", "y")),
                          Tex(r"\frac{\pi}{8}\, w^\top\Sigma_y w", ("Sigma_y", "w")))]),
            Equation("Drift of the update (expectation over inputs, labels and, for RL, "
                     "actions):",
                     Rel(Tex(r"\langle f\rangle(w)", ("f", "w")),
                         Tex(r"\frac{1}{2}\sum_{y=\pm1}\left[\mu_y\, g_1^{y}(a_y,c_y) + "
                             rf"{k}\,\Sigma_y w\, g_2^{{y}}(a_y,c_y)\right] - \lambda w",
                             ("y", "mu_y", "g", "a", "c", "Sigma_y", "lambda", "w")))),
            Equation("The class functions, derived:", g_lines),
            Equation(r"Isotropic reduction ($\mu_\pm = \pm\mu$, $\Sigma_\pm = \sigma^2 I$): a "
                     r"closed flow of $P = \mu\cdot w$ and $W = |w|^2$,",
                     [Rel(sp.Derivative(rf.P, t), _display(dP, M2, m)),
                      Rel(sp.Derivative(rf.W, t), _display(dW, M2, m))]),
            Equation(r"Fixed point $w^* = r\,\mu/|\mu|$ (seed eq. (43)): $r$ is the positive "
                     "root of",
                     Rel(sp.Integer(0), _display(R, M2, m))),
            Equation(r"Moment equations (seed eqs. (10)-(11)) with "
                     r"$J_{ik} = \partial_k \langle f_i\rangle(\langle w\rangle)$:",
                     [Rel(Tex(r"\frac{d\langle w_i\rangle}{dt}", ("w", "t")),
                          Tex(r"\langle f_i\rangle(\langle w\rangle) + \frac{1}{2}\sum_{kl} "
                              r"C_{kl}\,\partial_k\partial_l\langle f_i\rangle(\langle w\rangle)",
                              ("f", "C"))),
                      Rel(Tex(r"\frac{dC}{dt}", ("C", "t")), Tex(r"JC + CJ^\top", ("C", "J")))]),
            Equation("The correction term through the scalars $a$ and $c$ (no third-order "
                     "tensor is formed):",
                     [Rel(Tex(r"\sum_{kl} C_{kl}\partial_k\partial_l\langle f\rangle", ("C", "f")),
                          Tex(r"\frac{1}{2}\sum_y\left[\mu_y Q[g_1^y] + "
                              rf"{k}\left(2\Sigma_y C\nabla g_2^y + \Sigma_y w\, Q[g_2^y]\right)"
                              r"\right]", ("y", "mu_y", "Q", "g", "Sigma_y", "C", "w"))),
                      Rel(Tex("Q[g]", ("Q", "g")),
                          Tex(r"g_{aa}\,\nabla a^\top C\nabla a + 2g_{ac}\,\nabla a^\top C\nabla c"
                              r" + g_{cc}\,\nabla c^\top C\nabla c + g_c\,\frac{\pi}{4}"
                              r"\operatorname{tr}(\Sigma_y C)", ("g", "a", "c", "C", "Sigma_y")))]),
        ],
        symbols=[
            Sym("eta", r"\eta", "the learning rate"),
            Sym("z", "z", "the argument of the sigmoid"),
            Sym("phi", r"\phi", "the erf sigmoid (the output nonlinearity)"),
            Sym("y", "y", r"the label ($\pm 1$)"),
            Sym("mu_y", r"\mu_y", "the mean input of class $y$"),
            Sym("Sigma_y", r"\Sigma_y", "the input covariance of class $y$"),
            Sym("w", "w", "the weight vector"),
            Sym("a", "a", r"$= \sqrt{\pi/8}\,\mu_y\cdot w$, the scaled mean input current"),
            Sym("c", "c", r"$= \frac{\pi}{8}\,w^\top\Sigma_y w$, the scaled variance of the "
                "input current"),
            Sym("f", "f", "the update direction"),
            Sym("lambda", r"\lambda", "the weight decay"),
            Sym("g", "g_1^y, g_2^y", r"the expectations $E[G_y]$ and $E[u\,G_y]/b$ of the "
                r"rule's factor $G_y(w\cdot x)$ in $x = \mu_y + \ldots$ (with $b = \sqrt{c}$, "
                r"$u \sim N(0, 1)$)"),
            Sym("owens_t", "T(h, a)", r"Owen's T function, $\frac{1}{2\pi}\int_0^a "
                r"e^{-h^2(1+x^2)/2}/(1+x^2)\,dx$"),
            Sym("t", "t", r"continuous time ($\eta$ times the number of updates)"),
            Sym("P", "P", r"$= \mu\cdot w$"),
            Sym("W", "W", r"$= |w|^2$"),
            Sym("mu_norm", r"|\mu|", r"the norm of the class mean $\mu$"),
            Sym("sigma2", r"\sigma^2", "the input variance of each class along every direction"),
            Sym("r", "r", r"the norm of $w$ at the fixed point"),
            Sym("C", "C", r"the covariance of the weights over the ensemble, entries $C_{kl}$"),
            Sym("J", "J", r"the Jacobian of the drift at the mean weights"),
            Sym("Q", "Q", "the second-order operator defined in this display"),
        ],
    )


@register_latex("perceptron-sl", "nonlinear perceptron, supervised learning (seed 002 eq. (12))")
def perceptron_sl_latex() -> LatexModel:
    return _latex("sl")


@register_latex("perceptron-rl", "nonlinear perceptron, REINFORCE (seed 002 eq. (13))")
def perceptron_rl_latex() -> LatexModel:
    return _latex("rl")
