"""`jaxspec hessian spectrum` and `jaxspec pinn solve`: one-shot analysis jobs."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ._rundir import prepare_run_dir, setup_logging, write_result

PINN_PROBLEMS = ("infinite_well", "finite_well", "finite_barrier", "harmonic_oscillator",
                 "hydrogen_radial", "square_drum", "disk_drum")


@dataclasses.dataclass(frozen=True)
class HessianJob:
    """Train a tanh MLP on scikit-learn's 8x8 digits, then its Hessian's top-k eigenpairs,
    SLQ spectral density and Hutchinson trace on the full training set."""

    hidden: tuple[int, ...] = (32,)
    train_steps: int = 300
    learning_rate: float = 1e-2
    k: int = 10
    num_probes: int = 10
    num_steps: int = 80
    trace_probes: int = 100
    seed: int = 0

    def __post_init__(self):
        if self.k < 1 or self.num_probes < 1 or self.num_steps < 2 or self.train_steps < 0:
            raise ValueError("config keys `k`, `num_probes` must be >= 1, `num_steps` >= 2, "
                             "`train_steps` >= 0.")


def run_hessian(cfg: HessianJob, run_dir: str | Path, *, progress: bool = True,
                stop_after=None) -> dict:
    import jaxspec.hessian as jh
    from jaxspec.tour._hessian import init_mlp, loss_fn, train

    folder = prepare_run_dir(run_dir, cfg)
    log = setup_logging(folder, "hessian")
    from sklearn.datasets import load_digits

    d = load_digits()
    x = jnp.asarray(d.data / 16.0)
    y = jnp.asarray(d.target)
    key = jax.random.key(cfg.seed)
    params = init_mlp(key, [64, *cfg.hidden, 10])
    params = train(params, (x, y), cfg.train_steps, lr=cfg.learning_rate)
    n = sum(p.size for p in jax.tree_util.tree_leaves(params))
    log.info("MLP 64-%s-10 (%d parameters) trained %d steps", cfg.hidden, n, cfg.train_steps)
    t = time.perf_counter()
    top = jh.top_eigenpairs(loss_fn, params, (x, y), min(cfg.k, n - 1))
    dens = jh.spectral_density(loss_fn, params, (x, y), key=jax.random.fold_in(key, 1),
                               num_probes=cfg.num_probes, num_steps=min(cfg.num_steps, n))
    tr = jh.trace(loss_fn, params, (x, y), key=jax.random.fold_in(key, 2),
                  num_probes=cfg.trace_probes)
    result = {"num_params": int(n), "top_eigenvalues": np.asarray(top.eigenvalues).tolist(),
              "residual_norms": np.asarray(top.residual_norms).tolist(),
              "trace": float(tr.value), "trace_stderr": float(tr.stderr),
              "loss": float(loss_fn(params, (x, y))), "seconds": time.perf_counter() - t}
    write_result(folder, result)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    jh.plot_density(dens, ax=ax, eigenvalues=top.eigenvalues)
    fig.tight_layout()
    fig.savefig(folder / "density.png", dpi=100)
    plt.close(fig)
    log.info("top eigenvalue %.6g, trace %.6g +- %.2g", result["top_eigenvalues"][0],
             result["trace"], result["trace_stderr"])
    return result


@dataclasses.dataclass(frozen=True)
class PinnJob:
    """Solve a named eigenproblem with `jaxspec.pinn.solve`; certified intervals included."""

    problem: str = "finite_well"
    states: int = 3
    width: int = 24
    max_steps: int = 300
    seed: int = 0

    def __post_init__(self):
        if self.problem not in PINN_PROBLEMS:
            raise ValueError(f"config key `problem` must be one of {PINN_PROBLEMS}, got "
                             f"{self.problem!r}.")
        if self.states < 1 or self.width < 1 or self.max_steps < 1:
            raise ValueError("config keys `states`, `width`, `max_steps` must be >= 1.")


def run_pinn(cfg: PinnJob, run_dir: str | Path, *, progress: bool = True,
             stop_after=None) -> dict:
    from jaxspec import pinn

    jax.config.update("jax_enable_x64", True)  # an application: the solver needs float64
    folder = prepare_run_dir(run_dir, cfg)
    log = setup_logging(folder, "pinn")
    prob = getattr(pinn, cfg.problem)()
    res = pinn.solve(prob, cfg.states, key=jax.random.key(cfg.seed), width=cfg.width,
                     max_steps=cfg.max_steps, progress=progress)
    result = {"problem": prob.name, "energies": np.asarray(res.energies).tolist(),
              "bounds": np.asarray(res.bounds).tolist(),
              "residual_norms": np.asarray(res.residual_norms).tolist(),
              "steps": int(res.steps), "wall_s": float(res.wall_time)}
    if prob.exact is not None:
        exact = np.asarray(prob.exact)[: cfg.states]
        result["exact"] = exact.tolist()
        result["relative_errors"] = (np.abs(np.asarray(res.energies) - exact)
                                     / np.abs(exact)).tolist()
    write_result(folder, result)
    pinn.plot(res, path=folder / "states.png")
    log.info("energies %s", result["energies"])
    return result
