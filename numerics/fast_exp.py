r"""A vectorisable ``exp`` for numba loops (the Hodgkin–Huxley kernels).

numba lowers ``math.exp`` to a call of the C library's scalar ``exp``; LLVM can vectorise a
loop around it only with a vector maths library (Intel SVML), which numba does not ship.
This ``exp`` is plain arithmetic, so a loop over neurons that calls it compiles to SIMD
instructions (8 doubles per AVX-512 register).  The algorithm is the textbook one
(Cody & Waite 1980; Muller, *Elementary Functions*, ch. 11):

.. math:: e^x = 2^k e^r,\quad k = \operatorname{round}(x/\ln 2),\quad
          r = (x - k\,\ln 2_{hi}) - k\,\ln 2_{lo},\quad |r| \le \tfrac12\ln 2,

with :math:`\ln 2 = \ln 2_{hi} + \ln 2_{lo}` split so that :math:`k\ln 2_{hi}` is exact for
:math:`|k| < 2^{21}`, :math:`e^r` by its Taylor polynomial of degree 13 in Horner form
(truncation :math:`< (\ln 2/2)^{14}/14! \approx 4\times 10^{-18}`, below half an ulp), and
:math:`2^k` assembled from its IEEE-754 bits (biased exponent :math:`k + 1023`).

Accuracy (``tests/test_fast_exp.py``): within 1 ulp of the C library on
:math:`[-708, 709]`, where the result is a normal double; 0 below (where the exact value is
subnormal or 0: it differs from the C library's by less than :math:`2.3\times10^{-308}`
absolutely), ``inf`` above 709.78, NaN for NaN.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["exp", "bits_to_float"]

_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238  # ln 2 to 32 bits: k * _LN2_HI is exact for |k| < 2**21
_LN2_LO = 1.9082149292705877e-10  # ln 2 - _LN2_HI
_X_MAX = 709.782712893384  # ln(largest double)
_X_MIN = -708.0  # below: the exact value is subnormal (or 0); returns 0


@intrinsic
def bits_to_float(typingctx, bits):
    """The double whose IEEE-754 bit pattern is the int64 ``bits`` (an LLVM bitcast)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@numba.njit(inline="always", cache=True, error_model="numpy")
def exp(x):
    """:math:`e^x` from arithmetic and one bit cast (module docstring), vectorisable."""
    xc = min(max(x, _X_MIN), _X_MAX)  # keeps 2**k a normal double; NaN handled below
    k = np.floor(xc * _LOG2E + 0.5)
    r = (xc - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0  # 1/13!
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    # 2**k as 2 * 2**(k - 1): k reaches 1024 at the top of the range, 2**(k - 1) never
    # leaves the normal doubles, and the product is exact (scaling by powers of 2)
    y = (p * 2.0) * bits_to_float((np.int64(k) + 1022) << 52)
    if x > _X_MAX:
        y = np.inf
    if x < _X_MIN:
        y = 0.0
    if x != x:
        y = x
    return y
