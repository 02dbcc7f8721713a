r"""Gaussian expectations of a learning rule's update: Wick, the Gaussian table, or quadrature.

:func:`gaussian_average` takes :math:`E[F(g)]` for a jointly Gaussian vector
:math:`g \sim N(m, S)` (symbolic ``m`` and ``S`` allowed) and says which of three paths it
took:

``"wick"``
    :math:`F` is a polynomial in :math:`g`: shift :math:`g = m + z` and apply Isserlis'
    theorem (:mod:`theory.wick`).  Exact.
``"gaussian-table"``
    :math:`F` is a polynomial in :math:`g` and in functions of **one** linear form
    :math:`s = c + a\cdot g`, and those functions are :math:`\operatorname{erf}` of an affine
    function of :math:`s`.  Conditioning on :math:`s` (with :math:`\mu_s = c + a\cdot m`,
    :math:`v = a^\top S a`, :math:`\sigma = \sqrt v`, :math:`u = (s - \mu_s)/\sigma`),

    .. math:: g = m + d\,u + r, \qquad d = S a/\sigma, \qquad
              r \sim N(0, S - d d^\top) \text{ independent of } u,

    the :math:`r`-moments are taken by Isserlis and the :math:`u`-moments
    :math:`E[u^j \Phi(\alpha + \beta u)^p]` by the table of :mod:`theory.gaussian` (Owen 1980;
    :math:`j \le 1`) extended here to :math:`j = 2` by Stein's lemma
    (:math:`E[u^2 g(u)] = E[g] + E[g'']`):

    .. math::

        E[u^2\Phi] &= E[\Phi] - \frac{\alpha\beta^2}{1+\beta^2}E[\varphi_N], \\
        E[u^2\Phi^2] &= E[\Phi^2] + 2\beta^2\Big(E[\varphi_N^2]
            - \frac{\alpha E[\Phi\varphi_N] + \beta^2 E[\varphi_N^2]}{1+\beta^2}\Big), \\
        E[\varphi_N(\alpha+\beta u)^2] &= \frac{e^{-\alpha^2/(1+2\beta^2)}}
            {2\pi\sqrt{1+2\beta^2}}

    (all arguments :math:`\alpha + \beta u`; checked against mpmath quadrature in the tests).
    Exact.
``"quadrature"``
    Any other function of the one linear form (``sign``, ``tanh``, ``Heaviside``, ``Abs``,
    powers of :math:`\Phi` above 2, ...): the :math:`u`-average is a SymPy function
    :math:`\mathcal{Q}_k^{(j)}(\mu, \sigma) = E[u^j H_k(\mu + \sigma u)]` (a class made by
    :func:`average_function` for the integrand :math:`H_k`).  Its derivatives follow from
    differentiating the Gaussian density, not :math:`H_k` (so a discontinuous :math:`H_k` such
    as ``sign`` is fine):

    .. math::

        \partial_\mu \mathcal{Q}^{(j)} = \frac{\mathcal{Q}^{(j+1)} - j\mathcal{Q}^{(j-1)}}{\sigma},
        \qquad
        \partial_\sigma \mathcal{Q}^{(j)} = \frac{\mathcal{Q}^{(j+2)} - (j+1)\,\mathcal{Q}^{(j)}}
            {\sigma},

    so the moment engine can take Jacobians and Hessians.  Numerically
    (:mod:`numerics.rules`) :math:`\mathcal{Q}` is composite Gauss–Legendre quadrature on
    :math:`u \in [-10, 10]` with its panels split at the kinks of :math:`H_k` (Gauss–Hermite
    converges like :math:`1/N` across a jump, 4e-2 error at 320 nodes for ``sign``, and
    slowly for ``tanh`` at large :math:`\sigma`); the error is stated by comparing :math:`N`
    with :math:`2N` nodes per panel.
    ``evalf`` gives mpmath's adaptive quadrature (the reference in the tests).

Several linear forms that are multiples of one another count as one (``erf(k s)`` and
``erf(-k s)``); non-polynomial parts that depend on two independent linear forms, or on a
non-linear function of :math:`g` inside them, raise ``ValueError`` naming the term.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import mpmath
import sympy as sp

from theory.gaussian import RULES as TABLE
from theory.gaussian import E_Phi, E_Phi2, E_phi_n, E_Phi_phi_n, phi_argument
from theory.wick import gaussian_expectation

__all__ = ["PATHS", "combine_paths", "GaussianAverage", "average_function", "gaussian_average",
           "E_phi_n2", "E_u2_Phi", "E_u2_Phi2", "table_expect", "u_moment", "kinks"]

#: the three paths, from exact and cheapest to numerical
PATHS = ("wick", "gaussian-table", "quadrature")

#: half-width of the u-interval of the split Gauss–Legendre rule (tail mass ~1e-23)
U_RANGE = 10


def combine_paths(*paths: str) -> str:
    """The least exact of ``paths`` (a sum is only as exact as its least exact term)."""
    return max(paths, key=PATHS.index) if paths else "wick"


# ------------------------------------------------------------- the table extended to u^2


def E_phi_n2(a, b):  # noqa: N802
    r""":math:`E[\varphi_N(a+bu)^2] = e^{-a^2/(1+2b^2)}/(2\pi\sqrt{1+2b^2})`."""
    q = 1 + 2 * b**2
    return sp.exp(-a**2 / q) / (2 * sp.pi * sp.sqrt(q))


def E_u2_Phi(a, b):  # noqa: N802
    r""":math:`E[u^2\Phi(a+bu)] = E[\Phi] - a b^2 E[\varphi_N]/(1+b^2)` (Stein's lemma twice)."""
    return E_Phi(a, b) - a * b**2 * E_phi_n(a, b) / (1 + b**2)


def E_u2_Phi2(a, b):  # noqa: N802
    r""":math:`E[u^2\Phi(a+bu)^2] = E[\Phi^2] + 2b^2(E[\varphi_N^2] - Y)`,
    :math:`Y = E[(a+bu)\Phi\varphi_N] = (a E[\Phi\varphi_N] + b^2E[\varphi_N^2])/(1+b^2)`."""
    y = (a * E_Phi_phi_n(a, b) + b**2 * E_phi_n2(a, b)) / (1 + b**2)
    return E_Phi2(a, b) + 2 * b**2 * (E_phi_n2(a, b) - y)


_TABLE2 = {(2, 0): lambda a, b: sp.S.One, (2, 1): E_u2_Phi, (2, 2): E_u2_Phi2}


def u_moment(j: int) -> sp.Integer:
    """:math:`E[u^j]` for :math:`u \\sim N(0, 1)`: :math:`(j-1)!!` for even j, else 0."""
    if j % 2:
        return sp.S.Zero
    return sp.factorial2(j - 1) if j > 0 else sp.S.One


def table_expect(expr, u: sp.Symbol) -> sp.Expr:
    r""":math:`E_u[\mathrm{expr}]` by the Gaussian table: ``expr`` a polynomial of degree
    <= 2 in ``u`` and <= 2 in :math:`\operatorname{erf}(p + qu)` (one argument, up to sign).
    ``ValueError`` when the table has no entry."""
    expr = sp.expand(expr)
    erfs = {e for e in expr.atoms(sp.erf) if e.has(u)}
    if len(erfs) > 1:
        raise ValueError(f"more than one erf argument in u: {sorted(map(str, erfs))}")
    P = sp.Dummy("P")
    if erfs:
        e = next(iter(erfs))
        a, b = phi_argument(e.args[0], u)
        expr = sp.expand(expr.xreplace({e: 2 * P - 1}))
    else:
        a = b = sp.S.Zero
    try:
        poly = sp.Poly(expr, u, P)
    except sp.PolynomialError as err:
        raise ValueError(f"not a polynomial in u and Phi: {err}") from None
    out = sp.S.Zero
    for (ku, kp), coeff in poly.terms():
        if coeff.has(u):
            raise ValueError(f"unsupported u-dependence in {coeff}")
        rule = TABLE.get((ku, kp)) or _TABLE2.get((ku, kp))
        if rule is None:
            raise ValueError(f"no table entry for E[u^{ku} Phi^{kp}]")
        out += coeff * rule(a, b)
    return out


# ------------------------------------------------------------- quadrature functions

_KINKED = (sp.sign, sp.Heaviside, sp.Abs, sp.Max, sp.Min, sp.Piecewise, sp.floor, sp.ceiling)


def kinks(H: sp.Expr, t: sp.Symbol) -> tuple[sp.Expr, ...]:
    """The values of ``t`` where ``H(t)`` may jump or bend: the zeros of the arguments of its
    ``sign``, ``Heaviside``, ``Abs`` (and of differences of ``Max``/``Min`` arguments and of
    ``Piecewise`` conditions), each of which must be linear in ``t``."""
    found = []
    for atom in H.atoms(*_KINKED):
        if not atom.has(t):
            continue
        if isinstance(atom, (sp.Max, sp.Min)):
            cands = [x - y for x, y in itertools.combinations(atom.args, 2)]
        elif isinstance(atom, sp.Piecewise):
            cands = [c.lhs - c.rhs for _, c in atom.args if isinstance(c, sp.Rel)]
        else:
            cands = [atom.args[0]]
        for c in cands:
            if not c.has(t):
                continue
            poly = sp.Poly(c, t) if c.is_polynomial(t) else None
            if poly is None or poly.degree() != 1:
                raise ValueError(f"cannot locate the kink of {atom} in {t}: its argument is not "
                                 f"linear in {t}")
            k1, k0 = poly.all_coeffs()
            found.append(sp.simplify(-k0 / k1))
    return tuple(dict.fromkeys(found))


class GaussianAverage(sp.Function):
    r"""Base of the quadrature functions :math:`\mathcal{Q}_k^{(j)}(\mu, \sigma, e_1, ...)
    = E[\mathrm{He}_j(u)\,H_k(\mu + \sigma u; e)]/\sigma^j`, :math:`u \sim N(0, 1)`,
    :math:`\mathrm{He}_j` the probabilists' Hermite polynomials; for a smooth :math:`H_k` this
    is :math:`E[H_k^{(j)}(\mu + \sigma u)]` (Gaussian integration by parts), finite at
    :math:`\sigma = 0`.  Subclasses made by :func:`average_function` carry ``integrand`` (a
    Lambda of ``(t, e_1, ...)``), ``kink_points`` (t-values, functions of the ``e``) and
    ``index`` (the k printed).

    Derivatives (from the Gaussian density, not from :math:`H_k`):
    :math:`\partial_\mu \mathcal{Q}^{(j)} = \mathcal{Q}^{(j+1)}`,
    :math:`\partial_\sigma \mathcal{Q}^{(j)} = \sigma\,\mathcal{Q}^{(j+2)}`."""

    integrand: sp.Lambda
    kink_points: tuple = ()
    index: int = 0

    @classmethod
    def eval(cls, j, m, s, *extra):
        if not (j.is_Integer and j >= 0):
            raise ValueError(f"{cls.__name__}: the Hermite order must be an integer >= 0, "
                             f"got {j}")
        return None

    @classmethod
    def smooth(cls) -> bool:
        return not cls.kink_points

    def fdiff(self, argindex=1):
        cls = type(self)
        j, m, s, *extra = self.args
        if argindex == 2:
            return cls(j + 1, m, s, *extra)
        if argindex == 3:
            return s * cls(j + 2, m, s, *extra)
        if argindex >= 4:
            k = argindex - 4
            t, *es = self.integrand.variables
            dH = sp.diff(self.integrand.expr, es[k])
            if dH.has(sp.DiracDelta):
                raise ValueError(f"{cls.__name__}: the integrand {self.integrand.expr} is not "
                                 f"differentiable in {es[k]}")
            return average_function(dH, t, tuple(es))(j, m, s, *extra)
        raise sp.ArgumentIndexError(self, argindex)

    def _eval_evalf(self, prec):
        vals = [a.evalf(prec) for a in self.args]
        if not all(v.is_Number for v in vals):
            return None
        j, m, s, *extra = vals
        t, *es = self.integrand.variables
        jj = int(j)
        with mpmath.workprec(prec + 10):
            mm, ss = mpmath.mpf(m), mpmath.mpf(s)
            em = [mpmath.mpf(e) for e in extra]
            if self.smooth():
                H = _mpmath_integrand(type(self), jj)
                val = mpmath.quad(lambda u: H(mm + ss * u, *em) * mpmath.npdf(u),
                                  [-mpmath.inf, 0, mpmath.inf])
            else:
                if s == 0:
                    return None
                H = _mpmath_integrand(type(self), 0)
                pts = sorted(float((k - m) / s) for k in
                             (sp.sympify(kp).subs(dict(zip(es, extra)))
                              for kp in self.kink_points))
                val = mpmath.quad(lambda u: mpmath.hermite(jj, u / mpmath.sqrt(2))
                                  * mpmath.mpf(2) ** (-mpmath.mpf(jj) / 2)
                                  * H(mm + ss * u, *em) * mpmath.npdf(u),
                                  [-mpmath.inf, *pts, mpmath.inf]) / ss**jj
        return sp.Float._new(mpmath.mpf(val)._mpf_, prec)

    def _latex(self, printer, exp=None):
        j, m, s, *extra = self.args
        args = ", ".join(printer._print(a) for a in (m, s, *extra))
        base = rf"\mathcal{{Q}}_{{{self.index}}}^{{({printer._print(j)})}}\left({args}\right)"
        return base if exp is None else rf"\left[{base}\right]^{{{exp}}}"


def hermite_e(j: int, u):
    r"""The probabilists' Hermite polynomial :math:`\mathrm{He}_j(u)` (SymPy)."""
    return sp.expand(sp.hermite(j, u / sp.sqrt(2)) * 2 ** (-sp.Rational(j, 2)))


@lru_cache(maxsize=256)
def _mpmath_integrand(cls: type, order: int = 0):
    t, *es = cls.integrand.variables
    return sp.lambdify([t, *es], sp.diff(cls.integrand.expr, t, order) if order else
                       cls.integrand.expr, modules="mpmath")


_AVERAGES: dict[str, type] = {}
#: the integration variable of every quadrature integrand
T_Q = sp.Symbol("t", real=True)


def average_function(H: sp.Expr, t: sp.Symbol, extras: tuple[sp.Symbol, ...] = ()) -> type:
    r"""The :class:`GaussianAverage` subclass for the integrand ``H(t; extras)`` (one class per
    distinct integrand, named ``gauss_average_<k>``: lambdify and the LaTeX table find it by
    that name)."""
    lam = sp.Lambda((t, *extras), H)
    key = sp.srepr(lam)
    if key in _AVERAGES:
        return _AVERAGES[key]
    k = len(_AVERAGES) + 1
    cls = type(f"gauss_average_{k}", (GaussianAverage,),
               {"integrand": lam, "kink_points": kinks(H, t), "index": k,
                "nargs": 3 + len(extras), "__module__": __name__})
    _AVERAGES[key] = cls
    return cls


def averages_in(expr) -> list[type]:
    """The quadrature function classes that occur in ``expr`` (a SymPy expression or Matrix)."""
    out: dict = {}

    def walk(e):
        if isinstance(e, GaussianAverage):
            out.setdefault(type(e), None)
        for a in getattr(e, "args", ()):
            walk(a)

    if isinstance(expr, sp.MatrixBase):
        for e in expr:
            walk(e)
    else:
        walk(expr)
    return list(out)


# ------------------------------------------------------------- the expectation


def _is_poly(expr, g) -> bool:
    return expr.is_polynomial(*g)


def _atoms(expr, g: set) -> list:
    """Maximal sub-expressions that contain ``g`` and are not polynomial operations on it."""
    found: dict = {}

    def walk(e):
        if not (e.free_symbols & g):
            return
        if e.is_Symbol:
            return
        if e.is_Add or e.is_Mul:
            for a in e.args:
                walk(a)
            return
        if e.is_Pow and e.exp.is_Integer and e.exp >= 0:
            walk(e.base)
            return
        found.setdefault(e, None)

    walk(expr)
    return list(found)


def _linear(expr, g: list):
    """``(c, a)`` with ``expr = c + a.g``; None if ``expr`` is not affine in ``g``."""
    if not expr.is_polynomial(*g):
        return None
    poly = sp.Poly(sp.expand(expr), *g)
    if poly.total_degree() > 1:
        return None
    a = [poly.coeff_monomial(gi) for gi in g]
    c = poly.coeff_monomial(1)
    return c, a


def _ratio(a, b):
    """``lam`` with ``a = lam * b`` (vectors of expressions), else None."""
    j0 = next((j for j, x in enumerate(b) if x != 0), None)
    if j0 is None:
        return None
    lam = sp.cancel(a[j0] / b[j0])
    for x, y in zip(a, b):
        if sp.expand(sp.cancel(x - lam * y)) != 0:
            return None
    return lam



def _by_linear_forms(expr, g: list, mean: sp.Matrix, cov: sp.Matrix):
    r"""Isserlis over the few linear forms that a polynomial ``expr`` is built from, rather than
    over every Gaussian variable: each maximal sub-expression affine in ``g``
    (:math:`\ell_k = c_k + a_k\cdot g`, e.g. :math:`e = w_o\cdot x + \xi - w\cdot x`, or
    :math:`x_i`) is one Gaussian variable with mean :math:`c_k + a_k\cdot\mu` and covariances
    :math:`a_k^\top\Sigma a_l`; the moments of the forms are taken with symbols for those means
    and covariances, which are substituted at the end, unexpanded.  ``E[e^2 x_i x_j] =
    Var(e)\Sigma_{ij} + 2\,Cov(e, x_i)Cov(e, x_j)`` then costs O(n^2) symbols instead of the
    O(n^4) monomials of the expanded product.  None when it would not reduce the variables."""
    gset = set(g)
    forms: dict = {}

    class _NotReducible(Exception):
        pass

    def degree(e) -> int:
        """An upper bound of the degree of ``e`` in ``g``, from its structure (no expansion)."""
        if not (e.free_symbols & gset):
            return 0
        if e in gset:
            return 1
        if e.is_Add:
            return max(degree(a) for a in e.args)
        if e.is_Mul:
            return sum(degree(a) for a in e.args)
        if e.is_Pow and e.exp.is_Integer and e.exp > 0:
            return degree(e.base) * int(e.exp)
        return 99

    def walk(e):
        if not (e.free_symbols & gset):
            return e
        if degree(e) <= 1 and _linear(e, g) is not None:
            key = sp.expand(e)
            if key not in forms:
                forms[key] = sp.Dummy(f"l{len(forms)}")
            return forms[key]
        if e.is_Add or e.is_Mul:
            return e.func(*[walk(a) for a in e.args])
        if e.is_Pow and e.exp.is_Integer and e.exp > 0:
            return walk(e.base) ** e.exp
        raise _NotReducible

    try:
        body = walk(expr)
    except _NotReducible:
        return None
    if len(forms) >= len(g):
        return None
    lins = [_linear(f, g) for f in forms]
    k = len(lins)
    means = [sp.expand(c + sum(ai * mean[i] for i, ai in enumerate(a))) for c, a in lins]
    vecs = [sp.Matrix(a) for _, a in lins]
    covs = [[sp.expand((vecs[p].T * cov * vecs[q])[0, 0]) for q in range(k)] for p in range(k)]
    msym = [sp.Dummy(f"m{p}") if means[p] != 0 else sp.S.Zero for p in range(k)]
    csym = sp.Matrix(k, k, lambda p, q: sp.S.Zero if covs[p][q] == 0 else
                     sp.Dummy(f"c{min(p, q)}{max(p, q)}"))
    z = [sp.Dummy(f"z{p}") for p in range(k)]
    shifted = body.xreplace({lk: msym[p] + z[p] for p, lk in enumerate(forms.values())})
    out = gaussian_expectation(shifted, z, csym)
    back = {msym[p]: means[p] for p in range(k) if msym[p] != 0}
    back.update({csym[p, q]: covs[p][q] for p in range(k) for q in range(p, k)
                 if csym[p, q] != 0})
    return out.xreplace(back)


@lru_cache(maxsize=2048)
def _gaussian_average_cached(expr, g: tuple, mean, cov) -> tuple[sp.Expr, str]:
    return _gaussian_average(expr, list(g), sp.Matrix(mean), sp.Matrix(cov))


def gaussian_average(expr, g, mean, cov) -> tuple[sp.Expr, str]:
    """``(E[expr], path)`` for Gaussian ``g ~ N(mean, cov)`` (module docstring); ``path`` is one
    of :data:`PATHS`."""
    g = tuple(g)
    mean = sp.ImmutableMatrix(mean)
    cov = sp.ImmutableMatrix(cov)
    if mean.shape != (len(g), 1) or cov.shape != (len(g), len(g)):
        raise ValueError(f"mean must be {len(g)}x1 and cov {len(g)}x{len(g)}, got {mean.shape} "
                         f"and {cov.shape}")
    return _gaussian_average_cached(sp.sympify(expr), g, mean, cov)


def _gaussian_average(expr, g: list, mean: sp.Matrix, cov: sp.Matrix) -> tuple[sp.Expr, str]:
    gset = set(g)
    if not (expr.free_symbols & gset):
        return expr, "wick"
    n = len(g)
    if _is_poly(expr, g):
        reduced = _by_linear_forms(expr, g, mean, cov)
        if reduced is not None:
            return reduced, "wick"
        z = [sp.Dummy(f"z{i}") for i in range(n)]
        shifted = expr.xreplace({gi: mean[i] + z[i] for i, gi in enumerate(g)})
        return sp.expand(gaussian_expectation(shifted, z, cov)), "wick"

    # one placeholder per distinct function: arguments expanded, so that erf(k(a + b)) and
    # erf(ka + kb) are one atom and polynomial identities between them cancel
    atoms = _atoms(expr, gset)
    canon = {a: a.func(*[sp.expand(x) for x in a.args]) for a in atoms}
    expr = expr.xreplace(canon)
    atoms = _atoms(expr, gset)
    forms = []  # (atom, [(arg index, c, a)])
    for atom in atoms:
        args = []
        for k, arg in enumerate(atom.args):
            if not (arg.free_symbols & gset):
                continue
            lin = _linear(arg, g)
            if lin is None:
                raise ValueError(f"the term {atom} depends on the Gaussian variables through "
                                 f"{arg}, which is not linear in them; only functions of linear "
                                 "combinations of Gaussian variables can be averaged")
            args.append((k, *lin))
        if not args:
            raise ValueError(f"cannot average {atom}: unsupported dependence on "
                             f"{sorted(map(str, atom.free_symbols & gset))}")
        forms.append((atom, args))

    # the canonical linear form s = c0 + a0.g: the first argument found
    _, c0, a0 = forms[0][1][0]
    mu_s = sp.expand(c0 + sum(a0[i] * mean[i] for i in range(n)))
    Sa = cov * sp.Matrix(a0)
    v = sp.expand((sp.Matrix(a0).T * Sa)[0, 0])
    t = sp.Dummy("t", real=True)
    U = sp.Dummy("u", real=True)
    deterministic = v.is_zero is True
    # sigma = sqrt(v) stays a symbol until the end, so that its powers cancel exactly (the
    # averages are then regular where v -> 0, e.g. at w = 0 for s = w.x)
    sigma = sp.Dummy("sigma", positive=True)
    # every atom as a function of s: atom(t) with s -> t
    placeholders, of_t = {}, {}
    for k, (atom, args) in enumerate(forms):
        new_args = list(atom.args)
        for idx, c, a in args:
            lam = _ratio(a, a0)
            if lam is None:
                raise ValueError(
                    f"the non-polynomial terms {forms[0][0]} and {atom} depend on two "
                    "independent linear combinations of the Gaussian variables; only one is "
                    "supported (the averages would be multivariate integrals)")
            new_args[idx] = sp.expand(c - lam * c0) + lam * t
        P = sp.Dummy(f"P{k}")
        placeholders[atom] = P
        of_t[P] = atom.func(*new_args)
    body = expr.xreplace(placeholders)
    if deterministic:
        # s is not random: its functions are constants, the rest is a polynomial
        body = body.xreplace({P: f.xreplace({t: mu_s}) for P, f in of_t.items()})
        z = [sp.Dummy(f"z{i}") for i in range(n)]
        shifted = body.xreplace({gi: mean[i] + z[i] for i, gi in enumerate(g)})
        return sp.expand(gaussian_expectation(shifted, z, cov)), "wick"
    d = Sa / sigma
    r = [sp.Dummy(f"r{i}") for i in range(n)]
    Sr = (cov - Sa * Sa.T / sigma**2).applyfunc(sp.expand)
    body = sp.expand(body.xreplace({gi: mean[i] + d[i] * U + r[i] for i, gi in enumerate(g)}))
    if body.free_symbols & set(r):
        body = gaussian_expectation(body, r, Sr)

    groups: dict = {}
    for term in sp.Add.make_args(sp.expand(body)):
        coeff, dep = term.as_independent(U, *of_t, as_Add=False)
        groups[dep] = groups.get(dep, sp.S.Zero) + coeff
    total, paths = [], []
    s_of_u = mu_s + sigma * U
    for dep, coeff in groups.items():
        j = sp.degree(dep, U) if dep.has(U) else 0
        funcs = sp.cancel(dep / U**j)
        if funcs == 1:
            total.append(coeff * u_moment(int(j)))
            paths.append("wick")
            continue
        try:
            in_u = dep.xreplace({P: f.xreplace({t: s_of_u}) for P, f in of_t.items()})
            total.append(sp.expand_mul(coeff * table_expect(in_u, U)))
            paths.append("gaussian-table")
            continue
        except ValueError:
            pass
        H = funcs.xreplace(of_t)
        total.append(sp.expand_mul(coeff * _quadrature(H, int(j), mu_s, sigma, t)))
        paths.append("quadrature")
    # sigma's powers have cancelled term by term; collect, then sigma -> sqrt(v)
    out = sp.Add(*[sp.expand_mul(x) for x in total])
    out = _collect_averages(out).xreplace({sigma: sp.sqrt(v)})
    return out, combine_paths(*paths)


def _collect_averages(expr):
    """``expr`` with the coefficient of each distinct non-polynomial factor over a common
    denominator (one factor instead of one per term)."""
    groups: dict = {}
    for term in sp.Add.make_args(expr):
        fn = [f for f in sp.Mul.make_args(term) if f.has(GaussianAverage, sp.erf, sp.exp,
                                                            sp.Function)]
        key = sp.Mul(*fn)
        groups[key] = groups.get(key, sp.S.Zero) + term / key
    return sp.Add(*[_tidy_coeff(c) * k for k, c in groups.items()])


def _tidy_coeff(c):
    r"""A coefficient over a common denominator (one :math:`1/\sigma` instead of one per term)."""
    if c == 0 or sp.count_ops(c) > 400:
        return c
    return sp.factor_terms(sp.together(c))


def _quadrature(H, j: int, mu_s, sigma, t):
    r""":math:`E_u[u^j H(\mu_s + \sigma u)] = \sum_k c_{jk}\,\sigma^k\,\mathcal{Q}^{(k)}`
    with :math:`u^j = \sum_k c_{jk}\mathrm{He}_k(u)`, :math:`\mathcal{Q}` the
    :class:`GaussianAverage` of ``H(t)``; symbols of ``H`` other than ``t`` (parameters, or
    weights in the slope of an argument) become its extra arguments."""
    extras = sorted(H.free_symbols - {t, sigma}, key=lambda s: s.name)
    es = tuple(sp.Symbol(f"e_{i}", real=True) for i in range(len(extras)))
    H = H.xreplace({t: T_Q, **dict(zip(extras, es))})
    cls = average_function(H, T_Q, es)
    u = sp.Dummy("u")
    # u^j in the Hermite basis: peel off the leading He_k repeatedly
    rest, out = sp.Poly(u**j, u), sp.S.Zero
    while not rest.is_zero:
        k = rest.degree()
        c = rest.LC()
        out += c * sigma**k * cls(sp.Integer(k), mu_s, sigma, *extras)
        rest = rest - sp.Poly(c * hermite_e(k, u), u)
    return out
