import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxspec.linalg as jl
from tests.helpers import SPECTRA, planted


def _expected(ev, k, which):
    s = np.sort(ev)
    if which == "largest":
        return s[-k:]
    if which == "smallest":
        return s[:k]
    return np.concatenate([s[: k // 2], s[len(s) - (k - k // 2):]])


CASES = [(s, w) for s in sorted(SPECTRA) for w in ["largest", "smallest", "both"]
         if not (s == "decaying" and w != "largest")]  # decaying: the small end is a cluster at 0


@pytest.mark.parametrize(("spectrum", "which"), CASES)
def test_eigsh_planted_f64(spectrum, which, rng):
    n, k = 150, 5
    ev = SPECTRA[spectrum](n, rng)
    A = planted(ev, seed=7)
    res = jl.eigsh(jl.MatrixOperator(A), jnp.asarray(rng.standard_normal(n)), k, which=which)
    exp = _expected(ev, k, which)
    lam = np.asarray(res.eigenvalues)
    assert np.all(np.abs(lam - exp) <= 1e-10 * np.abs(exp) + 1e-13 * np.abs(ev).max())
    assert bool(jnp.all(res.converged)) and res.result == jl.RESULTS.successful
    # reported residuals are the true residuals
    V = np.asarray(res.eigenvectors)
    true_res = np.linalg.norm(np.asarray(A) @ V.T - V.T * lam, axis=0)
    np.testing.assert_allclose(res.residual_norms, true_res, rtol=1e-6,
                               atol=1e-13 * np.abs(ev).max())
    # eigenvectors: orthonormal and aligned with the dense ones (up to sign) when simple
    assert np.abs(V @ V.T - np.eye(k)).max() < 1e-8
    w, U = np.linalg.eigh(np.asarray(A))
    for i, lam_i in enumerate(lam):
        gap = np.min(np.abs(np.delete(w, np.argmin(np.abs(w - lam_i))) - lam_i))
        if gap > 1e-2:
            u = U[:, np.argmin(np.abs(w - lam_i))]
            assert abs(u @ V[i]) >= 1 - 1e-10


def test_eigsh_float32_floor(rng):
    n, k = 200, 5
    ev = SPECTRA["decaying"](n, rng)
    A = planted(ev, seed=8, dtype=jnp.float32)
    res = jl.eigsh(jl.MatrixOperator(A), jnp.ones(n, jnp.float32), k)
    assert res.eigenvalues.dtype == jnp.float32
    exp = np.sort(ev)[-k:]
    assert np.max(np.abs(np.asarray(res.eigenvalues, np.float64) - exp) / exp) <= 1e-5


def test_eigsh_pytree_matches_flat(rng):
    n, k = 70, 4
    ev = SPECTRA["clustered"](n, rng)
    A = planted(ev, seed=9)

    def mv(t):
        y = A @ jnp.concatenate([t["a"].reshape(-1), t["b"]])
        return {"a": y[:40].reshape(8, 5), "b": y[40:]}

    x = rng.standard_normal(n)
    t0 = {"a": jnp.asarray(x[:40]).reshape(8, 5), "b": jnp.asarray(x[40:])}
    rt = jl.eigsh(mv, t0, k)
    rf = jl.eigsh(jl.MatrixOperator(A), jnp.asarray(x), k)
    np.testing.assert_allclose(rt.eigenvalues, rf.eigenvalues, rtol=1e-12)
    np.testing.assert_allclose(rt.eigenvalues, np.sort(ev)[-k:], rtol=1e-10)
    assert rt.eigenvectors["a"].shape == (k, 8, 5)


def test_unconverged_reported_and_thrown(rng):
    n = 400
    ev = np.linspace(0, 1, n)  # tiny relative gaps: not converged within the budget
    A = planted(ev, seed=10)
    res = jl.eigsh(jl.MatrixOperator(A), jnp.ones(n), 3, max_matvecs=25, ncv=10, throw=False)
    assert not bool(jnp.all(res.converged))
    assert res.result == jl.RESULTS.max_matvecs_reached
    # unconverged pairs have residuals above the tolerance
    conv = np.asarray(res.converged)
    assert np.all(np.asarray(res.residual_norms)[~conv] > 1e-10 * float(res.norm_estimate))
    with pytest.raises(eqx.EquinoxRuntimeError, match="max_matvecs"):
        jl.eigsh(jl.MatrixOperator(A), jnp.ones(n), 3, max_matvecs=25, ncv=10)


def test_nonsymmetric_and_nonfinite_detected(rng):
    n = 80
    A = planted(np.linspace(1, 5, n), seed=11)
    B = A + 0.05 * jnp.asarray(rng.standard_normal((n, n)))
    res = jl.eigsh(jl.MatrixOperator(B), jnp.ones(n), 3, throw=False)
    assert res.result == jl.RESULTS.not_symmetric
    with pytest.raises(eqx.EquinoxRuntimeError, match="not symmetric"):
        jl.eigsh(jl.MatrixOperator(B), jnp.ones(n), 3)
    with pytest.raises(eqx.EquinoxRuntimeError, match="NaN"):
        jl.eigsh(lambda v: A @ v * jnp.inf, jnp.ones(n), 3)
    chk = jl.is_symmetric(jl.MatrixOperator(B), jnp.ones(n), key=jax.random.key(0))
    assert not bool(chk.symmetric) and float(chk.asymmetry) > 1e-3
    chk = jl.is_symmetric(jl.MatrixOperator(A), jnp.ones(n), key=jax.random.key(0))
    assert bool(chk.symmetric) and float(chk.asymmetry) < 1e-13


def test_bad_arguments():
    A = jl.MatrixOperator(jnp.eye(10))
    with pytest.raises(ValueError, match="k"):
        jl.eigsh(A, jnp.ones(10), 10)
    with pytest.raises(ValueError, match="ncv"):
        jl.eigsh(A, jnp.ones(10), 3, ncv=3)
    with pytest.raises(ValueError, match="which"):
        jl.eigsh(A, jnp.ones(10), 3, which="LM")
    with pytest.raises(TypeError, match="floating"):
        jl.eigsh(A, jnp.ones(10, jnp.int32), 3)


def test_grad_of_top_eigenvalue_vs_finite_differences(rng):
    n = 30
    A0 = planted(np.linspace(1, 4, n), seed=12)
    B = planted(rng.standard_normal(n), seed=13)

    def top(t):
        # parameter enters through a closure *and* an explicit param
        def mv(v, s):
            return A0 @ v + t * (B @ v) + s * v

        return jl.eigsh(mv, jnp.ones(n), 2, 0.5 * t).eigenvalues[-1]

    t = 0.3
    g = jax.grad(top)(t)
    h = 1e-5
    fd = (top(t + h) - top(t - h)) / (2 * h)
    dense = lambda s: np.linalg.eigvalsh(np.asarray(A0 + s * B + 0.5 * s * np.eye(n)))[-1]
    fd_dense = (dense(t + h) - dense(t - h)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-7)
    np.testing.assert_allclose(g, fd_dense, rtol=1e-7)


def test_vmap_jit_no_retrace(rng):
    n = 40
    A = jl.MatrixOperator(planted(np.linspace(0, 3, n), seed=14))
    V0 = jnp.asarray(rng.standard_normal((3, n)))
    out = jax.vmap(lambda v: jl.eigsh(A, v, 2).eigenvalues)(V0)
    np.testing.assert_allclose(out, np.tile(np.linspace(0, 3, n)[-2:], (3, 1)), rtol=1e-10)

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def f(op, v):
        return jl.eigsh(op, v, 2).eigenvalues

    f(A, V0[0])
    f(jl.MatrixOperator(A.matrix * 2.0), V0[1])


def test_symmetric_start_vector_does_not_hide_degenerate_pairs():
    # v0 = ones is blind to the antisymmetric member of every degenerate pair of the 2D
    # Laplacian; the verification cycle must still find both copies.
    from tests.helpers import laplacian_2d

    mv, exact = laplacian_2d(24)
    res = jl.eigsh(mv, jnp.ones((24, 24)), 6, which="smallest")
    np.testing.assert_allclose(res.eigenvalues, exact[:6], rtol=1e-10)
    assert np.isclose(exact[1], exact[2]) and np.isclose(exact[4], exact[5])
