"""Batches through a model's batch-folded path where it has one."""

from __future__ import annotations

from collections.abc import Callable

import jax
from jaxtyping import Array


def batch_apply(model: Callable[[Array], Array], x: Array) -> Array:
    """`jax.vmap(model)(x)` on a batch `x` of shape `(batch, ...)`, through `model.batched`
    when the model has one (`FNO`, the spectral layers, `Operator`, `Rollout`): the same
    numbers, with batch-major matrix products instead of per-sample ones (XLA lays the per-sample
    channel maps out channel-major under `vmap` and transposes around each of them)."""
    batched = getattr(model, "batched", None)
    return batched(x) if callable(batched) else jax.vmap(model)(x)
