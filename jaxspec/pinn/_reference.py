"""Classical reference solvers: multi-element Chebyshev collocation (1D) and finite differences.

Both run in numpy/scipy float64; they are what the PINN results are printed beside and what the
tests check the named problems' tables against.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from ._domains import Box, Interval

__all__ = ["chebyshev_eigenvalues", "finite_difference_eigenvalues"]


def _cheb(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Chebyshev-Gauss-Lobatto points on [-1, 1] (increasing) and the differentiation matrix."""
    x = -np.cos(np.pi * np.arange(n + 1) / n)
    c = np.r_[2.0, np.ones(n - 1), 2.0] * (-1.0) ** np.arange(n + 1)
    dx = x[:, None] - x[None, :]
    d = np.outer(c, 1.0 / c) / (dx + np.eye(n + 1))
    d -= np.diag(d.sum(axis=1))
    return x, d


def _pointwise(f, x: np.ndarray) -> np.ndarray:
    return np.asarray(jax.vmap(f)(jnp.asarray(x)[:, None]), dtype=np.float64)


def chebyshev_eigenvalues(
    problem, num_states: int, *, order: int = 48, return_vectors: bool = False
):
    """The lowest ``num_states`` eigenvalues of a 1D problem by Chebyshev collocation.

    One Chebyshev element of degree ``order`` per smooth piece between breakpoints, joined by
    continuity of ``psi`` and of the flux ``p psi'``; Dirichlet ends. Exponentially accurate when
    the coefficients are smooth on each piece (degree 40-60 reaches ~1e-12 on the named wells;
    higher degrees gain nothing and slowly lose to rounding).

    With ``return_vectors=True`` also returns the collocation nodes ``(N,)`` and the
    eigenvectors there ``(N, num_states)`` (max-abs normalised, positive mean).
    """
    dom = problem.domain
    if not isinstance(dom, Interval | Box) or dom.dim != 1:
        raise ValueError(
            f"chebyshev_eigenvalues: 1D problems only, got a {dom.dim}D {type(dom).__name__}"
        )
    a, b = float(dom.lower[0]), float(dom.upper[0])
    edges = [a, *sorted(t for t in problem.breakpoints[0] if a < t < b), b]
    ne, n = len(edges) - 1, int(order)
    if num_states > ne * (n - 1) // 2:
        raise ValueError(f"num_states={num_states} is too many for order={order}; raise order")
    xs, d = _cheb(n)
    size = ne * (n + 1)
    a_mat = np.zeros((size, size))
    b_mat = np.zeros((size, size))
    flux = []
    for e, (lo, hi) in enumerate(itertools.pairwise(edges)):
        sl = slice(e * (n + 1), (e + 1) * (n + 1))
        # Coefficients are sampled just inside the element so jumps at its ends do not leak in.
        x = 0.5 * (hi - lo) * xs + 0.5 * (hi + lo)
        xin = np.clip(x, lo + 1e-14 * (hi - lo), hi - 1e-14 * (hi - lo))
        de = d * 2.0 / (hi - lo)
        p = _pointwise(problem.P, xin)
        v = _pointwise(problem.V, xin)
        w = _pointwise(problem.W, xin)
        op = -de @ (p[:, None] * de) + np.diag(v)
        rows = np.arange(1, n)
        a_mat[sl][rows, sl] = op[rows]
        b_mat[sl][rows, sl] = np.diag(w)[rows]
        flux.append((sl, p[:, None] * de))
    # Boundary rows: psi = 0 at the two ends.
    a_mat[0, 0] = 1.0
    a_mat[size - 1, size - 1] = 1.0
    # Interface rows: continuity of psi (last row of e) and of the flux (first row of e+1).
    for e in range(ne - 1):
        (sl_l, fl), (sl_r, fr) = flux[e], flux[e + 1]
        i_l, i_r = sl_l.stop - 1, sl_r.start
        a_mat[i_l, i_l], a_mat[i_l, i_r] = 1.0, -1.0
        a_mat[i_r, sl_l] = fl[-1]
        a_mat[i_r, sl_r] = -fr[0]
    vals, vecs = scipy.linalg.eig(a_mat, b_mat)
    ok = np.isfinite(vals) & (np.abs(vals.imag) < 1e-8 * (1 + np.abs(vals.real)))
    vals, vecs = vals.real[ok], vecs.real[:, ok]
    order_ = np.argsort(vals)[:num_states]
    if not return_vectors:
        return vals[order_]
    nodes = np.concatenate(
        [0.5 * (hi - lo) * xs + 0.5 * (hi + lo) for lo, hi in itertools.pairwise(edges)]
    )
    v = vecs[:, order_]
    v = v / np.max(np.abs(v), axis=0) * np.sign(np.sum(v, axis=0) + 1e-300)
    return vals[order_], nodes, v


def finite_difference_eigenvalues(problem, num_states: int, *, points: int = 400) -> np.ndarray:
    """The lowest eigenvalues by second-order finite differences on an Interval or Box.

    ``points`` interior points per axis; ``p`` is sampled at the cell faces (harmonic mean), so
    discontinuous coefficients are handled with second-order accuracy.
    """
    dom = problem.domain
    if not isinstance(dom, Interval | Box):
        raise ValueError(
            f"finite_difference_eigenvalues: Interval or Box only, got {type(dom).__name__}"
        )
    lower, upper = np.asarray(dom.lower), np.asarray(dom.upper)
    d = len(lower)
    n = int(points)
    h = (upper - lower) / (n + 1)
    axes = [lower[i] + h[i] * np.arange(1, n + 1) for i in range(d)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
    v = _pointwise(problem.V, grid) if d > 1 else _pointwise(problem.V, grid[:, 0])
    w = _pointwise(problem.W, grid) if d > 1 else _pointwise(problem.W, grid[:, 0])
    eye = scipy.sparse.identity(n, format="csr")
    lap = scipy.sparse.csr_matrix((n**d, n**d))
    for i in range(d):
        faces = lower[i] + h[i] * (np.arange(n + 1) + 0.5)
        if callable(problem.p):
            pts = np.repeat(grid[:1], n + 1, axis=0)
            pts[:, i] = faces
            pf = _pointwise(problem.P, pts) if d > 1 else _pointwise(problem.P, faces)
        else:
            pf = np.full(n + 1, float(problem.p))
        main = (pf[:-1] + pf[1:]) / h[i] ** 2
        off = -pf[1:-1] / h[i] ** 2
        t = scipy.sparse.diags([off, main, off], [-1, 0, 1], format="csr")
        op = t
        for j in range(d):
            if j < i:
                op = scipy.sparse.kron(eye, op, format="csr")
            elif j > i:
                op = scipy.sparse.kron(op, eye, format="csr")
        lap = lap + op
    a = lap + scipy.sparse.diags(v)
    b = scipy.sparse.diags(w)
    if n**d <= 2000:
        vals = scipy.linalg.eigh(a.toarray(), b.toarray(), eigvals_only=True)
    else:
        vals = scipy.sparse.linalg.eigsh(
            a, k=num_states, M=b, sigma=float(np.min(v)) - 1.0, which="LM"
        )[0]
    return np.sort(vals)[:num_states]
