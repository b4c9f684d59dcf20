"""Shared helpers of the SSM layers: dtypes, input checks, initialisers."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._core._dtypes import default_float_dtype


def float_dtype(dtype) -> np.dtype:
    dt = default_float_dtype() if dtype is None else np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"`dtype` must be float32 or float64, got {dt}.")
    if dt == np.dtype(np.float64) and not jax.config.read("jax_enable_x64"):
        raise ValueError("`dtype=float64` needs `jax.config.update('jax_enable_x64', True)`.")
    return dt


def complex_dtype(dtype) -> np.dtype:
    return np.dtype(np.complex128 if np.dtype(dtype) == np.float64 else np.complex64)


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}, got {value!r}.")
    return int(value)


def check_sequence(x, d: int, name: str = "x", layer: str = "layer") -> None:
    """A single sequence (L, d): else a ValueError that suggests `jax.vmap`."""
    shape = jnp.shape(x)
    if len(shape) != 2 or shape[1] != d:
        hint = " For a batch, use `jax.vmap(layer)(xs)`." if len(shape) == 3 else ""
        raise ValueError(
            f"{layer} expects one sequence `{name}` of shape (length, {d}), got {shape}.{hint}"
        )
    if not jnp.issubdtype(jnp.result_type(x), jnp.floating):
        raise TypeError(f"`{name}` must be a float array, got {jnp.result_type(x)}.")


def check_token(x, d: int, name: str = "x_t", layer: str = "layer") -> None:
    shape = jnp.shape(x)
    if shape != (d,):
        raise ValueError(
            f"{layer}.step expects one time step `{name}` of shape ({d},), got {shape}."
        )


def lecun_normal(key, shape, fan_in: int, dtype) -> jax.Array:
    return jr.normal(key, shape, dtype) * jnp.asarray(1.0 / math.sqrt(fan_in), dtype)


def uniform(key, shape, low: float, high: float, dtype) -> jax.Array:
    return jr.uniform(key, shape, dtype, minval=low, maxval=high)
