"""The Spectral Transform Unit (Agarwal et al.): fixed Hankel filters, learned projections.

    y_t = sum_k sigma_k^(1/4) [ (phi_k * u)_t M+_k + (phi-_k * u)_t M-_k ]
          + sum_{j<k_u} u_{t-j} Mu_j + sum_{1<=i<=k_y} y_{t-i} My_i,

with `phi-_k(s) = (-1)^s phi_k(s)` (the negative branch) and `*` causal convolution. The
convolution runs in the frequency domain with the filters contracted *there*: the transfer
matrix `W(w) = sum_k Phi_k(w) sigma_k^(1/4) M_k + sum_j e^{-iwj} Mu_j` is built once per call
(independent of the batch), and each sample costs one rFFT per input channel, one (d_in x
d_out) product per frequency, and one inverse rFFT per output channel - not one FFT per filter.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax import lax
from jaxtyping import Array, Float

from ._common import check_positive_int, check_sequence, check_token, float_dtype, lecun_normal
from ._filters import spectral_filters
from ._scan import check_mode


class STUState(NamedTuple):
    """Step-mode state: past inputs (most recent first) and past outputs (most recent first)."""

    inputs: Array
    outputs: Array
    t: Array


class LDSDistillation(NamedTuple):
    """Filters approximated by geometric sequences: `phi_k(s) ~ sum_j coeffs[j, k] alphas[j]^s`.

    `error` is the largest weighted deviation `sigma_k^(1/4) |phi_k(s) - fit|` over s < L."""

    alphas: Array
    coeffs: Array
    error: float


def _fft_size(n: int) -> int:
    return 1 << (n - 1).bit_length()


class STU(eqx.Module):
    """Spectral Transform Unit: one sequence (L, d_in) -> (L, d_out), any L <= `seq_len`.

    Args:
        d_in, d_out: channels.
        seq_len: the filter length (longest sequence served).
        num_filters: K Hankel eigenvectors (default 24).
        use_negative: include the `(-1)^s` branch (default True).
        ar_input: k_u autoregressive input taps (default 3; 0 to disable).
        ar_output: k_y autoregressive output taps (default 0).
        filters: optionally `(sigma, phi)` from `spectral_filters` (else computed and cached).
        dtype, key: as everywhere.

    The filters are fixed: gradients never reach them (`stop_gradient`), and
    `jaxspec.ssm.trainable(model)` / `jaxspec.ssm.optimizer` leave them out of updates.
    """

    phi: Float[Array, "L K"]
    sigma: Float[Array, " K"]
    m_pos: Float[Array, "K I O"]
    m_neg: Float[Array, "K I O"] | None
    m_u: Float[Array, "ku I O"] | None
    m_y: Float[Array, "ky O O"] | None
    d_in: int = eqx.field(static=True)
    d_out: int = eqx.field(static=True)
    seq_len: int = eqx.field(static=True)
    num_filters: int = eqx.field(static=True)

    def __init__(
        self,
        d_in: int,
        d_out: int,
        seq_len: int,
        *,
        num_filters: int = 24,
        use_negative: bool = True,
        ar_input: int = 3,
        ar_output: int = 0,
        filters: tuple | None = None,
        dtype=None,
        key: Array,
    ):
        dtype = float_dtype(dtype)
        self.d_in = check_positive_int(d_in, "d_in")
        self.d_out = check_positive_int(d_out, "d_out")
        self.seq_len = check_positive_int(seq_len, "seq_len", 2)
        self.num_filters = check_positive_int(num_filters, "num_filters")
        ar_input = check_positive_int(ar_input, "ar_input", 0)
        ar_output = check_positive_int(ar_output, "ar_output", 0)
        if filters is None:
            sigma, phi = spectral_filters(self.seq_len, self.num_filters)
        else:
            sigma, phi = (np.asarray(f) for f in filters)
            if phi.shape != (self.seq_len, self.num_filters) or sigma.shape != (self.num_filters,):
                raise ValueError(
                    f"`filters` must be (sigma (K,), phi (L, K)) with L={self.seq_len}, "
                    f"K={self.num_filters}; got {sigma.shape} and {phi.shape}."
                )
        self.phi = jnp.asarray(phi, dtype)
        self.sigma = jnp.asarray(sigma, dtype)
        k1, k2, k3, k4 = jr.split(key, 4)
        nk = self.num_filters * (2 if use_negative else 1)
        shape = (self.num_filters, self.d_in, self.d_out)
        self.m_pos = lecun_normal(k1, shape, nk * self.d_in, dtype) * 2.0
        self.m_neg = lecun_normal(k2, shape, nk * self.d_in, dtype) * 2.0 if use_negative else None
        self.m_u = (
            lecun_normal(k3, (ar_input, self.d_in, self.d_out), ar_input * self.d_in, dtype)
            if ar_input
            else None
        )
        self.m_y = jnp.zeros((ar_output, self.d_out, self.d_out), dtype) if ar_output else None
        del k4

    # ------------------------------------------------------------------------------ helpers
    def _weights(self) -> tuple[Array, Array]:
        """Fixed filters scaled by sigma^(1/4) (positive branch, negative branch)."""
        phi = lax.stop_gradient(self.phi)
        scale = jnp.maximum(lax.stop_gradient(self.sigma), 0.0) ** 0.25
        pos = phi * scale[None, :]
        sign = jnp.where(jnp.arange(self.seq_len) % 2 == 0, 1.0, -1.0).astype(phi.dtype)
        return pos, pos * sign[:, None]

    def _mats(self) -> Array:
        ms = [self.m_pos] + ([self.m_neg] if self.m_neg is not None else [])
        return jnp.concatenate(ms, axis=0)

    def transfer(self, length: int) -> tuple[Array, Array]:
        """`W(w)` on the rFFT grid of size `2 * next_pow2(length)`: (real, imag) parts, each
        (F, d_in, d_out)."""
        n = 2 * _fft_size(length)
        pos, neg = self._weights()
        taps = [pos[:length]] + ([neg[:length]] if self.m_neg is not None else [])
        spec = jnp.fft.rfft(jnp.concatenate(taps, axis=1), n=n, axis=0)  # (F, nk)
        mats = self._mats()
        if self.m_u is not None:
            ku = self.m_u.shape[0]
            f = jnp.arange(n // 2 + 1, dtype=pos.dtype)
            ang = -2 * jnp.pi * f[:, None] * jnp.arange(ku, dtype=pos.dtype)[None, :] / n
            spec = jnp.concatenate([spec, lax.complex(jnp.cos(ang), jnp.sin(ang))], axis=1)
            mats = jnp.concatenate([mats, self.m_u], axis=0)
        m2 = mats.reshape(mats.shape[0], -1)
        w_re = (spec.real.astype(m2.dtype) @ m2).reshape(-1, self.d_in, self.d_out)
        w_im = (spec.imag.astype(m2.dtype) @ m2).reshape(-1, self.d_in, self.d_out)
        return w_re, w_im

    def _check_length(self, length: int) -> None:
        if length > self.seq_len:
            raise ValueError(
                f"The sequence has length {length}, longer than the STU's filters "
                f"(seq_len={self.seq_len}); build the layer with seq_len >= {length}."
            )

    # ---------------------------------------------------------------------------- call/step
    def __call__(self, x: Array, *, mode: str = "auto") -> Float[Array, "L O"]:
        """Convolution mode. `mode` only matters with output AR taps ("sequential" `lax.scan`
        or "parallel" associative scan over companion matrices, O(L (k_y d)^3))."""
        check_sequence(x, self.d_in, layer="STU")
        length = x.shape[0]
        self._check_length(length)
        n = 2 * _fft_size(length)
        w_re, w_im = self.transfer(length)
        xf = jnp.fft.rfft(x, n=n, axis=0)
        xr, xi = xf.real.astype(w_re.dtype), xf.imag.astype(w_re.dtype)
        yr = jnp.einsum("fi,fio->fo", xr, w_re) - jnp.einsum("fi,fio->fo", xi, w_im)
        yi = jnp.einsum("fi,fio->fo", xr, w_im) + jnp.einsum("fi,fio->fo", xi, w_re)
        y = jnp.fft.irfft(lax.complex(yr, yi), n=n, axis=0)[:length].astype(x.dtype)
        if self.m_y is not None:
            y = self._output_recurrence(y, check_mode(mode))
        return y

    def _output_recurrence(self, z: Array, mode: str) -> Array:
        """y_t = z_t + sum_i y_{t-i} My_i."""
        ky, d = self.m_y.shape[0], self.d_out
        if mode == "sequential":

            def body(hist, zt):
                yt = zt + jnp.einsum("io,ioj->j", hist, self.m_y)
                hist = jnp.concatenate([yt[None], hist[:-1]], axis=0)
                return hist, yt

            return lax.scan(body, jnp.zeros((ky, d), z.dtype), z)[1]
        # Companion form: s_t = (y_t, ..., y_{t-ky+1}) = A s_{t-1} + (z_t, 0, ...).
        top = jnp.concatenate([self.m_y[i].T for i in range(ky)], axis=1)  # (d, ky d)
        low = jnp.eye((ky - 1) * d, ky * d, dtype=z.dtype)
        a = jnp.concatenate([top, low], axis=0)
        b = jnp.concatenate([z, jnp.zeros((z.shape[0], (ky - 1) * d), z.dtype)], axis=1)
        aa = jnp.broadcast_to(a, (z.shape[0], *a.shape))

        def combine(left, right):
            a1, b1 = left
            a2, b2 = right
            return a2 @ a1, jnp.einsum("...ij,...j->...i", a2, b1) + b2

        return lax.associative_scan(combine, (aa, b))[1][:, :d]

    def init_state(self) -> STUState:
        ky = 0 if self.m_y is None else self.m_y.shape[0]
        return STUState(
            jnp.zeros((self.seq_len, self.d_in), self.phi.dtype),
            jnp.zeros((ky, self.d_out), self.phi.dtype),
            jnp.zeros((), jnp.int32),
        )

    def step(self, state: STUState, x_t: Array) -> tuple[STUState, Array]:
        """Exact recurrent step: the convolution with the filters over the stored history.
        Costs O(seq_len K d_in) per token; see `distill` for an O(poles d) fast path. Valid
        for the first `seq_len` tokens (the filters' length)."""
        check_token(x_t, self.d_in, layer="STU")
        inputs = jnp.concatenate([x_t[None].astype(state.inputs.dtype), state.inputs[:-1]], axis=0)
        pos, neg = self._weights()
        feats = [pos.T @ inputs] + ([neg.T @ inputs] if self.m_neg is not None else [])
        y = jnp.einsum("ki,kio->o", jnp.concatenate(feats, axis=0), self._mats())
        if self.m_u is not None:
            ku = self.m_u.shape[0]
            y = y + jnp.einsum("ji,jio->o", inputs[:ku], self.m_u)
        outputs = state.outputs
        if self.m_y is not None:
            y = y + jnp.einsum("io,ioj->j", outputs, self.m_y)
            outputs = jnp.concatenate([y[None], outputs[:-1]], axis=0)
        return STUState(inputs, outputs, state.t + 1), y.astype(x_t.dtype)

    # --------------------------------------------------------------------------- distilled
    def distill(self, num_poles: int = 96) -> LDSDistillation:
        """Fit every filter with `num_poles` real geometric sequences `alpha^s` (least squares
        in float64, poles with `1 - alpha` log-spaced in [0.1 / L, 1]); the negative branch
        uses the poles `-alpha`. Use with `init_distilled_state` / `step_distilled`."""
        num_poles = check_positive_int(num_poles, "num_poles")
        length = self.seq_len
        alphas = 1.0 - np.logspace(np.log10(0.1 / length), 0.0, num_poles)
        phi = np.asarray(self.phi, np.float64)
        basis = alphas[None, :] ** np.arange(length)[:, None]
        coeffs, *_ = np.linalg.lstsq(basis, phi, rcond=None)
        weight = np.maximum(np.asarray(self.sigma, np.float64), 0) ** 0.25
        err = float((np.abs(basis @ coeffs - phi) * weight[None, :]).max())
        dt = self.phi.dtype
        return LDSDistillation(jnp.asarray(alphas, dt), jnp.asarray(coeffs, dt), err)

    def init_distilled_state(self, lds: LDSDistillation) -> tuple[Array, Array, Array]:
        j = lds.alphas.shape[0]
        ky = 0 if self.m_y is None else self.m_y.shape[0]
        ku = 0 if self.m_u is None else self.m_u.shape[0]
        z = jnp.zeros((2, j, self.d_in), self.phi.dtype)
        return (
            z,
            jnp.zeros((max(ku, 1), self.d_in), self.phi.dtype),
            jnp.zeros((ky, self.d_out), self.phi.dtype),
        )

    def step_distilled(self, state, x_t: Array, lds: LDSDistillation):
        """O(num_poles d_in + K d_in d_out) per token; matches `step` to `lds.error`-level."""
        check_token(x_t, self.d_in, layer="STU")
        z, recent, outputs = state
        x_t = x_t.astype(z.dtype)
        poles = jnp.stack([lds.alphas, -lds.alphas])[:, :, None]
        z = poles * z + x_t[None, None, :]
        scale = jnp.maximum(lax.stop_gradient(self.sigma), 0.0) ** 0.25
        coeffs = lax.stop_gradient(lds.coeffs) * scale[None, :]
        feats = [coeffs.T @ z[0]] + ([coeffs.T @ z[1]] if self.m_neg is not None else [])
        y = jnp.einsum("ki,kio->o", jnp.concatenate(feats, axis=0), self._mats())
        recent = jnp.concatenate([x_t[None], recent[:-1]], axis=0)
        if self.m_u is not None:
            y = y + jnp.einsum("ji,jio->o", recent[: self.m_u.shape[0]], self.m_u)
        if self.m_y is not None:
            y = y + jnp.einsum("io,ioj->j", outputs, self.m_y)
            outputs = jnp.concatenate([y[None], outputs[:-1]], axis=0)
        return (z, recent, outputs), y.astype(x_t.dtype)


def time_domain_stu(stu: STU, x: Array) -> Array:
    """Reference: the STU by explicit causal sums (O(L^2 K d)); for tests at small L."""
    length = x.shape[0]
    pos, neg = stu._weights()
    idx = jnp.arange(length)
    lag = idx[:, None] - idx[None, :]
    causal = lag >= 0

    def toeplitz(f):
        return jnp.where(causal[..., None], f[jnp.clip(lag, 0, None)], 0.0)  # (t, s, K)

    feats = [jnp.einsum("tsk,si->tki", toeplitz(pos[:length]), x)]
    if stu.m_neg is not None:
        feats.append(jnp.einsum("tsk,si->tki", toeplitz(neg[:length]), x))
    y = jnp.einsum("tki,kio->to", jnp.concatenate(feats, axis=1), stu._mats())
    if stu.m_u is not None:
        for j in range(min(stu.m_u.shape[0], length)):
            y = y.at[j:].add(x[: length - j] @ stu.m_u[j])
    if stu.m_y is not None:
        y = stu._output_recurrence(y, "sequential")
    return y
