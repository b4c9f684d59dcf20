"""CP-factorised spectral convolution (the low-rank weights of TFNO / neuraloperator)."""

from __future__ import annotations

import functools as ft
import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray

from .._core._dtypes import default_float_dtype
from ._spectral_conv import (
    SpectralLayer,
    _complex,
    _real_part,
    channel_map,
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


class CPSpectralConv(SpectralLayer):
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

    def _mix(self, block: Array) -> Array:
        a, b, cs = self._factors(_real_part(block.dtype))
        d = len(self.modes)
        t = channel_map(block, a, d)  # (..., r, *modes)
        for ax, c in enumerate(cs):
            shape = [1] * t.ndim  # (..., r, *modes): c on rank and its mode axis
            shape[-d - 1], shape[t.ndim - d + ax] = c.shape[1], c.shape[0]
            t = t * c.T.reshape(shape)
        return channel_map(t, b.T, d)  # (..., out, *modes)

    @property
    def num_parameters(self) -> int:
        return self.a.size + self.b.size + sum(c.size for c in self.c)


def tucker_ranks(
    rank: int | float | Sequence[int], in_channels: int, out_channels: int, mshape
) -> tuple[int, ...]:
    """Tucker ranks `(r_in, r_out, r_1..r_d)`: given explicitly, or the largest common
    fraction `f` of every dimension (`r = max(1, round(f * dim))`) whose parameter count (core
    plus factors) does not exceed `rank` times the dense count (at least all-ones ranks)."""
    dims = (in_channels, out_channels, *mshape)
    if isinstance(rank, (tuple, list)):
        ranks = tuple(int(r) for r in rank)
        if len(ranks) != len(dims) or any(not 1 <= r <= n for r, n in zip(ranks, dims,
                                                                         strict=True)):
            raise ValueError(
                f"explicit Tucker `rank` must be {len(dims)} integers (in, out, one per mode "
                f"axis) between 1 and {dims}, got {tuple(rank)}."
            )
        return ranks
    if isinstance(rank, bool) or not isinstance(rank, (int, float)) or not 0 < rank <= 1:
        raise ValueError(
            f"a Tucker `rank` is a fraction in (0, 1] of the dense parameter count or a tuple "
            f"of {len(dims)} integers, got {rank!r}."
        )

    def ranks_of(f):
        return tuple(max(1, min(n, round(f * n))) for n in dims)

    def count(rs):
        return math.prod(rs) + sum(r * n for r, n in zip(rs, dims, strict=True))

    budget = rank * math.prod(dims)
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if count(ranks_of(mid)) <= budget else (lo, mid)
    return ranks_of(lo)


@ft.partial(jax.jit, static_argnums=(1, 2, 3))
def _tucker_init(key, dims, ranks, dtype):
    """Complex Gaussian factors with unit expected column norms (nearly orthonormal columns)
    and a uniform core with the FNO scale 1 / (in * out): the reconstruction then has about
    the magnitude of the dense layer's uniform initialisation. One compiled program with two
    draws: per-factor eager draws cost seconds of XLA compilation per layer shape."""
    kc, kf = jr.split(key)
    sizes = [2 * n * r for n, r in zip(dims, ranks, strict=True)]
    z = jr.normal(kf, (sum(sizes),), dtype)  # one draw: threefry compiles slowly per shape
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    factors = [z[o:o + size].reshape(2, n, r) / math.sqrt(2 * n)
               for o, size, n, r in zip(offsets, sizes, dims, ranks, strict=True)]
    core = jr.uniform(kc, (2, *ranks), dtype) / (dims[0] * dims[1])
    return core, factors


class TuckerSpectralConv(SpectralLayer):
    """Spectral convolution whose complex weights are a Tucker product:
    `W[i, o, k_1..k_d] = sum G[a, b, c_1..c_d] U[i, a] V[o, b] C_1[k_1, c_1] ... C_d[k_d, c_d]`,
    core and factors stored as real pairs (TFNO's default factorisation). `rank` is a fraction of
    the dense parameter count (one common fraction of every dimension) or explicit ranks
    `(r_in, r_out, r_1..r_d)`. The product is applied without forming `W`: the input is
    projected on `U`, the core is expanded over the kept modes, and `V` maps back.
    """

    core: Array
    u_in: Array
    u_out: Array
    c: tuple[Array, ...]
    modes: tuple[int, ...] = eqx.field(static=True)
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    ranks: tuple[int, ...] = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: int | Sequence[int],
        *,
        rank: int | float | Sequence[int] = 0.1,
        ndim: int | None = None,
        dtype=None,
        key: PRNGKeyArray,
    ):
        modes = normalize_modes(modes, ndim)
        if in_channels < 1 or out_channels < 1:
            raise ValueError("`in_channels` and `out_channels` must be positive.")
        dtype = default_float_dtype() if dtype is None else dtype
        mshape = mode_shape(modes)
        ranks = tucker_ranks(rank, in_channels, out_channels, mshape)
        dims = (in_channels, out_channels, *mshape)
        self.core, (self.u_in, self.u_out, *rest) = _tucker_init(key, dims, ranks,
                                                                 jnp.dtype(dtype))
        self.c = tuple(rest)
        self.modes, self.in_channels, self.out_channels = modes, in_channels, out_channels
        self.ranks = ranks

    def _parts(self, dtype):
        cdt = _complex(dtype)
        f = lambda z: jax.lax.complex(z[0], z[1]).astype(cdt)
        return f(self.core), f(self.u_in), f(self.u_out), [f(c) for c in self.c]

    def _expanded_core(self, core, cs):
        """`G[a, b, k_1..k_d] = sum_c core[a, b, c_1..c_d] C_1[k_1, c_1] ...`."""
        d = len(cs)
        src, dst = "pqr"[:d], "xyz"[:d]
        spec = f"ab{src}," + ",".join(f"{k}{c}" for k, c in zip(dst, src, strict=True))
        return jnp.einsum(f"{spec}->ab{dst}", core, *cs)

    def dense(self) -> Array:
        """The full weights `(2, in, out, *mode_shape)` (for checks and conversion)."""
        core, u, v, cs = self._parts(self.core.dtype)
        g = self._expanded_core(core, cs)
        letters = "xyz"[: len(cs)]
        w = jnp.einsum(f"ab{letters},ia,ob->io{letters}", g, u, v)
        return jnp.stack([w.real, w.imag]).astype(self.core.dtype)

    def _mix(self, block: Array) -> Array:
        core, u, v, cs = self._parts(_real_part(block.dtype))
        g = self._expanded_core(core, cs)
        letters = "xyz"[: len(cs)]
        t = channel_map(block, u, len(cs))  # (..., r_in, *modes)
        z = jnp.einsum(f"...a{letters},ab{letters}->...b{letters}", t, g)  # r_out
        return channel_map(z, v.T, len(cs))  # (..., out, *modes)

    @property
    def num_parameters(self) -> int:
        return self.core.size + self.u_in.size + self.u_out.size + sum(c.size for c in self.c)
