"""Dtype helpers: default float dtype, validation of vector pytrees, precision policy."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def default_float_dtype() -> np.dtype:
    """float64 when x64 is enabled, else float32 (the library never flips the flag)."""
    return np.dtype(jnp.float64 if jax.config.read("jax_enable_x64") else jnp.float32)



def check_float_tree(tree: Any, name: str) -> tuple[list, np.dtype]:
    """Check that every leaf of `tree` is a real floating array; return leaves and widest dtype.

    Raises a `TypeError`/`ValueError` that names the argument `name`.
    """
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves:
        raise ValueError(f"`{name}` must contain at least one array, got an empty pytree.")
    dtypes = []
    for leaf in leaves:
        dt = np.dtype(jnp.result_type(leaf))
        if not jnp.issubdtype(dt, jnp.floating):
            kind = "complex" if jnp.issubdtype(dt, jnp.complexfloating) else "non-floating"
            raise TypeError(
                f"`{name}` must hold real floating arrays (float32/float64), but a leaf has "
                f"{kind} dtype {dt}; cast it with `.astype(jnp.float32)` or similar."
            )
        dtypes.append(dt)
    widest = max(dtypes, key=lambda d: d.itemsize)
    return leaves, widest


def accumulation_dtype(dtype: np.dtype) -> np.dtype:
    """Dtype for scalars derived from vectors of `dtype` (dots, norms): at least float32."""
    return np.dtype(jnp.float64) if np.dtype(dtype).itemsize >= 8 else np.dtype(jnp.float32)


def solve_dtype() -> np.dtype:
    """Dtype of small dense eigen-solves (tridiagonal/projected matrices): float64 if enabled."""
    return default_float_dtype()


def eps(dtype: Any) -> float:
    return float(jnp.finfo(dtype).eps)
