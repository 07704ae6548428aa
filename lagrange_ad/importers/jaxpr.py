"""``la.from_jax``: the graph of a JAX function, read from its jaxpr.

``jax.make_jaxpr(function)(*example_args)`` is interpreted inside ``la.trace``
(`lagrange_ad.importers.jaxpr_interpreter`): every lax primitive applied to a traced value is
recorded by the ``la.`` function of its row in `lagrange_ad.importers.lax_table`, so the graph
is built by the same `record` path as any traced Python function.

JAX is optional and imported when `from_jax` is called.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import GraphError
from ..graph.graph import Graph
from ..report.optional import require_module
from ..tracing.tracer import _argument_names, trace


def from_jax(function: Callable, *example_args) -> Graph:
    """The lagrange_ad graph of a JAX function at example arguments.

    Parameters
    ----------
    function : callable
        A function of JAX arrays (``jax.numpy``, ``jax.nn``, ``jax.lax``; jitted or not)
        returning one array.
    *example_args : array_like or pytree
        The point. An argument may be a pytree (dicts, tuples, lists) of arrays: its float
        leaves become the graph's inputs, named by the parameter name and the leaf's path
        (``params['w1']``); its integer and boolean leaves are constants.

    Returns
    -------
    Graph
        The graph at the point, whose output is the function's output (a pytree output with
        a single leaf stands for that leaf).

    Raises
    ------
    UnsupportedOperationError
        When equations applied to traced values have no mapping; the message lists every such
        primitive with its number of equations. A ``while_loop`` whose condition reads traced
        values is one of them (write it with ``la.fixed_point``).
    GraphError
        When the function returns a pytree of more than one array.
    LagrangeADError
        When JAX is not installed.

    Notes
    -----
    The jaxpr is made and evaluated with 64-bit types enabled for the call only
    (``jax.enable_x64``), float leaves are converted to float64, and every float type of the
    jaxpr is computed in float64. Comparisons of traced values (and ``and``/``or``/``not``
    of them) are mask nodes (float 0/1, derivative 0) recomputed on replay: a ``select_n``
    (a ``jnp.where``) on them takes the branch of the point replayed, and a ``cond`` on a
    traced predicate runs every branch and selects with the mask. ``argmax`` and every
    integer quantity are evaluated by JAX at the example point and are constants. ``stop_gradient``
    makes its operand's value a constant, whose derivative is zero. Custom JVP and VJP rules
    are not read: the primal function's jaxpr is differentiated (``jax.nn.relu`` then has the
    derivative 1/2 at 0, where its custom rule says 0). ``scan``, ``fori_loop`` and a
    ``while_loop`` whose condition reads constants only are unrolled; a ``while_loop`` that
    iterates ``x <- g(x, params)`` until it converges is a cycle of the graph
    (``la.fixed_point``), differentiated implicitly. ``jnp.linalg.solve`` and ``inv`` are
    ``la.linalg.solve``, ``jnp.linalg.eigvalsh`` is ``la.linalg.eigvalsh``, and ``lu``
    (``slogdet``, ``det``, ``lu_factor``) is eliminated with JAX's pivots at the point;
    eigenvectors are refused (their signs are a convention). The table of rows is
    `lagrange_ad.importers.lax_table.RULES`.

    Examples
    --------
    >>> import jax.numpy as jnp, numpy as np, lagrange_ad as la
    >>> graph = la.from_jax(lambda p, x: jnp.sum(jnp.tanh(x @ p["w"])),
    ...                     {"w": np.ones((3, 2))}, np.arange(3.0))
    >>> [graph.names[i] for i in graph.inputs]
    ["p['w']", 'x']
    >>> [g.shape for g in la.grad(graph)(*graph.point)]
    [(3, 2), (3,)]
    """
    jax = require_module("jax", "la.from_jax")
    from .jaxpr_interpreter import Interpreter

    with jax.enable_x64(True):
        leaves, names = flat_arguments(jax, function, example_args)
        closed, out_shape = jax.make_jaxpr(function, return_shape=True)(
            *jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(example_args), leaves))
        out_leaves = jax.tree_util.tree_flatten_with_path(out_shape)[0]
        if len(out_leaves) != 1:
            paths = ", ".join(jax.tree_util.keystr(path) or "()" for path, _ in out_leaves)
            raise GraphError(f"from_jax: the function returns {len(out_leaves)} arrays "
                             f"({paths}); a graph has one output: return one array (the loss, "
                             f"or the arrays joined with jnp.stack or jnp.concatenate)")
        floats = [k for k, leaf in enumerate(leaves) if leaf.dtype.kind == "f"]

        def program(*tracers):
            inputs = list(leaves)
            for k, tracer in zip(floats, tracers):
                inputs[k] = tracer
            interpreter = Interpreter()
            outputs = interpreter.run(closed, inputs)
            interpreter.raise_unmapped()
            return outputs[0]

        return trace(program, *[leaves[k] for k in floats], names=[names[k] for k in floats])


def flat_arguments(jax, function: Callable, example_args: tuple) -> tuple[list, list[str]]:
    """The leaves of the arguments (floats as float64 arrays) and their names.

    A leaf is named by its parameter's name followed by its path in the argument
    (``jax.tree_util.keystr``): ``params['w1']``, ``layers[0]``, ``x``.
    """
    parameters = _argument_names(function, len(example_args))
    leaves, names = [], []
    for parameter, argument in zip(parameters, example_args):
        for path, leaf in jax.tree_util.tree_flatten_with_path(argument)[0]:
            leaf = np.asarray(leaf)
            leaves.append(leaf.astype(np.float64) if leaf.dtype.kind == "f" else leaf)
            names.append(parameter + jax.tree_util.keystr(path))
    return leaves, names
