"""Training operators with optax: the FNO papers' recipe, normalisers, evaluation, checkpoints.

One compiled function runs a whole epoch (a `lax.scan` over shuffled batches). A run folder,
if given, receives `metrics.jsonl` (one line per epoch) and an orbax checkpoint (model,
optimiser state, epoch, history; written aside and renamed, so a kill never leaves a partial
one) every `checkpoint_every` epochs, at the end and on SIGTERM, keeping the last
`keep_checkpoints` and the best; calling `fit` again with the same folder resumes from it
and ends with the same result as an uninterrupted run (epoch
shuffles come from `fold_in(key(seed), epoch)`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array

from .._core._checkpoint import Checkpointer
from .._core._io import atomic_write
from .._core._signals import preemption_guard
from ._batch import batch_apply
from ._losses import relative_lp, relative_sobolev


class Normalizer(eqx.Module):
    """Per-channel affine normaliser `(x - mean) / std` (statistics over samples and grid
    points, so it applies unchanged at any resolution)."""

    mean: Array
    std: Array

    @classmethod
    def fit(cls, x: Array, eps: float = 1e-8) -> Normalizer:
        """From data of shape `(N, channels, *spatial)`."""
        axes = (0, *range(2, x.ndim))
        mean = jnp.mean(x, axis=axes)
        std = jnp.std(x, axis=axes) + eps
        return cls(mean, std)

    @classmethod
    def identity(cls, channels: int, dtype) -> Normalizer:
        return cls(jnp.zeros(channels, dtype), jnp.ones(channels, dtype))

    def _shape(self, v, x):
        return v.astype(x.dtype).reshape((-1,) + (1,) * (x.ndim - 1))

    def encode(self, x: Array) -> Array:
        """One sample `(channels, *spatial)`."""
        return (x - self._shape(self.mean, x)) / self._shape(self.std, x)

    def decode(self, x: Array) -> Array:
        return x * self._shape(self.std, x) + self._shape(self.mean, x)


class Operator(eqx.Module):
    """A model between normalisers: `y = out.decode(model(inp.encode(x)))`, one sample."""

    model: Any
    inp: Normalizer
    out: Normalizer

    def __call__(self, x: Array) -> Array:
        return self.out.decode(self.model(self.inp.encode(x)))

    def batched(self, x: Array) -> Array:
        """`(batch, channels, *spatial)`, through the model's batch-folded path if it has one."""
        y = batch_apply(self.model, jax.vmap(self.inp.encode)(x))
        return jax.vmap(self.out.decode)(y)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The FNO papers' recipe by default: Adam 1e-3 with L2 weight decay 1e-4 (added to the
    gradient, as `torch.optim.Adam(weight_decay=...)`), halved every 100 epochs, batch 20,
    relative L2 loss. `loss` is `"l2"`, `"h1"`, `"sobolev:<s>"` (e.g. `"sobolev:-1"`) or
    `"l2_per_channel"` (the mean over output channels of each channel's relative L2: the FNO
    paper's per-time-step loss for `Rollout` models, whose channels are time steps)."""

    epochs: int = 500
    batch_size: int = 20
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    step_size: int = 100
    gamma: float = 0.5
    loss: str = "l2"
    normalize_inputs: bool = False
    normalize_outputs: bool = False
    seed: int = 0
    checkpoint_every: int = 10
    keep_checkpoints: int = 3
    log_every: int = 10

    def __post_init__(self):
        for name in ("epochs", "batch_size", "step_size", "checkpoint_every", "keep_checkpoints",
                     "log_every"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 1):
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {v!r}.")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError(f"TrainConfig.learning_rate must be positive, got "
                             f"{self.learning_rate!r}.")
        loss_fn(self.loss)  # validates the name


def loss_fn(name: str) -> Callable[[Array, Array], Array]:
    """The per-sample loss named `name` (`"l2"`, `"h1"`, `"sobolev:<s>"`, `"l2_per_channel"`)."""
    if name == "l2":
        return relative_lp
    if name == "l2_per_channel":
        return lambda p, t: jnp.mean(jax.vmap(relative_lp)(p[:, None], t[:, None]))
    if name == "h1":
        return lambda p, t: relative_sobolev(p, t, 1.0)
    if name.startswith("sobolev:"):
        try:
            s = float(name.split(":", 1)[1])
        except ValueError:
            s = None
        if s is not None and math.isfinite(s):
            return lambda p, t: relative_sobolev(p, t, s)
    raise ValueError(
        f"`loss` must be 'l2', 'h1', 'sobolev:<s>' or 'l2_per_channel', got {name!r}."
    )


@dataclasses.dataclass
class TrainResult:
    """The trained `Operator`, per-epoch history (train loss, test relative L2, lr, and
    `time_s`, training time since the run began, summed over resumed calls), the epoch this
    call resumed from, and `stopped`: "" when all `config.epochs` are done, "stop_after" or
    "sigterm" when this call returned early (the operator is then the partly trained one;
    call again with the same `run_dir` to continue)."""

    operator: Operator
    history: list[dict]
    resumed_from: int
    stopped: str = ""


@eqx.filter_jit
def _relative_errors(op, a, b):
    return jax.vmap(relative_lp)(batch_apply(op, a), b)


def evaluate(operator: Callable, x: Array, y: Array, chunk: int = 100) -> float:
    """Mean relative L2 error over samples (in chunks to bound memory)."""
    _check_data(x, y, "x", "y")
    errs = [_relative_errors(operator, x[i:i + chunk], y[i:i + chunk])
            for i in range(0, len(x), chunk)]
    return float(jnp.mean(jnp.concatenate(errs)))


def _check_data(x, y, xn, yn):
    if x.ndim < 3 or y.ndim < 3:
        raise ValueError(f"`{xn}` and `{yn}` must have shape (N, channels, *spatial), got "
                         f"{x.shape} and {y.shape}.")
    if x.shape[0] != y.shape[0] or x.shape[2:] != y.shape[2:]:
        raise ValueError(f"`{xn}` {x.shape} and `{yn}` {y.shape} must have the same number of "
                         "samples and the same grid.")
    for name, a in ((xn, x), (yn, y)):
        if not np.all(np.isfinite(np.asarray(a))):
            raise ValueError(f"`{name}` contains NaN or Inf values.")


def _config_hash(config: TrainConfig, model) -> str:
    shapes = [(tuple(a.shape), str(a.dtype)) for a in jax.tree_util.tree_leaves(
        eqx.filter(model, eqx.is_array))]
    blob = json.dumps({"config": dataclasses.asdict(config), "shapes": shapes}, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]



def fit(
    model: eqx.Module,
    train: tuple[Array, Array],
    test: tuple[Array, Array] | None = None,
    config: TrainConfig = TrainConfig(),
    *,
    run_dir: str | Path | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    trainable: Callable[[Any], Any] | None = None,
    normalizers: tuple[Normalizer, Normalizer] | None = None,
    mesh: jax.sharding.Mesh | None = None,
) -> TrainResult:
    """Train `model` (one sample `(in_channels, *spatial) -> (out_channels, *spatial)`) on
    `train = (x, y)` with shapes `(N, channels, *spatial)`; evaluate the relative L2 error on
    `test` after every epoch. With `run_dir`, log metrics and checkpoint there, and resume from
    an existing checkpoint of the same configuration and architecture. `stop_after` runs at
    most that many epochs in this call and checkpoints before returning (for jobs with a time
    limit: the next call with the same `run_dir` continues). `trainable(model)` selects the
    sub-tree (e.g. `lambda m: m.spectral[-1]`) whose arrays are trained; the rest is frozen.
    `normalizers=(inp, out)` uses given normalisers instead of fitting them (fine-tuning).
    `mesh`: data parallelism over the mesh's first axis: each batch is split across its
    devices (`batch_size` must divide by its size), parameters and optimiser state are
    replicated; results equal one device's up to the order of floating-point sums.
    """
    x, y = (jnp.asarray(a) for a in train)
    _check_data(x, y, "train[0]", "train[1]")
    if test is not None:
        _check_data(jnp.asarray(test[0]), jnp.asarray(test[1]), "test[0]", "test[1]")
    n = x.shape[0]
    b = min(config.batch_size, n)
    steps_per_epoch = -(-n // b)
    inp = Normalizer.fit(x) if config.normalize_inputs else Normalizer.identity(x.shape[1],
                                                                               x.dtype)
    out = Normalizer.fit(y) if config.normalize_outputs else Normalizer.identity(y.shape[1],
                                                                                y.dtype)
    if normalizers is not None:
        inp, out = normalizers
    op = Operator(model, inp, out)
    per_sample = loss_fn(config.loss)

    schedule = optax.exponential_decay(
        config.learning_rate, steps_per_epoch * config.step_size, config.gamma, staircase=True
    )

    optim = optax.chain(
        optax.add_decayed_weights(config.weight_decay),
        optax.scale_by_adam(),
        optax.scale_by_learning_rate(schedule),
    )
    mask = jax.tree_util.tree_map(eqx.is_inexact_array, op)
    if trainable is not None:
        mask = jax.tree_util.tree_map(lambda _: False, mask)
        sub_model = trainable(op.model)
        mask = eqx.tree_at(lambda o: trainable(o.model), mask,
                           replace=jax.tree_util.tree_map(eqx.is_inexact_array, sub_model))
    params, static = eqx.partition(op, mask)
    # the normalisers are data statistics, not parameters
    frozen = eqx.tree_at(lambda o: (o.inp, o.out), params, replace=(None, None),
                         is_leaf=lambda v: v is None)
    stats = (params.inp, params.out)
    opt_state = optim.init(frozen)
    constrain = None
    if mesh is not None:
        from jax.sharding import NamedSharding, PartitionSpec

        axis = mesh.axis_names[0]
        if b % mesh.shape[axis]:
            raise ValueError(f"`batch_size` ({b}) must be a multiple of the mesh's '{axis}' "
                             f"axis size ({mesh.shape[axis]}) for data parallelism.")
        rep = NamedSharding(mesh, PartitionSpec())
        shard = NamedSharding(mesh, PartitionSpec(axis))
        frozen, opt_state = jax.device_put((frozen, opt_state), rep)
        x, y = jax.device_put((x, y), rep)

        def constrain(v):
            return jax.lax.with_sharding_constraint(v, shard)

    def batch_loss(p, xb, yb, wb):
        if constrain is not None:
            xb, yb, wb = constrain(xb), constrain(yb), constrain(wb)
        o = eqx.combine(eqx.tree_at(lambda q: (q.inp, q.out), p, replace=stats,
                                    is_leaf=lambda v: v is None), static)
        losses = jax.vmap(per_sample)(batch_apply(o, xb), yb)
        return jnp.sum(wb * losses) / jnp.sum(wb)

    @eqx.filter_jit
    def run_epoch(p, s, epoch):
        perm = jr.permutation(jr.fold_in(jr.key(config.seed), epoch), n)
        pad = steps_per_epoch * b - n
        idx = jnp.concatenate([perm, perm[:pad]]).reshape(steps_per_epoch, b)
        w = jnp.concatenate([jnp.ones(n, x.dtype), jnp.zeros(pad, x.dtype)]).reshape(
            steps_per_epoch, b)

        def step(carry, batch):
            p, s = carry
            i, wb = batch
            loss, g = jax.value_and_grad(batch_loss)(p, x[i], y[i], wb)
            with jax.numpy_dtype_promotion("standard"):  # optax mixes int step counts
                upd, s = optim.update(g, s, p)
                p = optax.apply_updates(p, upd)
            return (p, s), loss

        (p, s), losses = jax.lax.scan(step, (p, s), (idx, w))
        return p, s, jnp.mean(losses)

    folder = Path(run_dir) if run_dir is not None else None
    history: list[dict] = []
    start = 0
    tag = _config_hash(config, model)
    ckpt = None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        ckpt = Checkpointer(folder / "checkpoints", keep=config.keep_checkpoints)
        if ckpt.latest_step() is not None:
            (frozen, opt_state), meta = ckpt.restore((frozen, opt_state))
            if mesh is not None:
                frozen, opt_state = jax.device_put((frozen, opt_state), rep)
            if meta.get("tag") != tag:
                raise ValueError(
                    f"{folder} holds a checkpoint of another configuration or architecture; "
                    "use a new run_dir."
                )
            history, start = meta["history"], int(meta["epoch"])
            _rewrite_metrics(folder, history)

    def assemble(p):
        return eqx.combine(eqx.tree_at(lambda q: (q.inp, q.out), p, replace=stats,
                                       is_leaf=lambda v: v is None), static)

    # `time_s` is training time since the run began, summed over resumed calls
    t0 = time.perf_counter() - (history[-1]["time_s"] if history else 0.0)
    end = config.epochs if stop_after is None else min(config.epochs, start + int(stop_after))
    with preemption_guard() as flag:
        for epoch in range(start, end):
            frozen, opt_state, loss = run_epoch(frozen, opt_state, jnp.asarray(epoch))
            loss = float(loss)
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f"training loss became {loss} at epoch {epoch + 1}; the last good checkpoint "
                    "(if any) is kept. Lower the learning rate or check the data."
                )
            rec = {"epoch": epoch + 1, "train_loss": loss,
                   "lr": float(schedule(epoch * steps_per_epoch)),
                   "time_s": time.perf_counter() - t0}
            if test is not None:
                rec["test_l2"] = evaluate(assemble(frozen), test[0], test[1])
            history.append(rec)
            if folder is not None:
                with open(folder / "metrics.jsonl", "a") as f:
                    f.write(json.dumps(rec) + "\n")
                last = epoch + 1 == end
                if (epoch + 1) % config.checkpoint_every == 0 or last or flag.requested:
                    ckpt.save(epoch + 1, (frozen, opt_state),
                              {"tag": tag, "epoch": epoch + 1, "history": history},
                              metric=rec.get("test_l2", loss))
            if progress and ((epoch + 1) % config.log_every == 0 or epoch + 1 == config.epochs):
                test_txt = f" test L2 {rec['test_l2']:.4e}" if "test_l2" in rec else ""
                print(f"epoch {epoch + 1}/{config.epochs}: train {loss:.4e}{test_txt} "
                      f"lr {rec['lr']:.2e} ({rec['time_s']:.1f} s)", file=sys.stderr, flush=True)
            if flag.requested:  # pre-empted: the checkpoint above holds this epoch
                break
    if ckpt is not None:
        ckpt.close()
    done = history[-1]["epoch"] if history else start
    stopped = "" if done >= config.epochs else ("sigterm" if flag.requested else "stop_after")
    return TrainResult(assemble(frozen), history, start, stopped)


def _rewrite_metrics(folder: Path, history: list[dict]) -> None:
    """On resume, drop metric lines written after the checkpoint (they will be recomputed)."""
    text = "".join(json.dumps(r) + "\n" for r in history)
    atomic_write(folder / "metrics.jsonl", lambda f: f.write(text.encode()))
