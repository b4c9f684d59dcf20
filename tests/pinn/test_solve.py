"""The PINN eigen-solver against exact levels, with certified intervals that must hold."""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxspec import pinn


def _assert_certified(res):
    exact = res.exact
    assert exact is not None
    lo, hi = res.bounds[:, 0], res.bounds[:, 1]
    assert np.all((lo <= exact) & (exact <= hi)), (res.bounds, exact)
    assert np.all(res.energies >= lo) and np.all(res.energies <= hi)


def _overlaps(res, order=96):
    x, w = res.problem.domain.quadrature(order, 1, res.problem.breakpoints)
    psi = np.asarray(res.wavefunctions(jnp.asarray(x)))
    return (psi * w[:, None]).T @ psi


@pytest.fixture(scope="module")
def infinite_well_result():
    return pinn.solve(pinn.infinite_well(), 1, key=jax.random.key(0), max_steps=20)


def test_infinite_well_ground_state(infinite_well_result):
    res = infinite_well_result
    assert res.relative_errors[0] <= 1e-12
    _assert_certified(res)
    assert res.bounds[0, 1] - res.bounds[0, 0] < 1e-7 * res.energies[0]
    # The wavefunction against sqrt(2) sin(pi x), normalised and sign-fixed.
    x = jnp.linspace(0.0, 1.0, 101)
    np.testing.assert_allclose(
        res.wavefunctions(x)[:, 0], np.sqrt(2) * np.sin(np.pi * np.asarray(x)), atol=1e-6
    )
    assert len(res.history["loss"]) == res.steps
    assert res.history["loss"][-1] <= res.history["loss"][0]


def test_five_states_at_once_are_orthogonal():
    res = pinn.solve(pinn.infinite_well(), 5, key=jax.random.key(1), width=40, max_steps=10)
    assert np.max(res.relative_errors) <= 1e-10, res.relative_errors
    _assert_certified(res)
    gram = _overlaps(res)
    np.testing.assert_allclose(gram, np.eye(5), atol=1e-10)


# The finite well's three states (errors, overlaps, intervals) are asserted by the
# quantum_wells notebook test.


def test_finite_barrier_right_states():
    res = pinn.solve(pinn.finite_barrier(), 2, key=jax.random.key(3), max_steps=10)
    assert np.max(res.relative_errors) <= 1e-10, res.relative_errors
    _assert_certified(res)
    # Ground state even, first excited odd about the barrier.
    x = jnp.linspace(0.2, 0.9, 8)
    psi_r, psi_l = np.asarray(res.wavefunctions(x)), np.asarray(res.wavefunctions(-x))
    np.testing.assert_allclose(psi_l[:, 0], psi_r[:, 0], atol=1e-6)
    np.testing.assert_allclose(psi_l[:, 1], -psi_r[:, 1], atol=1e-6)


def test_hydrogen_radial_and_oscillator_with_envelopes():
    res = pinn.solve(pinn.hydrogen_radial(), 1, key=jax.random.key(4), max_steps=10)
    assert res.relative_errors[0] <= 1e-8
    _assert_certified(res)
    res = pinn.solve(pinn.harmonic_oscillator(1), 2, key=jax.random.key(5), max_steps=10)
    assert np.max(res.relative_errors) <= 1e-9
    _assert_certified(res)


def test_user_problem_against_chebyshev():
    """A smooth anharmonic potential and a variable coefficient no table knows."""
    prob = pinn.EigenProblem(
        pinn.Interval(-2.0, 2.5),
        lambda x: x[0] ** 4 - 2 * x[0] ** 2 + 0.3 * x[0],
        p=lambda x: 1.0 + 0.2 * jnp.sin(x[0]),
        w=lambda x: 1.0 + 0.1 * x[0] ** 2,
    )
    ref = pinn.chebyshev_eigenvalues(prob, 2, order=60)
    prob = pinn.EigenProblem(prob.domain, prob.potential, p=prob.p, w=prob.w, exact=tuple(ref))
    res = pinn.solve(prob, 2, key=jax.random.key(6), width=32, max_steps=10)
    assert np.max(res.relative_errors) <= 1e-9, res.relative_errors
    _assert_certified(res)


def test_bad_input_is_named():
    well = pinn.infinite_well()
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="empty or inverted"):
        pinn.Interval(1.0, 0.0)
    with pytest.raises(ValueError, match="potential is not finite"):
        pinn.solve(pinn.EigenProblem(well.domain, lambda x: jnp.log(x[0] - 0.5)), key=key)
    with pytest.raises(ValueError, match="must return a scalar"):
        pinn.solve(pinn.EigenProblem(well.domain, lambda x: jnp.zeros(3)), key=key)
    with pytest.raises(ValueError, match="num_states"):
        pinn.solve(well, 12, key=key, width=8)
    with pytest.raises(ValueError, match="optimizer"):
        pinn.solve(well, key=key, optimizer="sgd")
    with pytest.raises(ValueError, match="breakpoints"):
        pinn.EigenProblem(pinn.Box((0, 0), (1, 1)), lambda x: 0.0, breakpoints=((0.5,),))


def test_float32_warns_unless_acknowledged():
    with pytest.warns(UserWarning, match="float32"):
        res = pinn.solve(
            pinn.infinite_well(), key=jax.random.key(0), dtype=jnp.float32, max_steps=1
        )
    assert res.relative_errors[0] < 1e-3
    lo, hi = res.bounds[0]
    assert lo <= math.pi**2 <= hi
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pinn.solve(
            pinn.infinite_well(),
            key=jax.random.key(0),
            dtype=jnp.float32,
            allow_float32=True,
            max_steps=1,
        )


def test_plot_1d(infinite_well_result, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    pinn.plot(infinite_well_result, path=tmp_path / "well.png")
    assert (tmp_path / "well.png").stat().st_size > 10_000


def test_square_drum_degenerate_pair(tmp_path):
    """2D: the ground state and the degenerate pair (1,2)/(2,1), intervals hold, plot."""
    import matplotlib

    matplotlib.use("Agg")
    res = pinn.solve(pinn.square_drum(), 3, key=jax.random.key(7), width=32, max_steps=2)
    assert np.max(res.relative_errors) <= 5e-4, res.relative_errors  # Ritz-limited at width 32
    _assert_certified(res)
    assert abs(res.energies[1] - res.energies[2]) <= 1e-3 * res.energies[1]
    pinn.plot(res, reference=False, path=tmp_path / "drum.png")
    assert (tmp_path / "drum.png").stat().st_size > 10_000
