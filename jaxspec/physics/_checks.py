"""Input checks shared by the solvers: clear errors that name the argument."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._core._dtypes import default_float_dtype


def is_concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_field(u: Any, name: str, ndim: int, *, min_size: int = 4, square: bool = False) -> Array:
    """A real floating field with exactly `ndim` axes, each of at least `min_size` points, and
    no NaN/Inf (checked eagerly for concrete input, at run time under `jit`)."""
    if not hasattr(u, "shape"):
        u = jnp.asarray(u, default_float_dtype())
    dt = np.dtype(jnp.result_type(u))
    if not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(
            f"`{name}` must be a real floating array (float32/float64), got dtype {dt}."
        )
    if u.ndim != ndim:
        hint = " (for a batch, use `jax.vmap`)" if u.ndim > ndim else ""
        raise ValueError(
            f"`{name}` must have {ndim} spatial axis/axes, got shape {tuple(u.shape)}{hint}."
        )
    if any(n < min_size for n in u.shape):
        raise ValueError(
            f"`{name}` needs at least {min_size} points per axis, got shape {tuple(u.shape)}."
        )
    if square and len(set(u.shape)) != 1:
        raise ValueError(f"`{name}` must be square (s x s), got shape {tuple(u.shape)}.")
    if is_concrete(u):  # numpy, not jnp: inside `jit` a jnp op on a constant is traced
        if not np.all(np.isfinite(np.asarray(u))):
            raise ValueError(f"`{name}` contains NaN or Inf values.")
        return jnp.asarray(u)
    return eqx.error_if(u, ~jnp.all(jnp.isfinite(u)), f"`{name}` contains NaN or Inf values.")


def check_positive(x: Any, name: str, dtype: Any) -> Array:
    """A positive finite scalar parameter (Python number or 0-d array, possibly traced)."""
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a positive number, got {x!r}.")
    if np.ndim(x) != 0:
        raise ValueError(
            f"`{name}` must be a scalar, got shape {np.shape(x)} (to sweep values, use "
            "`jax.vmap`)."
        )
    if is_concrete(x):
        v = float(np.asarray(x))
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"`{name}` must be positive and finite, got {v!r}.")
        return jnp.asarray(v, dtype)
    x = jnp.asarray(x).astype(dtype)
    return eqx.error_if(x, ~(jnp.isfinite(x) & (x > 0)), f"`{name}` must be positive and finite.")


def complex_dtype(dtype: Any) -> np.dtype:
    return np.dtype(jnp.complex128 if np.dtype(dtype).itemsize >= 8 else jnp.complex64)
