"""Acceptance figures on a ~4,000-parameter trained MLP (slow: dense 4,178^2 Hessian)."""

import jax
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import jaxspec.hessian as jh
from jaxspec.tour._hessian import init_mlp, loss_fn, mixture_data, train


@pytest.mark.slow
def test_top5_of_4000_parameter_mlp():
    key = jax.random.key(0)
    data = mixture_data(key, 512)
    params = train(init_mlp(jax.random.fold_in(key, 1), [16, 56, 48, 10]), data, 200)
    flat, un = ravel_pytree(params)
    assert flat.size == 4178
    H = np.asarray(jax.jit(jax.hessian(lambda w: loss_fn(un(w), data)))(flat))
    w, U = np.linalg.eigh(H)
    ref, Uref = w[::-1][:5], U[:, ::-1][:, :5]
    for verify, budget in ((False, 60), (True, 100)):
        res = jh.top_eigenpairs(loss_fn, params, data, 5, ncv=40, verify=verify)
        assert np.max(np.abs(np.asarray(res.eigenvalues) - ref) / ref) <= 1e-10
        assert int(res.num_matvecs) <= budget
        V = np.asarray(jax.vmap(lambda t: ravel_pytree(t)[0])(res.eigenvectors))
        assert np.min(np.abs(np.sum(V.T * Uref, axis=0))) >= 0.9999
