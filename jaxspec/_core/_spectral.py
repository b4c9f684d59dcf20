"""Grids, wavenumbers, dealiasing and the sine/cosine transforms shared by the pillars.

Conventions (used by `jaxspec.physics` and the spectral layers):

- Periodic fields live on `[0, L)^d` sampled at `x_j = j L / N`; their spectra use the
  `rfftn` layout (full `fftfreq` axes, then a half `rfftfreq` last axis).
- Non-periodic fields (Dirichlet, Neumann) live on `[0, L]^d` sampled at the `s` vertices
  `x_j = j L / (s - 1)`, boundary included; their spectra come from the type-I sine/cosine
  transforms below (eigenfunctions of the Laplacian with those boundary conditions).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array


def rfft_wavenumbers(shape: Sequence[int], length: float | Sequence[float] = 1.0):
    """Angular wavenumbers `2 pi k / L` for each axis of an `rfftn` spectrum, broadcastable.

    Returns a tuple of numpy arrays; the i-th has shape 1 everywhere except axis i.
    """
    shape = tuple(int(n) for n in shape)
    lengths = _per_axis(length, len(shape))
    out = []
    for i, (n, ell) in enumerate(zip(shape, lengths, strict=True)):
        k = np.fft.rfftfreq(n, d=1.0 / n) if i == len(shape) - 1 else np.fft.fftfreq(n, d=1.0 / n)
        bshape = [1] * len(shape)
        bshape[i] = k.size
        out.append((2 * np.pi / ell * k).reshape(bshape))
    return tuple(out)


def integer_wavenumbers(shape: Sequence[int]):
    """Integer wavenumbers of an `rfftn` spectrum, one broadcastable numpy array per axis."""
    return rfft_wavenumbers(shape, [2 * np.pi] * len(tuple(shape)))


def dealias_mask(shape: Sequence[int], fraction: float = 2.0 / 3.0) -> np.ndarray:
    """Boolean `rfftn`-layout mask keeping modes with `|k_i| <= fraction * N_i / 2` on every axis.

    `fraction = 2/3` is Orszag's rule: quadratic products of the kept modes alias only into
    discarded ones. The Nyquist mode of an even axis is always dropped.
    """
    mask = np.ones((), dtype=bool)
    for n, k in zip(shape, integer_wavenumbers(shape), strict=True):
        keep = np.abs(k) <= fraction * (n // 2)
        if n % 2 == 0:
            keep &= np.abs(k) < n // 2
        mask = mask & keep
    return mask


def laplacian_symbol(shape: Sequence[int], length: float | Sequence[float] = 1.0) -> np.ndarray:
    """`-|k|^2` on the `rfftn` grid (the Fourier symbol of the Laplacian)."""
    return -sum(k**2 for k in rfft_wavenumbers(shape, length))


def fourier_resample(u: Array, shape: Sequence[int]) -> Array:
    """Trigonometric interpolation of a periodic real field onto another uniform grid.

    Works on the trailing `len(shape)` axes. Upsampling is exact for band-limited fields
    (zero padding); downsampling truncates the spectrum (the Nyquist mode of an even target
    axis is split symmetrically so the result stays real and interpolating).
    """
    d = len(shape)
    old = u.shape[-d:]
    if tuple(old) == tuple(shape):
        return u
    axes = tuple(range(-d, 0))
    spec = jnp.fft.fftn(u, axes=axes)
    for ax, (n_old, n_new) in zip(axes, zip(old, shape, strict=True), strict=True):
        spec = _resample_axis(spec, ax, n_old, n_new)
    scale = float(np.prod(shape)) / float(np.prod(old))
    return (jnp.fft.ifftn(spec, axes=axes).real * scale).astype(u.dtype)


def _resample_axis(spec, axis, n_old, n_new):
    m = min(n_old, n_new)
    half = m // 2
    spec = jnp.moveaxis(spec, axis, -1)
    pos = spec[..., : (m + 1) // 2]
    neg = spec[..., n_old - half:] if half else spec[..., :0]
    if m % 2 == 0:
        # the shared Nyquist mode of the smaller grid: split (upsampling) or fold (downsampling)
        if n_old == m:  # upsampling from an even grid: split the Nyquist mode in two halves
            nyq = spec[..., half: half + 1]
            pos = jnp.concatenate([pos, nyq / 2], axis=-1)
            neg = jnp.concatenate([nyq / 2, neg[..., 1:]], axis=-1)
        else:  # downsampling onto an even grid: +-m/2 fold into its one Nyquist coefficient
            fold = spec[..., half: half + 1] + spec[..., n_old - half: n_old - half + 1]
            pos = jnp.concatenate([pos, fold], axis=-1)
            neg = neg[..., 1:]
    pad = n_new - pos.shape[-1] - neg.shape[-1]
    zeros = jnp.zeros((*spec.shape[:-1], pad), spec.dtype)
    out = jnp.concatenate([pos, zeros, neg], axis=-1)
    return jnp.moveaxis(out, -1, axis)


def dst1(x: Array, axis: int = -1) -> Array:
    """Type-I discrete sine transform, `y_k = sum_j x_j sin(pi j k / (n + 1))`, j, k = 1..n.

    Its own inverse up to the factor `(n + 1) / 2`.
    """
    x = jnp.moveaxis(x, axis, -1)
    n = x.shape[-1]
    zero = jnp.zeros((*x.shape[:-1], 1), x.dtype)
    ext = jnp.concatenate([zero, x, zero, -x[..., ::-1]], axis=-1)
    y = -jnp.fft.rfft(ext, axis=-1).imag[..., 1: n + 1] / 2
    return jnp.moveaxis(y.astype(x.dtype), -1, axis)


def dct1(x: Array, axis: int = -1) -> Array:
    """Type-I discrete cosine transform (scipy's convention), length `n >= 2`:
    `y_k = x_0 + (-1)^k x_{n-1} + 2 sum_{j=1}^{n-2} x_j cos(pi j k / (n - 1))`.

    Its own inverse up to the factor `2 (n - 1)`.
    """
    x = jnp.moveaxis(x, axis, -1)
    ext = jnp.concatenate([x, x[..., -2:0:-1]], axis=-1)
    y = jnp.fft.rfft(ext, axis=-1).real
    return jnp.moveaxis(y.astype(x.dtype), -1, axis)


def _per_axis(value, d):
    if isinstance(value, (int, float)):
        return [float(value)] * d
    value = [float(v) for v in value]
    if len(value) != d:
        raise ValueError(f"`length` must be a number or {d} numbers, got {value}.")
    return value
