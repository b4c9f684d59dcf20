import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree


def init_mlp(key, sizes, dtype=jnp.float64):
    params = []
    for a, b in itertools.pairwise(sizes):
        k1, k2, key = jax.random.split(key, 3)
        params.append({
            "w": (jax.random.normal(k1, (a, b)) / np.sqrt(a)).astype(dtype),
            "b": (0.1 * jax.random.normal(k2, (b,))).astype(dtype),
        })
    return params


def model(p, x):
    for layer in p[:-1]:
        x = jnp.tanh(x @ layer["w"] + layer["b"][None, :])
    return x @ p[-1]["w"] + p[-1]["b"][None, :]


def cross_entropy(logits, y):
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=-1))


def loss(p, batch):
    x, y = batch
    return cross_entropy(model(p, x), y)


class Problem:
    def __init__(self, sizes=(8, 24, 16, 4), n=200, dtype=jnp.float64, seed=0):
        key = jax.random.key(seed)
        self.params = init_mlp(key, list(sizes), dtype)
        self.x = jax.random.normal(jax.random.fold_in(key, 1), (n, sizes[0]), dtype)
        self.y = jax.random.randint(jax.random.fold_in(key, 2), (n,), 0, sizes[-1])
        self.data = (self.x, self.y)
        self.flat, self.unravel = ravel_pytree(self.params)

    def dense_hessian(self):
        f = lambda w: loss(self.unravel(w), self.data)
        return np.asarray(jax.hessian(f)(self.flat))

    def dense_jacobian(self):
        f = lambda w: model(self.unravel(w), self.x).reshape(-1)
        return np.asarray(jax.jacfwd(f)(self.flat))  # (n * classes, P)


@pytest.fixture(scope="session")
def problem():
    return Problem()


@pytest.fixture(scope="session")
def dense_eigh(problem):
    H = problem.dense_hessian()
    return H, *np.linalg.eigh(H)
