"""`jaxspec fno train`: train an FNO on a dataset generated (and cached) by jaxspec.physics."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as jr

from .. import fno
from ..physics import datasets
from ._distributed import data_mesh
from ._rundir import prepare_run_dir, setup_logging, write_result
from ._ssm import params_digest

DATASETS = ("burgers", "darcy")


@dataclasses.dataclass(frozen=True)
class FNOJob:
    """Config of `jaxspec fno train` (the FNO paper's recipe, smaller by default)."""

    dataset: str = "burgers"
    n_train: int = 1000
    n_test: int = 200
    resolution: int = 1024
    modes: int = 16
    width: int = 64
    num_layers: int = 4
    padding: float = 0.0
    factorization: str = ""  # "", "cp" or "tucker"
    rank: float = 0.1  # fraction of the dense spectral parameters, with `factorization`
    compute_dtype: str = ""  # "" (float32 throughout) or "bfloat16" (float32 FFTs)
    epochs: int = 500
    step_size: int = 100
    batch_size: int = 20
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    loss: str = "l2"
    seed: int = 0
    checkpoint_every: int = 10
    keep: int = 3
    cache: str = ""
    data_parallel: bool = False

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"config key `dataset` must be one of {DATASETS}, got "
                             f"{self.dataset!r}.")
        for name in ("n_train", "n_test", "resolution", "modes", "width", "num_layers",
                     "epochs", "batch_size", "checkpoint_every", "keep"):
            if getattr(self, name) < 1:
                raise ValueError(f"config key `{name}` must be >= 1, got {getattr(self, name)}.")
        if self.factorization not in ("", "cp", "tucker"):
            raise ValueError("config key `factorization` must be '', 'cp' or 'tucker', got "
                             f"{self.factorization!r}.")
        if self.compute_dtype not in ("", "bfloat16", "float16", "float32"):
            raise ValueError("config key `compute_dtype` must be '', 'bfloat16', 'float16' or "
                             f"'float32', got {self.compute_dtype!r}.")


def run_fno(cfg: FNOJob, run_dir: str | Path, *, progress: bool = True,
            stop_after: int | None = None) -> dict:
    """Make (or load) the data, train (or resume) the FNO, write `result.json`."""
    folder = prepare_run_dir(run_dir, cfg, primary=jax.process_index() == 0)
    log = setup_logging(folder, "fno")
    n = cfg.n_train + cfg.n_test
    t0 = time.perf_counter()
    kw = {"cache_dir": cfg.cache or None, "seed": cfg.seed, "progress": progress}
    ds = datasets.make(cfg.dataset, n, resolution=cfg.resolution, **kw)
    log.info("data: %s, %d samples at %d points per axis (%.1f s)", cfg.dataset, n,
             cfg.resolution, time.perf_counter() - t0)
    a = jnp.asarray(ds["a"][:, None])
    u = jnp.asarray(ds["u"][:, None])
    train, test = (a[: cfg.n_train], u[: cfg.n_train]), (a[cfg.n_train:], u[cfg.n_train:])
    ndim = a.ndim - 2
    model = fno.FNO(1, 1, cfg.modes, cfg.width, ndim=ndim, num_layers=cfg.num_layers,
                    padding=cfg.padding, factorization=cfg.factorization or None,
                    rank=cfg.rank, compute_dtype=cfg.compute_dtype or None,
                    key=jr.key(cfg.seed))
    tc = fno.TrainConfig(epochs=cfg.epochs, step_size=cfg.step_size, batch_size=cfg.batch_size,
                         learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay,
                         loss=cfg.loss, normalize_inputs=True, normalize_outputs=True,
                         seed=cfg.seed, checkpoint_every=cfg.checkpoint_every,
                         keep_checkpoints=cfg.keep, log_every=max(1, cfg.epochs // 20))
    res = fno.fit(model, train, test, tc, run_dir=folder, progress=progress,
                  stop_after=stop_after, mesh=data_mesh() if cfg.data_parallel else None)
    if res.stopped:
        done = res.history[-1]["epoch"] if res.history else 0
        log.info("stopped (%s) at epoch %d of %d; rerun the same command to resume",
                 res.stopped, done, cfg.epochs)
        return {"stopped": res.stopped, "epoch": done}
    result = {"dataset": cfg.dataset, "test_relative_l2": fno.evaluate(res.operator, *test),
              "final": res.history[-1], "resumed_from": res.resumed_from,
              "params_sha256": params_digest(res.operator)}
    if jax.process_index() == 0:
        write_result(folder, result)
    log.info("done: test relative L2 %.4e", result["test_relative_l2"])
    return result
