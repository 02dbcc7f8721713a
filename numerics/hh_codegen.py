r"""Code generation for the Hodgkin–Huxley cell: SymPy expressions -> NumPy and numba functions.

Every formula comes from :mod:`theory.hh` (the cell right-hand side, the exponential-Euler
form :math:`\dot y = a - b\,y`, the Jacobian) by :func:`sympy.lambdify` with ``cse=True``;
nothing is retyped.  One exact rewrite is applied before lambdifying
(:func:`share_exponentials`): every :math:`e^{cV + d}` and :math:`\operatorname{expm1}(cV+d)`
whose coefficient is an integer multiple :math:`k c_0` of a *base* coefficient becomes
:math:`e^{d}\,q^k` with :math:`q = e^{c_0 V}` computed once per evaluation.  For the HH
rates (coefficients -1/80, -1/20, -1/10, -1/18 and the synapse's -1/5) this leaves two
exponentials per evaluation, :math:`q_1 = e^{-V/80}` and :math:`q_2 = e^{-V/18}`, instead of
eight; :math:`q_1^4, q_1^8, q_1^{16}` are squarings.  ``expm1`` turns into :math:`e^d q^k - 1`
only on the Piecewise branch :math:`|u| \ge` ``TAYLOR_RADIUS`` of :func:`theory.hh.bernoulli_ratio`,
where the cancellation costs at most :math:`\epsilon\,k/r \approx 4\times10^{-14}` relative.

The same rewritten expressions are compiled twice: for NumPy (``modules="numpy"``, arrays
broadcast) and for numba (``modules="math"``, scalar source text jitted with
``inline="always"`` inside the generated kernel module of :mod:`numerics.hh_kernel`, so the
integration loops get them inlined and numba can cache the machine code on disk).  The two
paths therefore evaluate the same arithmetic and are tested equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import expm1

from theory import hh as th

__all__ = ["share_exponentials", "CellCode", "cell_code", "numpy_cell", "numba_cell_source",
           "count_operations"]


def share_exponentials(exprs: Sequence[sp.Expr], var: sp.Symbol, max_power: int = 16,
                       prefix: str = "q"):
    r"""Rewrite :math:`e^{cV+d}` and :math:`\operatorname{expm1}(cV+d)` through shared bases.

    Coefficients :math:`c` (Rationals) are sorted by magnitude; each becomes :math:`k c_0`
    for the first base :math:`c_0` with :math:`k = c/c_0` a positive integer
    :math:`\le` ``max_power``, else it starts a new base.  Returns ``(new_exprs, bases)``,
    ``bases`` a list of ``(symbol, exp(c0*var))``.  Exact (an identity), checked by the tests.
    """
    exprs = [sp.sympify(e) for e in exprs]
    coeffs = set()
    for e in exprs:
        for f in e.atoms(sp.exp, expm1):
            arg = sp.expand(f.args[0])
            c = sp.diff(arg, var)
            if c == 0 and not arg.free_symbols:
                continue  # a constant, evaluated to a float below
            if c.free_symbols or sp.diff(arg, var, 2) != 0:
                raise ValueError(f"argument {arg} of {f.func.__name__} is not linear in {var}")
            coeffs.add(sp.nsimplify(c))
    bases: list[tuple[sp.Symbol, sp.Expr, sp.Expr]] = []  # (symbol, c0, exp(c0 var))
    choice: dict = {}
    for c in sorted(coeffs, key=lambda c: (abs(c), c)):
        for sym, c0, _ in bases:
            k = c / c0
            if k.is_integer and 0 < abs(k) <= max_power:
                choice[c] = (sym, int(k))
                break
        else:
            sym = sp.Symbol(f"{prefix}{len(bases) + 1}", positive=True)
            bases.append((sym, c, sp.exp(c * var)))
            choice[c] = (sym, 1)

    def power(arg):
        arg = sp.expand(arg)
        c = sp.nsimplify(sp.diff(arg, var))
        d = sp.expand(arg - c * var)
        sym, k = choice[c]
        return sp.Float(sp.exp(d).evalf(20), 17) * sym**k if d != 0 else sym**k

    def rewrite(f, minus_one):
        arg = sp.expand(f.args[0])
        if not arg.free_symbols:
            return sp.Float(f.evalf(20), 17)
        return power(arg) - 1 if minus_one else power(arg)

    out = []
    for e in exprs:
        e = e.replace(lambda x: isinstance(x, expm1), lambda x: rewrite(x, True))
        e = e.replace(lambda x: isinstance(x, sp.exp), lambda x: rewrite(x, False))
        out.append(e)
    return out, [(sym, expr) for sym, _, expr in bases]


def _numeric(e: sp.Expr) -> sp.Expr:
    """Numbers as floats (so that generated code does no Rational arithmetic)."""
    return e.xreplace({r: sp.Float(r, 17) for r in e.atoms(sp.Rational) if not r.is_Integer})


@dataclass(frozen=True)
class CellCode:
    """The cell's expressions after substitution of the constants and the exponential rewrite.

    ``state`` = (V, m, h, n, s); ``rhs`` the 5 derivatives (input current ``I``);
    ``a``, ``b`` the exponential-Euler coefficients; ``bases`` the shared exponentials
    ``[(q_k, exp(c_k V))]``; ``args`` the argument order of every generated function:
    ``(V, m, h, n, s, I, q_1, ..., q_K)``.
    """

    constants: th.HHConstants
    state: tuple
    rhs: tuple
    a: tuple
    b: tuple
    bases: tuple
    args: tuple

    @property
    def base_symbols(self) -> tuple:
        return tuple(q for q, _ in self.bases)


@lru_cache(maxsize=8)
def cell_code(constants: th.HHConstants = th.DEFAULT_CONSTANTS) -> CellCode:
    """Derive (theory), substitute ``constants`` and rewrite the exponentials (cached)."""
    subs = constants.subs()
    rhs = [e.subs(subs) for e in th.cell_rhs()]
    ab = th.exponential_euler_form(with_synapse=True)
    a = [e.subs(subs) for e, _ in ab]
    b = [e.subs(subs) for _, e in ab]
    new, bases = share_exponentials(rhs + a + b, th.V)
    new = [_numeric(e) for e in new]
    k = len(rhs)
    args = (*th.CELL_STATE, th.I, *(q for q, _ in bases))
    return CellCode(constants, tuple(th.CELL_STATE), tuple(new[:k]), tuple(new[k:2 * k]),
                    tuple(new[2 * k:]), tuple(bases), args)


@dataclass(frozen=True)
class NumpyCell:
    """Vectorised functions of the cell (arguments broadcast).

    ``rhs(V, m, h, n, s, I)`` and ``ab(V, m, h, n, s, I)`` return tuples of arrays; the
    shared exponentials are computed inside.
    """

    code: CellCode
    _rhs: object
    _ab: object
    _bases: object

    def bases(self, V):
        return self._bases(V)

    def rhs(self, V, m, h, n, s, I):
        with np.errstate(invalid="ignore", divide="ignore"):  # unselected Piecewise branch
            return self._rhs(V, m, h, n, s, I, *self._bases(V))

    def ab(self, V, m, h, n, s, I):
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._ab(V, m, h, n, s, I, *self._bases(V))


@lru_cache(maxsize=8)
def numpy_cell(constants: th.HHConstants = th.DEFAULT_CONSTANTS) -> NumpyCell:
    """The NumPy-compiled cell functions (lambdify, cse) for ``constants``."""
    code = cell_code(constants)
    rhs = sp.lambdify(code.args, tuple(code.rhs), modules="numpy", cse=True)
    ab = sp.lambdify(code.args, tuple(code.a) + tuple(code.b), modules="numpy", cse=True)
    bases = sp.lambdify([th.V], tuple(e for _, e in code.bases), modules="numpy")
    return NumpyCell(code, rhs, ab, bases)


_JIT = '@numba.njit(inline="always", cache=True, error_model="numpy")'


@lru_cache(maxsize=8)
def numba_cell_source(constants: th.HHConstants = th.DEFAULT_CONSTANTS) -> str:
    """Python source of the scalar cell functions for numba: ``rhs(V, m, h, n, s, I)`` -> the
    5 derivatives, ``ab(V, m, h, n, s, I)`` -> the 5 exponential-Euler ``a`` then the 5 ``b``.

    Generated by ``lambdify(modules="math", cse=True)`` from :func:`cell_code` (the shared
    exponentials computed once by a generated ``_bases(V)``), each function decorated
    ``numba.njit(inline="always", cache=True, error_model="numpy")``; ``exp`` is
    :func:`numerics.fast_exp.exp` (within 1 ulp of the C library's, and vectorisable, so the
    loops over neurons compile to SIMD code); :mod:`numerics.hh_kernel` writes it into the
    kernel module in front of the loops of :mod:`numerics.hh_loops`.
    """
    import inspect

    code = cell_code(constants)
    if len(code.bases) != 2:
        raise ArithmeticError(f"expected two shared exponentials, got {len(code.bases)}")
    parts = []
    for name, args, exprs, cse in (
            ("_rhs_q", code.args, tuple(code.rhs), True),
            ("_ab_q", code.args, tuple(code.a) + tuple(code.b), True),
            ("_bases", [th.V], tuple(e for _, e in code.bases), False)):
        f = sp.lambdify(args, exprs, modules="math", cse=cse)
        text = inspect.getsource(f).replace("def _lambdifygenerated(", f"def {name}(", 1)
        parts.append(_JIT + "\n" + text)
    parts.append(_JIT + '''
def rhs(V, m, h, n, s, I):
    q1, q2 = _bases(V)
    return _rhs_q(V, m, h, n, s, I, q1, q2)


''' + _JIT + '''
def ab(V, m, h, n, s, I):
    q1, q2 = _bases(V)
    return _ab_q(V, m, h, n, s, I, q1, q2)
''')
    # numba's on-disk cache of a kernel is keyed by its module's own text, not by what it
    # imports: the hash of numerics.fast_exp (inlined into every loop) is part of the text,
    # so an edited exp never runs as stale machine code
    from importlib import resources

    exp_hash = hashlib.sha256(
        resources.files("numerics").joinpath("fast_exp.py").read_bytes()).hexdigest()[:16]
    header = (f"# generated by numerics.hh_codegen from theory.hh for {constants!r}\n"
              "from math import expm1  # noqa: F401  (names used by the generated code)\n"
              f"from numerics.fast_exp import exp  # noqa: F401  (vectorisable; {exp_hash})\n")
    return header + "\n\n".join(parts)


def count_operations(constants: th.HHConstants = th.DEFAULT_CONSTANTS) -> dict[str, int]:
    """Operations of one right-hand-side evaluation after CSE, by kind (``sympy.count_ops``:
    ADD, SUB, MUL, DIV, NEG, POW, ...) plus ``EXP`` = the shared exponentials.

    Counts the branch taken away from the removable singularities (the ``expm1`` side of each
    Piecewise).  The benchmark compares the measured cost per neuron-step with this work."""
    code = cell_code(constants)
    exprs = [e.replace(lambda x: isinstance(x, sp.Piecewise), lambda x: x.args[-1][0])
             for e in code.rhs]
    reps, reduced = sp.cse(exprs)
    total = sum((sp.count_ops(e, visual=True) for e in [r for _, r in reps] + list(reduced)),
                sp.S.Zero)
    out = {str(k): int(v) for k, v in total.as_coefficients_dict().items()}
    out["EXP"] = out.get("EXP", 0) + len(code.bases)
    return out
