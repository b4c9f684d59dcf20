"""Matrix-free spectral linear algebra on tree-vectors.

Operators are callables `matvec(v, *params)`; vectors are arbitrary pytrees of float arrays.
"""

from .._core._results import RESULTS as RESULTS
from ._eigsh import EigshResult as EigshResult, eigsh as eigsh
from ._lanczos import LanczosDecomposition as LanczosDecomposition, lanczos as lanczos
from ._operators import (
    MatrixOperator as MatrixOperator,
    SymmetryCheck as SymmetryCheck,
    is_symmetric as is_symmetric,
    materialize as materialize,
    random_like as random_like,
)
from ._slq import (
    SpectralDensity as SpectralDensity,
    slq as slq,
    wasserstein1 as wasserstein1,
)
from ._trace import (
    DiagonalEstimate as DiagonalEstimate,
    TraceEstimate as TraceEstimate,
    diagonal_estimate as diagonal_estimate,
    trace_estimate as trace_estimate,
)
