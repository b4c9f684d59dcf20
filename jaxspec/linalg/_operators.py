"""Operators as callables `matvec(v, *params)`, a dense adapter, and operator checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, PRNGKeyArray

from .._core._dtypes import check_float_tree
from .._core._tree import tree_dot, tree_norm

Matvec = Callable[..., Any]


class MatrixOperator(eqx.Module):
    """Wrap a dense symmetric matrix as a `matvec` for the matrix-free routines.

    Vectors are 1-D arrays of length `n`. Use `materialize` for the reverse direction.
    """

    matrix: Float[Array, "_ _"]

    def __check_init__(self):
        shape = jnp.shape(self.matrix)
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"`matrix` must be square (n, n), got shape {shape}.")
        if not jnp.issubdtype(jnp.result_type(self.matrix), jnp.floating):
            raise TypeError(
                f"`matrix` must have a real floating dtype, got {jnp.result_type(self.matrix)}."
            )

    def __call__(self, v: Float[Array, " n"]) -> Float[Array, " n"]:
        if jnp.shape(v) != self.matrix.shape[:1]:
            raise ValueError(
                f"MatrixOperator of size {self.matrix.shape[0]} got a vector of shape "
                f"{jnp.shape(v)}; expected ({self.matrix.shape[0]},). Use jax.vmap for batches."
            )
        return jnp.dot(self.matrix, v, precision=lax.Precision.HIGHEST)


def check_operator(matvec: Matvec, v: Any, params: tuple, name: str = "v0") -> np.dtype:
    """Trace-time checks: `v` is a float pytree and `matvec(v, *params)` returns the same
    structure, shapes and dtypes. Returns the widest dtype of `v`."""
    if not callable(matvec):
        raise TypeError(f"`matvec` must be callable as matvec(v, *params), got {type(matvec)}.")
    _, dtype = check_float_tree(v, name)
    try:
        out = eqx.filter_eval_shape(matvec, v, *params)
    except Exception as e:  # re-raise with the contract spelled out
        raise ValueError(
            f"Calling `matvec({name}, *params)` failed: {type(e).__name__}: {e}"
        ) from e
    in_struct = jtu.tree_structure(v)
    out_struct = jtu.tree_structure(out)
    if in_struct != out_struct:
        raise ValueError(
            "`matvec` must return a vector with the same pytree structure as "
            f"`{name}`; got {out_struct}, expected {in_struct}."
        )
    for a, b in zip(jtu.tree_leaves(v), jtu.tree_leaves(out), strict=True):
        if jnp.shape(a) != b.shape:
            raise ValueError(
                f"`matvec` must be square: it maps a leaf of shape {jnp.shape(a)} to shape "
                f"{b.shape}. A Lanczos operator must map `{name}`'s space to itself."
            )
        if jnp.result_type(a) != b.dtype:
            raise ValueError(
                f"`matvec` changed a leaf's dtype from {jnp.result_type(a)} to {b.dtype}; "
                f"return the same dtype as `{name}`."
            )
    return dtype


def random_like(key: PRNGKeyArray, like: Any, kind: str = "rademacher") -> Any:
    """A random tree-vector shaped like `like` (Rademacher +-1 or standard normal)."""
    leaves, treedef = jtu.tree_flatten(like)
    keys = jr.split(key, len(leaves))
    out = []
    for k, leaf in zip(keys, leaves, strict=True):
        shape, dtype = jnp.shape(leaf), jnp.result_type(leaf)
        if kind == "rademacher":
            out.append(jr.rademacher(k, shape, dtype=dtype))
        elif kind == "normal":
            out.append(jr.normal(k, shape, dtype=dtype))
        else:
            raise ValueError(f"`probe` must be 'rademacher' or 'normal', got {kind!r}.")
    return jtu.tree_unflatten(treedef, out)


def materialize(matvec: Matvec, v_like: Any, *params: Any) -> Float[Array, "n n"]:
    """The dense matrix of `matvec` in the flattening order of `jax.flatten_util.ravel_pytree`.

    For tests and small problems only: costs `n` matvecs and `n**2` memory.
    """
    check_operator(matvec, v_like, params, "v_like")
    flat, unravel = ravel_pytree(v_like)
    n = flat.shape[0]

    def column(e):
        return ravel_pytree(matvec(unravel(e), *params))[0]

    cols = jax.vmap(column)(jnp.eye(n, dtype=flat.dtype))
    return cols.T


class SymmetryCheck(eqx.Module):
    """Result of `is_symmetric`: the verdict and the largest relative asymmetry seen."""

    symmetric: Array
    asymmetry: Array

    def __bool__(self) -> bool:
        return bool(self.symmetric)


def is_symmetric(
    matvec: Matvec,
    v_like: Any,
    *params: Any,
    key: PRNGKeyArray,
    num_probes: int = 3,
    rtol: float | None = None,
) -> SymmetryCheck:
    """Probe symmetry: compare <u, A w> with <w, A u> for random pairs (2 matvecs a pair).

    The asymmetry is |<u,Aw> - <w,Au>| / max(||u|| ||Aw||, ||w|| ||Au||); the default `rtol`
    is 1e-8 in float64 and 1e-3 in lower precision.
    """
    dtype = check_operator(matvec, v_like, params, "v_like")
    if rtol is None:
        rtol = 1e-8 if np.dtype(dtype).itemsize >= 8 else 1e-3
    if num_probes < 1:
        raise ValueError(f"`num_probes` must be >= 1, got {num_probes}.")

    def one(k):
        ku, kw = jr.split(k)
        u = random_like(ku, v_like, "normal")
        w = random_like(kw, v_like, "normal")
        au, aw = matvec(u, *params), matvec(w, *params)
        a, b = tree_dot(u, aw), tree_dot(w, au)
        scale = jnp.maximum(tree_norm(u) * tree_norm(aw), tree_norm(w) * tree_norm(au))
        return jnp.abs(a - b) / jnp.where(scale > 0, scale, 1.0)

    asym = jnp.max(lax.map(one, jr.split(key, num_probes)))
    return SymmetryCheck(symmetric=asym <= rtol, asymmetry=asym)
