"""`jaxspec ssm train`: train a sequence model on one of the offline tasks."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .. import ssm
from ._distributed import data_mesh
from ._rundir import prepare_run_dir, setup_logging, write_result

TASKS = ("parity", "modular_arithmetic", "modular_arithmetic_brackets", "selective_copying",
         "induction_heads", "associative_recall", "lds", "sequential_digits", "listops")


@dataclasses.dataclass(frozen=True)
class SSMJob:
    """Config of `jaxspec ssm train` (every field can be set in a preset or with --set)."""

    task: str = "parity"
    n_train: int = 4000
    n_test: int = 500
    min_len: int = 3
    max_len: int = 40
    test_min_len: int = 40
    test_max_len: int = 256
    layer: str = "selective"
    eigenvalue_range: tuple[float, float] = (-1.0, 1.0)
    bidirectional: bool = False
    d_model: int = 32
    num_layers: int = 1
    state_size: int = 4
    mlp_ratio: int = 2
    steps: int = 1000
    batch_size: int = 64
    learning_rate: float = 1e-2
    weight_decay: float = 0.0
    warmup: int = 100
    seed: int = 0
    dtype: str = "float32"
    log_every: int = 50
    checkpoint_every: int = 200
    keep: int = 3
    data_parallel: bool = False
    augment: bool = False

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"config key `task` must be one of {TASKS}, got {self.task!r}.")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"config key `dtype` must be 'float32' or 'float64', got "
                             f"{self.dtype!r}.")
        for name in ("n_train", "n_test", "steps", "batch_size", "d_model", "num_layers",
                     "state_size", "log_every", "checkpoint_every", "keep"):
            if getattr(self, name) < 1:
                raise ValueError(f"config key `{name}` must be >= 1, got {getattr(self, name)}.")
        if not self.learning_rate > 0:
            raise ValueError(f"config key `learning_rate` must be > 0, got {self.learning_rate}.")


def _tasks(cfg: SSMJob) -> tuple[ssm.Task, ssm.Task]:
    s = cfg.seed
    if cfg.task == "parity":
        return (ssm.parity(cfg.n_train, min_len=cfg.min_len, max_len=cfg.max_len, seed=s),
                ssm.parity(cfg.n_test, min_len=cfg.test_min_len, max_len=cfg.test_max_len,
                           seed=s + 1))
    if cfg.task == "sequential_digits":
        return ssm.sequential_digits(seed=s)
    if cfg.task.startswith("modular_arithmetic"):
        br = cfg.task.endswith("brackets")
        return (ssm.modular_arithmetic(cfg.n_train, min_len=cfg.min_len, max_len=cfg.max_len,
                                       brackets=br, seed=s),
                ssm.modular_arithmetic(cfg.n_test, min_len=cfg.test_min_len,
                                       max_len=cfg.test_max_len, brackets=br, seed=s + 1))
    make = {"selective_copying": ssm.selective_copying, "induction_heads": ssm.induction_heads,
            "associative_recall": ssm.associative_recall, "lds": ssm.lds,
            "listops": ssm.listops}[cfg.task]
    full = make(cfg.n_train + cfg.n_test, seed=s)
    return (full.subset(np.arange(cfg.n_train)),
            full.subset(np.arange(cfg.n_train, cfg.n_train + cfg.n_test)))


def _model(cfg: SSMJob, train: ssm.Task) -> ssm.SequenceModel:
    kw = {}
    if cfg.layer in ("real", "selective"):
        kw["eigenvalue_range"] = tuple(cfg.eigenvalue_range)
    if cfg.bidirectional:
        kw["bidirectional"] = True
    pooling = None if (train.per_step or train.regression) else "mean"
    if train.regression:
        pooling = None
    return ssm.SequenceModel(
        train.num_outputs, vocab_size=train.vocab_size, input_dim=train.input_dim,
        d_model=cfg.d_model, num_layers=cfg.num_layers, state_size=cfg.state_size,
        layer=cfg.layer, layer_kwargs=kw, pooling=pooling, seq_len=train.inputs.shape[1],
        mlp_ratio=cfg.mlp_ratio, dtype=jnp.dtype(cfg.dtype), key=jr.key(cfg.seed))


def params_digest(model) -> str:
    """SHA-256 of the model's array leaves (bitwise identity of two trained models)."""
    h = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array)):
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
            leaf = leaf.addressable_data(0)  # replicated: every process holds all of it
        h.update(np.asarray(leaf).tobytes())
    return h.hexdigest()


def run_ssm(cfg: SSMJob, run_dir: str | Path, *, progress: bool = True,
            stop_after: int | None = None) -> dict:
    """Train (or resume) the configured model; write metrics, checkpoints, a loss plot and
    `result.json` (test metrics, parameter digest) into `run_dir`."""
    primary = jax.process_index() == 0
    folder = prepare_run_dir(run_dir, cfg, primary=primary)
    log = setup_logging(folder, "ssm")
    if cfg.dtype == "float64" and not jax.config.read("jax_enable_x64"):
        jax.config.update("jax_enable_x64", True)  # a job is an application: it may opt in
    train, test = _tasks(cfg)
    model = _model(cfg, train)
    mesh = data_mesh() if cfg.data_parallel else None
    log.info("task %s: %d train / %d test sequences; %s x %d layers; %s", cfg.task, len(train),
             len(test), cfg.layer, cfg.num_layers,
             f"data parallel over {mesh.devices.size} devices" if mesh else "one device")
    t0 = time.perf_counter()
    res = ssm.fit(model, train, steps=cfg.steps, batch_size=cfg.batch_size,
                  learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay,
                  warmup=cfg.warmup, key=jr.key(cfg.seed + 1), progress=progress and primary,
                  log_every=cfg.log_every, run_dir=folder, checkpoint_every=cfg.checkpoint_every,
                  keep=cfg.keep, stop_after=stop_after, mesh=mesh,
                  augment=ssm.shift_digits if cfg.augment else None)
    if res.stopped:
        log.info("stopped (%s) at step %d; rerun the same command to resume", res.stopped,
                 res.history[-1]["step"] if res.history else 0)
        return {"stopped": res.stopped}
    ev = ssm.evaluate(res.model, test)
    result = {"task": cfg.task, "test": ev, "train_loss": res.history[-1]["loss"],
              "steps": cfg.steps, "resumed_from": res.start_step,
              "wall_s": time.perf_counter() - t0, "params_sha256": params_digest(res.model)}
    if train.per_step and "final_accuracy" in ev:
        result["scaled_final_accuracy"] = 2 * ev["final_accuracy"] - 1
    if primary:
        write_result(folder, result)
        _plot(folder, res.history)
    log.info("done: %s", {k: v for k, v in result.items() if k != "params_sha256"})
    return result


def _plot(folder: Path, history: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.semilogy([h["step"] for h in history], [h["loss"] for h in history])
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    fig.tight_layout()
    fig.savefig(folder / "loss.png", dpi=100)
    plt.close(fig)
