import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from jax.sharding import NamedSharding, PartitionSpec as P

import jaxspec.hessian as jh
from tests.hessian.conftest import Problem, loss


def test_top5_against_dense_hessian(problem, dense_eigh):
    _, w, U = dense_eigh
    res = jh.top_eigenpairs(loss, problem.params, problem.data, 5)
    ref = w[::-1][:5]
    lam = np.asarray(res.eigenvalues)
    assert np.all(np.abs(lam - ref) / np.abs(ref) <= 1e-10)
    assert bool(jnp.all(res.converged))
    assert int(res.num_matvecs) <= 150
    V = np.asarray(jax.vmap(lambda t: ravel_pytree(t)[0])(res.eigenvectors))
    for i in range(5):
        assert abs(V[i] @ U[:, ::-1][:, i]) >= 0.9999


def test_smallest_and_density_and_trace(problem, dense_eigh):
    _, w, _ = dense_eigh
    res = jh.top_eigenpairs(loss, problem.params, problem.data, 2, which="smallest")
    np.testing.assert_allclose(res.eigenvalues, w[:2], atol=1e-10 * np.abs(w).max())
    d = jh.spectral_density(loss, problem.params, problem.data, key=jax.random.key(0),
                            num_probes=10, num_steps=80)
    assert float(d.wasserstein1(jnp.asarray(w))) / np.ptp(w) <= 5e-3
    t = jh.trace(loss, problem.params, problem.data, key=jax.random.key(1), num_probes=200)
    assert abs(float(t.value) - w.sum()) <= 4 * float(t.stderr)


def test_gradient_of_top_eigenvalue_vs_finite_differences(problem):
    def top(p):
        return jh.top_eigenpairs(loss, p, problem.data, 1).eigenvalues[0]

    g = jax.grad(top)(problem.params)
    d = jax.tree.map(lambda a: jnp.sin(jnp.arange(a.size, dtype=a.dtype)).reshape(a.shape),
                     problem.params)
    h = 1e-5
    plus = jax.tree.map(lambda a, b: a + h * b, problem.params, d)
    minus = jax.tree.map(lambda a, b: a - h * b, problem.params, d)
    fd = (top(plus) - top(minus)) / (2 * h)
    directional = sum(jnp.vdot(a, b) for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(d),
                                                     strict=True))
    np.testing.assert_allclose(directional, fd, rtol=1e-6)


def test_data_parallel_equals_single_device_f32():
    prob = Problem(n=256, dtype=jnp.float32, seed=1)
    ref = jh.top_eigenpairs(loss, prob.params, prob.data, 2, tol=1e-5)
    mesh = jax.make_mesh((8,), ("data",))
    sharded = jax.device_put(prob.data, NamedSharding(mesh, P("data")))
    params = jax.device_put(prob.params, NamedSharding(mesh, P()))
    assert len(sharded[0].sharding.device_set) == 8
    res = jh.top_eigenpairs(loss, params, sharded, 2, tol=1e-5)
    np.testing.assert_allclose(res.eigenvalues, ref.eigenvalues, rtol=1e-6)


def test_bad_inputs(problem):
    with pytest.raises(ValueError, match="scalar"):
        jh.top_eigenpairs(lambda p, b: jnp.stack([loss(p, b)] * 2), problem.params,
                          problem.data, 1)
    with pytest.raises(TypeError, match="non-floating"):
        jh.top_eigenpairs(loss, [{"w": jnp.ones((8, 4), jnp.int32), "b": jnp.ones(4)}],
                          problem.data, 1)
    with pytest.raises(ValueError, match="no examples"):
        jh.top_eigenpairs(loss, problem.params, (problem.x[:0], problem.y[:0]), 1)
    with pytest.raises(ValueError, match="number of parameters"):
        jh.top_eigenpairs(loss, problem.params, problem.data, 10_000)
    with pytest.raises(ValueError, match="model_fn"):
        jh.top_eigenpairs(None, problem.params, problem.data, 1, curvature="ggn")
    bad = jax.tree.map(lambda a: a * jnp.nan, problem.params)
    with pytest.raises(eqx.EquinoxRuntimeError, match="NaN"):
        jh.top_eigenpairs(loss, bad, problem.data, 1)


def test_sharpness_tracker_warm_start(problem, dense_eigh):
    _, w, _ = dense_eigh
    tracker = jh.SharpnessTracker(loss, every=2, k=2, trace_probes=20)
    state = tracker.init()
    state, rec = tracker.update(state, 1, problem.params, problem.data, lr=0.1)
    assert rec is None
    state, rec = tracker.update(state, 0, problem.params, problem.data, lr=0.1)
    np.testing.assert_allclose(rec.eigenvalues, w[::-1][:2], rtol=1e-8)
    cold = int(rec.num_matvecs)
    # a small training step later, the warm start needs fewer products
    g = jax.grad(loss)(problem.params, problem.data)
    p2 = jax.tree.map(lambda a, b: a - 1e-3 * b, problem.params, g)
    state, rec2 = tracker.update(state, 2, p2, problem.data, lr=0.1)
    flat2, un = ravel_pytree(p2)
    w2 = np.linalg.eigvalsh(np.asarray(jax.hessian(lambda f: loss(un(f), problem.data))(flat2)))
    np.testing.assert_allclose(rec2.eigenvalues, w2[::-1][:2], rtol=1e-6)
    assert int(rec2.num_matvecs) < cold
    # gradient overlap with the top-2 eigenspace, against the dense computation
    _, U2 = np.linalg.eigh(np.asarray(jax.hessian(lambda f: loss(un(f), problem.data))(flat2)))
    gflat = np.asarray(ravel_pytree(jax.grad(loss)(p2, problem.data))[0])
    ref = np.sum((U2[:, ::-1][:, :2].T @ gflat) ** 2) / (gflat @ gflat)
    np.testing.assert_allclose(float(rec2.grad_overlap), ref, rtol=1e-6)
    d = rec2.as_dict()
    assert d["threshold"] == 20.0 and "trace" in d


def test_plots(problem, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = jh.spectral_density(loss, problem.params, problem.data, key=jax.random.key(0),
                            num_probes=2, num_steps=20)
    top = jh.top_eigenpairs(loss, problem.params, problem.data, 3)
    ax = jh.plot_density(d, eigenvalues=top.eigenvalues)
    assert len(ax.lines) == 4 and ax.get_yscale() == "log"
    ax.figure.savefig(tmp_path / "d.png")
    plt.close("all")
