"""BLAS threading for loops of many small BLAS calls."""

from __future__ import annotations

import contextlib

__all__ = ["single_thread_blas"]


def single_thread_blas():
    """A context limiting BLAS to one thread (threadpoolctl, when installed; else a no-op).

    Loops of many small BLAS calls (right-hand sides of ODEs, per-item SGD steps) lose to
    OpenBLAS's threads spinning against each other on a loaded machine: measured 10x on the
    perceptron flow at N = 500, and 9x on a 128 x 128 rank-1 update (dger 26 us on one
    thread, 224 us on two, while two other jobs ran).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it BLAS keeps its default threading
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
