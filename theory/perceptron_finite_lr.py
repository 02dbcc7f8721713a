r"""The perceptron's update noise and its first-order finite-learning-rate equations (seed 002).

The finite-learning-rate theory (:mod:`theory.finite_lr`) needs, besides the drift of
:mod:`theory.perceptron`, the covariance :math:`\Sigma(w)` of one update.  Both rules have
:math:`f = G\,x - \lambda w` with a scalar :math:`G(s, y, \hat y)`, :math:`s = w\cdot x`, so with
the per-class **noise factor** :math:`N_y(s) = E_{\hat y}[G^2]`:

* SL (eq. (12)): :math:`N_y = (\tilde y - \phi(s))^2`;
* RL (eq. (13)), :math:`\hat y = \pm1` with :math:`\pi(\hat y) = \phi(\hat y s)`,
  :math:`G = \hat y(y\hat y - B)\phi(-\hat y s)`: unlike the drift, :math:`N_y` depends on the
  baseline :math:`B`; the simulator's default is the expected reward of the presented input,
  :math:`B = y(2\phi(s) - 1)` (``baseline="expected"``), or :math:`B = 0` (``"none"``).

**Update covariance.**  For :math:`x\sim N(\mu_y, \Sigma_y)` write :math:`x = \mu_y +
p\,\zeta/v + z` with :math:`p = \Sigma_y w`, :math:`v = w^\top\Sigma_y w`, :math:`\zeta = w\cdot(x
- \mu_y)\sim N(0, v)` and :math:`z` independent of :math:`\zeta`; Stein's lemma
(:math:`E[\zeta h] = vE[h']`, :math:`E[\zeta^2h] = vE[h] + v^2E[h'']`) gives

.. math:: E[G^2xx^\top\,|\,y] = E[N_y](\Sigma_y + \mu_y\mu_y^\top)
          + E[N_y'](\mu_yp^\top + p\mu_y^\top) + E[N_y'']\,pp^\top,

expectations over :math:`s\sim N(\mu_y\cdot w, v)`, and
:math:`\Sigma(w) = \tfrac12\sum_y E[G^2xx^\top|y] - \tilde F\tilde F^\top` with
:math:`\tilde F = F + \lambda w` (the weight decay is deterministic and drops out).

**Symmetry reduction.**  For classes :math:`N(\pm\mu, \Sigma)` with
:math:`\Sigma = USU^\top + \sigma_\perp^2(I - UU^\top)` (a frame :math:`U` of :math:`K` columns
holding :math:`\mu` and the start) the flow and :math:`\delta` stay in the frame, and
:math:`\Gamma` is block-diagonal: a :math:`K\times K` block and :math:`\gamma_\perp I` on the
:math:`N - K` orthogonal directions, each of which has Jacobian eigenvalue
:math:`j_\perp = \tfrac12\sum_y k g_2^y\sigma_\perp^2 - \lambda` and update variance
:math:`\sigma_\perp^2\,\tfrac12\sum_y E[N_y]`.  The orthogonal block feeds the mean through the
curvature :math:`\partial_e^2F = k^2\sigma_\perp^2\sum_y(\mu_y\,\partial_cg_1^y + k\,p\,
\partial_cg_2^y)` (:math:`c = k^2w^\top\Sigma w`, :math:`k = \sqrt{\pi/8}`) times :math:`N - K`:
the :math:`O(\eta N\sigma^2)` bias the perceptron experiments saw.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from theory.latex import Equation, LatexModel, Rel, Sym, Tex, positive_form, register_latex
from theory.perceptron import SIGMOIDS, check_rule, sigmoid

__all__ = ["BASELINES", "noise_factor", "noise_factor_derivatives"]

#: reward baselines of the RL rule: the simulator's default and none
BASELINES = ("expected", "none")

_s = sp.Symbol("s", real=True)


def _check_baseline(baseline: str) -> str:
    if not isinstance(baseline, str) or baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    return baseline


def noise_factor(rule: str, y: int, s=_s, phi=sigmoid, baseline: str = "expected") -> sp.Expr:
    r""":math:`N_y(s) = E_{\hat y}[G^2]` of one update of class ``y`` (module docstring).

    RL averages :math:`\hat y = \pm1` with probabilities :math:`\phi(\pm s)` (requires
    :math:`\phi(-z) = 1 - \phi(z)`, true for both sigmoids of :data:`theory.perceptron.SIGMOIDS`).
    """
    rule = check_rule(rule)
    if y not in (1, -1):
        raise ValueError(f"y must be +1 or -1, got {y!r}")
    baseline = _check_baseline(baseline)
    if rule == "sl":
        return sp.expand((sp.Rational(1 + y, 2) - phi(s)) ** 2)
    B = y * (2 * phi(s) - 1) if baseline == "expected" else sp.S.Zero
    out = sum(phi(yh * s) * (yh * (y * yh - B) * phi(-yh * s)) ** 2 for yh in (1, -1))
    return sp.expand(out)


@lru_cache(maxsize=16)
def noise_factor_derivatives(rule: str, sigmoid_name: str = "erf",
                             baseline: str = "expected") -> tuple[sp.Symbol, list]:
    r"""``(s, [N_+, N_+', N_+'', N_-, N_-', N_-''])``: the noise factors of both classes and
    their first two derivatives in :math:`s`."""
    if sigmoid_name not in SIGMOIDS:
        raise ValueError(f"sigmoid must be one of {tuple(SIGMOIDS)}, got {sigmoid_name!r}")
    out = []
    for y in (1, -1):
        N = noise_factor(rule, y, _s, SIGMOIDS[sigmoid_name], baseline)
        d1 = sp.diff(N, _s)
        out += [N, d1, sp.diff(d1, _s)]
    return _s, out


def _latex(rule: str) -> LatexModel:
    p = sp.Function("phi")
    s = sp.Symbol("s", real=True)
    factors = []
    for y in (1, -1):
        sgn = "+" if y == 1 else "-"
        phi_s = sp.Symbol("phi_s", positive=True)  # display phi(s) as one symbol
        N = noise_factor(rule, y, s, lambda z: p(z))
        N = sp.factor(N.subs(p(-s), 1 - p(s)).subs(p(s), phi_s))
        shown = positive_form(N)
        if sp.simplify(shown - N) != 0:
            raise ArithmeticError("positive_form changed the noise factor")
        N = shown
        factors.append(Rel(Tex(rf"N_{{{sgn}}}(s)", ("N", "s")), N))
    name = {"sl": "supervised learning (online logistic regression)",
            "rl": "REINFORCE with the expected-reward baseline $B = y(2\\phi(s) - 1)$"}[rule]
    return LatexModel(
        title=f"Perceptron at a finite learning rate, {name}",
        summary=r"The update noise of $w \leftarrow w + \eta(Gx - \lambda w)$ on classes "
                r"$N(\pm\mu, \Sigma)$ and the first-order equations of the finite-learning-rate "
                r"theory in a frame $U$ (holding $\mu$ and the start) plus the $N - K$ "
                r"equivalent orthogonal directions. The noise factors are derived by SymPy "
                r"from the rule; the rest is the general theory assembled through the scalars "
                r"$a = k\mu_y\cdot w$, $c = k^2 w^\top\Sigma w$.",
        source="Schmid and Murray, eqs. (12)-(13); Li, Tai and E (2017, 2019)",
        equations=[
            Equation(r"Noise factors $N_y = E_{\hat y}[G^2]$ (with $\phi_s = \phi(s)$), derived:",
                     factors),
            Equation("Covariance of one update (Stein's lemma, $s = w\\cdot x$):",
                     [Rel(Tex(r"E[G^2xx^\top|y]", ("G", "x", "y")),
                          Tex(r"E[N_y](\Sigma + \mu_y\mu_y^\top) + E[N_y'](\mu_y p^\top + "
                              r"p\mu_y^\top) + E[N_y'']\,pp^\top",
                              ("N", "Sigma", "mu_y", "p"))),
                      Rel(Tex(r"\Sigma_f(w)", ("Sigma_f", "w")),
                          Tex(r"\frac{1}{2}\sum_y E[G^2xx^\top|y] - \tilde F\tilde F^\top",
                              ("G", "x", "y", "Ftilde")))]),
            Equation(r"First-order equations in the frame ($\delta$, $\Gamma$: $K$-vector and "
                     r"$K\times K$) and per orthogonal direction ($\gamma_\perp$):",
                     [Rel(Tex(r"\frac{d\delta}{dt}", ("delta", "t")),
                          Tex(r"J\delta - \frac{1}{2}JF + \frac{1}{2}\sum_{kl}\Gamma_{kl}"
                              r"\partial_k\partial_lF + \frac{N - K}{2}\gamma_\perp\,k^2"
                              r"\sigma_\perp^2\sum_y\left(\mu_y\partial_cg_1^y + k\,p\,"
                              r"\partial_cg_2^y\right)",
                              ("J", "delta", "F", "Gamma", "Nd", "gamma_perp", "k",
                               "sigma_perp", "mu_y", "g", "p"))),
                      Rel(Tex(r"\frac{d\Gamma}{dt}", ("Gamma", "t")),
                          Tex(r"J\Gamma + \Gamma J^\top + U^\top\Sigma_fU",
                              ("J", "Gamma", "Sigma_f"))),
                      Rel(Tex(r"\frac{d\gamma_\perp}{dt}", ("gamma_perp", "t")),
                          Tex(r"2\left(\frac{k\sigma_\perp^2}{2}\sum_y g_2^y - \lambda\right)"
                              r"\gamma_\perp + \frac{\sigma_\perp^2}{2}\sum_y E[N_y]",
                              ("k", "sigma_perp", "g", "lambda", "gamma_perp", "N")))]),
        ],
        symbols=[
            Sym("N", "N_y", r"the noise factor $E_{\hat y}[G^2]$ of class $y$"),
            Sym("s", "s", r"$= w\cdot x$, the input current"),
            Sym("phi_s", r"\phi_s", r"$= \phi(s)$, the erf sigmoid of the input current"),
            Sym("G", "G", r"the scalar factor of the update $f = Gx - \lambda w$"),
            Sym("x", "x", "the input"),
            Sym("y", "y", r"the label ($\pm 1$)"),
            Sym("Sigma", r"\Sigma", "the input covariance of each class"),
            Sym("mu_y", r"\mu_y", r"the class mean ($\pm\mu$)"),
            Sym("p", "p", r"$= \Sigma w$"),
            Sym("Sigma_f", r"\Sigma_f", "the covariance of one update direction"),
            Sym("w", "w", "the weights (on the flow)"),
            Sym("Ftilde", r"\tilde F", r"$= F + \lambda w$, the drift without the weight decay"),
            Sym("delta", r"\delta", r"the $O(\eta)$ mean shift (frame coordinates)"),
            Sym("t", "t", r"continuous time ($\eta$ times the number of updates)"),
            Sym("J", "J", "the Jacobian of the drift $F$ in the frame"),
            Sym("F", "F", "the drift"),
            Sym("Gamma", r"\Gamma", r"the $O(\eta)$ weight covariance in the frame"),
            Sym("Nd", "N", "the weight dimension ($K$: the frame size)"),
            Sym("gamma_perp", r"\gamma_\perp", r"the $O(\eta)$ weight variance along each "
                "direction orthogonal to the frame"),
            Sym("k", "k", r"$= \sqrt{\pi/8}$"),
            Sym("sigma_perp", r"\sigma_\perp", "the input noise orthogonal to the frame"),
            Sym("g", "g_1^y, g_2^y", r"the drift's class functions of $(a, c)$ "
                "(the perceptron model)"),
            Sym("lambda", r"\lambda", "the weight decay"),
        ],
    )


@register_latex("finite-lr-perceptron-sl", "perceptron SL at a finite learning rate: update "
                "noise and first-order equations (frame + orthogonal directions)")
def finite_lr_perceptron_sl_latex() -> LatexModel:
    return _latex("sl")


@register_latex("finite-lr-perceptron-rl", "perceptron RL (REINFORCE) at a finite learning "
                "rate: update noise and first-order equations")
def finite_lr_perceptron_rl_latex() -> LatexModel:
    return _latex("rl")
