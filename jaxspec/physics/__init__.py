"""Differentiable PDE solvers, random fields and dataset generation.

Pure functions of arrays: `jax.jit`, `jax.vmap` over initial data and parameters, and
reverse-mode `jax.grad` through rollouts (checkpointed, memory independent of the step count).
"""

from . import datasets as datasets
from ._burgers import burgers as burgers, burgers_exact as burgers_exact
from ._darcy import darcy as darcy, darcy_residual as darcy_residual
from ._etdrk4 import (
    ETDRK4Coefficients as ETDRK4Coefficients,
    etdrk4_coefficients as etdrk4_coefficients,
    etdrk4_step as etdrk4_step,
)
from ._grf import GaussianRandomField as GaussianRandomField, threshold as threshold
from ._ks import kuramoto_sivashinsky as kuramoto_sivashinsky
from ._navier_stokes import (
    navier_stokes_2d as navier_stokes_2d,
    navier_stokes_forcing as navier_stokes_forcing,
    vorticity_to_velocity as vorticity_to_velocity,
)
from ._spectral_ops import (
    spectral_derivative as spectral_derivative,
    spectral_laplacian as spectral_laplacian,
)
