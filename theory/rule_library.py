r"""Learning rules written with :mod:`theory.rules`: the seeds' rules re-expressed, and a
gallery of rules with textbook answers.

Re-expressed (tests show their derived drifts equal the hand-derived ones of
:mod:`theory.lms` and :mod:`theory.perceptron`, and that the generated simulators equal
:class:`numerics.sim.lms.LmsRule` and :class:`numerics.sim.perceptron.PerceptronRule` step for
step):

* :func:`lms_rule` — :math:`f = (w_o\cdot x + \xi - w\cdot x)\,x`, :math:`x\sim N(0,R)`,
  :math:`\xi \sim N(0, s^2)` (no factor 2; learning rate :math:`\gamma`);
* :func:`perceptron_rule` — Schmid & Murray's SL (eq. (12)) and REINFORCE (eq. (13)) on
  :math:`x\,|\,y \sim N(y\mu, \Sigma)`, with the erf sigmoid and the expected-reward baseline.

Gallery (each a registered experiment ``rule-...`` and a LaTeX model):

* :func:`oja_rule` — Oja (1982): :math:`f = y(x - y w)`, :math:`y = w\cdot x`; drift
  :math:`\Sigma w - (w^\top\Sigma w)\,w`; :math:`w` converges to the leading eigenvector of
  :math:`\Sigma` with :math:`|w| = 1`.
* :func:`hebbian_decay_rule` — Hebb with weight decay, :math:`f = y x - \alpha w`; drift
  :math:`(\Sigma - \alpha I)w`, so :math:`\langle w\rangle(t) = e^{(\Sigma-\alpha I)t}w_0`
  (Dayan & Abbott 2001, ch. 8): growth along eigenvectors with eigenvalue above
  :math:`\alpha`, decay below.
* :func:`bcm_rule` — Bienenstock, Cooper & Munro (1982) with a sliding threshold,
  :math:`f_w = y(y - \theta)x`, :math:`f_\theta = (y^2 - \theta)/\tau`, on two noisy input
  patterns shown with probability 1/2 each; its stable fixed points are selective: in the
  noise-free limit :math:`y = 1/p = 2` for one pattern and 0 for the other, :math:`\theta = 2`
  (Intrator & Cooper 1992).
* :func:`sign_lms_rule` — sign-error LMS, :math:`f = \operatorname{sign}(y - w\cdot x)\,x`: a
  non-polynomial rule with a discontinuity, derived by the quadrature path; its drift has the
  closed form :math:`\sqrt{2/\pi}\,R(w_o - w)/\sqrt{(w_o-w)^\top R(w_o-w) + s^2}` (Bussgang /
  Price's theorem for Gaussian data), tested against the quadrature.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from theory.latex import LatexModel, Sym, register_latex
from theory.perceptron import sigmoid
from theory.rules import Choice, Component, LearningRule, Mixture, Normal, derive, rule_latex_model

__all__ = ["lms_rule", "perceptron_rule", "oja_rule", "hebbian_decay_rule", "bcm_rule",
           "sign_lms_rule", "sign_lms_closed_form", "GALLERY"]


def _sym_matrix(prefix: str, n: int, **assumptions) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix(n, n, lambda i, j: sp.Symbol(f"{prefix}_{min(i, j)}_{max(i, j)}",
                                                           **assumptions))


def _dot(a, b):
    return sum(x * y for x, y in zip(a, b))


@lru_cache(maxsize=8)
def lms_rule(n: int = 2) -> LearningRule:
    r"""LMS in the symbols of :func:`theory.lms.lms_symbols` (``x0..``, ``xi``, ``w0..``,
    ``wo0..``, ``R_i_j``, ``s2``, learning rate ``gamma``): :math:`f = (y - w\cdot x)x`,
    :math:`y = w_o\cdot x + \xi`."""
    from theory.lms import lms_symbols

    s = lms_symbols(n)
    y = _dot(s.w_o, s.x) + s.xi
    f = [(y - _dot(s.w, s.x)) * xi for xi in s.x]
    params = dict.fromkeys(sorted(s.R.free_symbols, key=lambda p: p.name))
    params.update(dict.fromkeys(s.w_o))
    params[s.s2] = None
    return LearningRule(
        "lms", s.w, f, (Normal(s.x, cov=s.R), Normal(s.xi, cov=s.s2)), params, eta=s.gamma,
        description=r"Online linear regression (Widrow--Hoff without the factor 2).",
        symbols=(Sym("gamma", r"\gamma", "the learning rate"),
                 Sym(r"wo(\d+)", "w_{o,#1}", "the teacher's weights", generic="w_{o,i}"),
                 Sym(r"R_(\d+)_(\d+)", "R_{#1#2}", "the input covariance", generic="R_{ij}"),
                 Sym("s2", "s^2", "the variance of the output noise")))


@lru_cache(maxsize=8)
def perceptron_rule(kind: str, n: int = 2, numeric_sigma: bool = False) -> LearningRule:
    r"""Schmid & Murray's perceptron rules (seed 002 eqs. (12), (13)) on
    :math:`x\,|\,y\sim N(y\mu, \Sigma)`, :math:`p(y=\pm1) = 1/2`, erf sigmoid
    :math:`\phi(z) = \tfrac12(1+\operatorname{erf}(\sqrt\pi z/4))`, weight decay :math:`\lambda`.

    ``kind="sl"``: :math:`f = (\tfrac{y+1}{2} - \phi(w\cdot x))x - \lambda w`.
    ``kind="rl"``: :math:`f = \hat y\,(y\hat y - B)\,\phi(-\hat y\,w\cdot x)\,x - \lambda w` with
    the action :math:`\hat y = \pm1` drawn with :math:`P(\hat y) = \phi(\hat y\,w\cdot x)` (a
    :class:`~theory.rules.Choice`) and the expected-reward baseline
    :math:`B = y(2\phi(w\cdot x) - 1)` (the default of :class:`numerics.sim.perceptron.
    PerceptronRule`).  ``numeric_sigma``: :math:`\Sigma = I/4` instead of symbols (faster).
    """
    kind = kind.lower()
    if kind not in ("sl", "rl"):
        raise ValueError(f"kind must be 'sl' or 'rl', got {kind!r}")
    w = sp.symbols(f"w0:{n}", real=True)
    x = sp.symbols(f"x0:{n}", real=True)
    mu = sp.symbols(f"mu0:{n}", real=True)
    y = sp.Symbol("y", real=True)
    lam = sp.Symbol("lambda", nonnegative=True)
    Sigma = (sp.ImmutableMatrix(sp.eye(n) / 4) if numeric_sigma
             else _sym_matrix("Sigma", n, real=True))
    s = _dot(w, x)
    comps = (Component(sp.Rational(1, 2), mu, Sigma, 1),
             Component(sp.Rational(1, 2), [-m for m in mu], Sigma, -1))
    random = [Mixture(x, comps, label=y)]
    if kind == "sl":
        G = (y + 1) / 2 - sigmoid(s)
    else:
        yhat = sp.Symbol("yhat", real=True)
        random.append(Choice(yhat, (1, -1), (sigmoid(s), sigmoid(-s))))
        B = y * (2 * sigmoid(s) - 1)
        G = yhat * (y * yhat - B) * sigmoid(-yhat * s)
    f = [G * xi - lam * wi for xi, wi in zip(x, w)]
    params = {lam: 0.0, **dict.fromkeys(mu)}
    params.update(dict.fromkeys(sorted(Sigma.free_symbols, key=lambda p: p.name)))
    return LearningRule(f"perceptron-{kind}", w, f, tuple(random), params,
                        eta=sp.Symbol("eta", positive=True),
                        description={"sl": "Online logistic regression (Schmid and Murray, eq. "
                                           "(12)).",
                                     "rl": "REINFORCE with the expected-reward baseline "
                                           "(Schmid and Murray, eq. (13))."}[kind],
                        symbols=(Sym("lambda", r"\lambda", "the weight decay"),
                                 Sym("yhat", r"\hat y", "the sampled action"),
                                 Sym(r"mu(\d+)", r"\mu_{#1}", "the mean input of class $y = +1$",
                                     generic=r"\mu_i")))


def _oja():
    w = sp.symbols("w0:2", real=True)
    x = sp.symbols("x0:2", real=True)
    S = _sym_matrix("Sigma", 2, real=True)
    y = _dot(w, x)
    return LearningRule(
        "oja", w, [y * (xi - y * wi) for xi, wi in zip(x, w)], Normal(x, cov=S),
        {S[0, 0]: 2.0, S[0, 1]: 0.6, S[1, 1]: 1.0},
        description=r"Oja's rule $f = y\,(x - y\,w)$, $y = w\cdot x$ (Oja 1982): the weights "
                    r"converge to the leading eigenvector of $\Sigma$, with norm 1.",
        source="Oja (1982), J. Math. Biol. 15:267",
        defaults={"w0": (0.2, 0.6), "eta": 0.004, "t_end": 8.0},
        symbols=(Sym(r"Sigma_(\d+)_(\d+)", r"\Sigma_{#1#2}", "the input covariance",
                     generic=r"\Sigma_{ij}"),))


def _hebb():
    w = sp.symbols("w0:2", real=True)
    x = sp.symbols("x0:2", real=True)
    S = _sym_matrix("Sigma", 2, real=True)
    alpha = sp.Symbol("alpha", positive=True)
    y = _dot(w, x)
    return LearningRule(
        "hebb-decay", w, [y * xi - alpha * wi for xi, wi in zip(x, w)], Normal(x, cov=S),
        {S[0, 0]: 1.5, S[0, 1]: 0.5, S[1, 1]: 0.8, alpha: 1.2},
        description=r"Hebbian learning with weight decay, $f = y\,x - \alpha w$, $y = w\cdot x$: "
                    r"$\langle w\rangle(t) = e^{(\Sigma - \alpha I)t} w_0$ (Dayan and Abbott "
                    r"2001, ch. 8).",
        source="Dayan and Abbott (2001), Theoretical Neuroscience, ch. 8",
        defaults={"w0": (0.5, -0.8), "eta": 0.004, "t_end": 4.0},
        symbols=(Sym(r"Sigma_(\d+)_(\d+)", r"\Sigma_{#1#2}", "the input covariance",
                     generic=r"\Sigma_{ij}"),
                 Sym("alpha", r"\alpha", "the weight decay rate")))


def _bcm():
    w = sp.symbols("w0:2", real=True)
    theta = sp.Symbol("theta", real=True)
    x = sp.symbols("x0:2", real=True)
    a = sp.symbols("a0:2", real=True)  # pattern 1
    b = sp.symbols("b0:2", real=True)  # pattern 2
    s2 = sp.Symbol("sigma2", positive=True)
    tau = sp.Symbol("tau", positive=True)
    y = _dot(w, x)
    noise = s2 * sp.eye(2)
    comps = (Component(sp.Rational(1, 2), a, noise), Component(sp.Rational(1, 2), b, noise))
    f = [y * (y - theta) * xi for xi in x] + [(y**2 - theta) / tau]
    return LearningRule(
        "bcm", (*w, theta), f, Mixture(x, comps),
        {a[0]: 1.0, a[1]: 0.3, b[0]: 0.2, b[1]: 1.0, s2: 0.01, tau: 0.5},
        description=r"BCM with a sliding threshold, $f_w = y\,(y - \theta)\,x$, "
                    r"$f_\theta = (y^2 - \theta)/\tau$, $y = w\cdot x$, on two noisy patterns "
                    r"$a$, $b$ shown with probability 1/2 each (Bienenstock, Cooper and Munro "
                    r"1982): the stable fixed points are selective, $y = 1/p = 2$ for one pattern "
                    r"and 0 for the other in the noise-free limit.",
        source="Bienenstock, Cooper and Munro (1982), J. Neurosci. 2:32; Intrator and Cooper "
               "(1992), Neural Networks 5:3",
        defaults={"w0": (0.9, 0.1, 0.5), "eta": 0.002, "t_end": 10.0},
        symbols=(Sym("theta", r"\theta", "the sliding threshold (a dynamic variable, updated "
                     "with the weights)"),
                 Sym("tau", r"\tau", "the time constant of the threshold relative to the "
                     "weights"),
                 Sym("sigma2", r"\sigma^2", "the variance of the noise added to each pattern"),
                 Sym(r"a(\d+)", "a_{#1}", "the first input pattern", generic="a_i"),
                 Sym(r"b(\d+)", "b_{#1}", "the second input pattern", generic="b_i")))


def _sign_lms():
    w = sp.symbols("w0:2", real=True)
    x = sp.symbols("x0:2", real=True)
    v = sp.symbols("wo0:2", real=True)
    xi = sp.Symbol("xi", real=True)
    s2 = sp.Symbol("s2", positive=True)
    R = _sym_matrix("R", 2, real=True)
    e = _dot(v, x) + xi - _dot(w, x)
    return LearningRule(
        "sign-lms", w, [sp.sign(e) * xj for xj in x], (Normal(x, cov=R), Normal(xi, cov=s2)),
        {R[0, 0]: 1.0, R[0, 1]: 0.4, R[1, 1]: 0.5, v[0]: 1.0, v[1]: -0.5, s2: 0.25},
        description=r"Sign-error LMS, $f = \operatorname{sign}(y - w\cdot x)\,x$, "
                    r"$y = w_o\cdot x + \xi$: its drift $\sqrt{2/\pi}\,R(w_o - w)/\sigma_e$, "
                    r"$\sigma_e^2 = (w_o - w)^\top R (w_o - w) + s^2$, is derived here by "
                    "quadrature (the sign has no entry in the Gaussian table).",
        source="sign-error LMS: Sayed (2008), Adaptive Filters, ch. 12; Gaussian identity: "
               "Price (1958)",
        defaults={"w0": (-0.5, 0.5), "eta": 0.004, "t_end": 12.0},
        symbols=(Sym(r"wo(\d+)", "w_{o,#1}", "the teacher's weights", generic="w_{o,i}"),
                 Sym(r"R_(\d+)_(\d+)", "R_{#1#2}", "the input covariance", generic="R_{ij}"),
                 Sym("s2", "s^2", "the variance of the output noise"),
                 Sym("xi", r"\xi", "the output noise")))


@lru_cache(maxsize=1)
def oja_rule() -> LearningRule:
    """Oja's rule in two dimensions (module docstring)."""
    return _oja()


@lru_cache(maxsize=1)
def hebbian_decay_rule() -> LearningRule:
    """Hebbian learning with weight decay in two dimensions (module docstring)."""
    return _hebb()


@lru_cache(maxsize=1)
def bcm_rule() -> LearningRule:
    """BCM with a sliding threshold on two noisy patterns (module docstring)."""
    return _bcm()


@lru_cache(maxsize=1)
def sign_lms_rule() -> LearningRule:
    """Sign-error LMS in two dimensions (module docstring)."""
    return _sign_lms()


#: gallery name -> rule factory
GALLERY = {"oja": oja_rule, "hebb-decay": hebbian_decay_rule, "bcm": bcm_rule,
           "sign-lms": sign_lms_rule}


def _register(name: str, factory, description: str):
    @register_latex(f"rule-{name}", description)
    def _latex() -> LatexModel:
        return rule_latex_model(derive(factory()))

    return _latex


for _name, _factory, _desc in (
        ("oja", oja_rule, "Oja's rule, derived from its one definition (gallery)"),
        ("hebb-decay", hebbian_decay_rule, "Hebbian learning with weight decay (gallery)"),
        ("bcm", bcm_rule, "BCM with a sliding threshold (gallery)"),
        ("sign-lms", sign_lms_rule, "sign-error LMS, the quadrature path (gallery)")):
    _register(_name, _factory, _desc)


def sign_lms_closed_form() -> sp.ImmutableMatrix:
    r"""The textbook drift of sign-error LMS on Gaussian data, in the symbols of
    :func:`sign_lms_rule`: :math:`E[\operatorname{sign}(e)\,x] = \sqrt{2/\pi}\,E[e\,x]/\sigma_e`
    for jointly Gaussian zero-mean :math:`(e, x)` (Price 1958 / Bussgang), i.e.
    :math:`\sqrt{2/\pi}\,R(w_o - w)/\sqrt{(w_o - w)^\top R (w_o - w) + s^2}`.  A check of the
    quadrature path, not used by it."""
    r = sign_lms_rule()
    R = r.random[0].cov
    s2 = sp.Symbol("s2", positive=True)
    v = sp.Matrix(sp.symbols("wo0:2", real=True)) - sp.Matrix(r.weights)
    return sp.ImmutableMatrix(sp.sqrt(2 / sp.pi) * R * v / sp.sqrt((v.T * R * v)[0, 0] + s2))
