"""Top eigenpairs, spectral densities and traces of a loss's curvature."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

import jaxspec.linalg as jl

from ._curvature import (
    AbstractCurvature,
    make_curvature,
    operator,
    partition_params,
    restricted_loss,
)
from ._data import Batches, as_batches


def _size(tree) -> int:
    return int(sum(np.prod(np.shape(x), dtype=np.int64) for x in jax.tree_util.tree_leaves(tree)))


class _Problem(eqx.Module):
    curv: AbstractCurvature
    active: Any
    frozen: Any
    batches: Batches

    @property
    def dim(self) -> int:
        return _size(self.active)

    def matvec(self) -> Callable:
        return operator(self.curv, self.frozen, self.batches)

    def checked(self, x):
        """Return x, raising at run time if the loss is not finite at the parameters."""
        loss = restricted_loss(self.curv, self.frozen)(self.active, self.batches.first())
        return eqx.error_if(
            x, ~jnp.isfinite(loss),
            "the loss is NaN or Inf at `params` (on the first batch): curvature undefined.",
        )


def _setup(loss_fn, params, data, *, curvature, model_fn, output_loss, likelihood, wrt,
           batch_size) -> _Problem:
    curv = make_curvature(curvature, loss_fn, model_fn, output_loss, likelihood)
    active, frozen = partition_params(params, wrt)
    batches = as_batches(data, batch_size)
    # trace-time contract checks on one batch
    try:
        out = eqx.filter_eval_shape(restricted_loss(curv, frozen), active, batches.first())
    except Exception as e:
        raise ValueError(
            f"evaluating the loss on one batch failed: {type(e).__name__}: {e}"
        ) from e
    if not (hasattr(out, "shape") and out.shape == ()):
        raise ValueError(
            "the loss must return a scalar (a mean over the batch); got "
            f"{getattr(out, 'shape', type(out))}. Reduce with jnp.mean."
        )
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise ValueError(f"the loss must be a real float scalar, got dtype {out.dtype}.")
    return _Problem(curv, active, frozen, batches)


_COMMON_DOC = """
    Args:
        loss_fn: `loss_fn(params, batch) -> scalar`, a mean over the batch (for
            curvature="hessian" or "empirical_fisher"; may be None for "ggn"/"fisher").
        params: any pytree (dicts, equinox modules, flax variables); its float arrays are the
            parameters, non-array leaves are held fixed.
        data: a pytree of arrays with a leading example axis (split by `batch_size`), or a
            `Batches` (e.g. `Batches.from_iterable(loader)`). Curvature is the sample-count
            weighted mean over batches. Shard it over a mesh's data axis for data parallelism.
        curvature: "hessian", "ggn" (needs `model_fn` and `output_loss`), "fisher" (needs
            `model_fn`, `likelihood`), "empirical_fisher", or an `AbstractCurvature`.
        wrt: restrict to a sub-tree of the parameters (a pytree of bools or a leaf filter),
            e.g. one layer: the operator is then that diagonal block.
        batch_size: examples per batch when `data` is an array pytree (default: all).
"""


def top_eigenpairs(
    loss_fn: Callable | None,
    params: Any,
    data: Any,
    k: int = 1,
    *,
    curvature: str | AbstractCurvature = "hessian",
    model_fn: Callable | None = None,
    output_loss: Callable | None = None,
    likelihood: str | None = None,
    wrt: Any = None,
    batch_size: int | None = None,
    which: str = "largest",
    tol: float | None = None,
    ncv: int | None = None,
    max_matvecs: int | None = None,
    v0: Any = None,
    key: Any = None,
    verify: bool = True,
    throw: bool = True,
) -> jl.EigshResult:
    """Top-k eigenpairs of the loss curvature by thick-restart Lanczos on curvature-vector
    products. Eigenvalues come most-wanted first (descending for which="largest"); they are
    differentiable with respect to `params` (sharpness regularisation). `v0` warm-starts
    (e.g. a previous eigenvector); the other solver arguments are those of
    `jaxspec.linalg.eigsh`.
    """
    prob = _setup(loss_fn, params, data, curvature=curvature, model_fn=model_fn,
                  output_loss=output_loss, likelihood=likelihood, wrt=wrt,
                  batch_size=batch_size)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < prob.dim:
        raise ValueError(
            f"`k` must be an int with 1 <= k < number of parameters ({prob.dim}), got {k!r}."
        )
    if key is None:
        key = jr.key(0)
    if v0 is None:
        v0 = jl.random_like(jr.fold_in(key, 1), prob.active, "normal")
    else:
        v0 = eqx.filter(v0, eqx.is_array)
        if jax.tree_util.tree_structure(v0) != jax.tree_util.tree_structure(prob.active):
            raise ValueError("`v0` must have the structure of the (selected) float parameters.")
    return _top_jit(prob, v0, k, which, tol, ncv, max_matvecs, key, verify, throw)


@eqx.filter_jit
def _top_jit(prob, v0, k, which, tol, ncv, max_matvecs, key, verify, throw):
    res = jl.eigsh(prob.matvec(), v0, k, prob.active, which=which, tol=tol, ncv=ncv,
                   max_matvecs=max_matvecs, key=key, verify=verify, throw=throw)
    order = jnp.arange(k)[::-1] if which == "largest" else jnp.arange(k)
    return eqx.tree_at(
        lambda r: (r.eigenvalues, r.eigenvectors, r.residual_norms, r.converged),
        res,
        (
            prob.checked(res.eigenvalues[order]),
            jax.tree_util.tree_map(lambda a: a[order], res.eigenvectors),
            res.residual_norms[order],
            res.converged[order],
        ),
    )


def spectral_density(
    loss_fn: Callable | None,
    params: Any,
    data: Any,
    *,
    key: Any,
    num_probes: int = 10,
    num_steps: int = 80,
    curvature: str | AbstractCurvature = "hessian",
    model_fn: Callable | None = None,
    output_loss: Callable | None = None,
    likelihood: str | None = None,
    wrt: Any = None,
    batch_size: int | None = None,
    reortho: str = "full",
) -> jl.SpectralDensity:
    """Eigenvalue density of the curvature by stochastic Lanczos quadrature
    (`jaxspec.linalg.slq`): `num_probes` Lanczos runs of `num_steps` products each; the
    quadrature runs in float64 when x64 is enabled, whatever the parameters' dtype."""
    prob = _setup(loss_fn, params, data, curvature=curvature, model_fn=model_fn,
                  output_loss=output_loss, likelihood=likelihood, wrt=wrt,
                  batch_size=batch_size)
    if num_steps > prob.dim:
        raise ValueError(f"`num_steps` ({num_steps}) exceeds the parameter count {prob.dim}.")
    return _density_jit(prob, key, num_probes, num_steps, reortho)


@eqx.filter_jit
def _density_jit(prob, key, num_probes, num_steps, reortho):
    d = jl.slq(prob.matvec(), prob.active, prob.active, key=key, num_probes=num_probes,
               num_steps=num_steps, reortho=reortho)
    return eqx.tree_at(lambda x: x.nodes, d, prob.checked(d.nodes))


def trace(
    loss_fn: Callable | None,
    params: Any,
    data: Any,
    *,
    key: Any,
    num_probes: int = 100,
    method: str = "hutchinson",
    curvature: str | AbstractCurvature = "hessian",
    model_fn: Callable | None = None,
    output_loss: Callable | None = None,
    likelihood: str | None = None,
    wrt: Any = None,
    batch_size: int | None = None,
) -> jl.TraceEstimate:
    """Trace of the curvature (Hutchinson or Hutch++) with its standard error."""
    prob = _setup(loss_fn, params, data, curvature=curvature, model_fn=model_fn,
                  output_loss=output_loss, likelihood=likelihood, wrt=wrt,
                  batch_size=batch_size)
    return _trace_jit(prob, key, num_probes, method)


@eqx.filter_jit
def _trace_jit(prob, key, num_probes, method):
    t = jl.trace_estimate(prob.matvec(), prob.active, prob.active, key=key,
                          num_probes=num_probes, method=method)
    return eqx.tree_at(lambda x: x.value, t, prob.checked(t.value))


def curvature_matvec(
    loss_fn: Callable | None,
    params: Any,
    data: Any,
    *,
    curvature: str | AbstractCurvature = "hessian",
    model_fn: Callable | None = None,
    output_loss: Callable | None = None,
    likelihood: str | None = None,
    wrt: Any = None,
    batch_size: int | None = None,
) -> tuple[Callable, Any]:
    """The full-dataset curvature as `(matvec, active)`: `matvec(v, active)` for any
    `jaxspec.linalg` routine, and the selected float parameters `active` (the vector space)."""
    prob = _setup(loss_fn, params, data, curvature=curvature, model_fn=model_fn,
                  output_loss=output_loss, likelihood=likelihood, wrt=wrt,
                  batch_size=batch_size)
    return prob.matvec(), prob.active


for _f in (top_eigenpairs, spectral_density, trace, curvature_matvec):
    _f.__doc__ = (_f.__doc__ or "") + _COMMON_DOC
