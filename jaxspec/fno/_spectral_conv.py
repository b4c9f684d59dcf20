"""Spectral convolution in 1-3 spatial dimensions: `F^-1 (W . F x)` on the lowest modes."""

from __future__ import annotations

import abc
import functools
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


def _real_part(complex_dtype) -> np.dtype:
    """The real dtype of a complex dtype's parts."""
    return np.dtype(np.float64 if np.dtype(complex_dtype).itemsize >= 16 else np.float32)


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


def check_batch(x: Array, num_spatial: int, in_channels: int, what: str = "model") -> None:
    """A batch `(batch, channels, *spatial)` with the expected rank and channel count."""
    if x.ndim != num_spatial + 2:
        raise ValueError(
            f"`x` must have shape (batch, channels, *spatial) with {num_spatial} spatial axes, "
            f"got {tuple(x.shape)}; for one sample call the {what} itself."
        )
    if x.shape[1] != in_channels:
        raise ValueError(f"`x` has {x.shape[1]} channels (axis 1), the {what} expects "
                         f"{in_channels}.")


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


# The truncated DFT (a matrix product with the kept Fourier modes) replaces the FFT when every
# axis keeps at most this many frequencies. Measured on a 2-core x86 CPU (forward + backward,
# float32, `benchmarks/fno.py` sizes): N=1024 keeping 16 modes 3.2 ms vs 9.2 ms for rfft +
# irfft, 64x64 keeping 24x12 8.5 vs 34 ms; the FFT wins from about 100 kept modes per axis.
DFT_MAX_KEPT = 64
_HIGHEST = jax.lax.Precision.HIGHEST  # no TF32 / bf16 passes for the transform matrices


@functools.lru_cache(maxsize=128)
def _dft_matrices(n: int, m: int, last: bool) -> tuple[np.ndarray, np.ndarray]:
    """Forward and inverse truncated-DFT matrices of one axis of `n` points keeping `m` modes
    (float64 / complex128 numpy, cast per call). The last axis is the real-FFT axis: forward
    `(n, 2m)` real (cosine and minus sine columns, real and imaginary parts of rfft's first `m`
    bins); inverse `(2m, n)` real with irfft's weights (1 for the zero and Nyquist bins, whose
    imaginary parts drop out since their sines vanish, 2 otherwise; over `n`). Other axes:
    complex `(n, 2m)` forward on bins `0..m-1, n-m..n-1` and `(2m, n)` inverse over `n`."""
    k = np.arange(m) if last else np.concatenate([np.arange(m), np.arange(n - m, n)])
    angle = 2.0 * np.pi * np.outer(np.arange(n), k) / n  # (n, kept)
    if last:
        fwd = np.concatenate([np.cos(angle), -np.sin(angle)], axis=1)
        weight = np.where((k == 0) | (2 * k == n), 1.0, 2.0) / n
        inv = np.concatenate([weight[:, None] * np.cos(angle.T),
                              -weight[:, None] * np.sin(angle.T)], axis=0)
    else:
        fwd = np.exp(-1j * angle)
        inv = np.exp(1j * angle.T) / n
    fwd.setflags(write=False)
    inv.setflags(write=False)
    return fwd, inv


def _along(z: Array, mat: Array, axis: int) -> Array:
    """Contract `z`'s `axis` with the rows of `mat`; the new axis takes its place."""
    return jnp.moveaxis(jnp.tensordot(z, mat, axes=(axis, 0), precision=_HIGHEST), -1, axis)


def _kept_counts(modes: Sequence[int]) -> tuple[int, ...]:
    return (*(2 * m for m in modes[:-1]), modes[-1])


def _transform_method(method: str, modes: Sequence[int]) -> str:
    if method == "auto":
        return "dft" if max(_kept_counts(modes)) <= DFT_MAX_KEPT else "fft"
    if method not in ("dft", "fft"):
        raise ValueError(f"`method` must be 'auto', 'fft' or 'dft', got {method!r}.")
    return method


def apply_multiplier(x: Array, modes: Sequence[int], mix, *, method: str = "auto") -> Array:
    """`irfftn(mix(block))` over the last `len(modes)` axes of `x`, where `block` holds the kept
    modes of `rfftn(x)` (shape `(..., in, *mode_shape)`) and `mix` maps it to
    `(..., out, *mode_shape)`; other modes are zeroed. Leading axes (a batch) pass through.

    `method="fft"` uses real FFTs and slices; `"dft"` multiplies by the truncated DFT matrices
    (the same numbers to round-off; no full spectrum is formed, much faster for few kept
    modes); `"auto"` picks the DFT when every axis keeps at most `DFT_MAX_KEPT` modes.
    """
    d = len(modes)
    spatial = x.shape[-d:]
    real = np.dtype(np.float64 if np.dtype(x.dtype).itemsize >= 8 else np.float32)
    cplx = _complex(real)
    xr = x.astype(real)
    first = x.ndim - d  # position of the first spatial axis
    if _transform_method(method, modes) == "dft":
        fwd, _ = _dft_matrices(spatial[-1], modes[-1], True)
        r = jnp.matmul(xr, jnp.asarray(fwd, real), precision=_HIGHEST)
        m = modes[-1]
        z = jax.lax.complex(r[..., :m], r[..., m:])
        for ax in range(d - 1):
            z = _along(z, jnp.asarray(_dft_matrices(spatial[ax], modes[ax], False)[0], cplx),
                       first + ax)
        z = mix(z).astype(cplx)
        for ax in range(d - 1):
            z = _along(z, jnp.asarray(_dft_matrices(spatial[ax], modes[ax], False)[1], cplx),
                       first + ax)
        _, inv = _dft_matrices(spatial[-1], modes[-1], True)
        y = jnp.matmul(jnp.concatenate([z.real, z.imag], axis=-1), jnp.asarray(inv, real),
                       precision=_HIGHEST)
        return y.astype(x.dtype)
    axes = tuple(range(first, x.ndim))
    xh = jnp.fft.rfftn(xr, axes=axes)
    block = jax.lax.slice_in_dim(xh, 0, modes[-1], axis=x.ndim - 1)
    for ax in range(d - 1):  # kept rows: the first m and the last m
        n, m, a = spatial[ax], modes[ax], first + ax
        block = jnp.concatenate([jax.lax.slice_in_dim(block, 0, m, axis=a),
                                 jax.lax.slice_in_dim(block, n - m, n, axis=a)], axis=a)
    out = mix(block).astype(cplx)
    for ax in range(d - 1):  # back to n rows, zeros between the two kept blocks
        n, m, a = spatial[ax], modes[ax], first + ax
        gap = list(out.shape)
        gap[a] = n - 2 * m
        out = jnp.concatenate([jax.lax.slice_in_dim(out, 0, m, axis=a),
                               jnp.zeros(gap, cplx),
                               jax.lax.slice_in_dim(out, m, 2 * m, axis=a)], axis=a)
    out = jnp.pad(out, [(0, 0)] * (x.ndim - 1) + [(0, xh.shape[-1] - modes[-1])])
    return jnp.fft.irfftn(out, s=spatial, axes=axes).astype(x.dtype)


def channel_map(block: Array, mat: Array, d: int) -> Array:
    """`sum_i block[..., i, k] mat[i, o, k...]`-style maps on the channel axis of
    `(..., channels, *modes)` blocks: `mat` is `(in, out)` (the same map at every mode)."""
    return jnp.moveaxis(jnp.tensordot(block, mat, axes=(block.ndim - d - 1, 0)), -1,
                        block.ndim - d - 1)


def dense_mix(block: Array, weights: Array) -> Array:
    """`block` `(..., in, *mode_shape)` (complex) times the complex weights
    `weights[0] + i weights[1]` (`(2, in, out, *mode_shape)`), mode by mode, to
    `(..., out, *mode_shape)`."""
    d = weights.ndim - 3
    letters = "abc"[:d]
    real = _real_part(block.dtype)
    w = jax.lax.complex(weights[0].astype(real), weights[1].astype(real))
    return jnp.einsum(f"...i{letters},io{letters}->...o{letters}", block, w)


def spectral_conv_nd(x: Array, weights: Array, modes: Sequence[int], *,
                     method: str = "auto") -> Array:
    """Apply the complex multiplier `weights[0] + i weights[1]` (shape
    `(2, in, out, *mode_shape(modes))`) to the lowest modes of `x` (shape `(..., in, *spatial)`,
    leading axes a batch).

    The kept modes are `0..m-1` and `-m..-1` on every axis but the last and `0..m-1` on the
    last (the real-FFT half spectrum). Higher modes are zeroed. The output is real by
    construction: as the inverse real FFT, the imaginary parts of the zero (and Nyquist) bins
    of the last axis drop out. Linear in `x`, and independent of the grid size (the same
    weights act on any grid that supports the modes). `method` as `apply_multiplier`.
    """
    return apply_multiplier(x, modes, functools.partial(dense_mix, weights=weights),
                            method=method)


class SpectralLayer(eqx.Module):
    """Entry points shared by the spectral layers: `layer(x)` on one sample
    `(in_channels, *spatial)` and `layer.batched(x)` on `(batch, in_channels, *spatial)` (the
    same numbers as `jax.vmap(layer)(x)`, one batched product instead of per-sample ones)."""

    @abc.abstractmethod
    def _mix(self, block: Array) -> Array:
        """The mode-wise channel map on kept-mode blocks `(..., in, *mode_shape)` (complex)
        to `(..., out, *mode_shape)`."""

    def _multiply(self, x: Array) -> Array:
        """The layer on `(..., in_channels, *spatial)`."""
        return apply_multiplier(x, self.modes, self._mix)

    def _multiply_channel_major(self, x: Array) -> Array:
        """The layer on `(in_channels, batch, *spatial)`, to `(out_channels, batch, *spatial)`:
        the layout `FNO.batched` runs in, where every pointwise channel map is one plain
        matrix product. Only the small kept-mode block is transposed for the mixing."""
        return apply_multiplier(
            x, self.modes, lambda block: jnp.swapaxes(self._mix(jnp.swapaxes(block, 0, 1)), 0, 1)
        )

    def __call__(self, x: Array) -> Array:
        check_input(x, len(self.modes), self.in_channels, "layer")
        check_modes(x.shape[1:], self.modes)
        return self._multiply(x)

    def batched(self, x: Array) -> Array:
        check_batch(x, len(self.modes), self.in_channels, "layer")
        check_modes(x.shape[2:], self.modes)
        return self._multiply(x)


class SpectralConv(SpectralLayer):
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

    def _mix(self, block: Array) -> Array:
        return dense_mix(block, self.weights)

    @property
    def num_parameters(self) -> int:
        return math.prod(self.weights.shape)
