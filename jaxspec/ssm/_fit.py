"""Training and evaluation of a `SequenceModel` on a `Task` (optax, jitted steps)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from .._core._checkpoint import Checkpointer
from .._core._io import atomic_write
from .._core._progress import Progress
from .._core._signals import preemption_guard
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
    correct = (jnp.argmax(out, axis=-1).astype(y.dtype) == y).astype(nll.dtype)
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
    """`model`, `history` (records of step, loss and eval metrics; `time_s` counts
    training time since the run began, over resumed calls), `seconds` of this call,
    `start_step` (> 0 after a resume) and `stopped` ("", "stop_after" or "sigterm")."""

    model: eqx.Module
    history: list[dict]
    seconds: float
    start_step: int = 0
    stopped: str = ""


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
                final = (jnp.argmax(out[length - 1]).astype(y.dtype) == y[length - 1]).astype(
                    loss.dtype)
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


def _fingerprint(model, train: Task, settings: dict) -> str:
    struct = jax.tree_util.tree_structure(model)
    shapes = [(tuple(x.shape), str(x.dtype)) for x in jax.tree_util.tree_leaves(
        eqx.filter(model, eqx.is_array))]
    blob = json.dumps({"settings": settings, "tree": str(struct), "shapes": shapes,
                       "task": [train.name, len(train), list(train.inputs.shape)]},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


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
    augment=None,
    progress: bool = True,
    log_every: int = 50,
    run_dir: str | Path | None = None,
    checkpoint_every: int = 500,
    keep: int = 3,
    stop_after: int | None = None,
    mesh: jax.sharding.Mesh | None = None,
) -> FitResult:
    """AdamW (parameter groups from `jaxspec.ssm.optimizer`) with warmup + cosine decay on
    minibatches drawn with replacement from `train`.

    The batch of step `i` depends only on `(key, i)`, so a resumed run sees exactly the data
    an uninterrupted one would. `augment(rng, inputs) -> inputs` (numpy: a generator and a
    batch of inputs) transforms each batch, e.g. `shift_digits`.

    With `run_dir`: `metrics.jsonl` gets one line per `log_every` steps and a checkpoint
    (parameters, optimiser state, step, history; orbax, atomic) is written every
    `checkpoint_every` steps, at the end, and on SIGTERM; the last `keep` and the best (by
    training loss) are kept. Calling `fit` again with the same `run_dir` and settings resumes
    from the latest checkpoint; other settings raise. `stop_after` runs at most that many steps
    in this call. A non-finite loss stops with `FloatingPointError`, the last good checkpoint
    kept.

    `mesh`: data parallelism over `mesh`'s first axis (batch sharded, parameters
    replicated); `batch_size` must divide by its size. The result equals one device's up to
    the order of floating-point sums.
    """
    if steps < 1 or batch_size < 1:
        raise ValueError(f"`steps` and `batch_size` must be >= 1, got {steps}, {batch_size}.")
    if log_every < 1 or checkpoint_every < 1:
        raise ValueError("`log_every` and `checkpoint_every` must be >= 1.")
    kind = _kind(train)
    dtype = model.head.weight.dtype
    sched = optax.warmup_cosine_decay_schedule(0.0, learning_rate, min(warmup, steps - 1) or 1,
                                               steps, learning_rate * 0.01)
    tx = optimizer(sched, model, weight_decay=weight_decay, dynamics_lr_scale=dynamics_lr_scale)
    params, static = eqx.partition(model, trainable(model))
    opt_state = tx.init(params)
    base_seed = [int(v) for v in np.asarray(jr.key_data(key)).ravel()]

    shard_batch = replicate = None
    if mesh is not None:
        from jax.sharding import NamedSharding, PartitionSpec

        axis = mesh.axis_names[0]
        n_dev = mesh.shape[axis]
        if batch_size % n_dev:
            raise ValueError(f"`batch_size` ({batch_size}) must be a multiple of the mesh's "
                             f"'{axis}' axis size ({n_dev}) for data parallelism.")
        data_sharding = NamedSharding(mesh, PartitionSpec(axis))
        rep = NamedSharding(mesh, PartitionSpec())

        def shard_batch(arrs):
            return tuple(jax.device_put(a, data_sharding) for a in arrs)

        def replicate(tree):
            return jax.device_put(tree, rep)

        params, opt_state = replicate(params), replicate(opt_state)

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

    settings = {"steps": steps, "batch_size": batch_size, "learning_rate": learning_rate,
                "weight_decay": weight_decay, "dynamics_lr_scale": dynamics_lr_scale,
                "warmup": warmup, "key": base_seed, "mode": mode}
    tag = _fingerprint(model, train, settings)
    history: list[dict] = []
    start = 0
    ckpt = None
    folder = Path(run_dir) if run_dir is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        ckpt = Checkpointer(folder / "checkpoints", keep=keep)
        if ckpt.latest_step() is not None:
            (params, opt_state), meta = ckpt.restore((params, opt_state))
            if meta.get("tag") != tag:
                raise ValueError(
                    f"{folder} holds a checkpoint of other settings or another model "
                    "(fingerprint mismatch); use a new run_dir or the original settings.")
            if replicate is not None:
                params, opt_state = replicate(params), replicate(opt_state)
            history, start = list(meta["history"]), int(meta["step"])
            _write_metrics(folder, history)

    end = steps if stop_after is None else min(steps, start + int(stop_after))
    # `time_s` is training time since the run began, summed over resumed calls
    call_start = time.perf_counter()
    t0 = call_start - (history[-1]["time_s"] if history else 0.0)
    running = []
    stopped = ""

    def save(i):
        if ckpt is not None:
            ckpt.save(i, (params, opt_state), {"tag": tag, "history": history},
                      metric=history[-1]["loss"] if history else None)

    with preemption_guard() as flag, Progress(end - start, f"fit {train.name}", unit="steps",
                                              enabled=progress) as bar:
        for i in range(start, end):
            rng = np.random.default_rng([*base_seed, i])
            idx = rng.integers(0, len(train), size=batch_size)
            x, y, length, mask = _batch(train, idx, dtype)
            if augment is not None:
                x = np.asarray(augment(rng, x), x.dtype)
            arrs = (x, y, length, mask)
            if shard_batch is not None:
                arrs = shard_batch(arrs)
            params, opt_state, loss = step(params, opt_state, *arrs)
            running.append(loss)
            done = i + 1
            save_now = done % checkpoint_every == 0 or done == end or flag.requested
            if done % log_every == 0 or save_now:
                rec = {"step": done, "loss": float(np.mean(np.asarray(running))),
                       "time_s": time.perf_counter() - t0}
                running = []
                if not np.isfinite(rec["loss"]):
                    raise FloatingPointError(
                        f"Training loss became {rec['loss']} by step {done}; the last good "
                        "checkpoint (if any) is kept. Lower `learning_rate`.")
                if eval_task is not None and eval_every and done % eval_every == 0:
                    ev = evaluate(eqx.combine(params, static), eval_task, mode=mode)
                    rec.update({f"eval_{k}": v for k, v in ev.items()})
                history.append(rec)
                if folder is not None:
                    with open(folder / "metrics.jsonl", "a") as f:
                        f.write(json.dumps(rec) + "\n")
                bar.update(done - start - bar.done)
            if save_now:
                save(done)
            if flag.requested:
                stopped = "sigterm"
                break
    if not stopped and end < steps:
        stopped = "stop_after"
    if ckpt is not None:
        ckpt.close()
    return FitResult(eqx.combine(params, static), history, time.perf_counter() - call_start, start,
                     stopped)


def _write_metrics(folder: Path, history: list[dict]) -> None:
    """On resume, drop metric lines written after the checkpoint (they will be recomputed)."""
    text = "".join(json.dumps(r) + "\n" for r in history)
    atomic_write(folder / "metrics.jsonl", lambda f: f.write(text.encode()))


def parity_experiment(
    eigenvalue_range: tuple = (-1, 1),
    *,
    seed: int = 0,
    steps: int = 1000,
    n_train: int = 4000,
    n_test: int = 500,
    test_max_len: int = 256,
) -> dict:
    """The parity recipe of the tour, the tutorial and the benchmark: one `SelectiveSSM` layer
    (width 32, 4 states, float32) trained on lengths 3-40 (AdamW 1e-2, no weight decay, batch
    64), tested at the last position of lengths 40-`test_max_len`. Data seed `seed` (test
    `seed + 1000`), model key `seed`, batch key `seed + 100`. Returns `scaled` (`2 acc - 1`),
    `final_accuracy`, `train_loss`, `seconds` and the trained `model`."""
    from ._model import SequenceModel
    from ._tasks import parity

    train = parity(n_train, min_len=3, max_len=40, seed=seed)
    test = parity(n_test, min_len=40, max_len=test_max_len, seed=1000 + seed)
    model = SequenceModel(2, vocab_size=3, d_model=32, num_layers=1, state_size=4,
                          layer="selective", layer_kwargs={"eigenvalue_range": eigenvalue_range},
                          pooling=None, dtype=jnp.float32, key=jr.key(seed))
    res = fit(model, train, steps=steps, batch_size=64, learning_rate=1e-2, weight_decay=0.0,
              key=jr.key(100 + seed), progress=False)
    acc = evaluate(res.model, test)["final_accuracy"]
    return {"scaled": 2 * acc - 1, "final_accuracy": acc, "train_loss": res.history[-1]["loss"],
            "seconds": res.seconds, "model": res.model, "test": test}
