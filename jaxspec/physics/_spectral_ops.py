"""Spectral derivatives of periodic fields (for physics-informed losses and diagnostics)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._core._spectral import rfft_wavenumbers
from ._checks import complex_dtype


def spectral_derivative(
    u: Array, order: int = 1, axis: int = -1, *, length: float = 1.0, ndim: int | None = None
) -> Array:
    """`d^order u / dx_axis^order` of a periodic field on `[0, length)^d` (exact for
    band-limited fields). `ndim` is the number of trailing spatial axes (default: all);
    leading axes are batch axes. Odd derivatives drop the Nyquist mode of even grids."""
    if not (isinstance(order, int) and order >= 0):
        raise ValueError(f"`order` must be a non-negative integer, got {order!r}.")
    u = jnp.asarray(u)
    d = u.ndim if ndim is None else int(ndim)
    if not 1 <= d <= u.ndim:
        raise ValueError(f"`ndim` must be between 1 and u.ndim={u.ndim}, got {ndim!r}.")
    spatial = u.shape[u.ndim - d:]
    ax = axis % u.ndim - (u.ndim - d)
    if not 0 <= ax < d:
        raise ValueError(f"`axis` {axis} is not one of the {d} trailing spatial axes.")
    k = rfft_wavenumbers(spatial, length)[ax]
    n = spatial[ax]
    if order % 2 == 1 and n % 2 == 0:
        k = np.where(np.abs(k) >= np.pi * n / length - 1e-9, 0.0, k)
    axes = tuple(range(u.ndim - d, u.ndim))
    symbol = jnp.asarray((1j * k) ** order, complex_dtype(u.dtype))
    symbol = symbol.reshape((1,) * (u.ndim - d) + symbol.shape)
    out = jnp.fft.irfftn(jnp.fft.rfftn(u, axes=axes) * symbol, s=spatial, axes=axes)
    return out.astype(u.dtype)


def spectral_laplacian(u: Array, *, length: float = 1.0, ndim: int | None = None) -> Array:
    """Laplacian of a periodic field over its `ndim` trailing axes (default: all)."""
    u = jnp.asarray(u)
    d = u.ndim if ndim is None else int(ndim)
    return sum(
        spectral_derivative(u, 2, axis=u.ndim - d + i, length=length, ndim=d) for i in range(d)
    )
