"""Batch jobs above the library: typed configs, run folders, distributed start-up, and one job
per pillar (`jaxspec ssm train`, `jaxspec fno train`, ...). The library never imports this."""

from .._core._malloc import restart_with_huge_pages as restart_with_huge_pages
from ._analysis import (
    HessianJob as HessianJob,
    PinnJob as PinnJob,
    run_hessian as run_hessian,
    run_pinn as run_pinn,
)
from ._config import config_to_dict as config_to_dict, load_config as load_config
from ._distributed import (
    configure_compilation_cache as configure_compilation_cache,
    data_mesh as data_mesh,
    maybe_initialize_distributed as maybe_initialize_distributed,
)
from ._fno import FNOJob as FNOJob, run_fno as run_fno
from ._rundir import prepare_run_dir as prepare_run_dir
from ._ssm import SSMJob as SSMJob, run_ssm as run_ssm
