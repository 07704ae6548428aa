"""lax primitives that move entries with static indices: slices, gathers, scatters, padding.

Indices are constants (integer quantities are evaluated at the example point, see
`lagrange_ad.importers.lax_table`). Slices are ``getitem`` nodes; ``gather``, ``scatter`` and
``pad`` are the library's ``getitem`` of the flattened operand, with the index map that JAX's
own primitive gives when applied to the entry numbers ``1 .. size`` (0 standing for a fill
value); ``scatter-add`` adds ``S u`` with S the 0/1 matrix JAX's scatter-add gives.

This module imports JAX; only `from_jax` imports it, when it is called.
"""

from __future__ import annotations

import jax
import numpy as np
from jax import lax
from jax.extend.core import primitives as lax_primitives

from ..errors import UnsupportedOperationError
from ..tracing import functions as la
from ..tracing.functions.core import shape_of, value_of
from ..tracing.tape import Traced


def slice_(x, *, start_indices, limit_indices, strides=None):
    strides = strides or (1,) * len(start_indices)
    return x[tuple(slice(s, e, k) for s, e, k in zip(start_indices, limit_indices, strides))]


def split(x, *, sizes, axis):
    ends = np.cumsum(sizes)
    lead = (slice(None),) * axis
    return [x[lead + (slice(int(e - n), int(e)),)] for n, e in zip(sizes, ends)]


def dynamic_slice(x, *starts, slice_sizes):
    """A slice at constant start indices, clamped into the array as JAX clamps them."""
    index = []
    for start, size, length in zip(starts, slice_sizes, shape_of(x)):
        begin = int(np.clip(int(np.asarray(start)), 0, length - size))
        index.append(slice(begin, begin + size))
    return x[tuple(index)]


def dynamic_update_slice(x, update, *starts):
    """``x`` with ``update`` written at constant (clamped) start indices: a `where` of a pad."""
    shape = shape_of(x)
    widths, region = [], []
    for start, size, length in zip(starts, shape_of(update), shape):
        begin = int(np.clip(int(np.asarray(start)), 0, length - size))
        widths.append((begin, length - begin - size))
        region.append(slice(begin, begin + size))
    mask = np.zeros(shape, dtype=bool)
    mask[tuple(region)] = True
    return la.where(mask, la.pad(update, widths), x)


def moved_entries(primitive, x, fill, *static, **params):
    """``primitive`` (which only moves entries) applied to ``x``, as one ``getitem``.

    ``primitive`` applied to the entry numbers ``1 .. size`` (0 standing for the padding or
    fill value) gives the index map; an entry numbered 0 takes ``fill`` (a scalar operand).
    """
    shape = shape_of(x)
    size = int(np.prod(shape, dtype=np.int64))
    numbers = np.arange(1, size + 1, dtype=np.int64).reshape(shape)
    ids = np.asarray(primitive.bind(numbers, *static, **params)) - 1
    flat = la.reshape(x, (size,))
    if np.any(ids < 0):
        if fill is None or not (isinstance(fill, Traced) or np.all(np.isfinite(fill))):
            raise UnsupportedOperationError(
                f"{primitive.name}: an index out of bounds at the example point fills with "
                f"{'NaN' if fill is None else np.asarray(value_of(fill)).item()!r}, which a graph "
                f"cannot hold; keep the indices inside the array or give a finite fill value")
        flat = la.concatenate([flat, la.reshape(fill, (1,))], axis=0)
        ids = np.where(ids < 0, size, ids)
    return flat[ids]


def gather(x, indices, *, fill_value=None, **params):
    """``gather`` with constant indices (every pattern of ``x[...]`` JAX writes)."""
    params = dict(params, fill_value=0)
    return moved_entries(lax_primitives.gather_p, x, fill_value, np.asarray(indices), **params)


def scatter(x, indices, updates, **params):
    """``x.at[indices].set(updates)`` with constant indices: each entry is one of x or updates.

    Scattering the update numbers ``n+1 .. n+m`` into the entry numbers ``1 .. n`` of x says
    which; the result is a ``getitem`` of x and the updates joined.
    """
    n, m = size_of(x), size_of(updates)
    numbers = np.arange(1, n + 1, dtype=np.int64).reshape(shape_of(x))
    update_numbers = np.arange(n + 1, n + m + 1, dtype=np.int64).reshape(shape_of(updates))
    ids = np.asarray(lax_primitives.scatter_p.bind(numbers, np.asarray(indices), update_numbers,
                                                   **params)) - 1
    return la.concatenate([la.reshape(x, (n,)), la.reshape(updates, (m,))], axis=0)[ids]


def scatter_add(x, indices, updates, **params):
    """``x.at[indices].add(updates)`` with constant indices: ``x + S u``, S of zeros and ones.

    S's row k is where update entry k lands (indices may repeat, so a sum): JAX's scatter-add
    of the k-th unit update.
    """
    n, m = size_of(x), size_of(updates)
    units = np.eye(m).reshape((m,) + tuple(shape_of(updates)))
    zeros, indices = np.zeros(shape_of(x)), np.asarray(indices)
    placed = jax.vmap(lambda unit: lax_primitives.scatter_add_p.bind(
        zeros, indices, unit, **params))(units)
    spread = la.matmul(la.reshape(updates, (m,)), np.asarray(placed).reshape(m, n))
    return la.add(x, la.reshape(spread, shape_of(x)))


def size_of(x) -> int:
    return int(np.prod(shape_of(x), dtype=np.int64))


def pad(x, padding_value, *, padding_config):
    return moved_entries(lax_primitives.pad_p, x, padding_value, np.int64(0),
                          padding_config=padding_config)


def rev(x, *, dimensions):
    return la.flip(x, axis=tuple(dimensions)) if len(dimensions) else x


def sort(*operands, dimension, is_stable=True, num_keys=1):
    """Sorted operands: the permutation of the keys at the example point applied to each."""
    values = [value_of(x) for x in operands]
    positions = lax.broadcasted_iota(np.int64, values[0].shape, dimension)
    order = np.asarray(lax_primitives.sort_p.bind(*values, positions, dimension=dimension,
                                                  is_stable=True, num_keys=num_keys)[-1])
    return [la.take_along_axis(x, order, axis=dimension) if isinstance(x, Traced)
            else np.take_along_axis(np.asarray(x), order, axis=dimension) for x in operands]
