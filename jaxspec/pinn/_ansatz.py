"""The network ansatz: ``psi_j(x) = B(x) e(x) sum_m c_mj phi_m(x)``.

``phi`` are the last hidden layer of a tanh MLP (plus a constant), ``B`` the domain's boundary
factor (exact Dirichlet conditions), ``e`` an optional decay envelope with a trainable rate. The
inputs are the normalised coordinates plus, for every breakpoint ``t`` of the coefficients, the
kink feature ``d|d|`` with ``d = (x_i - t)/h_i`` (continuous first derivative, jump in the second,
which is how an eigenfunction crosses a jump of the potential), and for every cusp ``c`` the
distance ``|x - c|/h`` (the Coulomb cusp). The linear coefficients ``c`` live outside the module:
the solver sets them by Rayleigh-Ritz.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax import Array

from ._problems import EigenProblem

__all__ = ["Ansatz"]


class Ansatz(eqx.Module):
    """Basis functions ``u(x) = B(x) e(x) [phi(x), 1]`` for one point ``x`` of shape ``(dim,)``."""

    weights: list[Array]
    biases: list[Array]
    log_rate: Array
    problem: EigenProblem = eqx.field(static=True)
    center: tuple = eqx.field(static=True)
    half: tuple = eqx.field(static=True)
    edges: tuple = eqx.field(static=True)

    def __init__(
        self,
        problem: EigenProblem,
        *,
        width: int = 24,
        depth: int = 1,
        scale: float = 3.0,
        rate: float | Array = 1.0,
        dtype=None,
        key: Array,
    ):
        if int(width) < 1 or int(depth) < 1:
            raise ValueError(f"width and depth must be >= 1, got width={width}, depth={depth}")
        dtype = dtype or (jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)
        self.problem = problem
        lo, hi = np.asarray(problem.domain.lower, float), np.asarray(problem.domain.upper, float)
        self.center = tuple((0.5 * (lo + hi)).tolist())
        self.half = tuple((0.5 * (hi - lo)).tolist())
        inner = sorted(
            t for t in (problem.breakpoints[0] if problem.dim == 1 else ()) if lo[0] < t < hi[0]
        )
        self.edges = (float(lo[0]), *inner, float(hi[0])) if inner else ()
        n_in = self.num_inputs
        # The draws come from numpy's PCG64 seeded with the key's raw data: deterministic per
        # key, and no threefry kernels to compile for a one-off initialisation (~0.5 s on CPU).
        rng = np.random.default_rng(np.asarray(jr.key_data(key)).ravel().tolist())
        # First layer: random directions, transition surfaces through uniform points of the box,
        # so the initial features already span the low modes.
        w0 = rng.standard_normal((width, n_in)) * (scale / float(np.sqrt(problem.dim)))
        x0 = rng.uniform(-1.0, 1.0, (width, problem.dim))
        b0 = -np.sum(w0[:, : problem.dim] * x0, axis=1)
        weights, biases = [jnp.asarray(w0, dtype)], [jnp.asarray(b0, dtype)]
        for _ in range(1, depth):
            weights.append(jnp.asarray(rng.standard_normal((width, width)) / np.sqrt(width), dtype))
            biases.append(jnp.zeros(width, dtype))
        self.weights, self.biases = weights, biases
        self.log_rate = jnp.log(jnp.asarray(rate, dtype))

    @property
    def piecewise(self) -> bool:
        """1D with breakpoints: element-wise (conforming) basis instead of kink inputs."""
        return bool(self.edges)

    @property
    def num_inputs(self) -> int:
        kinks = 0 if self.piecewise else sum(len(b) for b in self.problem.breakpoints)
        return self.problem.dim + kinks + len(self.problem.cusps)

    @property
    def num_features(self) -> int:
        return self.weights[-1].shape[0] + 1

    @property
    def num_basis(self) -> int:
        ne = max(len(self.edges) - 1, 1)
        return (2 * ne - 1) * self.num_features

    def element(self, x: Array) -> Array:
        """Index of the element containing the 1D point ``x`` (piecewise bases)."""
        inner = jnp.asarray(self.edges[1:-1], x.dtype)
        return jnp.sum(x[0] > inner)

    def inputs(self, x: Array) -> Array:
        c, h = jnp.asarray(self.center, x.dtype), jnp.asarray(self.half, x.dtype)
        feats = [(x - c) / h]
        for axis, bps in enumerate(() if self.piecewise else self.problem.breakpoints):
            for t in bps:
                d = (x[axis] - t) / h[axis]
                feats.append(jnp.reshape(d * jnp.abs(d), (1,)))
        for cusp in self.problem.cusps:
            r = jnp.sqrt(jnp.sum((x - jnp.asarray(cusp, x.dtype)) ** 2) + jnp.finfo(x.dtype).tiny)
            feats.append(jnp.reshape(r / jnp.max(h), (1,)))
        return jnp.concatenate(feats)

    def envelope(self, x: Array) -> Array:
        kind = self.problem.envelope
        if kind is None:
            return jnp.ones((), x.dtype)
        c = jnp.asarray(self.center, x.dtype)
        r2 = jnp.sum((x - c) ** 2)
        rate = jnp.exp(self.log_rate)
        if kind == "gaussian":
            return jnp.exp(-rate * r2)
        # |x| with a smooth floor keeps derivatives finite where the envelope peaks.
        lo = jnp.asarray(self.problem.domain.lower, x.dtype)
        hi = jnp.asarray(self.problem.domain.upper, x.dtype)
        origin = jnp.where((lo <= 0) & (hi >= 0), 0.0, lo)
        r = jnp.sqrt(jnp.sum((x - origin) ** 2) + jnp.finfo(x.dtype).tiny)
        return jnp.exp(-rate * r)

    def features(self, x: Array) -> Array:
        z = self.inputs(x)
        for w, b in zip(self.weights, self.biases, strict=True):
            z = jnp.tanh(w @ z + b)
        return jnp.concatenate([z, jnp.ones((1,), z.dtype)])

    def __call__(self, x: Array, element: Array | None = None) -> Array:
        """Basis values at one point; ``element`` picks the side at a breakpoint (piecewise)."""
        if x.shape != (self.problem.dim,):
            raise ValueError(
                f"Ansatz expects one point of shape ({self.problem.dim},), got {x.shape}; "
                "use jax.vmap"
            )
        phi = self.features(x) * self.envelope(x)
        if not self.piecewise:
            return self.problem.boundary_factor(x) * phi
        # Conforming element basis: bubbles (x - l)(r - x)/h^2 phi on each element, and hats times
        # phi at each interior node; continuous, derivative jumps only at the breakpoints.
        e = self.element(x) if element is None else element
        edges = jnp.asarray(self.edges, x.dtype)
        ne = len(self.edges) - 1
        lo, hi = edges[e], edges[e + 1]
        bubble = (x[0] - lo) * (hi - x[0]) / (0.5 * (hi - lo)) ** 2
        onehot = jnp.arange(ne) == e
        blocks = [jnp.where(onehot, bubble, 0.0)]
        nodes = jnp.arange(1, ne)
        rising = (x[0] - lo) / (hi - lo)  # hat of the right node of element e
        falling = (hi - x[0]) / (hi - lo)  # hat of the left node of element e
        hats = jnp.where(nodes == e + 1, rising, 0.0) + jnp.where(nodes == e, falling, 0.0)
        blocks.append(hats)
        weights = jnp.concatenate(blocks)
        return (weights[:, None] * phi[None, :]).ravel()
