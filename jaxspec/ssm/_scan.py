"""Diagonal linear recurrences `h_t = a_t * h_{t-1} + b_t`, three ways with identical results.

- "parallel": `lax.associative_scan` (O(log L) depth; the choice on GPU/TPU),
- "sequential": `lax.scan` (O(L) depth, less memory traffic; often faster on CPU),
- step by step: `h = a * h + b` in a user loop (autoregressive inference).

`a` may be time-invariant (no leading time axis) or time-varying (input-dependent dynamics);
it may be real or complex. Reversal gives the anti-causal half of a bidirectional layer.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

MODES = ("parallel", "sequential")


def check_mode(mode: str) -> str:
    if mode == "auto":
        return "sequential" if jax.default_backend() == "cpu" else "parallel"
    if mode not in MODES:
        raise ValueError(f"`mode` must be 'auto', 'parallel' or 'sequential', got {mode!r}.")
    return mode


def _combine(left, right):
    a1, b1 = left
    a2, b2 = right
    return a2 * a1, a2 * b1 + b2


def linear_recurrence(
    a: jax.Array,
    b: jax.Array,
    *,
    mode: str = "auto",
    reverse: bool = False,
    h0: jax.Array | None = None,
    unroll: int = 8,
) -> jax.Array:
    """All states `h_t = a_t * h_{t-1} + b_t`, t = 0..L-1, from `h_{-1} = h0` (default 0).

    Args:
        a: transition, shape `b.shape` (time-varying) or `b.shape[1:]` (time-invariant).
        b: inputs, time axis first, shape (L, ...).
        mode: "parallel" (associative scan), "sequential" (`lax.scan`) or "auto" (sequential
            on CPU, parallel elsewhere).
        reverse: run from t = L-1 down to 0 (`h_t = a_t h_{t+1} + b_t`).
        h0: initial state, shape `b.shape[1:]`.
        unroll: `lax.scan` unroll factor in sequential mode.
    """
    mode = check_mode(mode)
    time_varying = a.ndim == b.ndim
    if not time_varying and a.shape != b.shape[1:]:
        raise ValueError(
            f"`a` must have shape {b.shape} or {b.shape[1:]} to match `b`, got {a.shape}."
        )
    if time_varying and a.shape != b.shape:
        raise ValueError(f"`a` must have shape {b.shape} to match `b`, got {a.shape}.")
    dtype = jnp.result_type(a, b)
    a, b = a.astype(dtype), b.astype(dtype)
    if h0 is not None:
        h0 = jnp.asarray(h0).astype(dtype)
        a_first = a[-1 if reverse else 0] if time_varying else a
        idx = -1 if reverse else 0
        b = b.at[idx].add(a_first * h0)
    if mode == "sequential":

        def body(h, ab):
            at, bt = ab if time_varying else (a, ab)
            h = at * h + bt
            return h, h

        xs = (a, b) if time_varying else b
        _, hs = lax.scan(
            body, jnp.zeros(b.shape[1:], dtype), xs, reverse=reverse, unroll=min(unroll, b.shape[0])
        )
        return hs
    if not time_varying:
        a = jnp.broadcast_to(a, b.shape)
    _, hs = lax.associative_scan(_combine, (a, b), reverse=reverse)
    return hs
