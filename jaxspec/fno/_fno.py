"""The Fourier neural operator (Li et al. 2021) for 1-3 spatial dimensions."""

from __future__ import annotations

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray

from .._core._dtypes import default_float_dtype
from ._factorized import CPSpectralConv, TuckerSpectralConv
from ._spectral_conv import (
    SpectralConv,
    check_batch,
    check_input,
    check_modes,
    normalize_modes,
)


class Pointwise(eqx.Module):
    """A 1x1 convolution: the same linear map on the channels at every grid point."""

    weight: Array
    bias: Array

    def __init__(self, in_channels: int, out_channels: int, *, dtype=None, key: PRNGKeyArray):
        dtype = default_float_dtype() if dtype is None else dtype
        bound = 1.0 / math.sqrt(in_channels)  # torch's default for Linear / Conv1d
        kw, kb = jr.split(key)
        self.weight = jr.uniform(kw, (out_channels, in_channels), dtype, -bound, bound)
        self.bias = jr.uniform(kb, (out_channels,), dtype, -bound, bound)

    def __call__(self, x: Array) -> Array:
        """`(in, *rest) -> (out, *rest)`: one matrix product `(out, in) @ (in, prod(rest))`
        (flattened explicitly: a multi-axis contraction made XLA CPU copy transposes of the
        activations for the backward products, 2-3x slower)."""
        y = self.weight.astype(x.dtype) @ x.reshape(x.shape[0], -1)
        y = y + self.bias.astype(x.dtype)[:, None]
        return y.reshape(-1, *x.shape[1:])


def gelu(x: Array) -> Array:
    """Exact GELU in PyTorch's erf form, `x / 2 (1 + erf(x / sqrt 2))`. `jax.nn.gelu`'s exact
    branch uses `erfc`, whose XLA CPU lowering made four FNO blocks' forward + backward about
    2x slower (137 vs 66 ms at 20 x 64 x 1024); the two agree to `|x|` times the rounding
    unit, the erfc form keeping more relative accuracy only in the far negative tail."""
    return 0.5 * x * (1.0 + jax.lax.erf(x * math.sqrt(0.5)))


def grid_features(spatial: Sequence[int], dtype) -> Array:
    """Coordinates in `[0, 1]` (endpoints included, as the FNO reference code), one channel per
    axis, computed from the input's own grid so evaluation at other resolutions works."""
    axes = [jnp.linspace(0.0, 1.0, n, dtype=dtype) for n in spatial]
    return jnp.stack(jnp.meshgrid(*axes, indexing="ij"), axis=0)


class FNO(eqx.Module):
    """Fourier neural operator on `(in_channels, *spatial)` inputs (1-3 spatial axes).

    Lifting (pointwise, after appending grid coordinates if `grid=True`), `num_layers` blocks
    `x <- act(K x + W x)` (spectral convolution `K` on the lowest `modes`, pointwise `W`; no
    activation after the last block), projection through `projection_channels` with GELU.
    `padding` (a fraction of each axis, e.g. 0.1 for the non-periodic Darcy problem) zero-pads
    the lifted field at the end of every axis before the blocks and crops after; since it is a
    fraction, evaluation at another resolution keeps the same physical padding.
    `compute_dtype` (e.g. `jnp.bfloat16`) is a mixed-precision policy: the pointwise maps
    and activations compute in that dtype, while every spectral convolution (FFT, mode
    mixing, inverse FFT) runs in float32 or wider, the input's dtype if wider; the output
    has the input's dtype. The default (None) computes in the input's dtype (spectral
    convolutions again in float32 at least).
    `factorization="cp"` or `"tucker"` uses factorised spectral weights of the given `rank`
    (a fraction of the dense parameter count; or an integer CP rank, or explicit Tucker ranks
    `(r_in, r_out, r_1..r_d)`), as TFNO.
    """

    lift: Pointwise
    spectral: tuple[SpectralConv | CPSpectralConv | TuckerSpectralConv, ...]
    skip: tuple[Pointwise, ...]
    proj1: Pointwise
    proj2: Pointwise
    modes: tuple[int, ...] = eqx.field(static=True)
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    grid: bool = eqx.field(static=True)
    padding: float = eqx.field(static=True)
    compute_dtype: str | None = eqx.field(static=True, default=None)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: int | Sequence[int],
        width: int,
        *,
        ndim: int | None = None,
        num_layers: int = 4,
        projection_channels: int = 128,
        grid: bool = True,
        padding: float = 0.0,
        factorization: str | None = None,
        rank: int | float | Sequence[int] = 0.1,
        compute_dtype=None,
        dtype=None,
        key: PRNGKeyArray,
    ):
        modes = normalize_modes(modes, ndim)
        d = len(modes)
        if not 0.0 <= padding < 1.0:
            raise ValueError(f"`padding` must be a fraction in [0, 1), got {padding!r}.")
        if num_layers < 1 or width < 1:
            raise ValueError("`num_layers` and `width` must be positive.")
        keys = jr.split(key, 2 * num_layers + 3)
        self.lift = Pointwise(in_channels + (d if grid else 0), width, dtype=dtype, key=keys[0])
        factorized = {"cp": CPSpectralConv, "tucker": TuckerSpectralConv}
        if factorization is not None and factorization not in factorized:
            raise ValueError(
                f"`factorization` must be None, 'cp' or 'tucker', got {factorization!r}."
            )
        if factorization is None:
            self.spectral = tuple(
                SpectralConv(width, width, modes, dtype=dtype, key=keys[1 + i])
                for i in range(num_layers)
            )
        else:
            self.spectral = tuple(
                factorized[factorization](width, width, modes, rank=rank, dtype=dtype,
                                          key=keys[1 + i])
                for i in range(num_layers)
            )
        self.skip = tuple(
            Pointwise(width, width, dtype=dtype, key=keys[1 + num_layers + i])
            for i in range(num_layers)
        )
        self.proj1 = Pointwise(width, projection_channels, dtype=dtype, key=keys[-2])
        self.proj2 = Pointwise(projection_channels, out_channels, dtype=dtype, key=keys[-1])
        self.modes, self.in_channels, self.out_channels = modes, in_channels, out_channels
        self.grid, self.padding = grid, float(padding)
        if compute_dtype is not None:
            cd = jnp.dtype(compute_dtype)
            if not jnp.issubdtype(cd, jnp.floating):
                raise ValueError(f"`compute_dtype` must be a real floating dtype (e.g. "
                                 f"jnp.bfloat16) or None, got {compute_dtype!r}.")
            compute_dtype = cd.name
        self.compute_dtype = compute_dtype

    def __call__(self, x: Array) -> Array:
        """One sample `(in_channels, *spatial) -> (out_channels, *spatial)`."""
        check_input(x, len(self.modes), self.in_channels)
        return self._forward(x, batch=False)

    def batched(self, x: Array) -> Array:
        """A batch `(batch, in_channels, *spatial)`: the same numbers as `jax.vmap(model)(x)`.
        Internally the activations are channel-major, `(channels, batch, *spatial)`, so
        every pointwise channel map is one plain matrix product over all samples and points
        (a training step at the benchmark sizes is 1.2-2x faster on CPU than `vmap`). `fit`
        and `evaluate` use it through `batch_apply`."""
        check_batch(x, len(self.modes), self.in_channels)
        return self._forward(x, batch=True)

    def _forward(self, x: Array, batch: bool) -> Array:
        # single sample: (channels, *spatial); batch: (batch, channels, *spatial), run as
        # (channels, batch, *spatial). Pointwise maps contract axis 0 either way.
        lead = 2 if batch else 1  # axes before the spatial ones
        spatial = x.shape[lead:]
        pads = [math.ceil(self.padding * n) for n in spatial]
        check_modes([n + p for n, p in zip(spatial, pads, strict=True)], self.modes)
        out_dtype = x.dtype
        compute = jnp.dtype(self.compute_dtype or out_dtype)
        spectral = max((compute, jnp.dtype(jnp.float32), jnp.dtype(out_dtype)),
                       key=lambda d: d.itemsize)
        if batch:
            x = jnp.swapaxes(x, 0, 1)
        if self.grid:
            g = grid_features(spatial, x.dtype)
            if batch:
                g = jnp.broadcast_to(g[:, None], (g.shape[0], x.shape[1], *spatial))
            x = jnp.concatenate([x, g], axis=0)
        x = self.lift(x.astype(compute))
        if any(pads):
            x = jnp.pad(x, [(0, 0)] * lead + [(0, p) for p in pads])
        for i, (k, w) in enumerate(zip(self.spectral, self.skip, strict=True)):
            xs = x.astype(spectral)
            kx = k._multiply_channel_major(xs) if batch else k._multiply(xs)
            x = kx.astype(compute) + w(x)
            if i < len(self.spectral) - 1:
                x = gelu(x)
        if any(pads):
            x = x[(slice(None),) * lead + tuple(slice(0, n) for n in spatial)]
        x = self.proj2(gelu(self.proj1(x))).astype(out_dtype)
        return jnp.swapaxes(x, 0, 1) if batch else x
