"""Datasets for full-dataset curvature: stacked equal batches plus a remainder batch.

The curvature of a dataset is the sample-count-weighted mean of per-batch curvatures, so a
smaller last batch is weighted by its true size (no padding enters any loss).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


def _leading(tree: Any, name: str) -> int:
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves:
        raise ValueError(f"`{name}` is empty: it must hold arrays with a leading example axis.")
    sizes = {int(np.shape(x)[0]) if np.ndim(x) else -1 for x in leaves}
    if -1 in sizes or len(sizes) != 1:
        raise ValueError(
            f"every array in `{name}` must share one leading example axis; got leading sizes "
            f"{sorted(s for s in sizes)} (-1: a scalar leaf)."
        )
    (n,) = sizes
    if n == 0:
        raise ValueError(f"`{name}` has no examples (leading axis of size 0): no batches.")
    return n


class Batches(eqx.Module):
    """A dataset split into `num_full` stacked batches of `batch_size` plus a remainder.

    Attributes:
        full: pytree with leaves of shape (num_full, batch_size, ...), or None.
        rest: pytree with leaves of shape (num_rest, ...), or None.
    """

    full: Any
    rest: Any
    batch_size: int = eqx.field(static=True)
    num_full: int = eqx.field(static=True)
    num_rest: int = eqx.field(static=True)

    @property
    def num_examples(self) -> int:
        return self.num_full * self.batch_size + self.num_rest

    @classmethod
    def from_arrays(cls, data: Any, batch_size: int | None = None) -> Batches:
        """Split a pytree of arrays with a leading example axis into batches."""
        n = _leading(data, "data")
        if batch_size is None:
            batch_size = n
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive int, got {batch_size!r}.")
        batch_size = min(batch_size, n)
        nf, nr = divmod(n, batch_size)
        full = jax.tree_util.tree_map(
            lambda a: jnp.reshape(a[: nf * batch_size], (nf, batch_size, *a.shape[1:])), data
        )
        rest = jax.tree_util.tree_map(lambda a: a[nf * batch_size:], data) if nr else None
        return cls(full=full, rest=rest, batch_size=batch_size, num_full=nf, num_rest=nr)

    @classmethod
    def from_iterable(cls, batches: Iterable[Any]) -> Batches:
        """Collect batches from an iterator: equal-sized ones are stacked, and a final batch
        of another size becomes the remainder. Batches must share one structure."""
        items = list(batches)
        if not items:
            raise ValueError("`batches` yielded no batches.")
        sizes = [_leading(b, "batch") for b in items]
        bs = sizes[0]
        if any(s != bs for s in sizes[:-1]):
            raise ValueError(
                f"all batches but the last must have the same size; got sizes {sizes}."
            )
        full_items = items if sizes[-1] == bs else items[:-1]
        rest = None if sizes[-1] == bs else items[-1]
        full = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *full_items)
        return cls(full=full, rest=rest, batch_size=bs, num_full=len(full_items),
                   num_rest=0 if rest is None else sizes[-1])

    def first(self) -> Any:
        if self.num_full:
            return jax.tree_util.tree_map(lambda a: a[0], self.full)
        return self.rest

    def weighted_mean(self, fn) -> Any:
        """sum_b n_b fn(batch_b) / N for a function returning a pytree (scan over batches)."""
        total = float(self.num_examples)
        acc = None
        if self.num_full:
            def body(carry, batch):
                out = fn(batch)
                return jax.tree_util.tree_map(jnp.add, carry, out), None

            first = fn(jax.tree_util.tree_map(lambda a: a[0], self.full))
            if self.num_full > 1:
                tail = jax.tree_util.tree_map(lambda a: a[1:], self.full)
                first, _ = jax.lax.scan(body, first, tail)
            acc = jax.tree_util.tree_map(lambda a: a * (self.batch_size / total), first)
        if self.num_rest:
            out = jax.tree_util.tree_map(lambda a: a * (self.num_rest / total), fn(self.rest))
            acc = out if acc is None else jax.tree_util.tree_map(jnp.add, acc, out)
        return acc


def as_batches(data: Any, batch_size: int | None) -> Batches:
    if isinstance(data, Batches):
        if batch_size is not None:
            raise ValueError("`batch_size` cannot be given together with a `Batches` dataset.")
        return data
    return Batches.from_arrays(data, batch_size)
