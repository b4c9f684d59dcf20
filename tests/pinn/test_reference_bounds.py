"""Classical reference solvers, breakpoint detection, domains and the certified bounds."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special

from jaxspec import pinn


def test_chebyshev_reproduces_the_tabulated_wells():
    for prob in (pinn.finite_well(), pinn.finite_barrier()):
        exact = np.asarray(prob.exact[:2])
        got = pinn.chebyshev_eigenvalues(prob, 2, order=40)
        np.testing.assert_allclose(got, exact, rtol=1e-11)


def test_chebyshev_analytic_levels():
    got = pinn.chebyshev_eigenvalues(pinn.infinite_well(2.0), 4, order=40)
    np.testing.assert_allclose(got, [(n * math.pi / 2) ** 2 for n in range(1, 5)], rtol=1e-12)
    # The harmonic oscillator truncated to [-6, 6]: Dirichlet moves level 3 by ~4e-12.
    got = pinn.chebyshev_eigenvalues(pinn.harmonic_oscillator(1), 3, order=40)
    np.testing.assert_allclose(got, [0.5, 1.5, 2.5], rtol=1e-11)


def test_finite_differences_converge_at_second_order():
    prob = pinn.square_drum()
    exact = np.asarray(prob.exact[:3])
    e1 = np.abs(pinn.finite_difference_eigenvalues(prob, 3, points=15) - exact)
    e2 = np.abs(pinn.finite_difference_eigenvalues(prob, 3, points=31) - exact)
    np.testing.assert_allclose(e1 / e2, 4.0, rtol=0.05)
    # A variable coefficient p(x) = 1 + x on [0, 1]: FD against Chebyshev.
    prob = pinn.EigenProblem(
        pinn.Interval(0.0, 1.0), lambda x: jnp.zeros(()), p=lambda x: 1.0 + x[0]
    )
    ref = pinn.chebyshev_eigenvalues(prob, 2, order=40)
    fd = pinn.finite_difference_eigenvalues(prob, 2, points=800)
    np.testing.assert_allclose(fd, ref, rtol=1e-5)


def test_find_breakpoints_to_machine_precision():
    bps = pinn.find_breakpoints(pinn.finite_well().potential, -3.0, 3.0)
    np.testing.assert_allclose(bps, [-1.0, 1.0], atol=1e-13)
    assert pinn.find_breakpoints(lambda x: x[0] ** 2, -3.0, 3.0) == ()


def test_named_problem_tables():
    disk = pinn.disk_drum()
    np.testing.assert_allclose(
        disk.exact[:4],
        [5.783185962946783, 14.681970642123895, 14.681970642123895, 26.374616427163392],
    )
    assert disk.exact[5] == pytest.approx(30.471262343662087, rel=1e-14)
    assert pinn.harmonic_oscillator(3).exact[:4] == (1.5, 2.5, 2.5, 2.5)
    assert pinn.hydrogen().exact[:5] == (-0.5, -0.125, -0.125, -0.125, -0.125)
    assert scipy.special.jn_zeros(0, 1)[0] ** 2 == pytest.approx(disk.exact[0])


@pytest.mark.parametrize(
    "domain, volume",
    [
        (pinn.Interval(-1.0, 2.0), 3.0),
        (pinn.Box((0.0, -1.0), (2.0, 1.0)), 4.0),
        (pinn.Ball(1.5, 2), math.pi * 1.5**2),
        (pinn.Ball(1.0, 3), 4 * math.pi / 3),
    ],
)
def test_quadrature_volumes_and_boundary_factor(domain, volume):
    x, w = domain.quadrature(8, 2)
    assert np.sum(w) == pytest.approx(volume, rel=1e-13)
    assert np.all(domain.contains(x))
    # Second moment of the first coordinate, exact for each shape.
    if isinstance(domain, pinn.Ball):
        r = domain.radius
        m2 = math.pi * r**4 / 4 if domain.dim == 2 else 4 * math.pi * r**5 / 15
        assert np.sum(w * x[:, 0] ** 2) == pytest.approx(m2, rel=1e-12)
    corner = (
        jnp.asarray(domain.upper)
        if not isinstance(domain, pinn.Ball)
        else jnp.zeros(domain.dim).at[0].set(domain.radius)
    )
    assert float(domain.boundary_factor(corner)) == pytest.approx(0.0, abs=1e-15)


def test_bounds_contain_eigenvalues_of_a_matrix():
    """Weinstein and Kato-Temple around perturbed eigenvectors of a symmetric matrix."""
    rng = np.random.default_rng(0)
    n = 40
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.arange(1.0, n + 1) + 0.1 * rng.uniform(size=n)
    h = (q * lam) @ q.T
    k = 3
    v = q[:, :k] + 1e-6 * rng.standard_normal((n, k))
    # Rayleigh-Ritz in span(v): Ritz values are upper bounds.
    vv, _ = np.linalg.qr(v)
    rho, y = np.linalg.eigh(vv.T @ h @ vv)
    x = vv @ y
    eta = np.linalg.norm(h @ x - x * rho, axis=0)
    w = pinn.weinstein(rho, eta)
    b = pinn.certify(rho, eta, next_lower=lam[k] - 1e-12)
    assert np.all((w[:, 0] <= lam[:k]) & (lam[:k] <= w[:, 1]))
    assert np.all((b[:, 0] <= lam[:k]) & (lam[:k] <= b[:, 1]))
    assert np.all(b[:, 1] - b[:, 0] < 1e-3 * (w[:, 1] - w[:, 0]))  # Kato-Temple: eta^2 / gap
    kt = pinn.kato_temple(rho[0], eta[0], -np.inf, lam[1])
    assert kt[1] == rho[0] and kt[0] <= lam[0]


def test_bounds_fall_back_to_weinstein_for_degenerate_levels():
    rho = np.array([1.0, 1.0 + 1e-9, 2.0])
    eta = np.array([1e-5, 1e-5, 1e-5])
    b = pinn.certify(rho, eta, next_lower=3.0)
    assert b[0, 0] == pytest.approx(rho[0] - eta[0])  # no gap to the next level
    assert b[2, 0] > rho[2] - 1e-9  # a real gap: Kato-Temple


def test_auto_breakpoints_and_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    well = pinn.finite_well()
    auto = pinn.EigenProblem(well.domain, well.potential, breakpoints="auto", exact=well.exact)
    np.testing.assert_allclose(auto.breakpoints[0], [-1.0, 1.0], atol=1e-13)
    with pytest.raises(ValueError, match="'auto'"):
        pinn.EigenProblem(pinn.Box((0, 0), (1, 1)), lambda x: 0.0, breakpoints="auto")
