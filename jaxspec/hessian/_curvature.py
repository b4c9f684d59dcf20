"""Curvature operators of a loss: Hessian, Gauss-Newton, Fisher (true and empirical).

Each `AbstractCurvature` computes a curvature-vector product on one batch; `operator` turns it
into a full-dataset `matvec(v, active_params)` for `jaxspec.linalg`, restricted to a chosen
sub-tree of the parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ._data import Batches


def hvp(loss_fn: Callable, params: Any, batch: Any, v: Any) -> Any:
    """Hessian-vector product of `loss_fn(params, batch)` (forward-over-reverse)."""
    return jax.jvp(lambda p: jax.grad(loss_fn)(p, batch), (params,), (v,))[1]


class AbstractCurvature(eqx.Module):
    """A positive (semi)definite or symmetric curvature matrix of a loss on one batch."""

    def loss(self, params: Any, batch: Any) -> jax.Array:
        raise NotImplementedError

    def mvp(self, params: Any, batch: Any, v: Any) -> Any:
        raise NotImplementedError

    def restrict(self, frozen: Any) -> AbstractCurvature:
        """The same curvature as a function of the active parameters, `frozen` held fixed."""
        raise NotImplementedError


class Hessian(AbstractCurvature):
    """Hessian of `loss_fn(params, batch) -> scalar` (mean over the batch)."""

    loss_fn: Callable = eqx.field(static=True)

    def loss(self, params, batch):
        return self.loss_fn(params, batch)

    def mvp(self, params, batch, v):
        return hvp(self.loss_fn, params, batch, v)

    def restrict(self, frozen):
        return Hessian(_with_frozen(self.loss_fn, frozen))


def _gn_product(model_fn, params, x, v, out_mvp):
    """J^T M J v with J the Jacobian of model_fn(., x) and M given by out_mvp(out, u)."""
    out, f_jvp = jax.linearize(lambda p: model_fn(p, x), params)
    u = out_mvp(out, f_jvp(v))
    (res,) = jax.linear_transpose(f_jvp, params)(u)
    return res


class GGN(AbstractCurvature):
    """Generalised Gauss-Newton J^T H_out J of `output_loss(model_fn(params, x), y)`.

    Batches are `(inputs, targets)`; `output_loss` is a mean over the batch and should be
    convex in the outputs (cross-entropy, squared error) so the GGN is positive semidefinite.
    """

    model_fn: Callable = eqx.field(static=True)
    output_loss: Callable = eqx.field(static=True)

    def loss(self, params, batch):
        x, y = batch
        return self.output_loss(self.model_fn(params, x), y)

    def mvp(self, params, batch, v):
        x, y = batch

        def out_mvp(out, u):
            return jax.jvp(jax.grad(lambda o: self.output_loss(o, y)), (out,), (u,))[1]

        return _gn_product(self.model_fn, params, x, v, out_mvp)

    def restrict(self, frozen):
        return GGN(_with_frozen(self.model_fn, frozen), self.output_loss)


class Fisher(AbstractCurvature):
    """True Fisher J^T F_out J of a likelihood on the model's outputs (mean over examples).

    likelihood="categorical": outputs are logits (batch, classes), F_out = diag(p) - p p^T
    with p = softmax(logits); the loss is the mean cross-entropy.
    likelihood="gaussian": outputs are means, unit variance, F_out = I; the loss is the mean
    of 0.5 * ||out - y||^2.
    For these canonical likelihoods the true Fisher equals the GGN of the matching loss.
    """

    model_fn: Callable = eqx.field(static=True)
    likelihood: str = eqx.field(static=True, default="categorical")

    def __check_init__(self):
        if self.likelihood not in ("categorical", "gaussian"):
            raise ValueError(
                f"`likelihood` must be 'categorical' or 'gaussian', got {self.likelihood!r}."
            )

    def loss(self, params, batch):
        x, y = batch
        out = self.model_fn(params, x)
        if self.likelihood == "categorical":
            logp = jax.nn.log_softmax(out, axis=-1)
            return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=-1))
        return 0.5 * jnp.mean(jnp.sum(jnp.reshape(out - y, (out.shape[0], -1)) ** 2, axis=1))

    def mvp(self, params, batch, v):
        x, _ = batch

        def out_mvp(out, u):
            b = out.shape[0]
            if self.likelihood == "categorical":
                p = jax.nn.softmax(out, axis=-1)
                return (p * u - p * jnp.sum(p * u, axis=-1, keepdims=True)) / b
            return u / b

        return _gn_product(self.model_fn, params, x, v, out_mvp)

    def restrict(self, frozen):
        return Fisher(_with_frozen(self.model_fn, frozen), self.likelihood)


class EmpiricalFisher(AbstractCurvature):
    """Empirical Fisher (1/B) sum_i g_i g_i^T with per-example gradients of `loss_fn`.

    Computed as J_l^T J_l v / B with J_l the Jacobian of the per-example losses (one jvp and
    one vjp, no per-example gradients stored). `loss_fn(params, batch)` is evaluated on
    batches of one example.
    """

    loss_fn: Callable = eqx.field(static=True)

    def loss(self, params, batch):
        return self.loss_fn(params, batch)

    def _per_example(self, params, batch):
        return jax.vmap(
            lambda ex: self.loss_fn(params, jax.tree_util.tree_map(lambda a: a[None], ex))
        )(batch)

    def mvp(self, params, batch, v):
        losses, f_jvp = jax.linearize(lambda p: self._per_example(p, batch), params)
        (res,) = jax.linear_transpose(f_jvp, params)(f_jvp(v) / losses.shape[0])
        return res

    def restrict(self, frozen):
        return EmpiricalFisher(_with_frozen(self.loss_fn, frozen))


def _with_frozen(fn: Callable, frozen: Any) -> Callable:
    def wrapped(active, *args):
        return fn(eqx.combine(active, frozen), *args)

    return wrapped


def make_curvature(curvature, loss_fn, model_fn=None, output_loss=None, likelihood=None):
    """Resolve the `curvature=` argument (a string or an `AbstractCurvature`)."""
    if isinstance(curvature, AbstractCurvature):
        return curvature
    if curvature == "hessian":
        _need(loss_fn, "loss_fn", curvature)
        return Hessian(loss_fn)
    if curvature == "ggn":
        _need(model_fn, "model_fn", curvature)
        _need(output_loss, "output_loss", curvature)
        return GGN(model_fn, output_loss)
    if curvature == "fisher":
        _need(model_fn, "model_fn", curvature)
        return Fisher(model_fn, likelihood or "categorical")
    if curvature == "empirical_fisher":
        _need(loss_fn, "loss_fn", curvature)
        return EmpiricalFisher(loss_fn)
    raise ValueError(
        "`curvature` must be 'hessian', 'ggn', 'fisher', 'empirical_fisher' or an "
        f"AbstractCurvature, got {curvature!r}."
    )


def _need(x, name, curvature):
    if x is None or not callable(x):
        raise ValueError(f"curvature={curvature!r} needs a callable `{name}=`.")


def partition_params(params: Any, wrt: Any = None) -> tuple[Any, Any]:
    """(active, frozen): the float arrays selected by `wrt` and everything else.

    `wrt` is None (all float arrays), a pytree of bools (a prefix of `params`), or a callable
    leaf -> bool. Integer arrays inside the selection are an error.
    """
    arrays, static = eqx.partition(params, eqx.is_array)
    bad = [
        x.dtype for x in jax.tree_util.tree_leaves(arrays)
        if not jnp.issubdtype(x.dtype, jnp.inexact)
    ]
    if wrt is None:
        if bad:
            raise TypeError(
                f"`params` holds non-floating arrays (dtypes {sorted(set(map(str, bad)))}); "
                "curvature is defined for float parameters only. Select the float leaves "
                "with `wrt=` or move the others out of `params`."
            )
        active, frozen_arrays = arrays, None
    else:
        active, frozen_arrays = eqx.partition(arrays, wrt)
        bad = [x.dtype for x in jax.tree_util.tree_leaves(active)
               if not jnp.issubdtype(x.dtype, jnp.inexact)]
        if bad:
            raise TypeError(f"`wrt` selects non-floating arrays (dtypes {bad}).")
    for x in jax.tree_util.tree_leaves(active):
        if jnp.issubdtype(x.dtype, jnp.complexfloating):
            raise TypeError("complex parameters are not supported.")
    if not jax.tree_util.tree_leaves(active):
        raise ValueError("no floating-point parameters selected (check `params` and `wrt`).")
    frozen = eqx.combine(frozen_arrays, static) if frozen_arrays is not None else static
    return active, frozen


def operator(curv: AbstractCurvature, frozen: Any, batches: Batches) -> Callable:
    """Full-dataset `matvec(v, active)`: sample-weighted mean of per-batch products, with
    derivatives taken with respect to the active parameters only."""

    def matvec(v, active):
        c = curv.restrict(frozen)
        return batches.weighted_mean(lambda batch: c.mvp(active, batch, v))

    return matvec


def restricted_loss(curv: AbstractCurvature, frozen: Any) -> Callable:
    return curv.restrict(frozen).loss
