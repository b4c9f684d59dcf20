"""Shared start-up of the scripts: a frozen dataclass config with CLI overrides, and the path to
the benchmark result writer."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # _common: environment(), md_table(), write()


def parse(config_cls, argv=None, description: str = ""):
    """`--field-name VALUE` for every field of the frozen dataclass `config_cls`."""
    p = argparse.ArgumentParser(description=description)
    for f in dataclasses.fields(config_cls):
        kind = type(f.default) if f.default is not None else str
        p.add_argument("--" + f.name.replace("_", "-"), type=kind, default=f.default)
    return config_cls(**vars(p.parse_args(argv)))
