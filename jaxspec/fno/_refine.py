"""The Spectral-Refiner workflow: fine-tune the last spectral layer without mode truncation."""

from __future__ import annotations

import itertools
from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array

from ._fno import FNO
from ._spectral_conv import SpectralConv, mode_shape
from ._train import Operator, TrainConfig, TrainResult, fit


def widen_last_layer(model: FNO, spatial: tuple[int, ...]) -> FNO:
    """The same FNO with its last spectral layer keeping every mode a grid of `spatial` points
    (plus the model's padding) supports; trained low-mode weights are copied, new ones zero."""
    old = model.spectral[-1]
    if not isinstance(old, SpectralConv):
        raise TypeError("widen_last_layer needs a dense SpectralConv as the last layer (convert "
                        "a factorised one with its `.dense()` weights first).")
    padded = [n + int(np.ceil(model.padding * n)) for n in spatial]
    full = (*tuple(n // 2 for n in padded[:-1]), padded[-1] // 2 + 1)
    if any(f < m for f, m in zip(full, old.modes, strict=True)):
        raise ValueError(f"a grid of {tuple(spatial)} points supports fewer modes than the "
                         f"layer's {old.modes}.")
    w = jnp.zeros((2, old.in_channels, old.out_channels, *mode_shape(full)), old.weights.dtype)
    # (source, destination) slices per axis: the positive block stays in front, the negative
    # block moves to the back of the wider block; the last (rfft) axis has only positives
    blocks = []
    for ax, (m, f) in enumerate(zip(old.modes, full, strict=True)):
        pos = (slice(0, m), slice(0, m))
        blocks.append([pos, (slice(m, 2 * m), slice(2 * f - m, 2 * f))]
                      if ax < len(full) - 1 else [pos])
    lead = (slice(None),) * 3
    for combo in itertools.product(*blocks):
        src = lead + tuple(c[0] for c in combo)
        dst = lead + tuple(c[1] for c in combo)
        w = w.at[dst].set(old.weights[src])
    new = SpectralConv(old.in_channels, old.out_channels, full, dtype=old.weights.dtype,
                       key=jr.key(0))  # weights replaced below
    new = eqx.tree_at(lambda c: c.weights, new, w)
    return eqx.tree_at(lambda m: m.spectral[-1], model, new)


REFINE_CONFIG = TrainConfig(epochs=50, step_size=25, loss="sobolev:-1")


def spectral_refine(
    operator: Operator,
    train: tuple[Array, Array],
    test: tuple[Array, Array] | None = None,
    config: TrainConfig = REFINE_CONFIG,
    *,
    run_dir: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Spectral-Refiner fine-tuning of a trained FNO `Operator`: the last spectral layer is
    widened to all modes of the training grid (`widen_last_layer`), everything else is frozen,
    and that layer is trained under a negative-Sobolev loss (default `H^-1`, which weighs the
    low-frequency error the truncated model leaves). The normalisers are kept. The refined
    model needs inputs at least as fine as the training grid.
    """
    model = operator.model
    if not isinstance(model, FNO):
        raise TypeError(f"spectral_refine needs an FNO inside the Operator, got "
                        f"{type(model).__name__}.")
    x = jnp.asarray(train[0])
    widened = widen_last_layer(model, tuple(x.shape[2:]))
    return fit(widened, train, test, config, run_dir=run_dir, progress=progress,
               trainable=lambda m: m.spectral[-1], normalizers=(operator.inp, operator.out))
