"""Checkpoints shared by every training loop: orbax-checkpoint step folders (written to a
temporary folder and renamed, so a kill leaves the previous checkpoint intact), keeping the
last `keep` steps and the best one.

A state is any pytree; it is stored as its flat list of array leaves (PRNG keys as key data)
plus a JSON `meta` dict, and restored into the structure of a template (a freshly built state
of the same configuration), so equinox modules with static fields round-trip exactly.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_log = logging.getLogger(__name__)


def _to_leaves(state) -> dict[str, Any]:
    leaves = jax.tree_util.tree_leaves(state)
    out = {}
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        out[f"{i:05d}"] = np.asarray(leaf) if not isinstance(leaf, jax.Array) else leaf
    return out


def _from_leaves(template, stored: dict[str, Any]):
    leaves, treedef = jax.tree_util.tree_flatten(template)
    if len(stored) != len(leaves):
        raise ValueError(f"the checkpoint holds {len(stored)} arrays, the current model and "
                         f"optimiser {len(leaves)}: it belongs to another configuration.")
    new = []
    for i, ref in enumerate(leaves):
        val = stored[f"{i:05d}"]
        if isinstance(ref, jax.Array) and jnp.issubdtype(ref.dtype, jax.dtypes.prng_key):
            new.append(jax.random.wrap_key_data(jnp.asarray(val), impl=jax.random.key_impl(ref)))
            continue
        if np.shape(val) != np.shape(ref):
            raise ValueError(f"checkpoint array {i} has shape {np.shape(val)}, the current "
                             f"state {np.shape(ref)}: it belongs to another configuration.")
        new.append(jnp.asarray(val, dtype=jnp.result_type(ref)) if isinstance(
            ref, jax.Array) else type(ref)(np.asarray(val)) if np.isscalar(ref) else val)
    return jax.tree_util.tree_unflatten(treedef, new)


class Checkpointer:
    """`save(step, state, meta, metric=None)`, `latest_step()`, `restore(template, step=None)`.

    Args:
        folder: where the step folders live (created).
        keep: how many of the most recent checkpoints to keep (>= 1).
        best_mode: "min" or "max": also keep the step with the best `metric` (if given).
    """

    def __init__(self, folder: str | Path, *, keep: int = 3, best_mode: str = "min"):
        import orbax.checkpoint as ocp

        if keep < 1:
            raise ValueError(f"`keep` must be >= 1, got {keep}.")
        if best_mode not in ("min", "max"):
            raise ValueError(f"`best_mode` must be 'min' or 'max', got {best_mode!r}.")
        self.folder = Path(folder).absolute()
        self.keep, self.best_mode = int(keep), best_mode
        self._ocp = ocp
        self._mgr = ocp.CheckpointManager(
            self.folder,
            options=ocp.CheckpointManagerOptions(enable_async_checkpointing=False,
                                                 create=True),
            item_names=("state", "meta"),
        )
        # Kept in memory (every process takes the same decisions), persisted in best.json.
        self._best_step, self._best_metric = self._read_best()

    def all_steps(self) -> list[int]:
        self._mgr.reload()
        return sorted(self._mgr.all_steps())

    def latest_step(self) -> int | None:
        steps = self.all_steps()
        return steps[-1] if steps else None

    def _read_best(self) -> tuple[int | None, float | None]:
        path = self.folder / "best.json"
        if path.exists():
            d = json.loads(path.read_text())
            return d.get("step"), d.get("metric")
        return None, None

    def save(self, step: int, state, meta: dict | None = None, *, metric: float | None = None):
        ocp = self._ocp
        meta = dict(meta or {})
        meta["step"] = int(step)
        self._mgr.save(int(step), args=ocp.args.Composite(
            state=ocp.args.StandardSave(_to_leaves(state)), meta=ocp.args.JsonSave(meta)),
            force=True)
        self._mgr.wait_until_finished()
        best_step, best_metric = self._best_step, self._best_metric
        if metric is not None and np.isfinite(metric) and (
            best_metric is None
            or (metric < best_metric if self.best_mode == "min" else metric > best_metric)
        ):
            best_step, best_metric = int(step), float(metric)
            if jax.process_index() == 0:  # one writer in multi-process runs
                tmp = self.folder / "best.json.tmp"
                tmp.write_text(json.dumps({"step": best_step, "metric": best_metric}))
                tmp.replace(self.folder / "best.json")
            self._best_step, self._best_metric = best_step, best_metric
        steps = self.all_steps()
        for s in steps[: -self.keep]:
            if s != best_step:
                self._mgr.delete(s)

    def restore(self, template, step: int | None = None):
        """`(state, meta)` from `step` (default: the latest). Raises `FileNotFoundError` if
        there is none and `ValueError` for a checkpoint that cannot be read or does not fit."""
        ocp = self._ocp
        steps = self.all_steps()
        if not steps:
            raise FileNotFoundError(f"no checkpoint in {self.folder}")
        step = steps[-1] if step is None else int(step)
        abstract = {k: jax.ShapeDtypeStruct(np.shape(v), v.dtype)
                    for k, v in _to_leaves(template).items()}
        try:
            out = self._mgr.restore(step, args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()))
        except Exception as e:  # orbax raises many kinds for damaged files
            raise ValueError(
                f"checkpoint step {step} in {self.folder} cannot be read ({type(e).__name__}: "
                f"{str(e)[:300]}). It was not modified; move it away to resume from an "
                f"earlier step (available: {steps})."
            ) from e
        return _from_leaves(template, dict(out["state"])), dict(out["meta"])

    def close(self):
        self._mgr.close()
