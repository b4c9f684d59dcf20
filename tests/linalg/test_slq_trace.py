import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxspec.linalg as jl
from tests.helpers import laplacian_2d, planted


@pytest.fixture(scope="module")
def lap():
    return laplacian_2d(128)  # n = 16384, exact spectrum known


def test_slq_density_w1_against_exact_spectrum(lap):
    mv, exact = lap
    d = jl.slq(mv, jnp.zeros((128, 128)), key=jax.random.key(0), num_probes=10, num_steps=80)
    x, w = d.atoms()
    rng_ = exact[-1] - exact[0]
    w1 = float(d.wasserstein1(jnp.asarray(exact))) / rng_
    assert w1 <= 2e-3
    # the raw quadrature measure is coarser (a step per node) but still close
    w1_step = float(jl.wasserstein1(x, w, jnp.asarray(exact), None)) / rng_
    assert w1 < w1_step <= 6e-3
    # smoothed density: L1 distance to the smoothed exact density (sigma = 1% of the range)
    sigma = 0.01 * rng_
    grid = jnp.linspace(exact[0] - 3 * sigma, exact[-1] + 3 * sigma, 400)
    exact_pdf = np.zeros(grid.shape)
    for chunk in np.array_split(exact, 16):
        z = (np.asarray(grid)[:, None] - chunk[None]) / sigma
        exact_pdf += np.exp(-0.5 * z**2).sum(1) / (sigma * np.sqrt(2 * np.pi) * exact.size)
    pdf = np.asarray(d.pdf(grid, sigma))
    l1 = np.sum(np.abs(pdf - exact_pdf)) * float(grid[1] - grid[0])
    assert l1 <= 0.02
    for kind in ["step", "interpolated"]:
        cdf = np.asarray(d.cdf(grid, kind=kind))
        assert cdf[0] == 0 and abs(cdf[-1] - 1) < 1e-12 and np.all(np.diff(cdf) >= -1e-15)


def test_slq_trace_of_matrix_function(rng):
    n = 300
    ev = rng.uniform(0.5, 4.0, n)
    A = planted(ev, seed=20)
    d = jl.slq(jl.MatrixOperator(A), jnp.zeros(n), key=jax.random.key(1), num_probes=30,
               num_steps=40)
    est, se = d.trace(jnp.log)
    exact = np.sum(np.log(ev))
    assert abs(float(est) - exact) <= 4 * float(se) + 1e-8
    # polynomial of degree < 2m: quadrature exact per probe, so the error is pure Hutchinson
    est2, se2 = d.trace(lambda x: x**2)
    assert abs(float(est2) - np.sum(ev**2)) <= 4 * float(se2)


def test_slq_small_space_breakdown(rng):
    # 4 distinct eigenvalues, 40 steps: breakdown restarts carry zero weight
    ev = np.repeat([-1.0, 0.5, 2.0, 3.0], 25)
    A = planted(ev, seed=21)
    d = jl.slq(jl.MatrixOperator(A), jnp.zeros(100), key=jax.random.key(2), num_probes=5,
               num_steps=40)
    x, w = np.asarray(d.atoms()[0]), np.asarray(d.atoms()[1])
    assert np.all(np.isfinite(x))
    heavy = x[w > 1e-10]
    assert np.min(np.abs(heavy[:, None] - np.array([-1, 0.5, 2, 3])[None]), axis=1).max() < 1e-10


def test_hutchinson_stderr_covers_exact_trace(rng):
    n = 400
    ev = rng.standard_normal(n) + 1.0
    A = jl.MatrixOperator(planted(ev, seed=22))
    hits = 0
    for s in range(10):
        te = jl.trace_estimate(A, jnp.zeros(n), key=jax.random.key(s), num_probes=100)
        hits += abs(float(te.value) - ev.sum()) <= 3 * float(te.stderr)
    assert hits >= 9


def test_hutchpp_beats_hutchinson_on_decaying_spectrum():
    n = 400
    ev = 100.0 * np.exp(-np.arange(n) / 3.0)
    A = jl.MatrixOperator(planted(ev, seed=23))
    errs = {"hutchinson": [], "hutch++": []}
    for s in range(5):
        for m in errs:
            te = jl.trace_estimate(A, jnp.zeros(n), key=jax.random.key(s), num_probes=60, method=m)
            errs[m].append(abs(float(te.value) - ev.sum()))
            assert abs(float(te.value) - ev.sum()) <= 5 * float(te.stderr) + 1e-9
    assert np.median(errs["hutch++"]) < 0.2 * np.median(errs["hutchinson"])


def test_diagonal_estimate_pytree(rng):
    n = 50
    A = planted(rng.uniform(1, 2, n), seed=24)

    def mv(t):
        y = A @ jnp.concatenate([t["x"], t["y"].reshape(-1)])
        return {"x": y[:10], "y": y[10:].reshape(5, 8)}

    like = {"x": jnp.zeros(10), "y": jnp.zeros((5, 8))}
    de = jl.diagonal_estimate(mv, like, key=jax.random.key(3), num_probes=400)
    est = np.concatenate([np.asarray(de.value["x"]), np.asarray(de.value["y"]).reshape(-1)])
    se = np.concatenate([np.asarray(de.stderr["x"]), np.asarray(de.stderr["y"]).reshape(-1)])
    z = np.abs(est - np.diag(np.asarray(A))) / se
    assert np.mean(z <= 3) >= 0.95


def test_materialize_pytree(rng):
    A = planted(rng.standard_normal(12), seed=25)

    def mv(t):
        y = A @ jnp.concatenate([t[0], t[1]])
        return (y[:5], y[5:])

    M = jl.materialize(mv, (jnp.zeros(5), jnp.zeros(7)))
    np.testing.assert_allclose(M, A, atol=1e-14)


def test_bad_probe_arguments():
    A = jl.MatrixOperator(jnp.eye(5))
    with pytest.raises(ValueError, match="num_probes"):
        jl.trace_estimate(A, jnp.zeros(5), key=jax.random.key(0), num_probes=1)
    with pytest.raises(ValueError, match="method"):
        jl.trace_estimate(A, jnp.zeros(5), key=jax.random.key(0), method="xtrace")
    with pytest.raises(ValueError, match="num_steps"):
        jl.slq(A, jnp.zeros(5), key=jax.random.key(0), num_steps=6)
    d = jl.slq(A, jnp.zeros(5), key=jax.random.key(0), num_steps=3, num_probes=2)
    with pytest.raises(ValueError, match="sigma"):
        d.pdf(jnp.zeros(3), 0.0)
