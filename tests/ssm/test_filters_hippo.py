"""Hankel filters against a dense eigh; HiPPO diagonalisations against the exact resolvent."""

import numpy as np
import pytest

import jaxspec.ssm as S
from jaxspec.ssm._filters import _hankel_symbol, hankel_matvec


@pytest.fixture(scope="module")
def dense_2048():
    w, v = np.linalg.eigh(S.hankel_matrix(2048))
    return w[::-1], v[:, ::-1]


def _sign_free(a, b):
    return min(np.abs(a - b).max(), np.abs(a + b).max())


def test_filters_match_dense_eigh(dense_2048, tmp_path):
    w, v = dense_2048
    sigma, phi = S.spectral_filters(2048, 24, cache=tmp_path)
    assert np.all(np.diff(sigma) < 0)
    np.testing.assert_allclose(sigma, w[:24], rtol=0, atol=1e-14 * w[0])
    # Eigenvector accuracy is set by eps * sigma_1 / gap (for both methods): 1e-8 holds for
    # the leading 12 at L = 2048, 1e-6 for the leading 16.
    assert max(_sign_free(phi[:, k], v[:, k]) for k in range(12)) <= 1e-8
    assert max(_sign_free(phi[:, k], v[:, k]) for k in range(16)) <= 1e-6
    np.testing.assert_allclose(np.linalg.norm(phi, axis=0), 1.0, atol=1e-12)
    assert np.all(phi[np.argmax(np.abs(phi), axis=0), np.arange(24)] > 0)


def test_filters_cache_roundtrip_and_corruption(tmp_path):
    s1, p1 = S.spectral_filters(300, 5, cache=tmp_path)
    files = list(tmp_path.glob("hankel-L300-K5-*.npz"))
    assert len(files) == 1
    _s2, p2 = S.spectral_filters(300, 5, cache=tmp_path)
    np.testing.assert_array_equal(p1, p2)
    files[0].write_bytes(b"not an npz")
    _s3, p3 = S.spectral_filters(300, 5, cache=tmp_path)
    np.testing.assert_allclose(p3, p1, atol=1e-12)
    s4, _p4 = S.spectral_filters(300, 5, cache=False)
    np.testing.assert_allclose(s4, s1, rtol=1e-13)


def test_hankel_matvec_is_dense_product(rng):
    import jax.numpy as jnp

    z = S.hankel_matrix(37)
    v = rng.standard_normal(37)
    out = hankel_matvec(jnp.asarray(v), _hankel_symbol(37))
    np.testing.assert_allclose(np.asarray(out), z @ v, rtol=0, atol=1e-15 * np.abs(z @ v).max())


@pytest.mark.parametrize(
    "args, match",
    [
        ((1, 1), "seq_len"),
        ((10, 0), "num_filters"),
        ((10, 11), "num_filters"),
        ((10.0, 2), "seq_len"),
        ((10, True), "num_filters"),
    ],
)
def test_filters_bad_input(args, match):
    with pytest.raises((ValueError, TypeError), match=match):
        S.spectral_filters(*args, cache=False)


def test_hippo_legs_definition():
    a, b = S.hippo_legs(4)
    # A[n, k] = -sqrt((2n+1)(2k+1)) for n > k, -(n+1) on the diagonal, 0 above.
    assert a[2, 1] == pytest.approx(-np.sqrt(5 * 3))
    assert a[3, 3] == -4 and a[1, 2] == 0
    np.testing.assert_allclose(b, np.sqrt([1, 3, 5, 7]))


def test_ptd_transfer_function_close_where_plain_diagonalisations_are_not():
    n = 64
    a, b = S.hippo_legs(n)
    freqs = np.logspace(-1, 3, 25)
    ptd = S.legs_ptd(n)  # priced for float32
    err_ptd = S.resolvent_error(a, b, ptd, freqs)
    err_eig = S.resolvent_error(a, b, S.legs_eig(n), freqs)
    err_normal = S.resolvent_error(a, b, S.legs_normal(n), freqs)
    assert err_ptd < 1e-2
    assert err_eig > 1e3  # kappa(V) ~ 1e20: the diagonal system is garbage
    assert err_normal > 1.0  # the S4D normal part is a different system
    assert ptd.lam.real.max() < 0
    assert 0 < ptd.perturbation < 1e-2
    # In float64 PTD can use a far smaller perturbation and gets closer still.
    err64 = S.resolvent_error(a, b, S.legs_ptd(n, precision=2.0**-53), freqs)
    assert err64 < err_ptd / 10


def test_legs_normal_is_unitary_and_conjugate_half():
    d = S.legs_normal(16)
    assert len(d.lam) == 8 and np.all(d.lam.imag > 0)
    np.testing.assert_allclose(d.lam.real, -0.5, atol=1e-12)
    assert d.condition == pytest.approx(1.0, abs=1e-9)


def test_ptd_rejects_destabilising_perturbation():
    with pytest.raises(ValueError, match="right half-plane"):
        S.legs_ptd(64, perturbation=0.3)
