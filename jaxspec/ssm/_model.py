"""A small sequence model around the SSM layers, and optax parameter groups for them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import optax
from jaxtyping import Array

from ._common import check_positive_int, float_dtype
from ._diagonal import KINDS, DiagonalSSM, SelectiveSSM
from ._stu import STU

LAYERS = (*KINDS, "selective", "stu")
# Field names of the (time-invariant) dynamics: eigenvalues and steps get no weight decay and a
# smaller learning rate (S4/S5/LRU practice). The selective gates (w_dt, b_dt) train at the
# full rate: they are what learns which token flips the state.
DYNAMICS = frozenset({"lam_log_neg_re", "lam_im", "log_dt", "gamma_log", "a_log"})
FROZEN = frozenset({"phi", "sigma"})
NO_DECAY = frozenset({"bias", "d", "b_dt"})


def make_layer(
    layer: str, d_model: int, *, state_size: int, seq_len: int | None, dtype, key: Array, **kwargs
):
    """One sequence layer by name: "s5", "s4d", "lru", "real", "selective" or "stu"."""
    if layer in KINDS:
        return DiagonalSSM(d_model, state_size, kind=layer, dtype=dtype, key=key, **kwargs)
    if layer == "selective":
        return SelectiveSSM(d_model, state_size, dtype=dtype, key=key, **kwargs)
    if layer == "stu":
        if seq_len is None:
            raise ValueError("`layer='stu'` needs `seq_len` (the filters' length).")
        return STU(d_model, d_model, seq_len, dtype=dtype, key=key, **kwargs)
    raise ValueError(f"`layer` must be one of {LAYERS}, got {layer!r}.")


class Block(eqx.Module):
    """Pre-norm residual block: `x + layer(norm(x))`, then `x + mlp(norm(x))` (GELU MLP)."""

    norm1: eqx.nn.LayerNorm
    layer: Any
    norm2: eqx.nn.LayerNorm | None
    mlp1: eqx.nn.Linear | None
    mlp2: eqx.nn.Linear | None

    def __init__(self, layer, d_model: int, *, mlp_ratio: int, dtype, key: Array):
        k1, k2 = jr.split(key)
        self.norm1 = eqx.nn.LayerNorm(d_model, dtype=dtype)
        self.layer = layer
        if mlp_ratio:
            self.norm2 = eqx.nn.LayerNorm(d_model, dtype=dtype)
            self.mlp1 = eqx.nn.Linear(d_model, mlp_ratio * d_model, dtype=dtype, key=k1)
            self.mlp2 = eqx.nn.Linear(mlp_ratio * d_model, d_model, dtype=dtype, key=k2)
        else:
            self.norm2 = self.mlp1 = self.mlp2 = None

    def _mlp(self, x):
        if self.mlp1 is None:
            return x
        return x + self.mlp2(jax.nn.gelu(self.mlp1(self.norm2(x))))

    def __call__(self, x, *, mode: str = "auto"):
        x = x + self.layer(jax.vmap(self.norm1)(x), mode=mode)
        return jax.vmap(self._mlp)(x)

    def step(self, state, x_t):
        state, y = self.layer.step(state, self.norm1(x_t))
        return state, self._mlp(x_t + y)


class SequenceModel(eqx.Module):
    """Embedding -> `num_layers` residual SSM blocks -> norm -> head.

    Args:
        num_outputs: classes (or regression targets) of the head.
        vocab_size: token inputs (ints in [0, vocab_size)); or `input_dim` for float inputs
            (L, input_dim). Exactly one of the two.
        d_model, num_layers, state_size: sizes.
        layer: "s5" (default), "s4d", "lru", "real", "selective" or "stu"; `layer_kwargs`
            go to its constructor (e.g. `eigenvalue_range=(-1, 1)`, `bidirectional=True`).
        pooling: "mean" or "last" (one prediction per sequence), or None (one per step).
        seq_len: longest sequence (needed by "stu").
        mlp_ratio: MLP width factor in each block (0 for none).

    `__call__(x, length=None, mode=...)`: `length` (a scalar, traced is fine) marks the valid
    prefix of a padded sequence for pooling. `init_state()`/`step()` run per-step models one
    token at a time.
    """

    embed: Any
    blocks: list
    norm: eqx.nn.LayerNorm
    head: eqx.nn.Linear
    pooling: str | None = eqx.field(static=True)
    tokens: bool = eqx.field(static=True)

    def __init__(
        self,
        num_outputs: int,
        *,
        vocab_size: int | None = None,
        input_dim: int | None = None,
        d_model: int = 64,
        num_layers: int = 2,
        state_size: int = 64,
        layer: str = "s5",
        layer_kwargs: dict | None = None,
        pooling: str | None = "mean",
        seq_len: int | None = None,
        mlp_ratio: int = 2,
        dtype=None,
        key: Array,
    ):
        dtype = float_dtype(dtype)
        if (vocab_size is None) == (input_dim is None):
            raise ValueError(
                "Give exactly one of `vocab_size` (token inputs) and `input_dim` (float inputs)."
            )
        if pooling not in ("mean", "last", None):
            raise ValueError(f"`pooling` must be 'mean', 'last' or None, got {pooling!r}.")
        num_outputs = check_positive_int(num_outputs, "num_outputs")
        num_layers = check_positive_int(num_layers, "num_layers")
        keys = jr.split(key, 2 * num_layers + 2)
        self.tokens = vocab_size is not None
        if self.tokens:
            self.embed = eqx.nn.Embedding(
                check_positive_int(vocab_size, "vocab_size"), d_model, dtype=dtype, key=keys[0]
            )
        else:
            self.embed = eqx.nn.Linear(
                check_positive_int(input_dim, "input_dim"), d_model, dtype=dtype, key=keys[0]
            )
        kw = dict(layer_kwargs or {})
        self.blocks = [
            Block(
                make_layer(
                    layer,
                    d_model,
                    state_size=state_size,
                    seq_len=seq_len,
                    dtype=dtype,
                    key=keys[2 * i + 1],
                    **kw,
                ),
                d_model,
                mlp_ratio=mlp_ratio,
                dtype=dtype,
                key=keys[2 * i + 2],
            )
            for i in range(num_layers)
        ]
        self.norm = eqx.nn.LayerNorm(d_model, dtype=dtype)
        self.head = eqx.nn.Linear(d_model, num_outputs, dtype=dtype, key=keys[-1])
        self.pooling = pooling

    def _embed(self, x):
        if self.tokens:
            if jnp.ndim(x) != 1 or not jnp.issubdtype(jnp.result_type(x), jnp.integer):
                raise ValueError(
                    f"Token inputs must be one int sequence (L,), got shape "
                    f"{jnp.shape(x)} and dtype {jnp.result_type(x)}; "
                    "for a batch use `jax.vmap`."
                )
            return jax.vmap(self.embed)(x)
        if jnp.ndim(x) != 2 or x.shape[1] != self.embed.in_features:
            raise ValueError(
                f"Float inputs must be one sequence (L, {self.embed.in_features}), "
                f"got {jnp.shape(x)}; for a batch use `jax.vmap`."
            )
        return jax.vmap(self.embed)(x.astype(self.embed.weight.dtype))

    def __call__(self, x, length=None, *, mode: str = "auto"):
        h = self._embed(x)
        for block in self.blocks:
            h = block(h, mode=mode)
        h = jax.vmap(self.norm)(h)
        if self.pooling is None:
            return jax.vmap(self.head)(h)
        n = h.shape[0]
        length = n if length is None else length
        if self.pooling == "last":
            pooled = h[jnp.asarray(length) - 1]
        else:
            mask = (jnp.arange(n) < length).astype(h.dtype)
            pooled = (mask @ h) / jnp.maximum(jnp.sum(mask), 1.0)
        return self.head(pooled)

    def init_state(self):
        if self.pooling is not None:
            raise ValueError("`step` needs a per-step model (`pooling=None`).")
        return [b.layer.init_state() for b in self.blocks]

    def step(self, state, x_t):
        """One token (an int, or a float vector of `input_dim`) -> `(state, logits_t)`."""
        h = self._embed(jnp.asarray(x_t)[None])[0]
        new = []
        for block, s in zip(self.blocks, state, strict=True):
            s, h = block.step(s, h)
            new.append(s)
        return new, self.head(self.norm(h))


def _label(path) -> str:
    names = {getattr(k, "name", None) for k in path}
    if names & FROZEN:
        return "frozen"
    if names & DYNAMICS:
        return "dynamics"
    if names & NO_DECAY or any(isinstance(n, str) and n.startswith("norm") for n in names):
        return "no_decay"
    return "default"


def param_labels(model) -> Any:
    """Pytree of group labels for the array leaves of `model`: "frozen" (STU filters),
    "dynamics" (eigenvalues, steps, selective gates), "no_decay" (norms, biases, D), "default"."""
    params = eqx.filter(model, eqx.is_array)
    return jax.tree_util.tree_map_with_path(lambda p, _: _label(p), params)


def trainable(model) -> Any:
    """Filter spec for `eqx.partition`: True for trained arrays, False for fixed filters."""
    labels = param_labels(model)
    full = eqx.filter(model, eqx.is_array)
    mask = jax.tree_util.tree_map(lambda lab: lab != "frozen", labels)
    return jax.tree_util.tree_map(lambda _, m: m, full, mask)


def optimizer(
    learning_rate: float | Callable = 1e-3,
    model: Any = None,
    *,
    weight_decay: float = 0.05,
    dynamics_lr_scale: float = 0.1,
    clip: float | None = 1.0,
) -> optax.GradientTransformation:
    """AdamW with SSM parameter groups: dynamics get `dynamics_lr_scale` x the learning rate
    and no weight decay; norms/biases/D no weight decay; STU filters are never updated.

    `model` may be given now or the labels are computed from the params at `init`."""
    if not dynamics_lr_scale > 0:
        raise ValueError(f"`dynamics_lr_scale` must be positive, got {dynamics_lr_scale}.")

    def scaled(s):
        return (
            (lambda step: learning_rate(step) * s)
            if callable(learning_rate)
            else (learning_rate * s)
        )

    labels = None if model is None else param_labels(model)
    tx = optax.multi_transform(
        {
            "default": optax.adamw(learning_rate, weight_decay=weight_decay),
            "no_decay": optax.adam(learning_rate),
            "dynamics": optax.adam(scaled(dynamics_lr_scale)),
            "frozen": optax.set_to_zero(),
        },
        # Always a function: a labels tree shaped like an equinox model is itself callable,
        # which optax would mistake for the function form.
        param_labels if labels is None else (lambda _: labels),
    )
    return optax.chain(optax.clip_by_global_norm(clip), tx) if clip else tx
