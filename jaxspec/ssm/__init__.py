"""Spectral state-space layers: STU spectral filtering, diagonal SSMs (S4D, S5, LRU) with
HiPPO and perturb-then-diagonalise initialisation, negative-eigenvalue and selective variants,
three execution modes, a sequence-model wrapper and an offline task suite."""

from ._diagonal import DiagonalSSM as DiagonalSSM, SelectiveSSM as SelectiveSSM
from ._filters import (
    default_filter_cache as default_filter_cache,
    hankel_matrix as hankel_matrix,
    spectral_filters as spectral_filters,
)
from ._fit import (
    FitResult as FitResult,
    evaluate as evaluate,
    fit as fit,
    parity_experiment as parity_experiment,
)
from ._hippo import (
    Diagonalisation as Diagonalisation,
    hippo_legs as hippo_legs,
    legs_eig as legs_eig,
    legs_normal as legs_normal,
    legs_ptd as legs_ptd,
    resolvent_error as resolvent_error,
)
from ._model import (
    Block as Block,
    SequenceModel as SequenceModel,
    optimizer as optimizer,
    param_labels as param_labels,
    trainable as trainable,
)
from ._scan import linear_recurrence as linear_recurrence
from ._stu import (
    STU as STU,
    LDSDistillation as LDSDistillation,
    STUState as STUState,
    time_domain_stu as time_domain_stu,
)
from ._tasks import (
    Task as Task,
    associative_recall as associative_recall,
    induction_heads as induction_heads,
    lds as lds,
    listops as listops,
    modular_arithmetic as modular_arithmetic,
    parity as parity,
    selective_copying as selective_copying,
    sequential_digits as sequential_digits,
    shift_digits as shift_digits,
)
