"""Diagonal state-space layers: S4D (SISO per channel), S5 (MIMO) and LRU, plus a real
diagonal variant whose eigenvalues may be negative.

Complex parameters are stored as real arrays (log of minus the real part, imaginary part,
real and imaginary parts of B and C), so any optax optimiser applies unchanged, and one mode
of each conjugate pair is kept: the output is `2 Re(C h)`, which is the real system's output.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float

from ._common import (
    check_positive_int,
    check_sequence,
    check_token,
    complex_dtype,
    float_dtype,
    lecun_normal,
    uniform,
)
from ._hippo import Diagonalisation, legs_normal, legs_ptd
from ._scan import check_mode, linear_recurrence

KINDS = ("s5", "s4d", "lru", "real")
INITS = {
    "s5": ("legs", "legs_ptd", "lin"),
    "s4d": ("legs", "legs_ptd", "lin"),
    "lru": ("lru",),
    "real": ("real",),
}
DEFAULT_INIT = {"s5": "legs", "s4d": "legs", "lru": "lru", "real": "real"}


def _check_range(eigenvalue_range) -> tuple[float, float]:
    r = tuple(float(v) for v in eigenvalue_range)
    if r not in ((0.0, 1.0), (-1.0, 1.0)):
        raise ValueError(f"`eigenvalue_range` must be (0, 1) or (-1, 1), got {eigenvalue_range}.")
    return r


def _diagonalisation(init: str, state_size: int, precision: float) -> Diagonalisation:
    if init == "legs":
        return legs_normal(state_size)
    if init == "legs_ptd":
        return legs_ptd(state_size, precision=precision)
    p = state_size // 2  # S4D-Lin: -1/2 + i pi n, B = 1, identity basis of the kept half
    lam = -0.5 + 1j * np.pi * np.arange(p)
    eye = np.eye(p, dtype=np.complex128)
    return Diagonalisation(lam, eye, eye, np.ones(p, np.complex128), np.ones(p), 0.0, 1.0)


class DiagonalSSM(eqx.Module):
    """A diagonal linear SSM layer `h_t = lam_bar h_{t-1} + B_bar u_t`, `y_t = 2 Re(C h_t) + D u_t`.

    Kinds:
        - "s5": one MIMO system with `state_size // 2` complex modes (+ real ones under PTD);
          B is (P, H), C is (H, P), one time step per mode.
        - "s4d": H independent SISO systems, each with `state_size // 2` modes, one step per
          channel.
        - "lru": the Linear Recurrent Unit: discrete `lam = exp(-exp(nu) + i exp(theta))`
          with ring initialisation and the `gamma = sqrt(1 - |lam|^2)` input normalisation.
        - "real": real diagonal MIMO dynamics `lam = -exp(a)` (S4D-Real init `-(n+1)`), whose
          discrete eigenvalues lie in (0, 1), or in (-1, 1) with `eigenvalue_range=(-1, 1)`
          (`2 exp(dt lam) - 1`, as in Grazzi et al.), which lets the state flip sign.

    Initialisations (`init`): "legs" (HiPPO-LegS normal part, S4D-LegS / S5), "legs_ptd"
    (perturb-then-diagonalise HiPPO-LegS, any state size), "lin" (S4D-Lin), "lru", "real".

    `__call__(x)` maps one sequence (L, H) to (L, H): `mode` "parallel" (associative scan),
    "sequential" (`lax.scan`) or "auto". `init_state()` / `step(state, x_t)` run the same
    layer one token at a time (causal layers only); `scan(x, state)` continues from a state.
    """

    lam_log_neg_re: Float[Array, ...]
    lam_im: Float[Array, ...] | None
    b_re: Float[Array, ...]
    b_im: Float[Array, ...] | None
    c_re: Float[Array, ...]
    c_im: Float[Array, ...] | None
    d: Float[Array, " H"]
    log_dt: Float[Array, ...] | None
    gamma_log: Float[Array, " P"] | None
    d_model: int = eqx.field(static=True)
    state_size: int = eqx.field(static=True)
    num_modes: int = eqx.field(static=True)
    kind: str = eqx.field(static=True)
    discretisation: str = eqx.field(static=True)
    bidirectional: bool = eqx.field(static=True)
    eigenvalue_range: tuple[float, float] = eqx.field(static=True)

    def __init__(
        self,
        d_model: int,
        state_size: int,
        *,
        kind: str = "s5",
        init: str | None = None,
        discretisation: str = "zoh",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        bidirectional: bool = False,
        eigenvalue_range: tuple = (0, 1),
        r_min: float = 0.0,
        r_max: float = 1.0,
        max_phase: float = 2 * math.pi,
        dtype=None,
        key: Array,
    ):
        dtype = float_dtype(dtype)
        d_model = check_positive_int(d_model, "d_model")
        state_size = check_positive_int(state_size, "state_size")
        if kind not in KINDS:
            raise ValueError(f"`kind` must be one of {KINDS}, got {kind!r}.")
        init = DEFAULT_INIT[kind] if init is None else init
        if init not in INITS[kind]:
            raise ValueError(
                f"`init={init!r}` does not fit `kind={kind!r}`; choose one of {INITS[kind]}."
            )
        if discretisation not in ("zoh", "bilinear"):
            raise ValueError(
                f"`discretisation` must be 'zoh' or 'bilinear', got {discretisation!r}."
            )
        rng = _check_range(eigenvalue_range)
        if rng != (0.0, 1.0) and kind != "real":
            raise ValueError(
                "`eigenvalue_range=(-1, 1)` applies to real diagonal dynamics (`kind='real'` or "
                f"`SelectiveSSM`); `kind={kind!r}` has complex eigenvalues, which already "
                "cover the unit disc."
            )
        if kind != "real" and init != "lru" and state_size % 2:
            raise ValueError(
                f"`state_size` must be even for the conjugate-pair initialisation {init!r} "
                f"(N real dimensions = N/2 complex modes), got {state_size}."
            )
        if kind != "lru":
            if not (math.isfinite(dt_min) and math.isfinite(dt_max) and 0 < dt_min <= dt_max):
                raise ValueError(
                    "The discretisation step must satisfy 0 < dt_min <= dt_max (finite); got "
                    f"dt_min={dt_min}, dt_max={dt_max}."
                )
        else:
            if not 0 <= r_min < r_max <= 1:
                raise ValueError(
                    f"LRU ring needs 0 <= r_min < r_max <= 1, got r_min={r_min}, "
                    f"r_max={r_max}: |lam| >= 1 is unstable."
                )
        self.d_model, self.state_size, self.kind = d_model, state_size, kind
        self.discretisation, self.bidirectional = discretisation, bool(bidirectional)
        self.eigenvalue_range = rng
        kb, kc, kd, kdt, kl, _kr = jr.split(key, 6)
        h = d_model
        self.d = jr.normal(kd, (h,), dtype)
        self.gamma_log = None
        nc = 2 if self.bidirectional else 1

        if kind == "real":
            p = state_size
            self.num_modes = p
            self.lam_log_neg_re = jnp.log(jnp.arange(1, p + 1, dtype=dtype))
            self.lam_im = None
            self.b_re, self.b_im = lecun_normal(kb, (p, h), h, dtype), None
            self.c_re = lecun_normal(kc, (nc, h, p), p, dtype)
            self.c_im = None
            self.log_dt = uniform(kdt, (p,), math.log(dt_min), math.log(dt_max), dtype)
            return

        if kind == "lru":
            p = state_size // 2 if state_size > 1 else 1
            self.num_modes = p
            k1, k2 = jr.split(kl)
            u1 = np.asarray(jr.uniform(k1, (p,), jnp.float32), np.float64)
            u2 = np.asarray(jr.uniform(k2, (p,), jnp.float32), np.float64)
            mod = np.sqrt(u1 * (r_max**2 - r_min**2) + r_min**2)
            mod = np.clip(mod, 1e-6, 1 - 1e-6)
            nu = -np.log(mod)
            theta = np.maximum(max_phase * u2, 1e-6)
            self.lam_log_neg_re = jnp.asarray(np.log(nu), dtype)
            self.lam_im = jnp.asarray(np.log(theta), dtype)  # log of the phase
            self.gamma_log = jnp.asarray(0.5 * np.log(1 - mod**2), dtype)
            bkey1, bkey2 = jr.split(kb)
            self.b_re = lecun_normal(bkey1, (p, h), 2 * h, dtype)
            self.b_im = lecun_normal(bkey2, (p, h), 2 * h, dtype)
            ckey1, ckey2 = jr.split(kc)
            self.c_re = lecun_normal(ckey1, (nc, h, p), p, dtype)
            self.c_im = lecun_normal(ckey2, (nc, h, p), p, dtype)
            self.log_dt = None
            return

        diag = _diagonalisation(init, state_size, float(jnp.finfo(dtype).eps))
        p = len(diag.lam)
        self.num_modes = p
        lam = diag.lam
        self.lam_log_neg_re = jnp.asarray(np.log(-lam.real), dtype)
        self.lam_im = jnp.asarray(lam.imag, dtype)
        n_full = diag.v.shape[0]
        if kind == "s5":
            b_rand = np.asarray(lecun_normal(kb, (n_full, h), h, jnp.float32), np.float64)
            b = (diag.v_inv @ b_rand) * diag.weight[:, None]
            c_rand = np.asarray(lecun_normal(kc, (nc, h, n_full), n_full, jnp.float32), np.float64)
            c = c_rand @ diag.v
            self.log_dt = uniform(kdt, (p,), math.log(dt_min), math.log(dt_max), dtype)
        else:  # s4d: the same HiPPO B for every channel, random C per channel
            b = np.broadcast_to(diag.b * diag.weight, (h, p))
            c_rand = np.asarray(jr.normal(kc, (nc, h, n_full), jnp.float32), np.float64)
            c = c_rand @ diag.v * math.sqrt(0.5)
            self.log_dt = uniform(kdt, (h,), math.log(dt_min), math.log(dt_max), dtype)
        self.b_re, self.b_im = jnp.asarray(b.real, dtype), jnp.asarray(b.imag, dtype)
        self.c_re, self.c_im = jnp.asarray(c.real, dtype), jnp.asarray(c.imag, dtype)

    # ----------------------------------------------------------------------------- dynamics
    def _complex(self) -> bool:
        return self.kind != "real"

    def discrete(self) -> tuple[Array, Array]:
        """`(lam_bar, B_bar)`: the discrete transition (P,) or (H, P) and input matrix."""
        dtype = self.b_re.dtype
        if self.kind == "real":
            lam = -jnp.exp(self.lam_log_neg_re)
            dt = jnp.exp(self.log_dt)
            b = self.b_re
            if self.discretisation == "zoh":
                lam_bar = jnp.exp(dt * lam)
                b_bar = ((lam_bar - 1) / lam)[:, None] * b
            else:
                den = 1 - 0.5 * dt * lam
                lam_bar = (1 + 0.5 * dt * lam) / den
                b_bar = (dt / den)[:, None] * b
            if self.eigenvalue_range == (-1.0, 1.0):
                lam_bar = 2 * lam_bar - 1
            return lam_bar, b_bar
        cdt = complex_dtype(dtype)
        b = jax.lax.complex(self.b_re, self.b_im).astype(cdt)
        if self.kind == "lru":
            lam_bar = jnp.exp(jax.lax.complex(-jnp.exp(self.lam_log_neg_re), jnp.exp(self.lam_im)))
            return lam_bar, jnp.exp(self.gamma_log).astype(cdt)[:, None] * b
        lam = jax.lax.complex(-jnp.exp(self.lam_log_neg_re), self.lam_im)
        dt = jnp.exp(self.log_dt).astype(cdt)
        if self.kind == "s4d":
            lam = jnp.broadcast_to(lam, (self.d_model, self.num_modes))
            dt = dt[:, None]
        if self.discretisation == "zoh":
            lam_bar = jnp.exp(lam * dt)
            scale = (lam_bar - 1) / lam
        else:
            den = 1 - 0.5 * dt * lam
            lam_bar = (1 + 0.5 * dt * lam) / den
            scale = dt / den
        b_bar = scale[:, None] * b if self.kind == "s5" else scale * b
        return lam_bar, b_bar

    def _inputs(self, b_bar, x):
        """B_bar u_t for every t: (L, P) or (L, H, P)."""
        if self.kind == "s4d":
            return x[:, :, None].astype(b_bar.dtype) * b_bar[None]
        return x.astype(b_bar.dtype) @ b_bar.T

    def _readout(self, hs, which: int):
        c_re = self.c_re[which]
        if self.kind == "real":
            return hs @ c_re.T
        c_im = self.c_im[which]
        if self.kind == "s4d":
            return 2 * jnp.sum(hs.real * c_re[None] - hs.imag * c_im[None], axis=-1)
        return 2 * (hs.real @ c_re.T - hs.imag @ c_im.T)

    def init_state(self) -> Array:
        """The zero state: (P,) for s5/lru/real, (H, P) for s4d."""
        shape = (self.d_model, self.num_modes) if self.kind == "s4d" else (self.num_modes,)
        dtype = complex_dtype(self.b_re.dtype) if self._complex() else self.b_re.dtype
        return jnp.zeros(shape, dtype)

    def scan(self, x: Array, state: Array | None = None, *, mode: str = "auto"):
        """`(y, final_state)` for one sequence, continuing from `state` (default zero)."""
        check_sequence(x, self.d_model, layer=type(self).__name__)
        if self.bidirectional and state is not None:
            raise ValueError("A bidirectional layer has no causal state to continue from.")
        mode = check_mode(mode)
        lam_bar, b_bar = self.discrete()
        bu = self._inputs(b_bar, x)
        hs = linear_recurrence(lam_bar, bu, mode=mode, h0=state)
        y = self._readout(hs, 0)
        if self.bidirectional:
            y = y + self._readout(linear_recurrence(lam_bar, bu, mode=mode, reverse=True), 1)
        y = y + self.d[None, :] * x
        return y.astype(x.dtype), hs[-1]

    def __call__(self, x: Array, *, mode: str = "auto") -> Float[Array, "L H"]:
        return self.scan(x, mode=mode)[0]

    def step(self, state: Array, x_t: Array) -> tuple[Array, Array]:
        """One token: `(new_state, y_t)`."""
        if self.bidirectional:
            raise ValueError(
                "A bidirectional layer cannot run step by step (it sees the "
                "future); build it with `bidirectional=False`."
            )
        check_token(x_t, self.d_model, layer=type(self).__name__)
        lam_bar, b_bar = self.discrete()
        bu = self._inputs(b_bar, x_t[None])[0]
        state = lam_bar * state + bu
        y = self._readout(state[None], 0)[0] + self.d * x_t
        return state, y.astype(x_t.dtype)


class SelectiveSSM(eqx.Module):
    """Input-dependent (selective, Mamba-style) real diagonal SSM with H channels of N states:

        dt_t = softplus(x_t W_dt + b_dt),  a_t = exp(-dt_t exp(a_log)) in (0, 1),
        h_t = a_t * h_{t-1} + (dt_t x_t) B_t^T,  y_t = h_t C_t + D x_t,

    with `B_t = x_t W_B`, `C_t = x_t W_C`. With `eigenvalue_range=(-1, 1)` the transition is
    `2 a_t - 1`, so a token can flip the sign of the state: that is what parity and modular
    counting need (Grazzi et al.), and what (0, 1) provably cannot do.
    """

    a_log: Float[Array, "H N"]
    w_dt: Float[Array, "H H"]
    b_dt: Float[Array, " H"]
    w_b: Float[Array, "H N"]
    w_c: Float[Array, "H N"]
    d: Float[Array, " H"]
    d_model: int = eqx.field(static=True)
    state_size: int = eqx.field(static=True)
    eigenvalue_range: tuple[float, float] = eqx.field(static=True)

    def __init__(
        self,
        d_model: int,
        state_size: int,
        *,
        eigenvalue_range: tuple = (0, 1),
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        dtype=None,
        key: Array,
    ):
        dtype = float_dtype(dtype)
        d_model = check_positive_int(d_model, "d_model")
        state_size = check_positive_int(state_size, "state_size")
        if not (math.isfinite(dt_min) and math.isfinite(dt_max) and 0 < dt_min <= dt_max):
            raise ValueError(
                "The discretisation step must satisfy 0 < dt_min <= dt_max "
                f"(finite); got dt_min={dt_min}, dt_max={dt_max}."
            )
        self.eigenvalue_range = _check_range(eigenvalue_range)
        self.d_model, self.state_size = d_model, state_size
        k1, k2, k3, k4, k5 = jr.split(key, 5)
        self.a_log = jnp.broadcast_to(
            jnp.log(jnp.arange(1, state_size + 1, dtype=dtype)), (d_model, state_size)
        )
        self.w_dt = lecun_normal(k1, (d_model, d_model), d_model, dtype)
        dt = jnp.exp(uniform(k2, (d_model,), math.log(dt_min), math.log(dt_max), dtype))
        self.b_dt = dt + jnp.log(-jnp.expm1(-dt))  # inverse softplus
        self.w_b = lecun_normal(k3, (d_model, state_size), d_model, dtype)
        self.w_c = lecun_normal(k4, (d_model, state_size), d_model, dtype)
        self.d = jr.normal(k5, (d_model,), dtype)

    def _terms(self, x_t):
        """Transition, input and readout of one token."""
        dt = jax.nn.softplus(x_t @ self.w_dt + self.b_dt)
        a = jnp.exp(-dt[:, None] * jnp.exp(self.a_log))
        if self.eigenvalue_range == (-1.0, 1.0):
            a = 2 * a - 1
        b = (dt * x_t)[:, None] * (x_t @ self.w_b)[None, :]
        return a, b, x_t @ self.w_c

    def init_state(self) -> Array:
        return jnp.zeros((self.d_model, self.state_size), self.a_log.dtype)

    def scan(self, x: Array, state: Array | None = None, *, mode: str = "auto"):
        check_sequence(x, self.d_model, layer=type(self).__name__)
        a, b, c = jax.vmap(self._terms)(x)
        hs = linear_recurrence(a, b, mode=check_mode(mode), h0=state)
        y = jnp.einsum("lhn,ln->lh", hs, c) + self.d[None, :] * x
        return y, hs[-1]

    def __call__(self, x: Array, *, mode: str = "auto") -> Float[Array, "L H"]:
        return self.scan(x, mode=mode)[0]

    def step(self, state: Array, x_t: Array) -> tuple[Array, Array]:
        check_token(x_t, self.d_model, layer=type(self).__name__)
        a, b, c = self._terms(x_t)
        state = a * state + b
        return state, state @ c + self.d * x_t
