r"""Hierarchical data of seed 001 (``DiffuseTreeSampler``) and its spectrum.

Features by sign-flip diffusion down a tree (depth :math:`D`, branching :math:`b`, flip
probability :math:`\epsilon`); items are the :math:`P = b^D` leaves, inputs one-hot.
The spectrum (one eigenvalue of :math:`C_{ij}=E[y_iy_j]` per tree level, singular values
:math:`\sqrt{N\lambda}/P` of :math:`\Sigma^{yx}`) is lambdified from :mod:`theory.diffuse_tree`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from numerics.checks import as_in_closed_range
from numerics.compile import compile_expressions
from numerics.sim.deep_network import as_seed_sequence
from theory import diffuse_tree as th

__all__ = ["DiffuseTreeSampler", "TreeSpectrum", "tree_spectrum", "level_basis",
           "level_projections"]


def _check_tree(tree_depth, branching):
    for name, v, lo in (("tree_depth", tree_depth, 1), ("branching", branching, 2)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    return int(tree_depth), int(branching)


def _check_eps(eps) -> float:
    return as_in_closed_range(eps, "epsilon", 0.0, 0.5)


def _check_target_dim(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"target_dim must be a positive integer, got {n!r}")
    return int(n)


@dataclass(frozen=True)
class DiffuseTreeSampler:
    """Sampler of seed 001 Exercise 2 (``target_dim`` features, tree of ``tree_depth`` levels
    below the root with ``branching_factor`` children per node, flip probability ``epsilon``).

    ``sample(seed)`` returns ``(X, Y)``: ``X = I_P`` (one-hot items, P = b^D) and ``Y``
    (P, target_dim) with entries +-1; leaves are ordered so that siblings are contiguous.
    """

    target_dim: int
    tree_depth: int = 3
    branching_factor: int = 2
    epsilon: float = 0.1

    def __post_init__(self):
        _check_target_dim(self.target_dim)
        _check_tree(self.tree_depth, self.branching_factor)
        _check_eps(self.epsilon)

    @property
    def n_items(self) -> int:
        return self.branching_factor**self.tree_depth

    def sample_targets(self, rng: np.random.Generator) -> np.ndarray:
        """One data set of targets, (P, target_dim): root +-1, then sign flips level by level."""
        N, b = self.target_dim, self.branching_factor
        nodes = rng.choice(np.array([-1.0, 1.0]), size=(N, 1))
        for _ in range(self.tree_depth):
            nodes = np.repeat(nodes, b, axis=1)
            flips = rng.random(nodes.shape) < self.epsilon
            nodes = np.where(flips, -nodes, nodes)
        return nodes.T.copy()

    def sample(self, seed=0) -> tuple[np.ndarray, np.ndarray]:
        """``(X, Y)`` from the stream of ``seed`` (int or SeedSequence)."""
        rng = np.random.default_rng(as_seed_sequence(seed))
        return np.eye(self.n_items), self.sample_targets(rng)

    def sample_many(self, replicas: int, seed=0) -> np.ndarray:
        """Targets of ``replicas`` independent data sets, (R, P, target_dim), SeedSequence.spawn."""
        if isinstance(replicas, bool) or not isinstance(replicas, (int, np.integer)) \
                or replicas < 1:
            raise ValueError(f"replicas must be a positive integer, got {replicas!r}")
        children = as_seed_sequence(seed).spawn(int(replicas))
        return np.stack([self.sample_targets(np.random.default_rng(c)) for c in children])


@dataclass(frozen=True)
class TreeSpectrum:
    """Level eigenvalues of C (root first), their multiplicities, and the large-N singular
    values of :math:`\\Sigma^{yx}` (one per level, and expanded with multiplicity, sorted)."""

    eigenvalues: np.ndarray
    multiplicities: np.ndarray
    level_singular_values: np.ndarray
    singular_values: np.ndarray

    def to_dict(self) -> dict:
        return {k: getattr(self, k).tolist() for k in ("eigenvalues", "multiplicities",
                                                       "level_singular_values",
                                                       "singular_values")}


@lru_cache(maxsize=32)
def _compiled(tree_depth: int, branching: int):
    return (compile_expressions(list(th.level_eigenvalues(tree_depth, branching)), [th.epsilon]),
            compile_expressions(list(th.singular_values(tree_depth, branching)),
                                [th.epsilon, th.n_features]))


def tree_spectrum(tree_depth: int, branching: int, epsilon: float, target_dim: int
                  ) -> TreeSpectrum:
    """Spectrum of the DiffuseTree data (lambdified from :mod:`theory.diffuse_tree`)."""
    tree_depth, branching = _check_tree(tree_depth, branching)
    eps = _check_eps(epsilon)
    target_dim = _check_target_dim(target_dim)
    ev_f, sv_f = _compiled(tree_depth, branching)
    ev = np.asarray(ev_f(eps), dtype=float)
    sv = np.asarray(sv_f(eps, float(target_dim)), dtype=float)
    mult = np.array(th.multiplicities(tree_depth, branching))
    full = np.sort(np.repeat(sv, mult))[::-1]
    return TreeSpectrum(ev, mult, sv, full)


def level_basis(tree_depth: int, branching: int) -> list[np.ndarray]:
    """Orthonormal eigenvectors of C per level: ``[root (P,1), level 0 (P, b-1), ...]``.

    Level m: vectors constant on level-(m+1) subtrees summing to zero among the children of
    each level-m node (a Helmert contrast over the b children, repeated per node).
    """
    D, b = _check_tree(tree_depth, branching)
    P = b**D
    out = [np.full((P, 1), 1.0 / np.sqrt(P))]
    # Helmert contrasts: b-1 orthonormal vectors in R^b orthogonal to the ones vector
    H = np.linalg.qr(np.column_stack([np.ones(b), np.eye(b)[:, :b - 1]]))[0][:, 1:]
    for m in range(D):
        block = b ** (D - m - 1)  # leaves per child subtree
        vecs = []
        for node in range(b**m):
            for h in H.T:
                v = np.zeros(P)
                start = node * b * block
                v[start:start + b * block] = np.repeat(h, block)
                vecs.append(v / np.sqrt(block))
        out.append(np.column_stack(vecs))
    return out


def level_projections(Y: np.ndarray, tree_depth: int, branching: int) -> np.ndarray:
    """Per level, the mean of :math:`v^\\top YY^\\top v/N` over that level's eigenvectors.

    Unbiased for the level eigenvalue for any N; ``Y`` (P, N) or (R, P, N) -> (levels,) or
    (R, levels).
    """
    Y = np.asarray(Y, dtype=float)
    N = Y.shape[-1]
    out = []
    for V in level_basis(tree_depth, branching):
        proj = np.einsum("pk,...pn->...kn", V, Y)
        out.append(np.mean(np.sum(proj**2, axis=-1), axis=-1) / N)
    return np.stack(out, axis=-1)
