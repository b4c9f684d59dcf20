"""Sharpness tracking from inside a training loop (warm-started top eigenpairs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._curvature import make_curvature, partition_params, restricted_loss
from ._data import as_batches
from ._spectrum import top_eigenpairs, trace


class SharpnessRecord(eqx.Module):
    """One measurement. `eigenvalues` descending; `threshold` = 2/lr (gradient descent is
    linearly unstable along directions whose eigenvalue exceeds it); `grad_overlap` is the
    fraction of the squared gradient norm inside the top-k eigenspace."""

    step: int = eqx.field(static=True)
    lr: float = eqx.field(static=True)
    eigenvalues: Any
    residual_norms: Any
    converged: Any
    num_matvecs: Any
    grad_overlap: Any
    trace: Any = None
    trace_stderr: Any = None

    @property
    def threshold(self) -> float:
        return 2.0 / self.lr

    def as_dict(self) -> dict:
        d = {
            "step": self.step,
            "lr": self.lr,
            "threshold": self.threshold,
            "eigenvalues": np.asarray(self.eigenvalues).tolist(),
            "residual_norms": np.asarray(self.residual_norms).tolist(),
            "converged": np.asarray(self.converged).tolist(),
            "num_matvecs": int(self.num_matvecs),
            "grad_overlap": float(self.grad_overlap),
        }
        if self.trace is not None:
            d.update(trace=float(self.trace), trace_stderr=float(self.trace_stderr),
                     trace_stable=bool(float(self.trace) <= self.threshold))
        return d


class TrackerState(eqx.Module):
    vectors: Any  # previous top-k eigenvectors (stacked), or None


class SharpnessTracker(eqx.Module):
    """Call `update` every training step; every `every` steps it measures the top-k
    curvature eigenvalues, warm-started from the previous eigenvectors, the gradient's
    overlap with their span and (optionally) the trace.

    Example:
        tracker = SharpnessTracker(loss_fn, every=10, k=2)
        state = tracker.init()
        for step in range(n):
            params, opt_state = train_step(params, opt_state, batch)
            state, rec = tracker.update(state, step, params, data, lr=lr)
            if rec is not None:
                log(rec.as_dict())
    """

    loss_fn: Callable | None = eqx.field(static=True)
    every: int = eqx.field(static=True, default=1)
    k: int = eqx.field(static=True, default=1)
    tol: float = eqx.field(static=True, default=1e-6)
    ncv: int | None = eqx.field(static=True, default=None)  # default 2k + 4
    trace_probes: int = eqx.field(static=True, default=0)
    curvature: Any = eqx.field(static=True, default="hessian")
    model_fn: Callable | None = eqx.field(static=True, default=None)
    output_loss: Callable | None = eqx.field(static=True, default=None)
    batch_size: int | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if self.every < 1:
            raise ValueError(f"`every` must be >= 1, got {self.every}.")
        if self.k < 1:
            raise ValueError(f"`k` must be >= 1, got {self.k}.")

    def init(self) -> TrackerState:
        return TrackerState(vectors=None)

    def update(self, state: TrackerState, step: int, params: Any, data: Any, *, lr: float,
               key: Any = None) -> tuple[TrackerState, SharpnessRecord | None]:
        if step % self.every:
            return state, None
        if not lr > 0:
            raise ValueError(f"`lr` must be positive, got {lr}.")
        v0 = None
        if state.vectors is not None:
            v0 = jax.tree_util.tree_map(lambda a: jnp.sum(a, axis=0), state.vectors)
        kw = dict(curvature=self.curvature, model_fn=self.model_fn,
                  output_loss=self.output_loss, batch_size=self.batch_size)
        # A short restart length suits warm starts: from the previous eigenvectors one cycle
        # of 2k+4 products usually converges (7 HVPs per update for k=1 on the tour's MLP,
        # against 21 with eigsh's default ncv=20).
        ncv = self.ncv if self.ncv is not None else 2 * self.k + 4
        res = top_eigenpairs(self.loss_fn, params, data, self.k, tol=self.tol, ncv=ncv,
                             v0=v0, verify=False, throw=False, key=key, **kw)
        overlap = _grad_overlap(self, params, data, res.eigenvectors)
        tr = se = None
        if self.trace_probes:
            t = trace(self.loss_fn, params, data, key=jax.random.key(step),
                      num_probes=self.trace_probes, **kw)
            tr, se = t.value, t.stderr
        rec = SharpnessRecord(step=int(step), lr=float(lr), eigenvalues=res.eigenvalues,
                              residual_norms=res.residual_norms, converged=res.converged,
                              num_matvecs=res.num_matvecs, grad_overlap=overlap, trace=tr,
                              trace_stderr=se)
        return TrackerState(vectors=res.eigenvectors), rec


def _grad_overlap(tracker, params, data, vectors):
    curv = make_curvature(tracker.curvature, tracker.loss_fn, tracker.model_fn,
                          tracker.output_loss, None)
    active, frozen = partition_params(params)
    batches = as_batches(data, tracker.batch_size)
    return _overlap_jit(curv, frozen, batches, active, vectors)


@eqx.filter_jit
def _overlap_jit(curv, frozen, batches, active, vectors):
    loss = restricted_loss(curv, frozen)
    g = batches.weighted_mean(lambda b: jax.grad(loss)(active, b))
    gl = jax.tree_util.tree_leaves(g)
    vl = jax.tree_util.tree_leaves(vectors)
    coeffs = sum(jnp.tensordot(v, x, axes=x.ndim) for v, x in zip(vl, gl, strict=True))
    gn2 = sum(jnp.sum(x * x) for x in gl)
    return jnp.sum(coeffs**2) / gn2
