"""Test configuration: float64, strict dtype promotion, rank promotion raises, 8 fake CPU
devices (for sharding tests), and a seeded `getkey` fixture that reports its seed on failure."""

import os
import tempfile

os.environ.setdefault("XLA_FLAGS", "")
if "xla_force_host_platform_device_count" not in os.environ["XLA_FLAGS"]:
    os.environ["XLA_FLAGS"] += " --xla_force_host_platform_device_count=8"

import jax
import jax.random as jr
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")
# Compile-time dominates the suite: share compiled programs between the xdist workers (and
# with later local runs); entries are keyed by the program, so stale ones are never used.
_cache = os.path.join(tempfile.gettempdir(), f"jaxspec-pytest-xla-{os.getuid()}")
jax.config.update("jax_compilation_cache_dir", _cache)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


@pytest.fixture
def getkey(request):
    """Call `getkey()` for a fresh key; the base seed is printed if the test fails."""
    seed = int(os.environ.get("JAXSPEC_TEST_SEED", "5678"))
    base = jr.key(seed)
    count = [0]

    def _getkey():
        count[0] += 1
        return jr.fold_in(base, count[0])

    yield _getkey
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(f"getkey base seed: {seed} (set JAXSPEC_TEST_SEED to change)")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    setattr(item, "rep_" + rep.when, rep)
    return rep


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
