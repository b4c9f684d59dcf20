"""Curvature spectra of any JAX loss: Hessian / GGN / Fisher operators, top eigenpairs,
spectral densities, traces and sharpness tracking, built on `jaxspec.linalg`."""

from ._curvature import (
    GGN as GGN,
    AbstractCurvature as AbstractCurvature,
    EmpiricalFisher as EmpiricalFisher,
    Fisher as Fisher,
    Hessian as Hessian,
    hvp as hvp,
)
from ._data import Batches as Batches
from ._plots import plot_density as plot_density, plot_sharpness as plot_sharpness
from ._spectrum import (
    curvature_matvec as curvature_matvec,
    spectral_density as spectral_density,
    top_eigenpairs as top_eigenpairs,
    trace as trace,
)
from ._tracker import (
    SharpnessRecord as SharpnessRecord,
    SharpnessTracker as SharpnessTracker,
    TrackerState as TrackerState,
)
