"""Training and evaluation of a `SequenceModel` on a `Task` (optax, jitted steps)."""

from __future__ import annotations

import dataclasses
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from .._core._progress import Progress
from ._model import optimizer, trainable
from ._tasks import Task


def _loss(model, x, y, length, mask, task_kind: str, mode: str):
    out = model(x, length, mode=mode)
    if task_kind == "regression":
        err = jnp.sum((out - y) ** 2, axis=-1)
        m = mask.astype(err.dtype)
        return jnp.sum(err * m) / jnp.maximum(jnp.sum(m), 1.0), jnp.zeros((), err.dtype)
    logp = jax.nn.log_softmax(out, axis=-1)
    nll = -jnp.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
    correct = (jnp.argmax(out, axis=-1) == y).astype(nll.dtype)
    if task_kind == "per_step":
        m = mask.astype(nll.dtype)
        n = jnp.maximum(jnp.sum(m), 1.0)
        return jnp.sum(nll * m) / n, jnp.sum(correct * m) / n
    return nll, correct


def _kind(task: Task) -> str:
    if task.regression:
        return "regression"
    return "per_step" if task.per_step else "classify"


def _batch(task: Task, idx, dtype):
    x = task.inputs[idx]
    if not np.issubdtype(x.dtype, np.integer):
        x = x.astype(dtype)
    y = task.targets[idx]
    y = y.astype(dtype) if task.regression else y.astype(np.int32)
    mask = task.mask[idx] if task.mask is not None else np.ones(y.shape[:2], bool)
    return x, y, task.lengths[idx].astype(np.int32), mask


@dataclasses.dataclass
class FitResult:
    model: eqx.Module
    history: list[dict]
    seconds: float


def evaluate(model, task: Task, *, batch_size: int = 256, mode: str = "auto") -> dict:
    """Mean loss and accuracy on `task` (per-step tasks: over the masked positions, plus
    `final_accuracy` at each sequence's last position)."""
    kind = _kind(task)
    dtype = model.head.weight.dtype

    @eqx.filter_jit
    def batch_stats(model, x, y, length, mask):
        def one(x, y, length, mask):
            out = model(x, length, mode=mode)
            loss, acc = _loss(model, x, y, length, mask, kind, mode)
            final = jnp.zeros((), loss.dtype)
            if kind == "per_step":
                final = (jnp.argmax(out[length - 1]) == y[length - 1]).astype(loss.dtype)
            return loss, acc, final

        return jax.vmap(one)(x, y, length, mask)

    losses, accs, finals = [], [], []
    for start in range(0, len(task), batch_size):
        idx = np.arange(start, min(start + batch_size, len(task)))
        out = batch_stats(model, *_batch(task, idx, dtype))
        losses.append(np.asarray(out[0]))
        accs.append(np.asarray(out[1]))
        finals.append(np.asarray(out[2]))
    res = {"loss": float(np.concatenate(losses).mean())}
    if kind != "regression":
        res["accuracy"] = float(np.concatenate(accs).mean())
    if kind == "per_step":
        res["final_accuracy"] = float(np.concatenate(finals).mean())
    return res


def fit(
    model: eqx.Module,
    train: Task,
    *,
    steps: int = 2000,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    weight_decay: float = 0.05,
    dynamics_lr_scale: float = 0.1,
    warmup: int = 100,
    mode: str = "auto",
    key: jax.Array,
    eval_task: Task | None = None,
    eval_every: int = 0,
    progress: bool = True,
) -> FitResult:
    """AdamW (parameter groups from `jaxspec.ssm.optimizer`) with warmup + cosine decay,
    minibatches drawn with replacement from `train`; returns the trained model and a history
    of `{step, loss, [eval metrics]}` records."""
    if steps < 1 or batch_size < 1:
        raise ValueError(f"`steps` and `batch_size` must be >= 1, got {steps}, {batch_size}.")
    kind = _kind(train)
    dtype = model.head.weight.dtype
    sched = optax.warmup_cosine_decay_schedule(
        0.0, learning_rate, min(warmup, steps - 1) or 1, steps, learning_rate * 0.01
    )
    tx = optimizer(sched, model, weight_decay=weight_decay, dynamics_lr_scale=dynamics_lr_scale)
    params, static = eqx.partition(model, trainable(model))
    opt_state = tx.init(params)

    @eqx.filter_jit
    def step(params, opt_state, x, y, length, mask):
        def loss_fn(p):
            m = eqx.combine(p, static)
            losses, _ = jax.vmap(lambda *a: _loss(m, *a, kind, mode))(x, y, length, mask)
            return jnp.mean(losses)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        with jax.numpy_dtype_promotion("standard"):
            updates, opt_state = tx.update(grads, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, loss

    rng = np.random.default_rng(np.asarray(jr.key_data(key)).ravel().astype(np.uint32))
    history, t0, running = [], time.perf_counter(), []
    with Progress(steps, f"fit {train.name}", unit="steps", enabled=progress) as bar:
        for i in range(steps):
            idx = rng.integers(0, len(train), size=batch_size)
            params, opt_state, loss = step(params, opt_state, *_batch(train, idx, dtype))
            running.append(loss)
            if (i + 1) % 50 == 0 or i + 1 == steps:
                rec = {"step": i + 1, "loss": float(np.mean(np.asarray(running)))}
                running = []
                if not np.isfinite(rec["loss"]):
                    raise FloatingPointError(
                        f"Training diverged at step {i + 1} (loss "
                        f"{rec['loss']}); lower `learning_rate`."
                    )
                if eval_task is not None and eval_every and (i + 1) % eval_every == 0:
                    ev = evaluate(eqx.combine(params, static), eval_task, mode=mode)
                    rec.update({f"eval_{k}": v for k, v in ev.items()})
                history.append(rec)
                bar.update(i + 1 - bar.done)
    return FitResult(eqx.combine(params, static), history, time.perf_counter() - t0)
