"""Multi-process start-up on JAX's own runtime, data-parallel meshes, the compilation cache."""

from __future__ import annotations

import os

import jax
import numpy as np

_CLUSTER_ENV = ("SLURM_JOB_ID", "TPU_WORKER_HOSTNAMES", "OMPI_COMM_WORLD_SIZE")


def maybe_initialize_distributed(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> bool:
    """Call `jax.distributed.initialize` only when a cluster is configured or detected.

    Configured: the arguments, or `JAXSPEC_COORDINATOR` (host:port), `JAXSPEC_NUM_PROCESSES`,
    `JAXSPEC_PROCESS_ID`. Detected: SLURM / TPU pod / Open MPI environments, where JAX finds
    the values itself. On CPU, cross-process collectives use gloo. Returns True if initialised.
    """
    coordinator = coordinator or os.environ.get("JAXSPEC_COORDINATOR")
    if num_processes is None and "JAXSPEC_NUM_PROCESSES" in os.environ:
        num_processes = int(os.environ["JAXSPEC_NUM_PROCESSES"])
    if process_id is None and "JAXSPEC_PROCESS_ID" in os.environ:
        process_id = int(os.environ["JAXSPEC_PROCESS_ID"])
    configured = coordinator is not None
    detected = any(k in os.environ for k in _CLUSTER_ENV) and (
        int(os.environ.get("SLURM_NTASKS", "2")) > 1)
    if not (configured or detected):
        return False
    if configured and (num_processes is None or process_id is None):
        raise ValueError("A coordinator was given, so `num_processes` and `process_id` (or "
                         "JAXSPEC_NUM_PROCESSES / JAXSPEC_PROCESS_ID) are needed too.")
    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except Exception:  # pragma: no cover - option absent on some builds
        pass
    if configured:
        jax.distributed.initialize(coordinator, num_processes, process_id)
    else:
        jax.distributed.initialize()
    return True


def data_mesh(num_devices: int | None = None) -> jax.sharding.Mesh:
    """A 1-D mesh with axis "data" over all (global) devices or the first `num_devices`."""
    devices = jax.devices()
    if num_devices is not None:
        if not 1 <= num_devices <= len(devices):
            raise ValueError(f"`num_devices` must be in 1..{len(devices)}, got {num_devices}.")
        devices = devices[:num_devices]
    return jax.sharding.Mesh(np.array(devices), ("data",))


def configure_compilation_cache(path: str | None) -> None:
    """Persist compiled XLA programs under `path` (or `$JAXSPEC_COMPILATION_CACHE`)."""
    path = path or os.environ.get("JAXSPEC_COMPILATION_CACHE")
    if path:
        os.makedirs(path, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
