"""Physics-informed neural-network eigenvalue solvers with certified error bounds.

``-div(p grad psi) + V psi = E w psi`` in 1-3 D with Dirichlet conditions built into the ansatz:
k states at once from one network subspace by Rayleigh-Ritz, damped Gauss-Newton training in
float64, certified Weinstein/Kato-Temple intervals, and classical reference solvers.
"""

from ._ansatz import Ansatz as Ansatz
from ._bounds import certify as certify, kato_temple as kato_temple, weinstein as weinstein
from ._domains import (
    Ball as Ball,
    Box as Box,
    Interval as Interval,
    gauss_legendre as gauss_legendre,
)
from ._plot import plot as plot
from ._problems import (
    EigenProblem as EigenProblem,
    disk_drum as disk_drum,
    find_breakpoints as find_breakpoints,
    finite_barrier as finite_barrier,
    finite_well as finite_well,
    harmonic_oscillator as harmonic_oscillator,
    hydrogen as hydrogen,
    hydrogen_radial as hydrogen_radial,
    infinite_well as infinite_well,
    square_drum as square_drum,
)
from ._reference import (
    chebyshev_eigenvalues as chebyshev_eigenvalues,
    finite_difference_eigenvalues as finite_difference_eigenvalues,
)
from ._solve import EigenResult as EigenResult, solve as solve
