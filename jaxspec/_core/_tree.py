"""Tree-vector arithmetic.

Vectors are arbitrary pytrees of floating arrays (e.g. a model's parameters), so that sharded
parameters stay sharded. A *stacked* tree-vector holds `m` vectors with a leading axis of size
`m` on every leaf (a Krylov basis).

Reductions (dots, norms) accumulate in at least float32 and use the highest matmul precision,
so that TF32/bf16 defaults on accelerators do not spoil orthogonality.
"""

from __future__ import annotations

import functools as ft
from typing import Any

import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jax import lax

from ._dtypes import accumulation_dtype

_HI = lax.Precision.HIGHEST


def tree_size(tree: Any) -> int:
    return int(sum(np.prod(np.shape(x), dtype=np.int64) for x in jtu.tree_leaves(tree)))


def tree_dot(x: Any, y: Any, dtype: Any | None = None) -> jax.Array:
    """Euclidean inner product of two tree-vectors with the same structure."""
    parts = []
    for a, b in zip(jtu.tree_leaves(x), jtu.tree_leaves(y), strict=True):
        acc = dtype or accumulation_dtype(jnp.result_type(a, b))
        parts.append(
            jnp.dot(a.reshape(-1).astype(acc), b.reshape(-1).astype(acc), precision=_HI)
        )
    return ft.reduce(jnp.add, parts)


def tree_norm(x: Any, dtype: Any | None = None) -> jax.Array:
    return jnp.sqrt(tree_dot(x, x, dtype))


def tree_scale(alpha: jax.Array, x: Any) -> Any:
    return jtu.tree_map(lambda a: (alpha * a.astype(alpha.dtype)).astype(a.dtype), x)


def tree_axpy(alpha: jax.Array, x: Any, y: Any) -> Any:
    """alpha * x + y, computed in the wider of the two dtypes, stored in y's dtype."""
    return jtu.tree_map(
        lambda a, b: (alpha * a.astype(alpha.dtype) + b.astype(alpha.dtype)).astype(b.dtype), x, y
    )



def tree_zeros_like(x: Any) -> Any:
    return jtu.tree_map(jnp.zeros_like, x)


def tree_all_finite(x: Any) -> jax.Array:
    return ft.reduce(
        jnp.logical_and, [jnp.all(jnp.isfinite(a)) for a in jtu.tree_leaves(x)], jnp.array(True)
    )



# Stacked tree-vectors: leading axis m on every leaf.


def stack_zeros(like: Any, m: int) -> Any:
    return jtu.tree_map(lambda a: jnp.zeros((m, *a.shape), a.dtype), like)


def stack_get(stack: Any, i: Any) -> Any:
    return jtu.tree_map(lambda a: a[i], stack)


def stack_set(stack: Any, i: Any, x: Any) -> Any:
    return jtu.tree_map(lambda a, b: a.at[i].set(b.astype(a.dtype)), stack, x)


def stack_dot(stack: Any, x: Any, dtype: Any) -> jax.Array:
    """Inner products of every stacked vector with x: shape (m,)."""
    parts = []
    for q, a in zip(jtu.tree_leaves(stack), jtu.tree_leaves(x), strict=True):
        m = q.shape[0]
        parts.append(
            jnp.dot(q.reshape(m, -1).astype(dtype), a.reshape(-1).astype(dtype), precision=_HI)
        )
    return ft.reduce(jnp.add, parts)


def stack_combine(coeffs: jax.Array, stack: Any) -> Any:
    """sum_i coeffs[..., i] * stack[i]; coeffs of shape (m,) or (p, m) (then a new stack)."""

    def leaf(q):
        m = q.shape[0]
        out = jnp.dot(coeffs.astype(coeffs.dtype), q.reshape(m, -1).astype(coeffs.dtype),
                      precision=_HI)
        return out.reshape(coeffs.shape[:-1] + q.shape[1:]).astype(q.dtype)

    return jtu.tree_map(leaf, stack)



def hash_like(like: Any, seed: jax.Array) -> Any:
    """A deterministic, generic pseudo-random tree-vector in [-0.5, 0.5) from a scalar seed.

    Used for restart vectors inside Lanczos loops: a few elementwise ops (iota, sin, floor)
    instead of a counter-based PRNG, which keeps compile times of loop bodies short. Only
    genericity matters there (not being in a given subspace), not the distribution.
    """
    leaves, treedef = jtu.tree_flatten(like)
    out, offset = [], 0
    seed = jnp.asarray(seed, jnp.float32)
    for leaf in leaves:
        size = int(np.prod(jnp.shape(leaf), dtype=np.int64))
        idx = (lax.iota(jnp.int32, size) + offset) % 65521
        x = jnp.sin(idx.astype(jnp.float32) * 12.9898 + seed * 78.233 + 0.5 * idx.astype(
            jnp.float32) ** 0.5) * 43758.5453
        r = (x - jnp.floor(x)) - 0.5
        out.append(r.reshape(jnp.shape(leaf)).astype(jnp.result_type(leaf)))
        offset += size
    return jtu.tree_unflatten(treedef, out)
