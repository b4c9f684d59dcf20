"""Fourier neural operators: spectral convolutions in 1-3 D, the FNO, Sobolev losses, training.

Modules act on one sample `(channels, *spatial)`; batch with `jax.vmap`, or with
`batch_apply(model, x)`, which takes the faster batch-major path of models that have one
(`model.batched`: FNO, the spectral layers, `Operator`, `Rollout`); `fit` and `evaluate` use it.
"""

from ._batch import batch_apply as batch_apply
from ._factorized import (
    CPSpectralConv as CPSpectralConv,
    TuckerSpectralConv as TuckerSpectralConv,
    tucker_ranks as tucker_ranks,
)
from ._fno import FNO as FNO, Pointwise as Pointwise, grid_features as grid_features
from ._losses import (
    lp_norm as lp_norm,
    relative_h1 as relative_h1,
    relative_lp as relative_lp,
    relative_sobolev as relative_sobolev,
    sobolev_norm as sobolev_norm,
)
from ._pino import (
    burgers_residual as burgers_residual,
    darcy_residual as darcy_residual,
    navier_stokes_residual as navier_stokes_residual,
    pino_loss as pino_loss,
)
from ._refine import spectral_refine as spectral_refine, widen_last_layer as widen_last_layer
from ._rollout import Rollout as Rollout
from ._spectral_conv import (
    SpectralConv as SpectralConv,
    SpectralLayer as SpectralLayer,
    spectral_conv_nd as spectral_conv_nd,
)
from ._t1 import T1 as T1
from ._train import (
    Normalizer as Normalizer,
    Operator as Operator,
    TrainConfig as TrainConfig,
    TrainResult as TrainResult,
    evaluate as evaluate,
    fit as fit,
)
