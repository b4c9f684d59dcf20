"""Stochastic Lanczos quadrature (Golub-Meurant; Ubaru, Chen & Saad 2017).

For a probe z with ||z||^2 = n, the Lanczos run from z/||z|| gives Ritz values theta_i and
weights tau_i = (first component of the i-th Ritz vector)^2, and
z^T f(A) z / ||z||^2 ~ sum_i tau_i f(theta_i) (Gauss quadrature, exact for polynomials of
degree < 2m). Averaging over probes estimates the normalised spectral measure
(1/n) sum_j delta(x - lambda_j), hence densities, CDFs and traces of matrix functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax import lax
from jax.scipy.special import erf
from jaxtyping import Array, Float, PRNGKeyArray

from .._core._dtypes import solve_dtype
from .._core._flat import should_flatten
from .._core._tree import tree_size
from ._lanczos import _lanczos_jit, check_num_steps
from ._operators import Matvec, check_operator, random_like


class SpectralDensity(eqx.Module):
    """Quadrature estimate of the normalised eigenvalue distribution of a symmetric operator.

    Attributes:
        nodes: Ritz values, shape (num_probes, num_steps).
        weights: quadrature weights, each probe's row sums to one.
        probe_norms_sq: ||z||^2 of each probe (= dim for Rademacher probes).
        dim: dimension n of the vector space.
    """

    nodes: Float[Array, "p m"]
    weights: Float[Array, "p m"]
    probe_norms_sq: Float[Array, " p"]
    dim: int = eqx.field(static=True)

    def _w(self) -> Array:
        # Weights scaled by ||z||^2 / n so Gaussian probes are unbiased too.
        return self.weights * (self.probe_norms_sq / self.dim)[:, None]

    def pdf(self, grid: Float[Array, " g"], sigma: float) -> Float[Array, " g"]:
        """Gaussian-smoothed density (integrates to ~1) on `grid`; `sigma` in eigenvalue units."""
        if not sigma > 0:
            raise ValueError(f"`sigma` must be positive, got {sigma}.")
        grid = jnp.asarray(grid, self.nodes.dtype)
        z = (grid[:, None, None] - self.nodes[None]) / sigma
        k = jnp.exp(-0.5 * z**2) / (sigma * np.sqrt(2 * np.pi))
        return jnp.einsum("gpm,pm->g", k, self._w()) / self.nodes.shape[0]

    def cdf(
        self, grid: Float[Array, " g"], sigma: float | None = None, kind: str = "interpolated"
    ) -> Float[Array, " g"]:
        """Fraction of eigenvalues <= grid.

        kind="interpolated" (default): per probe, the piecewise-linear CDF through
        (theta_i, sum_{j<i} tau_j + tau_i / 2), i.e. through the midpoints of the
        Chebyshev-Markov-Stieltjes bounds that Gauss quadrature gives at each node, reaching 0
        and 1 half a node spacing outside the extreme nodes. About 4x closer to the true CDF
        in Wasserstein-1 than the raw step function at the same cost.
        kind="step": the quadrature measure itself (a step function), optionally smoothed by
        a Gaussian of width `sigma`.
        """
        grid = jnp.asarray(grid, self.nodes.dtype)
        if kind == "step":
            d = grid[:, None, None] - self.nodes[None]
            if sigma is None:
                step = (d >= 0).astype(self.nodes.dtype)
            else:
                step = 0.5 * (1 + erf(d / (sigma * np.sqrt(2.0))))
            return jnp.einsum("gpm,pm->g", step, self._w()) / self.nodes.shape[0]
        if kind != "interpolated":
            raise ValueError(f"`kind` must be 'interpolated' or 'step', got {kind!r}.")
        if sigma is not None:
            raise ValueError("`sigma` smoothing applies to kind='step' only.")

        def one(theta, w):
            o = jnp.argsort(theta)
            theta, w = theta[o], w[o]
            c = jnp.cumsum(w) - 0.5 * w
            total = jnp.sum(w)
            lo = theta[0] - 0.5 * (theta[1] - theta[0]) if theta.size > 1 else theta[0]
            hi = theta[-1] + 0.5 * (theta[-1] - theta[-2]) if theta.size > 1 else theta[-1]
            xs = jnp.concatenate([lo[None], theta, hi[None]])
            ys = jnp.concatenate([jnp.zeros(1, c.dtype), c, total[None]])
            return jnp.interp(grid, xs, ys)

        return jnp.mean(jax.vmap(one)(self.nodes, self._w()), axis=0)

    def wasserstein1(self, eigenvalues: Float[Array, " n"], num_grid: int = 1 << 16) -> Array:
        """W1 distance from the (interpolated) estimate to the uniform measure on the given
        exact `eigenvalues`, integrated on a uniform grid over their convex hull and the
        nodes; divide by the spectral range for the usual relative figure."""
        ev = jnp.sort(jnp.asarray(eigenvalues, self.nodes.dtype).reshape(-1))
        lo = jnp.minimum(ev[0], jnp.min(self.nodes))
        hi = jnp.maximum(ev[-1], jnp.max(self.nodes))
        span = hi - lo
        grid = lo - 0.01 * span + 1.02 * span * jnp.linspace(0.0, 1.0, num_grid,
                                                               dtype=ev.dtype)
        exact = jnp.searchsorted(ev, grid, side="right").astype(ev.dtype) / ev.size
        est = self.cdf(grid)
        return jnp.sum(jnp.abs(est - exact)) * (grid[1] - grid[0])

    def trace(self, f: Callable[[Array], Array]) -> tuple[Array, Array]:
        """Estimate of tr f(A) and its standard error over probes (e.g. f=jnp.log: logdet)."""
        per_probe = self.dim * jnp.sum(self._w() * f(self.nodes), axis=1)
        p = per_probe.shape[0]
        se = jnp.std(per_probe, ddof=1) / np.sqrt(p) if p > 1 else jnp.asarray(jnp.nan)
        return jnp.mean(per_probe), se

    def atoms(self) -> tuple[Array, Array]:
        """The estimated measure as flat (nodes, weights) with weights summing to ~1."""
        p = self.nodes.shape[0]
        return self.nodes.reshape(-1), self._w().reshape(-1) / p

    def support(self) -> tuple[Array, Array]:
        """Smallest and largest Ritz values (inside the spectrum's convex hull)."""
        return jnp.min(self.nodes), jnp.max(self.nodes)


def _density_from_decomp(alphas, betas):
    sdt = solve_dtype()
    off = betas[:-1].astype(sdt)
    T = jnp.diag(alphas.astype(sdt)) + jnp.diag(off, 1) + jnp.diag(off, -1)
    theta, S = jnp.linalg.eigh(T)
    return theta, S[0, :] ** 2


def slq(
    matvec: Matvec,
    v_like: Any,
    *params: Any,
    key: PRNGKeyArray,
    num_probes: int = 10,
    num_steps: int = 80,
    probe: str = "rademacher",
    reortho: str = "full",
    batch_size: int | None = None,
) -> SpectralDensity:
    """Spectral density of a symmetric operator by stochastic Lanczos quadrature.

    Args:
        matvec: symmetric operator `matvec(v, *params)` on tree-vectors like `v_like`.
        v_like: a tree-vector fixing structure and dtype (its values are not used).
        key: PRNG key for the probes.
        num_probes, num_steps: probes and Lanczos steps per probe (num_steps <= dim).
        probe: "rademacher" (default, lower variance) or "normal".
        reortho: "full" (default) or "none" (three-term recurrence, less memory; Ritz
            values may repeat but the quadrature stays consistent).
        batch_size: probes run at once (vmap); default: all of them when the Krylov bases fit
            in about 1 GiB, else one at a time.

    Returns:
        A `SpectralDensity` with `pdf`, `cdf`, `trace` and `atoms`.
    """
    dtype = check_operator(matvec, v_like, params, "v_like")
    n = tree_size(v_like)
    check_num_steps(num_steps, n)
    if isinstance(num_probes, bool) or not isinstance(num_probes, int) or num_probes < 1:
        raise ValueError(f"`num_probes` must be a positive int, got {num_probes!r}.")
    if probe not in ("rademacher", "normal"):
        raise ValueError(f"`probe` must be 'rademacher' or 'normal', got {probe!r}.")
    if reortho not in ("full", "none"):
        raise ValueError(f"`reortho` must be 'full' or 'none', got {reortho!r}.")
    if batch_size is None:
        per_probe = (num_steps + 1) * n * np.dtype(dtype).itemsize
        batch_size = int(max(1, min(num_probes, (1 << 30) // max(per_probe, 1))))
    return _slq_jit(matvec, v_like, params, key, num_probes, num_steps, probe, reortho,
                    batch_size, should_flatten(v_like))


@eqx.filter_jit
def _slq_jit(matvec, v_like, params, key, num_probes, num_steps, probe, reortho, batch_size,
             flat):
    keys = jr.split(key, num_probes)

    def one(k):
        kz, kl = jr.split(k)
        z = random_like(kz, v_like, probe)
        nsq = sum(jnp.sum(jnp.square(a.astype(solve_dtype()))) for a in jax.tree.leaves(z))
        dec = _lanczos_jit(matvec, z, params, num_steps, reortho, kl, False, flat)
        theta, tau = _density_from_decomp(dec.alphas, dec.betas)
        return theta, tau, nsq

    nodes, weights, nsq = lax.map(one, keys, batch_size=batch_size)
    return SpectralDensity(nodes=nodes, weights=weights, probe_norms_sq=nsq, dim=tree_size(v_like))


def wasserstein1(
    x: Float[Array, " a"], wx: Float[Array, " a"] | None, y: Float[Array, " b"],
    wy: Float[Array, " b"] | None = None,
) -> Array:
    """Wasserstein-1 distance between two weighted point sets on the line (weights normalised).

    `wx`/`wy` of None mean uniform weights. Computed exactly as the integral of |F_x - F_y|.
    """
    x, y = jnp.asarray(x).reshape(-1), jnp.asarray(y).reshape(-1)
    wx = jnp.full(x.shape, 1.0 / x.size, x.dtype) if wx is None else jnp.asarray(wx, x.dtype)
    wy = jnp.full(y.shape, 1.0 / y.size, y.dtype) if wy is None else jnp.asarray(wy, y.dtype)
    wx, wy = wx / jnp.sum(wx), wy / jnp.sum(wy)
    pts = jnp.concatenate([x, y])
    mass = jnp.concatenate([wx, -wy])
    order = jnp.argsort(pts)
    pts, mass = pts[order], mass[order]
    diff_cdf = jnp.cumsum(mass)[:-1]
    return jnp.sum(jnp.abs(diff_cdf) * jnp.diff(pts))
