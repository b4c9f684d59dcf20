"""Domains: quadrature rules (Gauss-Legendre, split at breakpoints) and boundary factors.

A boundary factor ``B(x)`` vanishes on the boundary and is positive inside, so ``B(x) N(x)`` meets
homogeneous Dirichlet conditions exactly for any network ``N``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import jax.numpy as jnp
import numpy as np

__all__ = ["Ball", "Box", "Interval", "gauss_legendre"]


def gauss_legendre(n: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights for ``n`` points on ``[a, b]`` (float64 numpy)."""
    x, w = np.polynomial.legendre.leggauss(int(n))
    return 0.5 * (b - a) * x + 0.5 * (a + b), 0.5 * (b - a) * w


def _composite(n: int, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xs, ws = zip(*(gauss_legendre(n, lo, hi) for lo, hi in itertools.pairwise(edges)), strict=True)
    return np.concatenate(xs), np.concatenate(ws)


def _edges(a: float, b: float, breakpoints, elements: int) -> np.ndarray:
    """Element edges: ``elements`` equal pieces of each smooth piece between breakpoints."""
    inner = sorted(float(t) for t in breakpoints if a < float(t) < b)
    pieces = [a, *inner, b]
    edges = [a]
    for lo, hi in itertools.pairwise(pieces):
        edges.extend(np.linspace(lo, hi, elements + 1)[1:].tolist())
    return np.asarray(edges)


def _check_order(order: int, elements: int) -> None:
    if int(order) < 2:
        raise ValueError(f"quadrature order must be >= 2 points per element, got {order}")
    if int(elements) < 1:
        raise ValueError(f"elements must be >= 1, got {elements}")


@dataclasses.dataclass(frozen=True)
class Interval:
    """The interval ``[a, b]`` (a half-line or the real line is truncated to one)."""

    a: float
    b: float

    def __post_init__(self):
        a, b = float(self.a), float(self.b)
        if not (math.isfinite(a) and math.isfinite(b)):
            raise ValueError(
                "Interval: ends must be finite (truncate a half-line or the real line), "
                f"got [{a}, {b}]"
            )
        if not a < b:
            raise ValueError(f"Interval: expected a < b, got an empty or inverted [{a}, {b}]")

    dim = 1

    @property
    def lower(self) -> np.ndarray:
        return np.array([float(self.a)])

    @property
    def upper(self) -> np.ndarray:
        return np.array([float(self.b)])

    def boundary_factor(self, x):
        h = 0.5 * (self.b - self.a)
        return (x[0] - self.a) * (self.b - x[0]) / h**2

    def quadrature(self, order: int, elements: int = 1, breakpoints=((),)):
        _check_order(order, elements)
        x, w = _composite(order, _edges(self.a, self.b, breakpoints[0], elements))
        return x[:, None], w

    def contains(self, x) -> np.ndarray:
        x = np.asarray(x)
        return (x[..., 0] >= self.a) & (x[..., 0] <= self.b)


@dataclasses.dataclass(frozen=True)
class Box:
    """The box ``prod_i [lower_i, upper_i]`` in 1-3 dimensions."""

    lower: tuple
    upper: tuple

    def __post_init__(self):
        lo, hi = (
            np.atleast_1d(np.asarray(self.lower, float)),
            np.atleast_1d(np.asarray(self.upper, float)),
        )
        if lo.shape != hi.shape or lo.ndim != 1 or not 1 <= lo.size <= 3:
            raise ValueError(
                "Box: lower and upper must be sequences of the same length 1-3, "
                f"got {self.lower}, {self.upper}"
            )
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ValueError(f"Box: corners must be finite, got {self.lower}, {self.upper}")
        if not np.all(lo < hi):
            raise ValueError(
                f"Box: expected lower < upper in every axis, got {self.lower}, {self.upper}"
            )
        object.__setattr__(self, "lower", tuple(lo.tolist()))
        object.__setattr__(self, "upper", tuple(hi.tolist()))

    @property
    def dim(self) -> int:
        return len(self.lower)

    def boundary_factor(self, x):
        out = 1.0
        for i, (a, b) in enumerate(zip(self.lower, self.upper, strict=True)):
            out = out * (x[i] - a) * (b - x[i]) / (0.5 * (b - a)) ** 2
        return out

    def quadrature(self, order: int, elements: int = 1, breakpoints=None):
        _check_order(order, elements)
        breakpoints = breakpoints or ((),) * self.dim
        rules = [
            _composite(order, _edges(a, b, bp, elements))
            for a, b, bp in zip(self.lower, self.upper, breakpoints, strict=True)
        ]
        grids = np.meshgrid(*(r[0] for r in rules), indexing="ij")
        weights = np.meshgrid(*(r[1] for r in rules), indexing="ij")
        x = np.stack([g.ravel() for g in grids], axis=-1)
        return x, np.prod(np.stack([w.ravel() for w in weights]), axis=0)

    def contains(self, x) -> np.ndarray:
        x = np.asarray(x)
        return np.all((x >= np.asarray(self.lower)) & (x <= np.asarray(self.upper)), axis=-1)


@dataclasses.dataclass(frozen=True)
class Ball:
    """The disk (``dim=2``) or ball (``dim=3``) of radius ``radius`` centred at the origin.

    Quadrature is polar/spherical: Gauss-Legendre in the radius (Jacobian included, so a ``1/r``
    singularity at the centre is integrated accurately), the trapezoidal rule in the periodic angle
    and Gauss-Legendre in ``cos(theta)``.
    """

    radius: float
    dim: int = 2

    def __post_init__(self):
        if not (math.isfinite(float(self.radius)) and float(self.radius) > 0):
            raise ValueError(f"Ball: radius must be a positive finite number, got {self.radius}")
        if self.dim not in (2, 3):
            raise ValueError(f"Ball: dim must be 2 (disk) or 3 (ball), got {self.dim}")

    @property
    def lower(self) -> np.ndarray:
        return -np.full(self.dim, float(self.radius))

    @property
    def upper(self) -> np.ndarray:
        return np.full(self.dim, float(self.radius))

    def boundary_factor(self, x):
        return 1.0 - jnp.sum(x**2) / self.radius**2

    def quadrature(self, order: int, elements: int = 1, breakpoints=None):
        _check_order(order, elements)
        radial = (breakpoints or ((),))[0]
        r, wr = _composite(order, _edges(0.0, float(self.radius), radial, elements))
        n_phi = 2 * order * elements
        phi = 2 * np.pi * np.arange(n_phi) / n_phi
        w_phi = np.full(n_phi, 2 * np.pi / n_phi)
        if self.dim == 2:
            rr, pp = np.meshgrid(r, phi, indexing="ij")
            ww = np.outer(wr * r, w_phi)
            x = np.stack([rr * np.cos(pp), rr * np.sin(pp)], axis=-1).reshape(-1, 2)
            return x, ww.ravel()
        ct, wt = gauss_legendre(order * elements, -1.0, 1.0)
        rr, cc, pp = np.meshgrid(r, ct, phi, indexing="ij")
        st = np.sqrt(1 - cc**2)
        x = np.stack([rr * st * np.cos(pp), rr * st * np.sin(pp), rr * cc], axis=-1).reshape(-1, 3)
        ww = (wr * r**2)[:, None, None] * wt[None, :, None] * w_phi[None, None, :]
        return x, ww.ravel()

    def contains(self, x) -> np.ndarray:
        return np.sum(np.asarray(x) ** 2, axis=-1) <= float(self.radius) ** 2
