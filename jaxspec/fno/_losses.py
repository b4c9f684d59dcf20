"""Relative Lp and Sobolev losses; Sobolev norms exact in Fourier space (Parseval).

Fields are single samples with shape `(channels, *spatial)` (or `(*spatial)` with
`ndim` given); batch with `jax.vmap` and average.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array

from .._core._spectral import rfft_wavenumbers


def _spatial_ndim(u: Array, ndim: int | None) -> int:
    d = u.ndim - 1 if ndim is None else int(ndim)
    if not 1 <= d <= u.ndim:
        raise ValueError(
            f"a field of shape {tuple(u.shape)} cannot have {d} spatial axes; pass `ndim`."
        )
    return d


def _check_pair(pred: Array, target: Array) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"`pred` and `target` must have the same shape, got {pred.shape} and {target.shape}."
        )


def lp_norm(u: Array, p: float = 2.0) -> Array:
    """Discrete Lp norm over all axes (grid spacing omitted: it cancels in relative losses)."""
    if p == 2:
        return jnp.sqrt(jnp.sum(u**2))
    return jnp.sum(jnp.abs(u) ** p) ** (1.0 / p)


def relative_lp(pred: Array, target: Array, p: float = 2.0) -> Array:
    """`||pred - target||_p / ||target||_p` for one sample (the FNO papers' LpLoss)."""
    _check_pair(pred, target)
    return lp_norm(pred - target, p) / lp_norm(target, p)


def sobolev_norm(
    u: Array, s: float, *, length: float = 1.0, ndim: int | None = None,
    homogeneous: bool = False,
) -> Array:
    """The periodic Sobolev norm `||u||_{H^s}` on `[0, length)^d`, exactly, by Parseval:
    `||u||^2 = L^d sum_k w_k |c_k|^2` with `c_k` the Fourier coefficients (`rfftn / N`) and
    `w_k = (1 + |k|^2)^s`, or `|k|^(2 s)` (zero mode dropped) if `homogeneous`. Any real `s`,
    negative included; `s = 0` is the L2 norm. Channels (leading axes) are summed over.
    """
    d = _spatial_ndim(u, ndim)
    spatial = u.shape[u.ndim - d:]
    axes = tuple(range(u.ndim - d, u.ndim))
    n_total = 1
    for n in spatial:
        n_total *= n
    c = jnp.fft.rfftn(u, axes=axes) / n_total
    k2 = sum(k**2 for k in rfft_wavenumbers(spatial, length))
    if homogeneous:
        w = jnp.where(k2 > 0, jnp.asarray(k2, u.dtype) ** s, 0.0)
    else:
        w = (1.0 + jnp.asarray(k2, u.dtype)) ** s
    # the half spectrum counts the conjugate modes once: double all but k_last = 0 and Nyquist
    n_last = spatial[-1]
    mult = jnp.full((n_last // 2 + 1,), 2.0, u.dtype).at[0].set(1.0)
    if n_last % 2 == 0:
        mult = mult.at[-1].set(1.0)
    w = w * mult.reshape((1,) * (d - 1) + (-1,))
    w = w.reshape((1,) * (u.ndim - d) + w.shape)
    return jnp.sqrt(length**d * jnp.sum(w * jnp.abs(c) ** 2))


def relative_sobolev(
    pred: Array, target: Array, s: float, *, length: float = 1.0, ndim: int | None = None,
    homogeneous: bool = False,
) -> Array:
    """`||pred - target||_{H^s} / ||target||_{H^s}`; `s = 1` is the H1 loss, `s < 0` weights
    the low frequencies (the Spectral-Refiner fine-tuning loss)."""
    _check_pair(pred, target)
    kw = dict(length=length, ndim=ndim, homogeneous=homogeneous)
    return sobolev_norm(pred - target, s, **kw) / sobolev_norm(target, s, **kw)


def relative_h1(pred: Array, target: Array, *, length: float = 1.0,
                ndim: int | None = None) -> Array:
    """The relative H1 loss (`relative_sobolev` with `s = 1`)."""
    return relative_sobolev(pred, target, 1.0, length=length, ndim=ndim)
