"""Shared start-up of the scripts: a frozen dataclass config with CLI overrides, and the path to
the benchmark result writer."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from jaxspec.jobs import restart_with_huge_pages as restart_with_huge_pages

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # _common: environment(), md_table(), write()


def parse(config_cls, argv=None, description: str = ""):
    """`--field-name VALUE` for every field of the frozen dataclass `config_cls`."""
    p = argparse.ArgumentParser(description=description)
    for f in dataclasses.fields(config_cls):
        flag = "--" + f.name.replace("_", "-")
        if isinstance(f.default, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default)
            continue
        kind = type(f.default) if f.default is not None else str
        p.add_argument(flag, type=kind, default=f.default)
    return config_cls(**vars(p.parse_args(argv)))


def command(script: str, argv=None) -> str:
    """The command line that reproduces a script's results (for the results header)."""
    args = sys.argv[1:] if argv is None else list(argv)
    return " ".join(["python", f"scripts/{Path(script).name}", *args])


def finished(res, what: str) -> bool:
    """Whether a `fno.fit` result ran all its epochs; if not (stopped by SIGTERM or
    `stop_after`), say so and where to pick up, so the script writes no results for a partly
    trained model."""
    if not res.stopped:
        return True
    done = res.history[-1]["epoch"] if res.history else 0
    print(f"{what}: stopped ({res.stopped}) after epoch {done}; no results written. Rerun the "
          "same command to resume from the checkpoint.", file=sys.stderr, flush=True)
    return False


def refine(res, train, test, cfg):
    """The scripts' Spectral-Refiner stage: the trained FNO's last spectral layer widened to
    every mode and fine-tuned for `cfg.refine_epochs` epochs under H^-1 at `cfg.refine_lr` (the
    rest frozen), in `cfg.run_dir`_refine. Returns the results-table label and the fit result."""
    from jaxspec import fno

    rc = fno.TrainConfig(epochs=cfg.refine_epochs, step_size=max(1, cfg.refine_epochs // 2),
                         batch_size=cfg.batch_size, learning_rate=cfg.refine_lr,
                         loss="sobolev:-1", seed=cfg.seed)
    ref = fno.spectral_refine(res.operator, train, test, rc,
                              run_dir=Path(cfg.run_dir + "_refine"))
    label = (f"+ Spectral-Refiner, {cfg.refine_epochs} epochs H^-1 (lr {cfg.refine_lr:g}), "
             "last layer all modes")
    return label, ref


def fit_t1(t1, train, test, tc, cfg):
    """The scripts' Transform-Once stage: `t1` trained with the FNO's recipe `tc` over
    `cfg.t1_epochs` epochs (the learning-rate steps scaled to match), in `cfg.run_dir`_t1."""
    import dataclasses

    from jaxspec import fno

    tc1 = dataclasses.replace(tc, epochs=cfg.t1_epochs,
                              step_size=max(1, cfg.t1_epochs * cfg.step_size // cfg.epochs))
    return fno.fit(t1, train, test, tc1, run_dir=Path(cfg.run_dir + "_t1"))
