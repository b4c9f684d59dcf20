"""Stochastic trace and diagonal estimators (Hutchinson; Hutch++, Meyer et al. 2021)."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .._core._dtypes import accumulation_dtype
from .._core._tree import tree_dot
from ._operators import Matvec, check_operator, random_like


class TraceEstimate(eqx.Module):
    """An estimate with its standard error (Monte Carlo part) and the matvecs it cost."""

    value: Float[Array, ""]
    stderr: Float[Array, ""]
    num_matvecs: Int[Array, ""]


class DiagonalEstimate(eqx.Module):
    """Per-entry estimate of diag(A) (a tree-vector) and its standard error (same structure)."""

    value: Any
    stderr: Any
    num_matvecs: Int[Array, ""]


def _check_probes(num_probes, minimum=2):
    if isinstance(num_probes, bool) or not isinstance(num_probes, int) or num_probes < minimum:
        raise ValueError(f"`num_probes` must be an int >= {minimum}, got {num_probes!r}.")


def trace_estimate(
    matvec: Matvec,
    v_like: Any,
    *params: Any,
    key: PRNGKeyArray,
    num_probes: int = 100,
    method: str = "hutchinson",
    probe: str = "rademacher",
    batch_size: int | None = None,
) -> TraceEstimate:
    """Estimate tr(A) of a (symmetric) operator from `num_probes` matvecs.

    "hutchinson": mean of z^T A z; standard error = sample std / sqrt(num_probes).
    "hutch++": a third of the budget sketches the dominant range (Q = orth(A S)), the trace
    there is exact, the rest is Hutchinson on the deflated operator; its standard error is
    that Hutchinson part's. Much lower variance for decaying spectra.
    """
    dtype = check_operator(matvec, v_like, params, "v_like")
    if method not in ("hutchinson", "hutch++"):
        raise ValueError(f"`method` must be 'hutchinson' or 'hutch++', got {method!r}.")
    _check_probes(num_probes, 2 if method == "hutchinson" else 6)
    if probe not in ("rademacher", "normal"):
        raise ValueError(f"`probe` must be 'rademacher' or 'normal', got {probe!r}.")
    acc = accumulation_dtype(dtype)
    return _trace_jit(matvec, v_like, params, key, num_probes, method, probe, batch_size, acc)


@eqx.filter_jit
def _trace_jit(matvec, v_like, params, key, num_probes, method, probe, batch_size, acc):
    if method == "hutchinson":
        def one(k):
            z = random_like(k, v_like, probe)
            return tree_dot(z, matvec(z, *params), acc)

        samples = lax.map(one, jr.split(key, num_probes), batch_size=batch_size)
        return TraceEstimate(
            value=jnp.mean(samples),
            stderr=jnp.std(samples, ddof=1) / np.sqrt(num_probes),
            num_matvecs=jnp.array(num_probes, jnp.int32),
        )

    # Hutch++ on the raveled space (the sketch needs a QR).
    flat, unravel = ravel_pytree(v_like)
    s = num_probes // 3
    g = num_probes - 2 * s

    def mv_flat(x):
        return ravel_pytree(matvec(unravel(x.astype(flat.dtype)), *params))[0].astype(acc)

    ks, kg = jr.split(key)
    S = jax.vmap(lambda k: ravel_pytree(random_like(k, v_like, probe))[0])(jr.split(ks, s))
    Y = lax.map(mv_flat, S, batch_size=batch_size)  # (s, n)
    Q, _ = jnp.linalg.qr(Y.T.astype(acc))  # (n, s)
    AQ = lax.map(mv_flat, Q.T, batch_size=batch_size)  # (s, n)
    t_sketch = jnp.sum(Q.T * AQ)
    G = jax.vmap(lambda k: ravel_pytree(random_like(k, v_like, probe))[0].astype(acc))(
        jr.split(kg, g)
    )
    Gp = G - (G @ Q) @ Q.T

    def quad(x):
        ax = mv_flat(x)
        ax = ax - Q @ (Q.T @ ax)
        return jnp.dot(x, ax)

    samples = lax.map(quad, Gp, batch_size=batch_size)
    return TraceEstimate(
        value=t_sketch + jnp.mean(samples),
        stderr=jnp.std(samples, ddof=1) / np.sqrt(g),
        num_matvecs=jnp.array(2 * s + g, jnp.int32),
    )


def diagonal_estimate(
    matvec: Matvec,
    v_like: Any,
    *params: Any,
    key: PRNGKeyArray,
    num_probes: int = 100,
    batch_size: int | None = None,
) -> DiagonalEstimate:
    """Estimate diag(A) as the mean of z * (A z) over Rademacher probes (Bekas et al. 2007),
    with per-entry standard errors."""
    check_operator(matvec, v_like, params, "v_like")
    _check_probes(num_probes)
    return _diag_jit(matvec, v_like, params, key, num_probes, batch_size)


@eqx.filter_jit
def _diag_jit(matvec, v_like, params, key, num_probes, batch_size):
    def one(k):
        z = random_like(k, v_like, "rademacher")
        return jax.tree.map(jnp.multiply, z, matvec(z, *params))

    samples = lax.map(one, jr.split(key, num_probes), batch_size=batch_size)
    mean = jax.tree.map(lambda a: jnp.mean(a, axis=0), samples)
    se = jax.tree.map(lambda a: jnp.std(a, axis=0, ddof=1) / np.sqrt(num_probes), samples)
    return DiagonalEstimate(value=mean, stderr=se, num_matvecs=jnp.array(num_probes, jnp.int32))
