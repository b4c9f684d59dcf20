"""Spectral convolution in 1-3 spatial dimensions: `F^-1 (W . F x)` on the lowest modes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._core._dtypes import default_float_dtype


def _complex(dtype) -> np.dtype:
    return np.dtype(jnp.complex128 if np.dtype(dtype).itemsize >= 8 else jnp.complex64)


def mode_shape(modes: Sequence[int]) -> tuple[int, ...]:
    """Shape of the kept-mode block: `2 m` (positive and negative frequencies) on every axis but
    the last, `m` on the last (the half spectrum of a real FFT)."""
    return (*(2 * m for m in modes[:-1]), modes[-1])


def normalize_modes(modes: int | Sequence[int], ndim: int | None) -> tuple[int, ...]:
    """`modes` as a tuple, one positive entry per spatial axis (1-3 axes)."""
    if isinstance(modes, (int, np.integer)):
        if ndim is None:
            raise ValueError("pass `ndim` (1-3) when `modes` is a single integer.")
        modes = (int(modes),) * ndim
    modes = tuple(int(m) for m in modes)
    if not 1 <= len(modes) <= 3 or any(m < 1 for m in modes):
        raise ValueError(f"`modes` must be 1-3 positive integers, got {modes}.")
    if ndim is not None and ndim != len(modes):
        raise ValueError(f"`ndim`={ndim} does not match `modes`={modes}.")
    return modes


def check_input(x: Array, num_spatial: int, in_channels: int, what: str = "model") -> None:
    """A single sample `(channels, *spatial)` with the expected rank and channel count."""
    if x.ndim != num_spatial + 1:
        raise ValueError(
            f"`x` must have shape (channels, *spatial) with {num_spatial} spatial axes, got "
            f"{tuple(x.shape)}; for a batch use `jax.vmap`."
        )
    if x.shape[0] != in_channels:
        raise ValueError(f"`x` has {x.shape[0]} channels, the {what} expects {in_channels}.")


def check_modes(spatial: Sequence[int], modes: Sequence[int], name: str = "x") -> None:
    if len(spatial) != len(modes):
        raise ValueError(
            f"`{name}` has {len(spatial)} spatial axes but the layer keeps modes for "
            f"{len(modes)} (shape {tuple(spatial)}, modes {tuple(modes)}); for a batch use "
            "`jax.vmap`."
        )
    for i, (n, m) in enumerate(zip(spatial, modes, strict=True)):
        last = i == len(spatial) - 1
        limit = n // 2 + 1 if last else n // 2
        if m > limit:
            raise ValueError(
                f"`modes` {tuple(modes)} needs more Fourier modes than a grid of {n} points "
                f"supports on spatial axis {i} (at most {limit}); use a finer grid or fewer "
                "modes."
            )


def mode_index(spatial: Sequence[int], modes: Sequence[int]) -> list[np.ndarray]:
    """Indices of the kept modes in the rfftn spectrum, one array per spatial axis."""
    index = [np.concatenate([np.arange(m), np.arange(n - m, n)]) for n, m in
             zip(spatial[:-1], modes[:-1], strict=True)]
    index.append(np.arange(modes[-1]))
    return index


def apply_multiplier(x: Array, modes: Sequence[int], mix) -> Array:
    """`irfftn(mix(block))` where `block` holds the kept modes of `rfftn(x)` (shape
    `(in, *mode_shape)`) and `mix` maps it to `(out, *mode_shape)`; other modes are zeroed."""
    spatial = x.shape[1:]
    axes = tuple(range(1, len(spatial) + 1))
    xh = jnp.fft.rfftn(x, axes=axes)
    index = mode_index(spatial, modes)
    out_block = mix(xh[(slice(None), *np.ix_(*index))])
    out = jnp.zeros((out_block.shape[0], *xh.shape[1:]), xh.dtype)
    out = out.at[(slice(None), *np.ix_(*index))].set(out_block.astype(xh.dtype))
    return jnp.fft.irfftn(out, s=spatial, axes=axes).astype(x.dtype)


def spectral_conv_nd(x: Array, weights: Array, modes: Sequence[int]) -> Array:
    """Apply the complex multiplier `weights[0] + i weights[1]` (shape
    `(2, in, out, *mode_shape(modes))`) to the lowest modes of `x` (shape `(in, *spatial)`).

    Real FFTs; the kept modes are `0..m-1` and `-m..-1` on every axis but the last and `0..m-1`
    on the last. Higher modes are zeroed. The output is real by construction: the inverse real
    FFT keeps the Hermitian part of the `k_last = 0` plane. Linear in `x`, and independent of
    the grid size (the same weights act on any grid that supports the modes).
    """
    d = x.ndim - 1
    letters = "abc"[:d]
    w = jax.lax.complex(weights[0], weights[1]).astype(_complex(x.dtype))
    return apply_multiplier(
        x, modes, lambda block: jnp.einsum(f"i{letters},io{letters}->o{letters}", block, w)
    )


class SpectralConv(eqx.Module):
    """Spectral convolution layer on `(in_channels, *spatial)` inputs, 1-3 spatial axes.

    Weights are stored as real pairs (shape `(2, in, out, *mode_shape)`), so every optax
    optimiser (and weight decay) treats real and imaginary parts as ordinary parameters.
    Initialisation as the FNO paper: uniform on `[0, 1 / (in * out))`.
    """

    weights: Array
    modes: tuple[int, ...] = eqx.field(static=True)
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: int | Sequence[int],
        *,
        ndim: int | None = None,
        dtype=None,
        key: PRNGKeyArray,
    ):
        modes = normalize_modes(modes, ndim)
        if in_channels < 1 or out_channels < 1:
            raise ValueError("`in_channels` and `out_channels` must be positive.")
        dtype = default_float_dtype() if dtype is None else dtype
        scale = 1.0 / (in_channels * out_channels)
        shape = (2, in_channels, out_channels, *mode_shape(modes))
        self.weights = scale * jr.uniform(key, shape, dtype)
        self.modes, self.in_channels, self.out_channels = modes, in_channels, out_channels

    def __call__(self, x: Array) -> Array:
        check_input(x, len(self.modes), self.in_channels, "layer")
        check_modes(x.shape[1:], self.modes)
        return spectral_conv_nd(x, self.weights.astype(x.dtype), self.modes)

    @property
    def num_parameters(self) -> int:
        return math.prod(self.weights.shape)
