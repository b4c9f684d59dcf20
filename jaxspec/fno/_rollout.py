"""Autoregressive rollout of a one-step operator (the FNO paper's recurrent FNO-2D)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array

from ._batch import batch_apply


class Rollout(eqx.Module):
    """`steps` autoregressive applications of `model`: a window of the last `window` frames
    `(window, *spatial)` predicts the next frame `(1, *spatial)`, which is appended to the window
    (the oldest frame drops out). Maps `(window, *spatial) -> (steps, *spatial)`, so it trains
    with `fno.fit` like any operator; gradients flow through the whole rollout, as in the FNO
    paper's Navier-Stokes training. `remat=True` recomputes each step in the backward pass
    (memory O(1) in `steps` for activations, at about one extra forward pass).
    """

    model: eqx.Module
    steps: int = eqx.field(static=True)
    window: int = eqx.field(static=True)
    remat: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        if not (isinstance(self.steps, int) and self.steps >= 1):
            raise ValueError(f"`steps` must be a positive integer, got {self.steps!r}.")
        if not (isinstance(self.window, int) and self.window >= 1):
            raise ValueError(f"`window` must be a positive integer, got {self.window!r}.")

    def __call__(self, x: Array) -> Array:
        if x.ndim < 2 or x.shape[0] != self.window:
            raise ValueError(
                f"`x` must be a window of {self.window} frames (window, *spatial), got shape "
                f"{tuple(x.shape)}; for a batch use `jax.vmap`."
            )
        return self.batched(x[None])[0]  # one code path: a batch of one

    def batched(self, x: Array) -> Array:
        """A batch of windows `(batch, window, *spatial) -> (batch, steps, *spatial)`, each step
        through the one-step model's batch-folded path if it has one."""
        if x.ndim < 3 or x.shape[1] != self.window:
            raise ValueError(
                f"`x` must be a batch of windows of {self.window} frames "
                f"(batch, window, *spatial), got shape {tuple(x.shape)}."
            )
        params, static = eqx.partition(self.model, eqx.is_array)

        def step(win, _):
            y = batch_apply(eqx.combine(params, static), win)
            if y.shape != (x.shape[0], 1, *x.shape[2:]):
                raise ValueError(
                    f"the one-step model must map {tuple(win.shape[1:])} to "
                    f"{(1, *x.shape[2:])}, got {tuple(y.shape[1:])}."
                )
            y = y.astype(win.dtype)
            return jnp.concatenate([win[:, 1:], y], axis=1), y[:, 0]

        body = jax.checkpoint(step) if self.remat else step
        _, frames = lax.scan(body, x, None, length=self.steps)
        return jnp.moveaxis(frames, 0, 1)
