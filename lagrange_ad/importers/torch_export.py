"""``la.from_torch``: the graph of a PyTorch module, read from its ``torch.export`` program.

``torch.export.export(module, args).run_decompositions()`` gives a graph of core ATen
operations; it is interpreted inside ``la.trace`` (`lagrange_ad.importers.torch_interpreter`):
every ATen operation applied to a traced value is recorded by the ``la.`` functions of its
row in `lagrange_ad.importers.aten_table`, so the graph is built by the same `record` path as
any traced Python function.

PyTorch is optional and imported when `from_torch` is called.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable

import numpy as np

from ..errors import LagrangeADError
from ..graph.graph import Graph
from ..report.optional import require_module
from ..tracing.tracer import _argument_names, trace

BUFFER_CHOICES = ("inputs", "constants")


def from_torch(model, *example_args, buffers: str = "inputs") -> Graph:
    """The lagrange_ad graph of a PyTorch module or function at example arguments.

    Parameters
    ----------
    model : torch.nn.Module, callable, torch.export.ExportedProgram, str or path
        A module (exported with ``torch.export.export``), a function of tensors (exported
        inside a module that calls it), a program already exported, or the path of a program
        saved by ``torch.export.save`` (a ``.pt2`` file, read with ``torch.export.load``).
    *example_args : torch.Tensor, ndarray or number
        The point. For a saved or exported program they may be left out: the example
        inputs stored with the program are used.
    buffers : {"inputs", "constants"}
        Whether the module's float buffers (running statistics, fixed targets) are inputs of
        the graph, with a gradient, or constants.

    Returns
    -------
    Graph
        The graph at the point, whose output is the module's output. Its inputs are, in the
        order of ``torch.export``: the parameters and the float buffers, named by the module
        (``linear1.weight``), then the float arguments, named by the parameters of
        ``forward`` (``x``). Each node's ``scopes`` entry is the path of the innermost module
        that computed it (``layers.0.self_attn``).

    Raises
    ------
    UnsupportedOperationError
        When ATen operations applied to traced values have no mapping; the message lists
        every such operation with its number of nodes.
    GraphError
        When the module returns more than one tensor (a tuple output is refused: return the
        loss, or one tensor joining the outputs).
    LagrangeADError
        When PyTorch is not installed, or ``model`` is none of the accepted kinds.

    Notes
    -----
    Everything is imported in float64: a module is copied and converted with ``.double()``
    (the module itself is left unchanged) and float arguments are converted before exporting;
    the parameters and constants of a float32 program that was already exported or saved
    are converted exactly, and its float operations are computed in float64. So the graph's
    values and gradients are those of the float64 model, not of float32 arithmetic.

    Integer and boolean tensors (token ids, labels, offsets, masks) are constants of the
    graph, as are lifted tensor constants and Python numbers. Comparisons and logical
    operations on traced values are mask nodes (float 0/1, derivative 0) recomputed on
    replay: a ``where`` on them, ``clamp``, ``leaky_relu``, ``elu``, ``softplus`` take the
    branch of the point replayed; ``argmax``/``argmin`` are index nodes read by ``index``,
    ``index_select`` and ``gather`` (an index read as a Python integer, ``item``, raises
    `ControlFlowError`). Other integer quantities are computed by PyTorch at the example
    point, and a data-dependent Python branch of the module is the one the export took.

    Examples
    --------
    >>> import torch, lagrange_ad as la
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh())
    >>> graph = la.from_torch(lambda x: (model(x) ** 2).sum(), torch.ones(4, 3))
    >>> [graph.names[i] for i in graph.inputs]
    ['x']
    >>> graph = la.from_torch(model, torch.ones(4, 3))
    >>> [graph.names[i] for i in graph.inputs]
    ['0.weight', '0.bias', 'input']
    >>> sorted(set(graph.scopes.values()))
    ['0', '1']
    """
    torch = require_module("torch", "la.from_torch")
    from . import torch_interpreter

    if buffers not in BUFFER_CHOICES:
        raise LagrangeADError(f"from_torch: buffers must be one of {BUFFER_CHOICES}; got "
                              f"{buffers!r}")
    program, args, names = exported_program(torch, model, example_args)
    signature = program.graph_signature
    kinds = torch.export.graph_signature.InputKind
    leaves = iter(torch.utils._pytree.tree_leaves(args))
    state = {**program.state_dict, **program.constants}
    traced_kinds = (kinds.PARAMETER, kinds.USER_INPUT) + \
        ((kinds.BUFFER,) if buffers == "inputs" else ())
    if len(names) != sum(spec.kind == kinds.USER_INPUT for spec in signature.input_specs):
        names = []  # arguments that are tuples or dicts: the program's names say more
    constants, inputs, input_names = {}, [], []
    for spec in signature.input_specs:
        name = getattr(spec.arg, "name", None)
        if spec.kind == kinds.USER_INPUT:
            value = next(leaves, None)
            label = names.pop(0) if names else name
        else:
            value, label = state[spec.target], spec.target
        value = torch_interpreter.to_numpy(value)
        if spec.kind in traced_kinds and isinstance(value, np.ndarray) and value.dtype.kind == "f":
            inputs.append((name, value))
            input_names.append(label)
        else:
            constants[name] = value
    user_outputs = [k for k, spec in enumerate(signature.output_specs)
                    if spec.kind == torch.export.graph_signature.OutputKind.USER_OUTPUT]

    def interpret(*tracers):
        placeholders = dict(constants)
        placeholders.update((name, t) for (name, _), t in zip(inputs, tracers))
        return torch_interpreter.run(program.graph_module, placeholders, user_outputs)

    return trace(interpret, *[value for _, value in inputs], names=input_names)


def exported_program(torch, model, example_args: tuple):
    """``(program of core ATen operations, example arguments, user input names)``.

    The names are the parameters of a plain function's signature (a module's placeholders
    are already named by its ``forward``); empty when the program's own names serve.
    """
    names: list[str] = []
    if isinstance(model, (str, os.PathLike)):
        if not os.path.isfile(model):
            raise LagrangeADError(f"from_torch: no such file: {os.fspath(model)!r} (expected a "
                                  f"program saved by torch.export.save)")
        model = torch.export.load(model)
    if isinstance(model, torch.export.ExportedProgram):
        args = tuple(example_args) if example_args else _stored_inputs(model)
        return model.run_decompositions(), args, names
    if not isinstance(model, torch.nn.Module):
        if not callable(model):
            raise LagrangeADError(f"from_torch needs a torch.nn.Module, a function of tensors, "
                                  f"an ExportedProgram or the path of a .pt2 file; got "
                                  f"{type(model).__name__}")
        names = _argument_names(model, len(example_args))
        model = _FunctionModule(torch, model)
    else:
        model = copy.deepcopy(model)
    args = tuple(as_float64(torch, a) for a in example_args)
    program = torch.export.export(model.double(), args)
    return program.run_decompositions(), args, names


def as_float64(torch, x):
    """A numpy array or a float tensor as a float64 tensor (nested in tuples, lists, dicts)."""
    def convert(leaf):
        if isinstance(leaf, np.ndarray):
            leaf = torch.from_numpy(np.array(leaf))
        if isinstance(leaf, torch.Tensor) and leaf.dtype.is_floating_point:
            return leaf.detach().to(torch.float64)
        return leaf
    return torch.utils._pytree.tree_map(convert, x)


def _stored_inputs(program) -> tuple:
    stored = getattr(program, "example_inputs", None)
    if not stored or stored[1]:
        raise LagrangeADError("from_torch: the exported program holds no positional example "
                              "inputs; pass them: la.from_torch(program, *example_args)")
    return tuple(stored[0])


def _FunctionModule(torch, function: Callable):
    """A module whose ``forward`` calls ``function`` (``torch.export`` exports modules)."""

    class Function(torch.nn.Module):
        def forward(self, *args):
            return function(*args)

    return Function()
