"""CP-factorised spectral convolution (the low-rank weights of TFNO / neuraloperator)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray

from .._core._dtypes import default_float_dtype
from ._spectral_conv import (
    _complex,
    apply_multiplier,
    check_input,
    check_modes,
    mode_shape,
    normalize_modes,
)


def cp_rank(rank: int | float, in_channels: int, out_channels: int, mshape) -> int:
    """An integer rank, or a fraction of the dense parameter count turned into a rank."""
    if isinstance(rank, int) and not isinstance(rank, bool):
        if rank < 1:
            raise ValueError(f"`rank` must be positive, got {rank}.")
        return rank
    if not 0 < rank <= 1:
        raise ValueError(f"a fractional `rank` must lie in (0, 1], got {rank!r}.")
    dense = in_channels * out_channels * math.prod(mshape)
    per_rank = in_channels + out_channels + sum(mshape)
    return max(1, round(rank * dense / per_rank))


class CPSpectralConv(eqx.Module):
    """Spectral convolution whose complex weights are a CP (canonical polyadic) sum:
    `W[i, o, k_1..k_d] = sum_r A[i, r] B[o, r] C_1[k_1, r] ... C_d[k_d, r]`, every factor stored
    as a real pair. `rank` is an integer or a fraction of the dense parameter count. The
    product is applied factor by factor (never forming `W`); `dense()` reconstructs it.
    """

    a: Array
    b: Array
    c: tuple[Array, ...]
    modes: tuple[int, ...] = eqx.field(static=True)
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    rank: int = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: int | Sequence[int],
        *,
        rank: int | float = 0.1,
        ndim: int | None = None,
        dtype=None,
        key: PRNGKeyArray,
    ):
        modes = normalize_modes(modes, ndim)
        dtype = default_float_dtype() if dtype is None else dtype
        mshape = mode_shape(modes)
        r = cp_rank(rank, in_channels, out_channels, mshape)
        keys = jr.split(key, 2 + len(mshape))
        # uniform factors; B carries the FNO scale 1 / (in * out), spread over the rank
        self.a = jr.uniform(keys[0], (2, in_channels, r), dtype)
        self.b = jr.uniform(keys[1], (2, out_channels, r), dtype) / (in_channels * out_channels
                                                                     * r)
        self.c = tuple(jr.uniform(k, (2, m, r), dtype) for k, m in zip(keys[2:], mshape,
                                                                       strict=True))
        self.modes, self.in_channels, self.out_channels, self.rank = (
            modes, in_channels, out_channels, r)

    def _factors(self, dtype):
        cdt = _complex(dtype)
        f = lambda z: jax.lax.complex(z[0], z[1]).astype(cdt)
        return f(self.a), f(self.b), [f(c) for c in self.c]

    def dense(self) -> Array:
        """The full weights `(2, in, out, *mode_shape)` (for checks and conversion)."""
        a, b, cs = self._factors(self.a.dtype)
        letters = "defg"[: len(cs)]
        spec = ",".join(["ir", "or", *[f"{ch}r" for ch in letters]]) + f"->io{letters}"
        w = jnp.einsum(spec, a, b, *cs)
        return jnp.stack([w.real, w.imag]).astype(self.a.dtype)

    def __call__(self, x: Array) -> Array:
        check_input(x, len(self.modes), self.in_channels, "layer")
        check_modes(x.shape[1:], self.modes)
        a, b, cs = self._factors(x.dtype)
        d = len(self.modes)

        def mix(block):
            t = jnp.tensordot(a, block, axes=(0, 0))  # (r, *modes)
            for ax, c in enumerate(cs):
                shape = [1] * (d + 1)
                shape[0], shape[ax + 1] = c.shape[1], c.shape[0]
                t = t * c.T.reshape(shape)
            return jnp.tensordot(b, t, axes=(1, 0))  # (out, *modes)

        return apply_multiplier(x, self.modes, mix)

    @property
    def num_parameters(self) -> int:
        return self.a.size + self.b.size + sum(c.size for c in self.c)
