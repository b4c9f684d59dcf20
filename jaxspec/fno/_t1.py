"""Transform-Once (T1, Poli et al. 2022): one forward transform, layers in frequency domain,
one optional inverse."""

from __future__ import annotations

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.scipy.fft as jsfft
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._core._dtypes import default_float_dtype
from ._fno import Pointwise, gelu
from ._spectral_conv import check_input, check_modes, mode_shape, normalize_modes

_TRANSFORMS = ("dft", "dct")


def _kept_index(spatial, modes):
    index = [np.concatenate([np.arange(m), np.arange(n - m, n)])
             for n, m in zip(spatial[:-1], modes[:-1], strict=True)]
    index.append(np.arange(modes[-1]))
    return index


class ModeMix(eqx.Module):
    """Per-mode channel mixing of real frequency-domain features `(channels, *modes)`."""

    weight: Array

    def __call__(self, h: Array) -> Array:
        letters = "abc"[: h.ndim - 1]
        return jnp.einsum(f"i{letters},io{letters}->o{letters}", h,
                          self.weight.astype(h.dtype))


class AxisMix(eqx.Module):
    """Mixes the kept modes along one frequency axis, separately for each channel:
    `h[c, .., k, ..] <- sum_j weight[c, k, j] h[c, .., j, ..]`. A layer made only of per-mode
    maps is diagonal in frequency (each output mode sees only its own input mode); this is
    what lets T1 couple modes, as products of fields do."""

    weight: Array
    axis: int = eqx.field(static=True)

    def __call__(self, h: Array) -> Array:
        moved = jnp.moveaxis(h, self.axis, -1)
        out = jnp.einsum("c...j,ckj->c...k", moved, self.weight.astype(h.dtype))
        return jnp.moveaxis(out, -1, self.axis)


def _variance_preserving(key, shape, fan_in, dtype, branches=2):
    """Normal weights with variance `1 / (branches * fan_in)`: the sum of `branches` such maps
    keeps the feature variance (T1's variance-preserving initialisation)."""
    return jr.normal(key, shape, dtype) / math.sqrt(branches * fan_in)


class T1(eqx.Module):
    """Transform-Once operator on `(in_channels, *spatial)` inputs (1-3 spatial axes).

    The input is transformed once (`transform="dft"`: real FFT, the kept block of `modes` as
    in `SpectralConv`, real and imaginary parts as separate channels; `"dct"`: type-II cosine
    transform, the first `modes` coefficients, for non-periodic data). Coefficients are scaled
    like Fourier-series coefficients (independent of the grid). Each frequency-domain layer
    mixes channels per mode (`M`) and with one matrix shared by all modes (`W`), both with the
    variance-preserving initialisation, then mixes the modes along each axis (`AxisMix`, per
    channel), with a residual connection: `h <- h + S_d..S_1 act(M h + W h)`. Without the
    mode mixing every layer would act on each frequency separately, and the operator could
    not couple modes, as the solution map of any nonlinear or variable-coefficient PDE does.
    A projection gives the output coefficients, which the single inverse transform returns to
    the grid (`inverse=False` returns the coefficients
    `(out_channels[, 2], *modes)` for losses in frequency space).
    """

    lift: Pointwise
    mix: tuple[ModeMix, ...]
    point: tuple[Pointwise, ...]
    spread: tuple[tuple[AxisMix, ...], ...]
    proj1: Pointwise
    proj2: Pointwise
    modes: tuple[int, ...] = eqx.field(static=True)
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    transform: str = eqx.field(static=True)
    inverse: bool = eqx.field(static=True)

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
        transform: str = "dft",
        inverse: bool = True,
        dtype=None,
        key: PRNGKeyArray,
    ):
        modes = normalize_modes(modes, ndim)
        if transform not in _TRANSFORMS:
            raise ValueError(f"`transform` must be one of {_TRANSFORMS}, got {transform!r}.")
        dtype = default_float_dtype() if dtype is None else dtype
        feat = 2 if transform == "dft" else 1
        mshape = mode_shape(modes) if transform == "dft" else modes
        keys = jr.split(key, 2 * num_layers + 3)
        self.lift = Pointwise(feat * in_channels, width, dtype=dtype, key=keys[0])
        self.mix = tuple(
            ModeMix(_variance_preserving(keys[1 + i], (width, width, *mshape), width, dtype))
            for i in range(num_layers)
        )
        point = []
        for i in range(num_layers):
            p = Pointwise(width, width, dtype=dtype, key=keys[1 + num_layers + i])
            p = eqx.tree_at(lambda q: q.weight, p, _variance_preserving(
                keys[1 + num_layers + i], (width, width), width, dtype))
            point.append(p)
        self.point = tuple(point)
        # the mode mixing starts at the identity: at initialisation each layer acts on every
        # frequency separately (the inductive bias of a Fourier multiplier), and training adds
        # the coupling between modes that the data need
        self.spread = tuple(
            tuple(AxisMix(jnp.broadcast_to(jnp.eye(m, dtype=dtype), (width, m, m)), 1 + a)
                  for a, m in enumerate(mshape))
            for _ in range(num_layers)
        )
        self.proj1 = Pointwise(width, projection_channels, dtype=dtype, key=keys[-2])
        self.proj2 = Pointwise(projection_channels, feat * out_channels, dtype=dtype,
                               key=keys[-1])
        self.modes, self.in_channels, self.out_channels = modes, in_channels, out_channels
        self.transform, self.inverse = transform, bool(inverse)

    def __call__(self, x: Array) -> Array:
        d = len(self.modes)
        check_input(x, d, self.in_channels)
        spatial = x.shape[1:]
        axes = tuple(range(1, d + 1))
        if self.transform == "dft":
            check_modes(spatial, self.modes)
            index = _kept_index(spatial, self.modes)
            c = jnp.fft.rfftn(x, axes=axes, norm="forward")[(slice(None), *np.ix_(*index))]
            h = jnp.concatenate([c.real, c.imag], axis=0).astype(x.dtype)
        else:
            if any(m > n for m, n in zip(self.modes, spatial, strict=True)):
                raise ValueError(f"`modes` {self.modes} exceed the grid {tuple(spatial)}.")
            c = jsfft.dctn(x, type=2, axes=axes) / (2.0**d * math.prod(spatial))
            h = c[(slice(None), *(slice(0, m) for m in self.modes))]
        h = self.lift(h)
        for m, p, spread in zip(self.mix, self.point, self.spread, strict=True):
            z = gelu(m(h) + p(h))
            for s in spread:
                z = s(z)
            h = h + z
        h = self.proj2(gelu(self.proj1(h)))
        if not self.inverse:
            return h
        if self.transform == "dft":
            k = self.out_channels
            coef = jax.lax.complex(h[:k], h[k:])
            full = jnp.zeros((k, *spatial[:-1], spatial[-1] // 2 + 1), coef.dtype)
            full = full.at[(slice(None), *np.ix_(*index))].set(coef)
            return jnp.fft.irfftn(full, s=spatial, axes=axes, norm="forward").astype(x.dtype)
        pad = [(0, 0)] + [(0, n - m) for n, m in zip(spatial, self.modes, strict=True)]
        full = jnp.pad(h, pad) * (2.0**d * math.prod(spatial))
        return jsfft.idctn(full, type=2, axes=axes).astype(x.dtype)
