"""2D incompressible Navier-Stokes in vorticity form on the periodic box (the FNO generator)."""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._core._spectral import dealias_mask, rfft_wavenumbers
from ._checks import check_field, check_positive, complex_dtype
from ._etdrk4 import solve_periodic


def navier_stokes_2d(
    w0: Array,
    *,
    nu: float | Array = 1e-3,
    t_final: float = 1.0,
    dt: float = 1e-3,
    forcing: Array | None = None,
    drag: float = 0.0,
    length: float = 1.0,
    num_snapshots: int | None = None,
    checkpoints: int | None = 32,
    start_refine: int = 10,
) -> Array:
    """Solve `w_t + u . grad w = nu Lap w - drag w + f` on `[0, length)^2`, `u = (psi_y, -psi_x)`,
    `-Lap psi = w`, from the vorticity `w0` sampled at `(i, j) length / s`.

    Pseudo-spectral with 2/3-rule dealiasing, ETDRK4 in time (viscosity and drag exact).
    `forcing` is a time-independent field on the same grid (the FNO benchmark's is
    `navier_stokes_forcing(s)`). `num_snapshots`, `checkpoints` as `jaxspec.physics.burgers`.

    Raises at run time if the vorticity becomes non-finite or exceeds the a-priori bound
    `max|w0| + t max|f|` by more than 5 % (an unstable `dt`: keep the CFL number
    `max|u| k_max dt` below ~2.5, or an under-resolved grid).
    """
    w0 = check_field(w0, "w0", 2, square=True)
    s = w0.shape[0]
    nu = check_positive(nu, "nu", w0.dtype)
    if not (isinstance(drag, (int, float)) and drag >= 0 and math.isfinite(drag)):
        raise ValueError(f"`drag` must be a non-negative finite number, got {drag!r}.")
    cdt = complex_dtype(w0.dtype)
    kx, ky = rfft_wavenumbers((s, s), length)
    k2 = kx**2 + ky**2
    inv_k2 = np.where(k2 > 0, 1.0 / np.where(k2 > 0, k2, 1.0), 0.0)
    mask = dealias_mask((s, s))
    linear = -nu * jnp.asarray(k2, w0.dtype) - jnp.asarray(drag, w0.dtype)
    ikx, iky = jnp.asarray(1j * kx, cdt), jnp.asarray(1j * ky, cdt)
    ikx_m, iky_m = jnp.asarray(1j * kx * mask, cdt), jnp.asarray(1j * ky * mask, cdt)
    inv_k2 = jnp.asarray(inv_k2, cdt)
    if forcing is None:
        f_hat = jnp.zeros((), cdt)
        f_max = jnp.zeros((), w0.dtype)
    else:
        forcing = check_field(forcing, "forcing", 2)
        if forcing.shape != w0.shape:
            raise ValueError(
                f"`forcing` must have the shape of `w0` {w0.shape}, got {forcing.shape}."
            )
        forcing = forcing.astype(w0.dtype)
        f_hat = jnp.fft.rfft2(forcing) * jnp.asarray(mask, cdt)
        f_max = jnp.max(jnp.abs(forcing))

    def nonlinear(v):
        psi = v * inv_k2
        u = jnp.fft.irfft2(iky * psi, s=(s, s))
        vv = jnp.fft.irfft2(-ikx * psi, s=(s, s))
        w = jnp.fft.irfft2(v, s=(s, s))
        return -(ikx_m * jnp.fft.rfft2(u * w) + iky_m * jnp.fft.rfft2(vv * w)) + f_hat

    out = solve_periodic(
        w0, linear, nonlinear, mask, t_final=t_final, dt=dt, num_snapshots=num_snapshots,
        checkpoints=checkpoints, start_refine=start_refine,
    )
    bound = 1.05 * (jnp.max(jnp.abs(w0)) + t_final * f_max) + 10 * jnp.finfo(w0.dtype).eps
    bad = ~jnp.all(jnp.isfinite(out)) | (jnp.max(jnp.abs(out)) > bound)
    return eqx.error_if(
        out, bad,
        "Navier-Stokes: the vorticity became non-finite or exceeded max|w0| + t max|f|: the "
        "time step `dt` is unstable (keep max|u| * k_max * dt below ~2.5, k_max = 2 pi s / "
        "(3 length)) or the grid under-resolves the flow (increase s or nu).",
    )


def navier_stokes_forcing(s: int, length: float = 1.0, dtype=None) -> Array:
    """The FNO benchmark's forcing `0.1 (sin(2 pi (x + y)) + cos(2 pi (x + y)))` on the `s x s`
    grid of `[0, length)^2` (for `length != 1` the arguments are `2 pi (x + y) / length`)."""
    from .._core._dtypes import default_float_dtype

    x = np.arange(s) * length / s
    phase = 2 * np.pi * (x[:, None] + x[None, :]) / length
    f = 0.1 * (np.sin(phase) + np.cos(phase))
    return jnp.asarray(f, dtype or default_float_dtype())


def vorticity_to_velocity(w: Array, length: float = 1.0) -> tuple[Array, Array]:
    """Velocity `(u, v) = (psi_y, -psi_x)` with `-Lap psi = w` (spectral, zero-mean psi)."""
    w = check_field(w, "w", 2, square=True)
    s = w.shape[0]
    kx, ky = rfft_wavenumbers((s, s), length)
    k2 = kx**2 + ky**2
    inv_k2 = np.where(k2 > 0, 1.0 / np.where(k2 > 0, k2, 1.0), 0.0)
    cdt = complex_dtype(w.dtype)
    psi = jnp.fft.rfft2(w) * jnp.asarray(inv_k2, cdt)
    u = jnp.fft.irfft2(jnp.asarray(1j * ky, cdt) * psi, s=(s, s))
    v = jnp.fft.irfft2(jnp.asarray(-1j * kx, cdt) * psi, s=(s, s))
    return u.astype(w.dtype), v.astype(w.dtype)
