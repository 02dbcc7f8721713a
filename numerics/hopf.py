r"""The first Lyapunov coefficient of a Hopf bifurcation (Kuznetsov's invariant formula).

At an equilibrium whose Jacobian :math:`A` has eigenvalues :math:`\pm i\omega_0`, write the
vector field as :math:`f(x_0 + \xi) = A\xi + \tfrac12 B(\xi,\xi) + \tfrac16 C(\xi,\xi,\xi) +
O(|\xi|^4)`, with :math:`B_i(x, y) = \sum_{jk} \partial^2 f_i/\partial\xi_j\partial\xi_k\, x_j y_k`
and :math:`C_i(x,y,z) = \sum_{jkl}\partial^3 f_i/\partial\xi_j\partial\xi_k\partial\xi_l\,
x_j y_k z_l`.  With :math:`Aq = i\omega_0 q`, :math:`A^\top p = -i\omega_0 p`,
:math:`\langle p, q\rangle = \bar p^\top q = 1` and :math:`|q| = 1`, Kuznetsov
(*Elements of Applied Bifurcation Theory*, 3rd ed. 2004, eq. (3.20)) gives

.. math:: l_1 = \frac{1}{2\omega_0}\operatorname{Re}\big[\langle p, C(q,q,\bar q)\rangle
          - 2\langle p, B(q, A^{-1}B(q,\bar q))\rangle
          + \langle p, B(\bar q, (2i\omega_0 I - A)^{-1}B(q,q))\rangle\big].

:math:`l_1 < 0`: supercritical (a stable cycle is born); :math:`l_1 > 0`: subcritical (an
unstable cycle coexists with the stable equilibrium on the stable side).  Only the sign is
invariant; with :math:`|q| = 1` the planar normal form :math:`\dot z = (\mu + i\omega)z +
c|z|^2 z` (:math:`z = x + iy`) has :math:`l_1 = 2\operatorname{Re}c/\omega`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["first_lyapunov_coefficient"]


def first_lyapunov_coefficient(A, B, C) -> tuple[float, float]:
    """``(l1, omega0)`` from the Jacobian ``A`` (d, d), the second-derivative tensor ``B``
    (d, d, d) and the third-derivative tensor ``C`` (d, d, d, d) at a Hopf point.

    The eigenpair used is the one with the smallest ``|Re lambda|`` and positive imaginary
    part; a ``ValueError`` says when there is no such pair (not a Hopf point)."""
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    C = np.asarray(C, dtype=float)
    d = A.shape[0]
    if A.shape != (d, d) or B.shape != (d, d, d) or C.shape != (d, d, d, d):
        raise ValueError(f"A, B, C must have shapes (d,d), (d,d,d), (d,d,d,d); got {A.shape}, "
                         f"{B.shape}, {C.shape}")
    lam, vecs = np.linalg.eig(A)
    cand = [k for k in range(d) if lam[k].imag > 1e-12]
    if not cand:
        raise ValueError("A has no complex eigenvalue pair: not a Hopf point")
    k = min(cand, key=lambda j: abs(lam[j].real))
    omega = lam[k].imag
    if abs(lam[k].real) > 1e-6 * max(1.0, abs(omega)):
        raise ValueError(f"A's critical pair {lam[k]:.4g} is not on the imaginary axis")
    q = vecs[:, k]
    lam_t, vecs_t = np.linalg.eig(A.T)
    kt = int(np.argmin(np.abs(lam_t - np.conj(lam[k]))))
    p = vecs_t[:, kt]
    p = p / np.conj(np.vdot(p, q))  # <p, q> = conj(p) . q = 1

    def Bf(x, y):
        return np.einsum("ijk,j,k->i", B, x, y)

    def Cf(x, y, z):
        return np.einsum("ijkl,j,k,l->i", C, x, y, z)

    qb = np.conj(q)
    t1 = np.vdot(p, Cf(q, q, qb))
    t2 = np.vdot(p, Bf(q, np.linalg.solve(A, Bf(q, qb))))
    t3 = np.vdot(p, Bf(qb, np.linalg.solve(2j * omega * np.eye(d) - A, Bf(q, q))))
    l1 = float(np.real(t1 - 2 * t2 + t3) / (2 * omega))
    return l1, float(omega)
