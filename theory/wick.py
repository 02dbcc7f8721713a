r"""Expectations of polynomials in zero-mean Gaussian variables (Isserlis / Wick).

For a zero-mean Gaussian vector with covariance :math:`R`,

.. math::  E[x_{i_1}\cdots x_{i_{2m}}] = \sum_{\text{pairings}} \prod_{(a,b)} R_{i_a i_b},

and odd moments vanish (Isserlis 1918).  :func:`gaussian_expectation` expands a SymPy
polynomial in the variables and applies this monomial by monomial; everything else
(weights, parameters) is treated as a constant.  This is how the LMS drift, its
second moment and the exact discrete-time recursion are derived rather than typed.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

__all__ = ["gaussian_expectation", "isserlis_moment"]


@lru_cache(maxsize=4096)
def _pairings(indices: tuple[int, ...]) -> tuple[tuple[tuple[int, int], ...], ...]:
    if not indices:
        return ((),)
    first, rest = indices[0], indices[1:]
    out = []
    for k in range(len(rest)):
        pair = (first, rest[k])
        remaining = rest[:k] + rest[k + 1:]
        for p in _pairings(remaining):
            out.append((pair,) + p)
    return tuple(out)


def isserlis_moment(indices, cov) -> sp.Expr:
    """:math:`E[\\prod_a x_{i_a}]` for zero-mean Gaussian ``x`` with covariance ``cov``."""
    indices = tuple(sorted(indices))
    if len(indices) % 2:
        return sp.S.Zero
    total = sp.S.Zero
    for pairing in _pairings(indices):
        term = sp.S.One
        for a, b in pairing:
            term *= cov[a, b]
        total += term
    return total


def gaussian_expectation(expr, variables, cov) -> sp.Expr:
    """Expectation of a polynomial ``expr`` in zero-mean Gaussian ``variables``.

    ``cov`` is the covariance Matrix of ``variables`` (symbolic entries allowed).
    Works element-wise on matrices.
    """
    variables = list(variables)
    cov = sp.Matrix(cov)
    if cov.shape != (len(variables), len(variables)):
        raise ValueError(f"cov must be {len(variables)}x{len(variables)}, got {cov.shape}")
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(lambda e: gaussian_expectation(e, variables, cov))
    poly = sp.Poly(sp.expand(expr), *variables)
    total = sp.S.Zero
    cache: dict[tuple[int, ...], sp.Expr] = {}
    for exponents, coeff in poly.terms():
        idx = tuple(i for i, k in enumerate(exponents) for _ in range(k))
        if idx not in cache:
            cache[idx] = isserlis_moment(idx, cov)
        total += coeff * cache[idx]
    return sp.expand(total)
