"""Physics-informed (PINO) residual losses on space-time outputs.

Space derivatives are the spectral operators of `jaxspec.physics` (periodic directions) or the
Darcy finite-difference operator; time derivatives are second-order central differences on the
output's uniform time grid. Each function returns the pointwise residual at the interior time
levels; a loss is its mean square, alone (no labels) or added to a data loss.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._core._spectral import dealias_mask
from ..physics import (
    darcy_residual as _darcy_residual,
    spectral_derivative,
    spectral_laplacian,
    vorticity_to_velocity,
)


def _check_traj(u: Array, name: str, space_ndim: int) -> None:
    if u.ndim != space_ndim + 1 or u.shape[0] < 3:
        raise ValueError(
            f"`{name}` must have shape (T >= 3, {', '.join(['s'] * space_ndim)}) on a uniform "
            f"time grid, got {tuple(u.shape)}."
        )


def _dt_central(u: Array, dt: float) -> Array:
    return (u[2:] - u[:-2]) / (2 * dt)


def _project(v: Array, d: int) -> Array:
    """2/3-rule projection over the trailing `d` axes (the solvers' Galerkin truncation)."""
    spatial = v.shape[v.ndim - d:]
    axes = tuple(range(v.ndim - d, v.ndim))
    spec = jnp.fft.rfftn(v, axes=axes)
    mask = jnp.asarray(dealias_mask(spatial), spec.dtype)
    mask = mask.reshape((1,) * (v.ndim - d) + mask.shape)
    return jnp.fft.irfftn(spec * mask, s=spatial, axes=axes).astype(v.dtype)


def burgers_residual(
    u: Array, *, nu: float, dt: float, length: float = 1.0, dealias: bool = False
) -> Array:
    """`u_t + u u_x - nu u_xx` at times `1..T-2` of a trajectory `u` of shape `(T, n)`
    (snapshots `dt` apart, periodic in x on `[0, length)`). `dealias=True` projects the
    nonlinear term with the 2/3 rule, matching the truncated dynamics `jaxspec.physics`
    integrates (its trajectories then have an O(dt^2) residual)."""
    _check_traj(u, "u", 1)
    ux = spectral_derivative(u, 1, length=length, ndim=1)
    uxx = spectral_derivative(u, 2, length=length, ndim=1)
    adv = u * ux
    if dealias:
        adv = _project(adv, 1)
    return _dt_central(u, dt) + (adv - nu * uxx)[1:-1]


def navier_stokes_residual(
    w: Array, *, nu: float, dt: float, forcing: Array | None = None, length: float = 1.0,
    dealias: bool = False,
) -> Array:
    """`w_t + u . grad w - nu Lap w - f` at times `1..T-2` of a vorticity trajectory `w` of
    shape `(T, s, s)` on the periodic box (`u = (psi_y, -psi_x)`, `-Lap psi = w`);
    `dealias` as in `burgers_residual`."""
    _check_traj(w, "w", 2)
    mid = w[1:-1]

    def advection(wt):
        u, v = vorticity_to_velocity(wt, length)
        return (u * spectral_derivative(wt, 1, axis=0, length=length)
                + v * spectral_derivative(wt, 1, axis=1, length=length))

    adv = jax.vmap(advection)(mid)
    if dealias:
        adv = _project(adv, 2)
    res = _dt_central(w, dt) + adv - nu * spectral_laplacian(mid, length=length, ndim=2)
    if forcing is not None:
        if forcing.shape != w.shape[1:]:
            raise ValueError(f"`forcing` must have shape {w.shape[1:]}, got {forcing.shape}.")
        res = res - forcing[None]
    return res


def darcy_residual(u: Array, a: Array, f: Array | float = 1.0) -> Array:
    """`-div(a grad u) - f` at the interior vertices (the finite-difference operator of
    `jaxspec.physics.darcy`, arithmetic face means); for FNO outputs on the vertex grid."""
    return _darcy_residual(u, a, f)


def pino_loss(residual: Array) -> Array:
    """Mean square of a residual."""
    return jnp.mean(residual**2)
