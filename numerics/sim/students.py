r"""Student-teacher networks for the learning-bound simulations, batched over runs.

Every model holds a fixed input sample and evaluates, for a batch of weight vectors
``w`` of shape ``(R, m)`` (one row per run), the loss ``F`` (R,), its gradient (R, m) and
Hessian-vector products (R, m); ``dim`` is the number of weights N and ``relevant_dim`` the
number ``m`` of coordinates the loss depends on (``m < N`` only for the reduced linear
student, whose other N - m weights do not enter the loss).

* :class:`LinearTeacherTask` - the base task: inputs :math:`x_\mu` (i), a linear teacher
  :math:`y^* = W^*x` (o), a base student :math:`W_0`;
  :math:`F(W) = \frac1{2P}\sum_\mu|y^*_\mu - Wx_\mu|^2 = \tfrac12\operatorname{tr}(E\Sigma E^\top)`,
  :math:`E = W - W^*`, :math:`\Sigma = \frac1P\sum_\mu x_\mu x_\mu^\top`.
* :class:`EmbeddedLinearStudent` - the exact embedding in explicit coordinates: inputs
  :math:`Bx` (:math:`c_1 i`), targets :math:`Dy^*` (:math:`c_2 o`), weights :math:`W'`
  (:math:`c_2o\times c_1i`), started at :math:`W' = DW_0B^\top` (this is how the authors'
  public code ``raman_etal_2018/pieces_new_resub.py`` builds its larger linear networks:
  orthonormal projections of the base inputs and outputs).
* :class:`ReducedLinearStudent` - the same network in the coordinates in which it is
  simulated: rotating the larger input space so that :math:`B = [I; 0]` and the input
  coordinates into the eigenbasis of :math:`\Sigma` (rotations leave the loss, the norms
  and the isotropic noise unchanged), the loss depends only on the :math:`c_2o\times i`
  block :math:`E` and equals :math:`\tfrac12\sum_j\lambda_j|E_{:j}|^2`; the other
  :math:`(c_1-1)\,i\,c_2o` weights never enter it.
* :class:`SigmoidStudent` - multilayer logistic-sigmoid networks (sigmoid on every layer,
  with biases, as in the authors' ``setupMLP.py``), gradients by backpropagation and exact
  Hessian-vector products by Pearlmutter's R-operator (forward-mode over backprop), and
  :meth:`SigmoidStudent.enlarge`, which adds hidden units whose weights start at zero, so
  that the input-output function is unchanged.
* :func:`hutchinson_trace` - :math:`\operatorname{tr}H \approx \frac1K\sum_k v_k^\top Hv_k`
  with Rademacher probes; unbiased, variance :math:`2(\|H\|_F^2 - \sum_i H_{ii}^2)/K`, and
  the returned standard error is the probes' sample standard deviation over
  :math:`\sqrt K`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from numerics.checks import as_int

__all__ = ["LinearTeacherTask", "ReducedLinearStudent", "EmbeddedLinearStudent",
           "SigmoidStudent", "hutchinson_trace", "exact_trace", "orthonormal_columns"]


def _as_batch(w: np.ndarray, m: int, name: str = "w") -> np.ndarray:
    w = np.asarray(w, dtype=float)
    if w.ndim == 1:
        w = w[None, :]
    if w.ndim != 2 or w.shape[1] != m:
        raise ValueError(f"{name} must have shape (runs, {m}) or ({m},), got {w.shape}")
    return w


def orthonormal_columns(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``rows x cols`` matrix with orthonormal columns (QR of a Gaussian matrix)."""
    if cols > rows:
        raise ValueError(f"need rows >= cols for orthonormal columns, got {rows} x {cols}")
    Q, R = np.linalg.qr(rng.standard_normal((rows, cols)))
    return Q * np.sign(np.diag(R))


# ----------------------------------------------------------------------------- linear

@dataclass(frozen=True)
class LinearTeacherTask:
    """Base linear student-teacher task: inputs X (i, P), teacher W* (o, i), student W0 (o, i)."""

    X: np.ndarray
    W_teacher: np.ndarray
    W_student: np.ndarray

    @classmethod
    def random(cls, inputs: int, outputs: int, samples: int, seed=0,
               input_scales=(0.5, 2.0), weight_scale: float = 1.0) -> LinearTeacherTask:
        """Random task: input coordinates scaled log-uniformly in ``input_scales`` (so that the
        curvature is not isotropic), teacher and student weights N(0, weight_scale^2 / i)."""
        i = as_int(inputs, "inputs", 1)
        o = as_int(outputs, "outputs", 1)
        P = as_int(samples, "samples", 1)
        rng = np.random.default_rng(seed)
        scales = np.geomspace(*input_scales, i)
        X = scales[:, None] * rng.standard_normal((i, P))
        Wt = weight_scale * rng.standard_normal((o, i)) / np.sqrt(i)
        Ws = weight_scale * rng.standard_normal((o, i)) / np.sqrt(i)
        return cls(X, Wt, Ws)

    @property
    def inputs(self) -> int:
        return self.X.shape[0]

    @property
    def outputs(self) -> int:
        return self.W_teacher.shape[0]

    @property
    def size(self) -> int:
        return self.inputs * self.outputs

    @property
    def sigma(self) -> np.ndarray:
        """Input second moment (1/P) X X^T."""
        return self.X @ self.X.T / self.X.shape[1]

    def spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues (ascending) and eigenvectors of Sigma."""
        lam, Q = np.linalg.eigh(self.sigma)
        return lam, Q


class ReducedLinearStudent:
    r"""Linear student of ``rows`` outputs and ``inputs_total`` inputs in reduced coordinates.

    State: the ``rows x i`` error block :math:`E` in the eigenbasis of :math:`\Sigma`,
    flattened row-major (``relevant_dim = rows * i``); ``dim = rows * inputs_total``.
    :math:`F = \tfrac12\sum_j\lambda_j|E_{:j}|^2`, :math:`\nabla F = E\Lambda`,
    :math:`Hv = v\Lambda`, :math:`\operatorname{tr}H = \text{rows}\sum_j\lambda_j`.
    """

    def __init__(self, eigenvalues, rows: int, inputs_total: int):
        lam = np.asarray(eigenvalues, dtype=float).ravel()
        if lam.size < 1 or np.any(~np.isfinite(lam)) or np.any(lam < 0):
            raise ValueError("eigenvalues must be finite and >= 0")
        self.lam = lam
        self.rows = as_int(rows, "rows", 1)
        self.inputs_total = as_int(inputs_total, "inputs_total", lam.size)
        self.relevant_dim = self.rows * lam.size
        self.dim = self.rows * self.inputs_total
        self._lam_flat = np.tile(lam, self.rows)

    @classmethod
    def embed(cls, task: LinearTeacherTask, c1: float, c2: float):
        """The student with ``c1 * i`` inputs and ``c2 * o`` outputs started at the exact
        embedding of the base student; returns ``(student, w0)``."""
        i, o = task.inputs, task.outputs
        I, O = c1 * i, c2 * o
        if abs(I - round(I)) > 1e-9 or abs(O - round(O)) > 1e-9 or I < i or O < o:
            raise ValueError(f"c1 * inputs and c2 * outputs must be integers >= the base sizes, "
                             f"got {I} and {O}")
        lam, Q = task.spectrum()
        E0 = (task.W_student - task.W_teacher) @ Q  # o x i in the eigenbasis
        E = np.zeros((int(round(O)), i))
        E[:o] = E0
        return cls(lam, int(round(O)), int(round(I))), E.ravel()

    def loss(self, w) -> np.ndarray:
        w = _as_batch(w, self.relevant_dim)
        # row-wise sums (not a BLAS matrix-vector product) keep each run's numbers independent
        # of how many runs are evaluated together
        return 0.5 * np.einsum("ij,ij,j->i", w, w, self._lam_flat)

    def grad(self, w) -> np.ndarray:
        return _as_batch(w, self.relevant_dim) * self._lam_flat

    def hvp(self, w, v) -> np.ndarray:
        return _as_batch(v, self.relevant_dim, "v") * self._lam_flat

    def trace_hess(self, w=None) -> float:
        return float(self.rows * self.lam.sum())

    def trace_hess_sq(self) -> float:
        return float(self.rows * (self.lam**2).sum())


class EmbeddedLinearStudent:
    r"""The exactly embedded linear student in explicit coordinates.

    :math:`F'(W') = \frac1{2P}\sum_\mu|Dy^*_\mu - W'Bx_\mu|^2` with ``B`` (c1 i x i) and ``D``
    (c2 o x o) having orthonormal columns; weights flattened row-major (``dim`` = c2 o c1 i).
    """

    def __init__(self, task: LinearTeacherTask, B: np.ndarray, D: np.ndarray):
        B, D = np.asarray(B, dtype=float), np.asarray(D, dtype=float)
        i, o = task.inputs, task.outputs
        if B.ndim != 2 or B.shape[1] != i or D.ndim != 2 or D.shape[1] != o:
            raise ValueError(f"B must be (I, {i}) and D (O, {o}), got {B.shape} and {D.shape}")
        for M, name in ((B, "B"), (D, "D")):
            if not np.allclose(M.T @ M, np.eye(M.shape[1]), atol=1e-10):
                raise ValueError(f"{name} must have orthonormal columns")
        self.task, self.B, self.D = task, B, D
        self.O, self.I = D.shape[0], B.shape[0]
        self.dim = self.relevant_dim = self.O * self.I
        self._Xb = B @ task.X  # I x P
        self._T = D @ task.W_teacher  # targets D y* = D W* x: the O x i teacher map
        self._sigma = task.sigma

    @classmethod
    def random(cls, task: LinearTeacherTask, c1: int, c2: int, seed=0):
        """Random B, D with orthonormal columns; returns ``(student, w0)`` at the embedding."""
        rng = np.random.default_rng(seed)
        B = orthonormal_columns(c1 * task.inputs, task.inputs, rng)
        D = orthonormal_columns(c2 * task.outputs, task.outputs, rng)
        s = cls(task, B, D)
        return s, (D @ task.W_student @ B.T).ravel()

    def _err(self, w):
        W = _as_batch(w, self.dim).reshape(-1, self.O, self.I)
        return W @ self.B - self._T  # (R, O, i): the block the loss depends on

    def loss(self, w) -> np.ndarray:
        E = self._err(w)
        return 0.5 * np.einsum("roi,ij,roj->r", E, self._sigma, E)

    def grad(self, w) -> np.ndarray:
        E = self._err(w)
        return (E @ self._sigma @ self.B.T).reshape(E.shape[0], -1)

    def hvp(self, w, v) -> np.ndarray:
        V = _as_batch(v, self.dim, "v").reshape(-1, self.O, self.I)
        return (V @ self.B @ self._sigma @ self.B.T).reshape(V.shape[0], -1)

    def trace_hess(self, w=None) -> float:
        return float(self.O * np.trace(self._sigma))

    def hessian(self) -> np.ndarray:
        """The full N x N Hessian (B Sigma B^T kron I_O, row-major weights); small N only."""
        return np.kron(np.eye(self.O), self.B @ self._sigma @ self.B.T)


# ----------------------------------------------------------------------------- sigmoid

def _sigmoid(z):
    return expit(z)


def _layer(Wl: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Batched W_l a: (R, n, h) x (h, P) or (R, h, P) -> (R, n, P)."""
    if a.ndim == 2:  # shared input sample: one GEMM for all runs
        R, n, h = Wl.shape
        return (Wl.reshape(R * n, h) @ a).reshape(R, n, a.shape[1])
    return np.einsum("rnh,rhp->rnp", Wl, a)


class SigmoidStudent:
    r"""Multilayer logistic-sigmoid student on a fixed sample, batched over runs.

    ``widths = [i, h_1, ..., h_{L-1}, o]``; every layer computes
    :math:`a_l = \sigma(W_la_{l-1} + b_l)` (the output layer too);
    :math:`F = \frac1{2P}\sum_\mu|a_L(x_\mu) - y^*_\mu|^2`.  Weights are flattened per run as
    ``[W_1 (row-major), b_1, W_2, b_2, ...]``.
    """

    def __init__(self, widths, X, Y):
        widths = list(widths)
        if len(widths) < 2 or any(isinstance(n, bool) or not isinstance(n, (int, np.integer))
                                  or n < 1 for n in widths):
            raise ValueError(f"widths must be >= 2 positive integers, got {widths!r}")
        widths = [int(n) for n in widths]
        X = np.asarray(X, dtype=float)
        Y = np.asarray(Y, dtype=float)
        if X.ndim != 2 or X.shape[0] != widths[0]:
            raise ValueError(f"X must have shape ({widths[0]}, P), got {X.shape}")
        if Y.shape != (widths[-1], X.shape[1]):
            raise ValueError(f"Y must have shape ({widths[-1]}, {X.shape[1]}), got {Y.shape}")
        self.widths = tuple(widths)
        self.X, self.Y = X, Y
        self.P = X.shape[1]
        self._slices = []
        off = 0
        for l in range(1, len(widths)):
            nw = widths[l] * widths[l - 1]
            self._slices.append((slice(off, off + nw), slice(off + nw, off + nw + widths[l])))
            off += nw + widths[l]
        self.dim = self.relevant_dim = off
        #: runs per batched call that keep the (runs, width, P) intermediates near 4 MB
        self.batch_hint = max(1, 500_000 // (self.P * max(widths)))

    # -- construction ---------------------------------------------------------------
    @staticmethod
    def random_weights(widths, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
        """Weights N(0, scale^2 / fan_in) and biases N(0, scale^2 / fan_in), flattened."""
        parts = []
        for l in range(1, len(widths)):
            s = scale / np.sqrt(widths[l - 1])
            parts.append(s * rng.standard_normal(widths[l] * widths[l - 1]))
            parts.append(s * rng.standard_normal(widths[l]))
        return np.concatenate(parts)

    @classmethod
    def teacher_task(cls, widths, samples: int, seed=0, teacher_scale: float = 4.0,
                     student_scale: float = 4.0):
        """A teacher of architecture ``widths`` with random weights labels ``samples`` Gaussian
        inputs; returns ``(student_model, w_student0)`` with an independent random student."""
        rng = np.random.default_rng(seed)
        P = as_int(samples, "samples", 1)
        X = rng.standard_normal((widths[0], P))
        wt = cls.random_weights(widths, rng, teacher_scale)
        probe = cls(widths, X, np.zeros((widths[-1], P)))
        Y = probe.forward(wt)[-1][0]
        model = cls(widths, X, Y)
        return model, cls.random_weights(widths, rng, student_scale)

    def enlarge(self, widths, w) -> tuple[SigmoidStudent, np.ndarray]:
        """The network with (wider) hidden layers ``widths``; new units' incoming and outgoing
        weights and biases start at zero, so the function (and F) is unchanged."""
        widths = tuple(int(n) for n in widths)
        if len(widths) != len(self.widths) or widths[0] != self.widths[0] \
                or widths[-1] != self.widths[-1] or any(a < b for a, b in
                                                        zip(widths, self.widths)):
            raise ValueError(f"enlarged widths must keep inputs and outputs and not shrink any "
                             f"layer: {self.widths} -> {widths}")
        w = np.asarray(w, dtype=float).ravel()
        big = SigmoidStudent(widths, self.X, self.Y)
        out = np.zeros(big.dim)
        for l, ((sw, sb), (bw, bb)) in enumerate(zip(self._slices, big._slices), start=1):
            Wl = w[sw].reshape(self.widths[l], self.widths[l - 1])
            Wb = np.zeros((widths[l], widths[l - 1]))
            Wb[:Wl.shape[0], :Wl.shape[1]] = Wl
            out[bw] = Wb.ravel()
            bvec = np.zeros(widths[l])
            bvec[:self.widths[l]] = w[sb]
            out[bb] = bvec
        return big, out

    # -- evaluation -----------------------------------------------------------------
    def _unpack(self, w):
        w = _as_batch(w, self.dim)
        R = w.shape[0]
        Ws, bs = [], []
        for l, (sw, sb) in enumerate(self._slices, start=1):
            Ws.append(w[:, sw].reshape(R, self.widths[l], self.widths[l - 1]))
            bs.append(w[:, sb][:, :, None])
        return Ws, bs

    def _pack(self, gW, gb) -> np.ndarray:
        R = gW[0].shape[0]
        return np.concatenate([p for Wl, bl in zip(gW, gb)
                               for p in (Wl.reshape(R, -1), bl.reshape(R, -1))], axis=1)

    def forward(self, w):
        """Activations a_0..a_L, each (R, n_l, P)."""
        Ws, bs = self._unpack(w)
        a = [self.X]
        for Wl, bl in zip(Ws, bs):
            a.append(_sigmoid(_layer(Wl, a[-1]) + bl))
        return a

    def outputs(self, w) -> np.ndarray:
        return self.forward(w)[-1]

    def loss(self, w) -> np.ndarray:
        e = self.outputs(w) - self.Y
        return 0.5 * np.einsum("rop,rop->r", e, e) / self.P

    def grad(self, w) -> np.ndarray:
        Ws, _ = self._unpack(w)
        a = self.forward(w)
        delta = (a[-1] - self.Y) * a[-1] * (1 - a[-1]) / self.P
        gW, gb = [None] * len(Ws), [None] * len(Ws)
        for l in range(len(Ws) - 1, -1, -1):
            gW[l] = _outer(delta, a[l])
            gb[l] = delta.sum(axis=2)
            if l:
                delta = np.einsum("rnh,rnp->rhp", Ws[l], delta) * a[l] * (1 - a[l])
        return self._pack(gW, gb)

    def hvp(self, w, v) -> np.ndarray:
        """Exact H v by the R-operator (Pearlmutter 1994) applied to backpropagation."""
        Ws, bs = self._unpack(w)
        Vs, cs = self._unpack(_as_batch(v, self.dim, "v"))
        if Vs[0].shape[0] != Ws[0].shape[0]:
            Vs = [np.broadcast_to(V, (Ws[0].shape[0],) + V.shape[1:]) for V in Vs]
            cs = [np.broadcast_to(c, (Ws[0].shape[0],) + c.shape[1:]) for c in cs]
        a = [self.X]
        Ra = [None]
        Rz = [None]
        for Wl, bl, Vl, cl in zip(Ws, bs, Vs, cs):
            al = _sigmoid(_layer(Wl, a[-1]) + bl)
            rz = _layer(Vl, a[-1]) + cl
            if Ra[-1] is not None:
                rz = rz + _layer(Wl, Ra[-1])
            d1 = al * (1 - al)
            a.append(al)
            Rz.append(rz)
            Ra.append(d1 * rz)
        L = len(Ws)
        aL = a[-1]
        d1 = aL * (1 - aL)
        d2 = d1 * (1 - 2 * aL)
        e = aL - self.Y
        delta = e * d1 / self.P
        Rdelta = (Ra[-1] * d1 + e * d2 * Rz[-1]) / self.P
        hW, hb = [None] * L, [None] * L
        for l in range(L - 1, -1, -1):
            hW[l] = _outer(Rdelta, a[l])
            if Ra[l] is not None:
                hW[l] = hW[l] + _outer(delta, Ra[l])
            hb[l] = Rdelta.sum(axis=2)
            if l:
                al = a[l]
                d1 = al * (1 - al)
                d2 = d1 * (1 - 2 * al)
                back = np.einsum("rnh,rnp->rhp", Ws[l], delta)
                Rback = np.einsum("rnh,rnp->rhp", Vs[l], delta) \
                    + np.einsum("rnh,rnp->rhp", Ws[l], Rdelta)
                Rdelta = Rback * d1 + back * d2 * Rz[l]
                delta = back * d1
        return self._pack(hW, hb)


def _outer(delta: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Sum over samples of delta a^T: (R, n, P) x ((R,) h, P) -> (R, n, h)."""
    if a.ndim == 2:
        return delta @ a.T
    return np.einsum("rnp,rhp->rnh", delta, a)


# ----------------------------------------------------------------------------- traces

def exact_trace(model, w, chunk: int = 256) -> np.ndarray:
    """tr H for each run by N Hessian-vector products with unit vectors (small N only)."""
    w = _as_batch(w, model.relevant_dim)
    R, m = w.shape
    out = np.zeros(R)
    for r in range(R):
        for s in range(0, m, chunk):
            idx = np.arange(s, min(m, s + chunk))
            E = np.zeros((idx.size, m))
            E[np.arange(idx.size), idx] = 1.0
            Hv = model.hvp(np.broadcast_to(w[r], (idx.size, m)), E)
            out[r] += Hv[np.arange(idx.size), idx].sum()
    return out


def hutchinson_trace(model, w, probes: int, rngs) -> tuple[np.ndarray, np.ndarray]:
    r"""Hutchinson estimate of tr H per run with ``probes`` Rademacher vectors each.

    ``rngs``: one generator per run.  Returns ``(estimate, standard_error)`` with the
    standard error from the probes' spread (the estimator is unbiased).
    """
    w = _as_batch(w, model.relevant_dim)
    R, m = w.shape
    K = as_int(probes, "probes", 2)
    if len(rngs) != R:
        raise ValueError(f"need one generator per run ({R}), got {len(rngs)}")
    V = np.empty((R, K, m))
    for r, g in enumerate(rngs):
        V[r] = 2.0 * g.integers(0, 2, size=(K, m)) - 1.0
    W = np.repeat(w, K, axis=0)
    HV = model.hvp(W, V.reshape(R * K, m)).reshape(R, K, m)
    q = np.einsum("rkm,rkm->rk", V, HV)
    return q.mean(axis=1), q.std(axis=1, ddof=1) / np.sqrt(K)
