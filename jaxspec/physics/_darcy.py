"""2D Darcy flow `-div(a grad u) = f` on the unit square, `u = 0` on the boundary.

Second-order finite differences on the `s x s` vertex grid (`h = 1 / (s - 1)`, boundary
included), face coefficients from the vertex values (arithmetic or harmonic means), solved by
conjugate gradients preconditioned with an exact fast Poisson solver (type-I sine transforms)
scaled by the mean coefficient: the iteration count depends on the contrast `max a / min a`,
not on the grid. Gradients with respect to `a` and `f` come from one adjoint solve
(`jax.custom_vjp`), not from differentiating the iterations.
"""

from __future__ import annotations

import functools as ft

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._core._spectral import dst1
from ._checks import check_field, is_concrete

_FACES = ("arithmetic", "harmonic")


def _face_coefficients(a: Array, face: str) -> tuple[Array, Array]:
    if face == "arithmetic":
        return (a[1:, :] + a[:-1, :]) / 2, (a[:, 1:] + a[:, :-1]) / 2
    return (
        2 * a[1:, :] * a[:-1, :] / (a[1:, :] + a[:-1, :]),
        2 * a[:, 1:] * a[:, :-1] / (a[:, 1:] + a[:, :-1]),
    )


def _apply(a: Array, u_int: Array, face: str) -> Array:
    """`-div(a grad u)` at the interior vertices for interior values `u_int` (zero boundary)."""
    s = a.shape[0]
    h = 1.0 / (s - 1)
    u = jnp.pad(u_int, 1)
    ax, ay = _face_coefficients(a, face)
    fx = ax * (u[1:, :] - u[:-1, :])
    fy = ay * (u[:, 1:] - u[:, :-1])
    div = (fx[1:, 1:-1] - fx[:-1, 1:-1]) + (fy[1:-1, 1:] - fy[1:-1, :-1])
    return -div / h**2


def _poisson_inverse(r: Array, scale: Array) -> Array:
    """Exact inverse of `scale * (-Lap_h)` with zero Dirichlet data, by type-I sine transforms."""
    n = r.shape[0]
    h = 1.0 / (n + 1)
    i = np.arange(1, n + 1)
    lam = (2 - 2 * np.cos(np.pi * i / (n + 1))) / h**2
    denom = jnp.asarray((lam[:, None] + lam[None, :]) * (n + 1) ** 2 / 4, r.dtype)
    r_hat = dst1(dst1(r, 0), 1)
    return dst1(dst1(r_hat / denom, 0), 1) / scale


def _pcg(a, f_int, face, rtol, max_iters):
    scale = jnp.mean(a)
    op = ft.partial(_apply, a, face=face)
    x = jnp.zeros_like(f_int)
    r = f_int
    z = _poisson_inverse(r, scale)
    p = z
    rz = jnp.vdot(r, z)
    target = rtol * jnp.linalg.norm(f_int)

    def cond(c):
        _, r, _, _, it = c
        return (jnp.linalg.norm(r) > target) & (it < max_iters)

    def body(c):
        x, r, p, rz, it = c
        ap = op(p)
        alpha = rz / jnp.vdot(p, ap)
        x = x + alpha * p
        r = r - alpha * ap
        z = _poisson_inverse(r, scale)
        rz_new = jnp.vdot(r, z)
        p = z + (rz_new / rz) * p
        return x, r, p, rz_new, it + 1

    x, r, _, _, it = jax.lax.while_loop(cond, body, (x, r, p, rz, jnp.array(0)))
    converged = jnp.linalg.norm(r) <= target
    return x, it, converged


@ft.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def _solve(a, f_int, face, rtol, max_iters, throw):
    x, _, converged = _pcg(a, f_int, face, rtol, max_iters)
    if throw:
        x = eqx.error_if(
            x, ~converged,
            "Darcy: conjugate gradients did not reach `rtol` within `max_iters`; the "
            "coefficient contrast max(a)/min(a) is very large or `a` is not positive. Raise "
            "`max_iters` or loosen `rtol`.",
        )
    return x


def _solve_fwd(a, f_int, face, rtol, max_iters, throw):
    x = _solve(a, f_int, face, rtol, max_iters, throw)
    return x, (a, x)


def _solve_bwd(face, rtol, max_iters, throw, res, x_bar):
    a, x = res
    lam = _solve(a, x_bar, face, rtol, max_iters, throw)  # the operator is symmetric
    _, vjp = jax.vjp(lambda a_: _apply(a_, x, face), a)
    (a_bar,) = vjp(-lam)
    return a_bar, lam


_solve.defvjp(_solve_fwd, _solve_bwd)


def darcy(
    a: Array,
    f: Array | float = 1.0,
    *,
    face: str = "arithmetic",
    rtol: float | None = None,
    max_iters: int | None = None,
    throw: bool = True,
) -> Array:
    """Solve `-div(a grad u) = f` on `[0, 1]^2` with `u = 0` on the boundary.

    **Arguments:**

    - `a`: positive coefficient at the `s x s` vertices (boundary included), `s >= 3`.
    - `f`: source at the vertices (boundary values unused), or a constant (the FNO benchmark
      uses `f = 1`).
    - `face`: how a face coefficient is formed from its two vertices: `"arithmetic"` (as the
      FNO data) or `"harmonic"` (better for discontinuous coefficients).
    - `rtol`: relative residual target of the conjugate gradients (default 1e-12 in float64,
      1e-5 in float32); `max_iters` (default `20 s + 100`).

    Returns `u` on the `s x s` grid (zero boundary rows/columns). Differentiable in `a` and
    `f` by the adjoint method; `jax.vmap` for batches.
    """
    a = check_field(a, "a", 2, min_size=3, square=True)
    if face not in _FACES:
        raise ValueError(f"`face` must be one of {_FACES}, got {face!r}.")
    s = a.shape[0]
    if is_concrete(a) and not np.all(np.asarray(a) > 0):
        raise ValueError("`a` must be positive everywhere (the equation is elliptic only then).")
    if not is_concrete(a):
        a = eqx.error_if(a, ~jnp.all(a > 0), "`a` must be positive everywhere.")
    if isinstance(f, (int, float)):
        f = jnp.full((s, s), f, a.dtype)
    f = check_field(f, "f", 2, min_size=3)
    if f.shape != a.shape:
        raise ValueError(f"`f` must have the shape of `a` {a.shape}, got {f.shape}.")
    f = f.astype(a.dtype)
    eps = float(jnp.finfo(a.dtype).eps)
    rtol = (1e-12 if eps < 1e-10 else 1e-5) if rtol is None else float(rtol)
    if not 0 < rtol < 1:
        raise ValueError(f"`rtol` must lie in (0, 1), got {rtol!r}.")
    max_iters = 20 * s + 100 if max_iters is None else int(max_iters)
    u_int = _solve(a, f[1:-1, 1:-1], face, rtol, max_iters, throw)
    return jnp.pad(u_int, 1)


def darcy_residual(
    u: Array, a: Array, f: Array | float = 1.0,
    *, face: str = "arithmetic",
) -> Array:
    """`-div(a grad u) - f` at the interior vertices (the discrete equation's residual), with
    `u`'s boundary values replaced by zero; a physics-informed loss term."""
    if face not in _FACES:
        raise ValueError(f"`face` must be one of {_FACES}, got {face!r}.")
    if u.shape != a.shape or u.ndim != 2:
        raise ValueError(f"`u` and `a` must be the same s x s grid, got {u.shape}, {a.shape}.")
    f = jnp.broadcast_to(jnp.asarray(f, a.dtype), a.shape)
    return _apply(a, u[1:-1, 1:-1], face) - f[1:-1, 1:-1]
