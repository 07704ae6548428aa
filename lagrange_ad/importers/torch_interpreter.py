"""Interpreting a ``torch.export`` graph of core ATen operations with the ``la.`` functions,
inside a trace: one loop over the FX nodes, in order.

Every ``call_function`` node's arguments are traced values (the float tensors that depend on
the graph's inputs), numpy arrays (constants) or Python values. Then:

* a comparison or logical operation with a traced argument: a mask node
  (`aten_table.MASKS`), recomputed on replay;
* no traced argument, or no float output (``argmax``, ``arange``, a ``full``
  of constants, index arithmetic): PyTorch runs the ATen operation at the example point
  (`evaluate`) and its outputs are constants;
* ``operator.getitem`` picks one output of an operation with several;
* otherwise the operation's rule in `aten_table.RULES` records it with ``la.`` functions
  (an infinite constant operand, such as an attention mask's -inf, enters as ``-INFINITY``),
  inside ``la.scope`` of the innermost module that called it (the node's
  ``nn_module_stack``), so the graph's ``scopes`` name the module of every node. Outputs a
  rule leaves as None (indices, counts) are filled by `evaluate`.

An operation without a rule, or one whose rule refuses its arguments, is noted and evaluated
as a constant so that the walk goes on; at the end `UnsupportedOperationError` lists every
one with its number of nodes. Floating-point tensors are float64 throughout: a float dtype
asked of PyTorch (``full(..., dtype=torch.float32)``) is computed in float64.

This module imports PyTorch; only `from_torch` imports it, when it is called.
"""

from __future__ import annotations

import contextlib
import operator
from collections import Counter

import numpy as np
import torch
from torch.fx.node import Node, map_aggregate
from torch.utils import _pytree

from ..errors import GraphError, UnsupportedOperationError
from ..tracing.functions.core import control_flow_error, value_of
from ..tracing.scope import scope
from ..tracing.tape import Traced
from .aten_table import MASKS, RULES

# the stand-in of an infinite constant on its way into the graph, which holds finite values
# only: an additive attention mask's -inf becomes -1e300, and exp(-1e300 - m) is 0 exactly in
# float64, as exp(-inf) is, so a softmax over it has the same values and derivatives
INFINITY = 1e300


def run(graph_module: torch.fx.GraphModule, placeholders: dict, user_outputs: list[int]):
    """The value of the graph's one user output, every node recorded or evaluated.

    ``placeholders`` maps each placeholder's name to its value (traced or constant);
    ``user_outputs`` are the positions of the user outputs among the output node's values.
    """
    env: dict[Node, object] = {}
    unmapped: Counter = Counter()
    outputs = None
    for node in graph_module.graph.nodes:
        if node.op == "placeholder":
            env[node] = placeholders[node.name]
        elif node.op == "get_attr":
            env[node] = to_numpy(_attribute(graph_module, node.target))
        elif node.op == "call_function":
            env[node] = step(node, env, unmapped)
        elif node.op == "output":
            outputs = map_aggregate(node.args[0], lambda a: env[a] if isinstance(a, Node) else a)
        else:
            unmapped[f"{node.op} {node.target}"] += 1
    if unmapped:
        raise UnsupportedOperationError(unmapped_message(unmapped))
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    if len(user_outputs) != 1:
        raise GraphError(f"from_torch: the program returns {len(user_outputs)} tensors; a graph "
                         f"has one output: return one tensor (the loss, or the tensors joined "
                         f"with torch.cat or torch.stack)")
    return outputs[user_outputs[0]]


def step(node: Node, env: dict, unmapped: Counter):
    """Record, evaluate or note one node; returns its value (a list for several outputs)."""
    args, kwargs = map_aggregate((node.args, node.kwargs),
                                 lambda a: env[a] if isinstance(a, Node) else a)
    target = node.target
    if target is operator.getitem:
        return args[0][args[1]]
    if not any(isinstance(leaf, Traced) for leaf in _pytree.tree_leaves((args, kwargs))):
        return evaluate(target, args, kwargs)
    name = operation_name(target)
    if name in MASKS and not kwargs:  # a comparison of traced values: a mask node
        with scope(module_path(node)) if module_path(node) else contextlib.nullcontext():
            return MASKS[name](*_pytree.tree_map(finite, args))
    if name in ("item", "_local_scalar_dense") and not has_float_output(node):
        raise control_flow_error(args[0], "a Python integer read (item) from an index or mask",
                                 "the graph would keep its value at the example point")
    if not has_float_output(node):
        return evaluate(target, *map_aggregate((node.args, node.kwargs),
                                               lambda a: constant_of(env, a)))
    rule = RULES.get(name)
    if rule is None:
        unmapped[str(target)] += 1
        return evaluate(target, args, kwargs)
    path = module_path(node)
    args, kwargs = _pytree.tree_map(finite, (args, kwargs))
    try:
        with scope(path) if path else contextlib.nullcontext():
            out = rule(*args, **kwargs)
    except UnsupportedOperationError as exc:  # a rule refusing its arguments
        unmapped[f"{target} ({exc})"] += 1
        return evaluate(target, args, kwargs)
    if out is None:  # a value that does not depend on the traced operands
        return evaluate(target, args, kwargs)
    if isinstance(out, list) and any(o is None for o in out):
        by_torch = evaluate(target, args, kwargs)
        out = [by_torch[k] if o is None else o for k, o in enumerate(out)]
    return out


def constant_of(env: dict, a):
    """The value of an argument for PyTorch: a mask node (a traced comparison) read where
    PyTorch expects its boolean is the boolean at the example point."""
    if not isinstance(a, Node):
        return a
    value, val = env[a], a.meta.get("val")
    dtype = getattr(val, "dtype", None)
    if isinstance(value, Traced) and dtype in (torch.bool, torch.int64, torch.int32):
        return np.asarray(value_of(value)).astype(bool if dtype == torch.bool else np.int64)
    return value


def operation_name(target) -> str:
    """The key of an ATen operation in `RULES`: its name without namespace and overload."""
    packet = getattr(target, "overloadpacket", None)
    return getattr(packet, "__name__", str(target)).split(".")[-1]


def has_float_output(node: Node) -> bool:
    """Whether some output of ``node`` is a float tensor (True when PyTorch recorded none)."""
    value = node.meta.get("val")
    if value is None:
        return True
    leaves = [v for v in _pytree.tree_leaves(value) if isinstance(v, torch.Tensor)]
    return any(v.dtype.is_floating_point for v in leaves)


def module_path(node: Node) -> str:
    """The path of the innermost module whose ``forward`` recorded ``node`` (``"layers.0"``);
    ``""`` for the top-level module's own operations."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    path = str(list(stack.values())[-1][0])
    return ".".join(part for part in path.split(".") if part)


def evaluate(target, args, kwargs):
    """The outputs of the ATen operation run by PyTorch at the arguments' values (in
    float64), as numpy arrays."""
    args, kwargs = _pytree.tree_map(to_torch, (args, kwargs))
    with torch.no_grad():
        out = target(*args, **kwargs)
    if isinstance(out, (tuple, list)):
        return [to_numpy(o) for o in out]
    return to_numpy(out)


def finite(x):
    """A constant with its infinite entries replaced by ``+-INFINITY``; anything else as is."""
    if isinstance(x, (float, np.ndarray)) and np.isinf(x).any():
        return np.clip(x, -INFINITY, INFINITY)
    return x


def to_torch(x):
    """A traced value's value or a numpy array as a tensor; a float dtype as float64."""
    if isinstance(x, Traced):
        x = x.value
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.array(x))  # a writable copy: constants are read-only
    if isinstance(x, torch.dtype) and x.is_floating_point:
        return torch.float64
    return x


def to_numpy(x):
    """A tensor as a numpy array (float tensors in float64); anything else unchanged."""
    if not isinstance(x, torch.Tensor):
        return x
    x = x.detach().cpu()
    if x.dtype.is_floating_point:
        return x.to(torch.float64).numpy()
    return x.numpy()


def _attribute(graph_module, target: str):
    value = graph_module
    for part in target.split("."):
        value = getattr(value, part)
    return value


def unmapped_message(unmapped: Counter) -> str:
    """Every ATen operation without a mapping, with its number of nodes, most frequent first."""
    counts = sorted(unmapped.items(), key=lambda item: (-item[1], item[0]))
    parts = "; ".join(f"{name} ({count} node{'s' if count > 1 else ''})"
                      for name, count in counts)
    return (f"from_torch: {len(counts)} ATen operation(s) of the exported program have no "
            f"mapping to the library's primitives on traced values: {parts}. The mapped ones "
            f"are the keys of lagrange_ad.importers.aten_table.RULES; write the model with "
            f"those, or export it in eval mode")
