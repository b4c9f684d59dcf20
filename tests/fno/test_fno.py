"""FNO model, super-resolution evaluation, training on solver-generated Burgers data, resume."""

import os
import signal
import threading
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jaxspec import fno
from jaxspec.physics import datasets


@pytest.fixture(scope="module")
def burgers_data(tmp_path_factory):
    ds = datasets.make("burgers", 140, resolution=64, solve_resolution=128, dt=1e-3,
                       cache_dir=tmp_path_factory.mktemp("data"), progress=False)
    return jnp.asarray(ds["a"][:, None]), jnp.asarray(ds["u"][:, None])


def test_fno_shapes_padding_and_resolution():
    m = fno.FNO(2, 3, (4, 5), 8, padding=0.25, key=jr.key(0))
    x = jr.normal(jr.key(1), (2, 16, 20))
    assert m(x).shape == (3, 16, 20)
    assert m(jr.normal(jr.key(1), (2, 32, 40))).shape == (3, 32, 40)  # another resolution
    assert jax.vmap(m)(jnp.stack([x, x])).shape == (2, 3, 16, 20)
    with pytest.raises(ValueError, match="spatial"):
        m(jnp.zeros((2, 16)))
    with pytest.raises(ValueError, match="channels"):
        m(jnp.zeros((1, 16, 20)))
    with pytest.raises(ValueError, match="modes"):
        m(jnp.zeros((2, 4, 20)))
    g = jax.grad(lambda mm: jnp.sum(mm(x) ** 2))(m)
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in
               jax.tree_util.tree_leaves(eqx_filter(g)))


def eqx_filter(tree):
    import equinox as eqx

    return eqx.filter(tree, eqx.is_array)


def test_batched_model_equals_vmap_in_value_and_gradient():
    # padding, grid features and a Tucker layer stack; then the Operator and Rollout wrappers
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, 2, 18, 14)))
    m = fno.FNO(2, 2, (4, 3), 6, padding=0.2, factorization="tucker", rank=0.6, key=jr.key(0))

    @eqx.filter_jit
    def both(m, x):
        loss = lambda f: lambda m: jnp.sum(jnp.sin(f(m, x)))
        gb = eqx.filter_grad(loss(lambda m, x: m.batched(x)))(m)
        gv = eqx.filter_grad(loss(lambda m, x: jax.vmap(m)(x)))(m)
        return m.batched(x), jax.vmap(m)(x), gb, gv

    yb, yv, gb, gv = both(m, x)
    np.testing.assert_allclose(yb, yv, atol=1e-13)
    for a, b in zip(jax.tree_util.tree_leaves(gb), jax.tree_util.tree_leaves(gv), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)
    # forward mode (the channel maps carry a custom JVP) in the input and in one weight
    tx = jnp.cos(x)
    _, jb = jax.jvp(lambda v: m.batched(v), (x,), (tx,))
    _, jv = jax.jvp(lambda v: jax.vmap(m)(v), (x,), (tx,))
    np.testing.assert_allclose(jb, jv, atol=1e-12)
    w = m.skip[1].weight
    at = lambda f: lambda v: f(eqx.tree_at(lambda q: q.skip[1].weight, m, v))(x)
    _, jb = jax.jvp(at(lambda q: q.batched), (w,), (jnp.ones_like(w),))
    _, jv = jax.jvp(at(lambda q: jax.vmap(q)), (w,), (jnp.ones_like(w),))
    np.testing.assert_allclose(jb, jv, atol=1e-12)
    op = fno.Operator(m, fno.Normalizer.fit(x), fno.Normalizer.fit(x))
    roll = fno.Rollout(fno.FNO(2, 1, (4, 3), 6, key=jr.key(1)), steps=3, window=2)
    for f in (op, roll):
        pair = eqx.filter_jit(lambda f, x: (fno.batch_apply(f, x), jax.vmap(f)(x)))
        np.testing.assert_allclose(*pair(f, x), atol=1e-13)
    with pytest.raises(ValueError, match="batch, channels"):
        m.batched(x[0])
    with pytest.raises(ValueError, match="window"):
        roll.batched(x[:, :1])


def test_short_burgers_training_and_super_resolution(burgers_data):
    x, y = burgers_data
    m = fno.FNO(1, 1, 8, 24, ndim=1, key=jr.key(0))
    cfg = fno.TrainConfig(epochs=40, batch_size=10, step_size=15, normalize_inputs=True,
                          normalize_outputs=True)
    res = fno.fit(m, (x[:120], y[:120]), (x[120:], y[120:]), cfg, progress=False)
    test_err = res.history[-1]["test_l2"]
    assert test_err < 0.02, test_err
    assert res.history[-1]["lr"] == pytest.approx(2.5e-4)
    # trained at 64 points, evaluated at 32: the same operator on a coarser grid
    coarse = fno.evaluate(res.operator, x[120:, :, ::2], y[120:, :, ::2])
    assert coarse < 2 * test_err + 0.01


def test_checkpoint_resume_equals_uninterrupted_run(burgers_data, tmp_path):
    x, y = burgers_data
    m = fno.FNO(1, 1, 4, 8, ndim=1, key=jr.key(3))
    cfg = fno.TrainConfig(epochs=4, batch_size=16, checkpoint_every=1, normalize_outputs=True)
    full = fno.fit(m, (x[:64], y[:64]), None, cfg, run_dir=tmp_path / "a", progress=False)
    part = fno.fit(m, (x[:64], y[:64]), None, cfg, run_dir=tmp_path / "b", progress=False,
                   stop_after=2)
    assert len(part.history) == 2 and part.stopped == "stop_after"
    assert full.stopped == ""
    rest = fno.fit(m, (x[:64], y[:64]), None, cfg, run_dir=tmp_path / "b", progress=False)
    assert rest.resumed_from == 2 and len(rest.history) == 4 and rest.stopped == ""
    a = jax.tree_util.tree_leaves(eqx_filter(full.operator))
    b = jax.tree_util.tree_leaves(eqx_filter(rest.operator))
    for u, v in zip(a, b, strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-14)
    lines = (tmp_path / "b" / "metrics.jsonl").read_text().strip().splitlines()
    assert len(lines) == 4
    # time_s counts training time since the run began, across the resumed call
    times = [r["time_s"] for r in rest.history]
    assert times == sorted(times) and times[2] > times[1] > 0
    with pytest.raises(ValueError, match="another configuration"):
        fno.fit(m, (x[:64], y[:64]), None, fno.TrainConfig(epochs=5), run_dir=tmp_path / "b",
                progress=False)


def test_sigterm_checkpoints_and_reports_the_stop(burgers_data, tmp_path):
    x, y = burgers_data
    m = fno.FNO(1, 1, 4, 8, ndim=1, key=jr.key(3))
    cfg = fno.TrainConfig(epochs=100_000, batch_size=16, checkpoint_every=10_000)
    metrics = tmp_path / "metrics.jsonl"

    def terminate_once_training():  # the first metrics line: inside fit's SIGTERM guard
        while not (metrics.exists() and metrics.read_text().strip()):
            time.sleep(0.005)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=terminate_once_training, daemon=True)
    killer.start()
    res = fno.fit(m, (x[:32], y[:32]), None, cfg, run_dir=tmp_path, progress=False)
    killer.join()
    done = res.history[-1]["epoch"]
    assert res.stopped == "sigterm" and 1 <= done < cfg.epochs
    assert (tmp_path / "checkpoints" / str(done)).is_dir()  # saved on the way out
    # the next call resumes there (one more epoch, then stops again by `stop_after`)
    more = fno.fit(m, (x[:32], y[:32]), None, cfg, run_dir=tmp_path, progress=False,
                   stop_after=1)
    assert more.resumed_from == done and more.stopped == "stop_after"


def test_training_input_errors(burgers_data):
    x, y = burgers_data
    m = fno.FNO(1, 1, 4, 8, ndim=1, key=jr.key(3))
    with pytest.raises(ValueError, match="NaN"):
        fno.fit(m, (x.at[0, 0, 0].set(jnp.nan), y), None, fno.TrainConfig(epochs=1),
                progress=False)
    with pytest.raises(ValueError, match="same number"):
        fno.fit(m, (x[:10], y[:9]), None, fno.TrainConfig(epochs=1), progress=False)
    with pytest.raises(ValueError, match="loss"):
        fno.TrainConfig(loss="l3")
    with pytest.raises(ValueError, match="batch_size"):
        fno.TrainConfig(batch_size=0)


def test_mixed_precision_policy_keeps_the_spectral_path_in_float32():
    m32 = fno.FNO(1, 1, 8, 16, ndim=1, dtype=jnp.float32, key=jr.key(0))
    mixed = fno.FNO(1, 1, 8, 16, ndim=1, dtype=jnp.float32, compute_dtype=jnp.bfloat16,
                    key=jr.key(0))
    x = jnp.sin(2 * jnp.pi * jnp.arange(64, dtype=jnp.float32) / 64)[None]
    ref, out = eqx.filter_jit(m32)(x), eqx.filter_jit(mixed)(x)
    assert out.dtype == jnp.float32
    rel = float(jnp.linalg.norm(out - ref) / jnp.linalg.norm(ref))
    assert 1e-5 < rel < 3e-2  # bfloat16 rounding (8 bits), not a different function
    # Every FFT runs in float32 (forward and inverse, 4 layers each); matmuls see bfloat16.
    def walk(jaxpr):
        for e in jaxpr.eqns:
            yield e
            for v in e.params.values():
                for sub in v if isinstance(v, (tuple, list)) else (v,):
                    if hasattr(sub, "eqns"):
                        yield from walk(sub)
                    elif hasattr(sub, "jaxpr") and hasattr(sub.jaxpr, "eqns"):
                        yield from walk(sub.jaxpr)

    eqns = list(walk(jax.make_jaxpr(mixed)(x).jaxpr))
    dots = [e for e in eqns if e.primitive.name == "dot_general"]
    # 8 modes of 64 points: the transforms are truncated-DFT products (at HIGHEST precision)
    transforms = [e for e in dots if e.params["precision"] is not None
                  and jax.lax.Precision.HIGHEST in tuple(e.params["precision"])]
    assert len(transforms) == 8
    assert all(v.aval.dtype in (jnp.float32, jnp.complex64)
               for e in transforms for v in e.invars)
    assert any(e.invars[1].aval.dtype == jnp.bfloat16 for e in dots)
    # the FFT path (many kept modes) likewise: every FFT in float32
    wide = fno.FNO(1, 1, 100, 8, ndim=1, dtype=jnp.float32, compute_dtype=jnp.bfloat16,
                   key=jr.key(0))
    ffts = [e for e in walk(jax.make_jaxpr(wide)(jnp.zeros((1, 256), jnp.float32)).jaxpr)
            if e.primitive.name == "fft"]
    assert len(ffts) == 8
    assert all(e.invars[0].aval.dtype in (jnp.float32, jnp.complex64) for e in ffts)
    g = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(m(x) ** 2)))(mixed)
    assert all(bool(jnp.all(jnp.isfinite(a))) for a in jax.tree_util.tree_leaves(g))
    with pytest.raises(ValueError, match="compute_dtype"):
        fno.FNO(1, 1, 8, 16, ndim=1, compute_dtype=jnp.int32, key=jr.key(0))
