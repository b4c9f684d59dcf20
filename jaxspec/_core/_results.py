"""Result codes shared by iterative algorithms (optimistix-style enumeration)."""

import equinox as eqx


class RESULTS(eqx.Enumeration):
    """Status of an iterative algorithm. `successful` is the empty message."""

    successful = ""
    max_matvecs_reached = (
        "The iteration stopped at `max_matvecs` before every requested eigenpair converged "
        "to `tol`; see `converged` and `residual_norms`, or raise `max_matvecs`/`ncv`."
    )
    nonfinite = "The operator (`matvec`) returned NaN or Inf."
    not_symmetric = (
        "The operator (`matvec`) is not symmetric: its projected Krylov matrix is asymmetric "
        "beyond rounding. Lanczos methods need a symmetric (self-adjoint) operator."
    )
