"""jaxspec: spectral methods for scientific machine learning and differentiable physics."""

from . import linalg as linalg

__version__ = "0.1.0"
