"""Eigenproblems ``-div(p grad psi) + V psi = E w psi`` with Dirichlet conditions; named ones."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special

from ._domains import Ball, Box, Interval

__all__ = [
    "EigenProblem",
    "disk_drum",
    "find_breakpoints",
    "finite_barrier",
    "finite_well",
    "harmonic_oscillator",
    "hydrogen",
    "hydrogen_radial",
    "infinite_well",
    "square_drum",
]


@dataclasses.dataclass(frozen=True)
class EigenProblem:
    """``-div(p grad psi) + V psi = E w psi`` on ``domain`` with ``psi = 0`` on its boundary.

    Arguments:
        domain: an `Interval`, `Box` or `Ball`.
        potential: ``V(x)`` for one point ``x`` of shape ``(dim,)``, returning a scalar. Any JAX
            function: smooth, discontinuous (give or let `find_breakpoints` find the jumps) or
            singular at isolated points (give them as ``cusps``).
        p: the coefficient in front of the Laplacian: a positive number (``1`` for ``-psi''``,
            ``0.5`` for ``-psi''/2``) or a function of ``x``.
        w: the weight on the right-hand side (``None`` means 1).
        breakpoints: for each axis, the coordinates where ``V``, ``p`` or ``w`` jump; quadrature
            elements are split there and the ansatz can bend there (element-wise basis in 1D,
            kink inputs ``d|d|`` in 2-3 D). ``"auto"`` (1D) locates the jumps with
            `find_breakpoints`.
        cusps: points where the potential is singular (Coulomb); ``|x - c|`` is added to the
            ansatz inputs so the cusp of the eigenfunction is representable.
        envelope: ``None``, ``"gaussian"`` (``exp(-a|x|^2)``) or ``"exponential"``
            (``exp(-a|x|)``) decay multiplying the ansatz, with a trainable rate, for problems
            truncated from a half-line or the whole space.
        boundary: ``"dirichlet"`` (``psi = 0`` built into the ansatz) or ``"truncated"`` (no
            boundary factor: the domain is a truncation of a larger one on which ``psi`` decays;
            the boundary term ``int p psi d_n psi`` is reported as the truncation error). For
            an `Interval`, a pair gives each end, e.g. ``("dirichlet", "truncated")`` for a
            half-line.
        exact: known eigenvalues in increasing order (with multiplicity), used to report errors.
        name: a label for tables and plots.
    """

    domain: Interval | Box | Ball
    potential: Callable
    p: float | Callable = 1.0
    w: Callable | None = None
    breakpoints: tuple | str = ()
    cusps: tuple = ()
    envelope: str | None = None
    boundary: str | tuple = "dirichlet"
    exact: tuple | None = None
    name: str = "eigenproblem"

    def __post_init__(self):
        if not isinstance(self.domain, Interval | Box | Ball):
            raise TypeError(
                f"domain must be an Interval, Box or Ball, got {type(self.domain).__name__}"
            )
        if not callable(self.potential):
            raise TypeError(
                f"potential must be a function of x, got {type(self.potential).__name__}"
            )
        if not callable(self.p) and not (math.isfinite(float(self.p)) and float(self.p) > 0):
            raise ValueError(f"p must be a positive number or a function, got {self.p}")
        if self.w is not None and not callable(self.w):
            raise TypeError(f"w must be None or a function of x, got {type(self.w).__name__}")
        if self.envelope not in (None, "gaussian", "exponential"):
            raise ValueError(
                f"envelope must be None, 'gaussian' or 'exponential', got {self.envelope!r}"
            )
        sides = (self.boundary,) * 2 if isinstance(self.boundary, str) else tuple(self.boundary)
        if len(sides) != 2 or any(b not in ("dirichlet", "truncated") for b in sides):
            raise ValueError(
                "boundary must be 'dirichlet', 'truncated' or (for an Interval) a pair of them, "
                f"got {self.boundary!r}"
            )
        if sides[0] != sides[1] and not isinstance(self.domain, Interval):
            raise ValueError(
                f"boundary: one value per end is for an Interval only, got {self.boundary!r}"
            )
        object.__setattr__(self, "boundary", sides)
        bps = self.breakpoints
        if isinstance(bps, str):
            if bps != "auto" or self.domain.dim != 1:
                raise ValueError(
                    f"breakpoints: the string form is 'auto' (1D only), got {bps!r} in "
                    f"{self.domain.dim}D"
                )
            lo, hi = float(self.domain.lower[0]), float(self.domain.upper[0])
            bps = find_breakpoints(self.potential, lo, hi)
            if callable(self.p):
                bps = bps + find_breakpoints(self.p, lo, hi)
            if self.w is not None:
                bps = bps + find_breakpoints(self.w, lo, hi)
            bps = tuple(sorted(set(bps)))
        if self.domain.dim == 1 and bps and not isinstance(bps[0], tuple | list):
            bps = (tuple(bps),)
        bps = tuple(tuple(float(t) for t in axis) for axis in bps) or ((),) * self.domain.dim
        if len(bps) != self.domain.dim:
            raise ValueError(
                f"breakpoints must give one sequence per axis ({self.domain.dim}), "
                f"got {self.breakpoints}"
            )
        object.__setattr__(self, "breakpoints", bps)
        cusps = tuple(tuple(float(c) for c in np.atleast_1d(c)) for c in self.cusps)
        if any(len(c) != self.domain.dim for c in cusps):
            raise ValueError(
                f"each cusp must be a point of dimension {self.domain.dim}, got {self.cusps}"
            )
        object.__setattr__(self, "cusps", cusps)
        if self.exact is not None:
            object.__setattr__(self, "exact", tuple(float(e) for e in self.exact))

    @property
    def dim(self) -> int:
        return self.domain.dim

    # Pointwise coefficient evaluation with shape checks -------------------------------------
    def _scalar(self, f: Callable, name: str):
        def g(x):
            v = jnp.asarray(f(x))
            if v.shape == (1,) and self.dim == 1:
                v = v[0]
            if v.shape != ():
                raise ValueError(
                    f"{name} must return a scalar for one point x of shape ({self.dim},), "
                    f"got shape {v.shape}; it is applied to each point (use jax.vmap for batches)"
                )
            return v

        return g

    def boundary_factor(self, x):
        """Vanishes on the Dirichlet parts of the boundary, positive inside."""
        dirichlet = [b == "dirichlet" for b in self.boundary]
        if all(dirichlet):
            return self.domain.boundary_factor(x)
        if not any(dirichlet):
            return jnp.ones((), x.dtype)
        a, b = float(self.domain.lower[0]), float(self.domain.upper[0])
        h = 0.5 * (b - a)
        return (x[0] - a) / h if dirichlet[0] else (b - x[0]) / h

    def V(self, x):
        return self._scalar(self.potential, "potential")(x)

    def P(self, x):
        return self._scalar(self.p, "p")(x) if callable(self.p) else jnp.asarray(float(self.p))

    def W(self, x):
        return self._scalar(self.w, "w")(x) if self.w is not None else jnp.ones(())

    def coefficients(self, points: np.ndarray) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """``V``, ``p``, ``grad p`` and ``w`` at ``points`` ``(Q, dim)``, checked for NaN/Inf."""
        pts = jnp.asarray(points)

        @jax.jit
        def evaluate(pts):
            v = jax.vmap(self.V)(pts)
            p = jax.vmap(self.P)(pts)
            dp = jax.vmap(jax.grad(self.P))(pts) if callable(self.p) else jnp.zeros_like(pts)
            return v, p, dp, jax.vmap(self.W)(pts)

        v, p, dp, w = evaluate(pts)
        for name, arr in (("potential", v), ("p", p), ("grad p", dp), ("w", w)):
            a = np.asarray(arr)
            if not np.all(np.isfinite(a)):
                bad = np.asarray(points)[~np.isfinite(a.reshape(len(points), -1)).all(-1)][0]
                raise ValueError(
                    f"{name} is not finite at the quadrature point x = {bad.tolist()} "
                    "(singular points must be excluded from the domain or given as cusps)"
                )
        if np.any(np.asarray(p) <= 0) or np.any(np.asarray(w) <= 0):
            raise ValueError("p and w must be positive on the domain")
        return v, p, dp, w


def find_breakpoints(potential: Callable, a: float, b: float, *, samples: int = 4001) -> tuple:
    """Locate the jumps of a 1D ``potential`` on ``[a, b]`` to machine precision.

    A jump is a sample-to-sample difference far above the function's local variation; each is
    refined by bisection.
    """
    f = jax.jit(jax.vmap(lambda t: jnp.asarray(potential(jnp.reshape(t, (1,)))).reshape(())))
    x = np.linspace(a, b, samples)
    v = np.asarray(f(jnp.asarray(x)))
    d = np.abs(np.diff(v))
    scale = np.median(d) + 1e-12 * (np.max(np.abs(v)) + 1.0)
    neighbours = np.maximum(np.r_[d[1:], 0.0], np.r_[0.0, d[:-1]])
    jumps = np.nonzero((d > 50 * scale) & (d > 10 * neighbours))[0]
    out = []
    for i in jumps:
        lo, hi = x[i], x[i + 1]
        vlo = v[i]
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if mid in (lo, hi):
                break
            vm = float(f(jnp.asarray([mid]))[0])
            if abs(vm - vlo) < 0.5 * abs(v[i + 1] - vlo):
                lo = mid
            else:
                hi = mid
        out.append(0.5 * (lo + hi))
    return tuple(out)


# Named problems ------------------------------------------------------------------------------


def infinite_well(length: float = 1.0) -> EigenProblem:
    """``-psi'' = E psi`` on ``[0, L]``: ``E_n = (n pi / L)^2``."""
    exact = tuple((n * math.pi / length) ** 2 for n in range(1, 41))
    return EigenProblem(
        Interval(0.0, length), lambda x: jnp.zeros(()), exact=exact, name="infinite well"
    )


def _square_step(
    v_in: float, v_out: float, half_width: float, box: float, table: tuple | None, name: str
) -> EigenProblem:
    """``V = v_in`` for ``|x| < half_width``, ``v_out`` elsewhere, in the box ``[-box, box]``.

    ``table`` holds the tabulated levels of the paper's parameters; otherwise the six lowest
    come from the Chebyshev solver.
    """
    from ._reference import chebyshev_eigenvalues

    def pot(x):
        return jnp.where(jnp.abs(x[0]) < half_width, v_in, v_out)

    prob = EigenProblem(Interval(-box, box), pot, breakpoints=(-half_width, half_width), name=name)
    exact = table if table is not None else tuple(chebyshev_eigenvalues(prob, 6, order=48))
    return dataclasses.replace(prob, exact=exact)


def finite_well(depth: float = 20.0, half_width: float = 1.0, box: float = 3.0) -> EigenProblem:
    """``V = 0`` for ``|x| < a``, ``V0`` outside, in the box ``[-L, L]`` (the PINN paper's well).

    The defaults are the paper's (``V0 = 20``, ``a = 1``, ``L = 3``), whose three bound states are
    tabulated; other parameters get their reference levels from the Chebyshev solver.
    """
    paper = (depth, half_width, box) == (20.0, 1.0, 3.0)
    table = (1.6394801885459709, 6.441881454360469, 13.891781749825576) if paper else None
    return _square_step(0.0, depth, half_width, box, table, "finite well")


def finite_barrier(height: float = 50.0, half_width: float = 0.1, box: float = 1.0) -> EigenProblem:
    """``V = V0`` for ``|x| < b``, ``0`` elsewhere in ``[-L, L]``.

    The defaults (``V0 = 50``, ``b = 0.1``, ``L = 1``) are the PINN paper's barrier.
    """
    paper = (height, half_width, box) == (50.0, 0.1, 1.0)
    table = (7.71606414327197, 10.145740125015607) if paper else None
    return _square_step(height, 0.0, half_width, box, table, "finite barrier")


def harmonic_oscillator(dim: int = 1, half_width: float = 6.0) -> EigenProblem:
    """``-Lap psi / 2 + |x|^2 psi / 2 = E psi`` truncated to ``[-L, L]^dim``.

    Exact levels ``n + dim/2`` with their multiplicities (the Dirichlet truncation at ``L = 6``
    moves the ground level by about ``1e-14``).
    """
    levels = []
    for n in range(12):
        mult = math.comb(n + dim - 1, dim - 1)
        levels += [n + dim / 2] * mult
    dom = Box((-half_width,) * dim, (half_width,) * dim)
    return EigenProblem(
        dom,
        lambda x: 0.5 * jnp.sum(x**2),
        p=0.5,
        envelope="gaussian",
        boundary="truncated",
        exact=tuple(levels[:40]),
        name=f"{dim}D harmonic oscillator",
    )


def hydrogen_radial(l: int = 0, cutoff: float = 30.0) -> EigenProblem:  # noqa: E741
    """Radial hydrogen ``-u''/2 + (l(l+1)/(2r^2) - 1/r) u = E u`` on ``[0, R]``.

    ``u(0) = u(R) = 0``. Exact ``E_n = -1/(2 n^2)``, ``n = l+1, l+2, ...`` (atomic units);
    ``R = 30`` moves the 1s level by
    about ``1e-22``.
    """

    def pot(x):
        r = x[0]
        return l * (l + 1) / (2 * r**2) - 1.0 / r

    exact = tuple(-0.5 / n**2 for n in range(l + 1, l + 6))
    return EigenProblem(
        Interval(0.0, cutoff),
        pot,
        p=0.5,
        envelope="exponential",
        boundary=("dirichlet", "truncated"),
        exact=exact,
        name=f"hydrogen radial l={l}",
    )


def hydrogen(cutoff: float = 20.0) -> EigenProblem:
    """Hydrogen in 3D, ``-Lap psi / 2 - psi / |x| = E psi``, truncated to the ball of radius ``R``.

    The nucleus is a cusp of the ansatz; exact ``E_n = -1/(2 n^2)`` with multiplicity ``n^2``.
    """
    exact = []
    for n in range(1, 4):
        exact += [-0.5 / n**2] * n**2
    return EigenProblem(
        Ball(cutoff, dim=3),
        lambda x: -1.0 / jnp.sqrt(jnp.sum(x**2)),
        p=0.5,
        cusps=((0.0, 0.0, 0.0),),
        envelope="exponential",
        boundary="truncated",
        exact=tuple(exact),
        name="hydrogen 3D",
    )


def square_drum(side: float = 1.0) -> EigenProblem:
    """``-Lap psi = E psi`` on ``[0, s]^2``: ``E = pi^2 (m^2 + n^2) / s^2``."""
    vals = sorted(
        (m * m + n * n) * (math.pi / side) ** 2 for m in range(1, 12) for n in range(1, 12)
    )
    return EigenProblem(
        Box((0.0, 0.0), (side, side)),
        lambda x: jnp.zeros(()),
        exact=tuple(vals[:40]),
        name="square drum",
    )


def disk_drum(radius: float = 1.0) -> EigenProblem:
    """``-Lap psi = E psi`` on the disk: ``E = (j_{m,k} / R)^2``, double for ``m > 0``."""
    vals = []
    for m in range(12):
        for z in scipy.special.jn_zeros(m, 6):
            vals += [(z / radius) ** 2] * (1 if m == 0 else 2)
    return EigenProblem(
        Ball(radius, 2), lambda x: jnp.zeros(()), exact=tuple(sorted(vals)[:40]), name="disk drum"
    )
