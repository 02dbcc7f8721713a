r"""Gaussian expectations of normal-CDF nonlinearities: an explicit table of identities.

``sympy.integrate`` cannot do :math:`E[\Phi(a+bu)^2]` and friends (it spins and returns an
unevaluated ``Integral``), so the perceptron drifts of seed 002 (Schmid & Murray, appendix
eqs. (35)-(40)) are derived by applying this small table, for :math:`u\sim N(0,1)`,
:math:`\Phi` the standard normal CDF, :math:`\varphi_N` its density,
:math:`s=\sqrt{1+b^2}`, :math:`h=a/s` (Owen 1980, "A table of normal integrals",
entries 10,010.8, 20,010.3 and 10,011.1):

.. math::

    E[\Phi(a+bu)] &= \Phi(h) \\
    E[\varphi_N(a+bu)] &= \varphi_N(h)/s \\
    E[\Phi(a+bu)\,\varphi_N(a+bu)] &= \frac{\varphi_N(h)}{s}\,
        \Phi\!\Big(\frac{h}{\sqrt{1+2b^2}}\Big) \\
    E[\Phi(a+bu)^2] &= \Phi(h) - 2\,T\Big(h, \frac{1}{\sqrt{1+2b^2}}\Big)

and Stein's lemma :math:`E[u\,g(u)] = E[g'(u)]`, which gives

.. math::

    E[u\,\Phi(a+bu)] = b\,\varphi_N(h)/s, \qquad
    E[u\,\Phi(a+bu)^2] = \frac{2b\,\varphi_N(h)}{s}\,\Phi\!\Big(\frac{h}{\sqrt{1+2b^2}}\Big).

:math:`T(h,a) = \frac{1}{2\pi}\int_0^a e^{-h^2(1+x^2)/2}/(1+x^2)\,dx` is Owen's T function
(seed 002 eq. (21)); :class:`owens_t` is a SymPy function for it with both partial
derivatives, an mpmath ``evalf`` and a lambdify name that :data:`numerics.compile.DEFAULT_MODULES`
maps to :func:`scipy.special.owens_t`.  Every rule is checked against mpmath quadrature with
hypothesis-drawn parameters in ``tests/test_gaussian.py``.

:func:`expect` applies the table to an expression that is a polynomial of degree <= 1 in
:math:`u` and <= 2 in :math:`\Phi(a+bu)` (written, as SymPy writes it, through
:math:`\operatorname{erf}((a+bu)/\sqrt2)`).
"""

from __future__ import annotations

import mpmath
import sympy as sp

from theory.serialize import register_function

__all__ = [
    "owens_t", "owens_t_mpmath", "Phi", "phi_n", "E_Phi", "E_phi_n", "E_Phi_phi_n", "E_Phi2",
    "E_u_Phi", "E_u_Phi2", "stein", "RULES", "phi_argument", "expect",
]


@register_function
class owens_t(sp.Function):  # noqa: N801 - the printed name must match DEFAULT_MODULES
    r"""Owen's T function :math:`T(h, a) = \frac{1}{2\pi}\int_0^a
    \frac{e^{-h^2(1+x^2)/2}}{1+x^2}\,dx` (Owen 1980; seed 002 eq. (21)).

    Derivatives:
    :math:`\partial_h T = -\tfrac12\varphi_N(h)\operatorname{erf}(ah/\sqrt2)`,
    :math:`\partial_a T = e^{-h^2(1+a^2)/2} / (2\pi(1+a^2))`.
    """

    nargs = 2

    @classmethod
    def eval(cls, h, a):
        if a.is_zero:
            return sp.S.Zero
        if h.is_zero:
            return sp.atan(a) / (2 * sp.pi)
        if h.could_extract_minus_sign():
            return cls(-h, a)  # T is even in h
        return None

    def fdiff(self, argindex=1):
        h, a = self.args
        if argindex == 1:
            return -sp.exp(-h**2 / 2) / (2 * sp.sqrt(2 * sp.pi)) * sp.erf(a * h / sp.sqrt(2))
        if argindex == 2:
            return sp.exp(-h**2 * (1 + a**2) / 2) / (2 * sp.pi * (1 + a**2))
        raise sp.ArgumentIndexError(self, argindex)

    def _eval_evalf(self, prec):
        h, a = (arg.evalf(prec + 10) for arg in self.args)
        if not (h.is_Number and a.is_Number):
            return None
        with mpmath.workprec(prec + 40):
            val = owens_t_mpmath(mpmath.mpf(h), mpmath.mpf(a))
            # (``mpmath.mpf(val)`` outside this block would round to 53 bits)
            return sp.Float._new(val._mpf_, prec)

    def _latex(self, printer, exp=None):
        h, a = (printer._print(arg) for arg in self.args)
        base = rf"T\left({h}, {a}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"


def owens_t_mpmath(h, a):
    r"""Owen's T at mpmath's working precision, accurate (relative) over the whole plane.

    :math:`T` is even in ``h`` and odd in ``a``; for :math:`h, a \ge 0`:

    * :math:`a \le 1`: the defining integral by tanh-sinh quadrature over :math:`[0, a]`
      split at :math:`x = 2^k/(4h)` (:math:`k = 0, 1, \dots`): the integrand
      :math:`e^{-h^2(1+x^2)/2}/(1+x^2)` falls off on the scale :math:`1/h`, and an unsplit
      interval misses that peak for large ``h`` (5% error at h = 15, a = 7 before);
    * :math:`a > 1`: Owen's (1956) identity
      :math:`T(h, a) = \tfrac12 Q(h) + \tfrac12 Q(ah) - Q(h)Q(ah) - T(ah, 1/a)`,
      :math:`Q = 1 - \Phi` from ``erfc`` (no cancellation: for large h the first term
      dominates, so :math:`T(15, 7) = \Phi(-15)/2` to 1e-40 relative), and the second
      :math:`T` has :math:`1/a < 1`.
    """
    h, a = mpmath.mpf(h), mpmath.mpf(a)
    if not (mpmath.isfinite(h) and mpmath.isfinite(a)):
        raise ValueError(f"owens_t needs finite arguments, got h={h}, a={a}")
    sign = -1 if a < 0 else 1
    h, a = abs(h), abs(a)
    if a == 0:
        return mpmath.mpf(0)
    if h == 0:
        return sign * mpmath.atan(a) / (2 * mpmath.pi)
    if a > 1:
        q_h = mpmath.erfc(h / mpmath.sqrt(2)) / 2
        q_ah = mpmath.erfc(a * h / mpmath.sqrt(2)) / 2
        return sign * (q_h / 2 + q_ah / 2 - q_h * q_ah - owens_t_mpmath(a * h, 1 / a))
    points = [mpmath.mpf(0)]
    x = 1 / (4 * h)
    while x < a:
        points.append(x)
        x *= 2
    points.append(a)
    e0 = mpmath.exp(-h**2 / 2)  # factored out: the integral is then O(1) on the first piece
    val = mpmath.quad(lambda x: mpmath.exp(-h**2 * x**2 / 2) / (1 + x**2), points)
    return sign * e0 * val / (2 * mpmath.pi)


def Phi(z):  # noqa: N802 - the standard name of the normal CDF
    r"""Standard normal CDF :math:`\Phi(z) = \tfrac12(1+\operatorname{erf}(z/\sqrt2))`."""
    return (1 + sp.erf(z / sp.sqrt(2))) / 2


def phi_n(z):
    r"""Standard normal density :math:`\varphi_N(z) = e^{-z^2/2}/\sqrt{2\pi}`."""
    return sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)


def _s(b):
    return sp.sqrt(1 + b**2)


# ---- the table (u ~ N(0, 1)); Owen (1980) entries, checked by quadrature in the tests ----

def E_Phi(a, b):  # noqa: N802
    r""":math:`E[\Phi(a+bu)] = \Phi(a/\sqrt{1+b^2})` (Owen 1980, 10,010.8)."""
    return Phi(a / _s(b))


def E_phi_n(a, b):  # noqa: N802
    r""":math:`E[\varphi_N(a+bu)] = \varphi_N(h)/\sqrt{1+b^2}`, :math:`h = a/\sqrt{1+b^2}`."""
    return phi_n(a / _s(b)) / _s(b)


def E_Phi_phi_n(a, b):  # noqa: N802
    r""":math:`E[\Phi(a+bu)\varphi_N(a+bu)] = \varphi_N(h)\,\Phi(h/\sqrt{1+2b^2})/\sqrt{1+b^2}`."""
    h = a / _s(b)
    return phi_n(h) / _s(b) * Phi(h / sp.sqrt(1 + 2 * b**2))


def E_Phi2(a, b):  # noqa: N802
    r""":math:`E[\Phi(a+bu)^2] = \Phi(h) - 2T(h, 1/\sqrt{1+2b^2})` (Owen 1980, 20,010.3)."""
    h = a / _s(b)
    return Phi(h) - 2 * owens_t(h, 1 / sp.sqrt(1 + 2 * b**2))


def stein(g, u):
    r"""Stein's lemma: the integrand :math:`g'(u)` with :math:`E[u\,g(u)] = E[g'(u)]`."""
    return sp.diff(g, u)


def _stein_reduce(power: int, a, b):
    r""":math:`E[u\,\Phi(a+bu)^m]` by Stein's lemma: :math:`E[\frac{d}{du}\Phi^m] =
    m\,b\,E[\Phi^{m-1}\varphi_N]` (``power`` = m in {1, 2})."""
    u = sp.Dummy("u", real=True)
    P, D = sp.Dummy("P"), sp.Dummy("D")
    # d/du Phi(a+bu)^m written with placeholders P = Phi(a+bu), D = phi_N(a+bu):
    deriv = sp.expand(stein(Phi(a + b * u) ** power, u)
                      .subs(sp.exp(-(a + b * u) ** 2 / 2), sp.sqrt(2 * sp.pi) * D)
                      .subs(sp.erf((a + b * u) / sp.sqrt(2)), 2 * P - 1))
    deriv = sp.expand(deriv)
    if deriv.has(u):
        raise AssertionError("Stein reduction left the integration variable behind")
    table = {D: E_phi_n(a, b), P * D: E_Phi_phi_n(a, b)}
    out = sp.S.Zero
    for term in sp.Add.make_args(deriv):
        coeff, rest = term.as_independent(P, D, as_Add=False)
        out += coeff * table[rest]
    return out


def E_u_Phi(a, b):  # noqa: N802
    r""":math:`E[u\,\Phi(a+bu)] = b\,\varphi_N(h)/\sqrt{1+b^2}` (Stein's lemma)."""
    return _stein_reduce(1, a, b)


def E_u_Phi2(a, b):  # noqa: N802
    r""":math:`E[u\,\Phi(a+bu)^2] = 2b\,\varphi_N(h)\Phi(h/\sqrt{1+2b^2})/\sqrt{1+b^2}` (Stein)."""
    return _stein_reduce(2, a, b)


#: (power of u, power of Phi(a+bu)) -> rule(a, b)
RULES = {
    (0, 0): lambda a, b: sp.S.One,
    (1, 0): lambda a, b: sp.S.Zero,
    (0, 1): E_Phi,
    (1, 1): E_u_Phi,
    (0, 2): E_Phi2,
    (1, 2): E_u_Phi2,
}


def phi_argument(arg, u: sp.Symbol) -> tuple[sp.Expr, sp.Expr]:
    r"""``(a, b)`` with :math:`\operatorname{erf}(\mathrm{arg}) = 2\Phi(a + bu) - 1` for an
    ``arg`` = :math:`p + qu` linear in ``u``: :math:`a = \sqrt2 p`, :math:`b = \sqrt2 q`
    (``ValueError`` if ``arg`` is not of degree 1 in ``u``)."""
    poly_arg = sp.Poly(arg, u)
    if poly_arg.degree() != 1:
        raise ValueError(f"the erf argument must be linear in u, got {arg}")
    q, p = poly_arg.all_coeffs()
    return sp.sqrt(2) * p, sp.sqrt(2) * q


def expect(expr, u: sp.Symbol):
    r"""Expectation of ``expr`` over :math:`u\sim N(0,1)` by the table :data:`RULES`.

    ``expr`` must be a polynomial of degree <= 1 in ``u`` and <= 2 in
    :math:`\operatorname{erf}(p + q u)`, with a single erf argument (``erf(-x)`` is
    ``-erf(x)`` in SymPy, so :math:`\Phi(-z) = 1-\Phi(z)` is covered); the erf is read as
    :math:`2\Phi(a+bu)-1` with :math:`a=\sqrt2 p`, :math:`b=\sqrt2 q`.  Anything else raises
    ``ValueError`` naming the unsupported term.
    """
    expr = sp.expand(sp.sympify(expr))
    erfs = {e for e in expr.atoms(sp.erf) if e.has(u)}
    if not erfs:
        args = None
    elif len(erfs) == 1:
        args = next(iter(erfs)).args[0]
    else:
        raise ValueError(f"expect supports one erf argument in u, found {sorted(map(str, erfs))}")
    P = sp.Dummy("P")
    if args is not None:
        a, b = phi_argument(args, u)
        expr = sp.expand(expr.subs(next(iter(erfs)), 2 * P - 1))
    else:
        a = b = sp.S.Zero
    try:
        poly = sp.Poly(expr, u, P)
    except sp.PolynomialError as err:
        raise ValueError(f"expect needs a polynomial in u and Phi(a+bu): {err}") from None
    out = sp.S.Zero
    for (ku, kp), coeff in poly.terms():
        if coeff.has(u):
            raise ValueError(f"unsupported u-dependence in coefficient {coeff}")
        if (ku, kp) not in RULES:
            raise ValueError(f"no rule for E[u^{ku} Phi(a+bu)^{kp}] in the table")
        out += coeff * RULES[(ku, kp)](a, b)
    return out
