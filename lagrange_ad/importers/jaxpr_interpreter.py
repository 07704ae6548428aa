"""Interpreting a jaxpr with the ``la.`` functions, inside a trace: one loop over equations.

Every equation is read once per time it runs. Its operands are traced values (the float
quantities that depend on the inputs) or numpy arrays (constants). Then:

* a comparison (or ``and``/``or``/``not`` of booleans) with a traced operand: a mask node
  (`lax_table.MASKS`), recomputed on replay; a boolean mask converted to an integer stays
  the mask node;
* no traced operand, no float output (``argmax``, index arithmetic), or no
  output whose derivative reaches the result (read only through ``stop_gradient``, or not at
  all; `live_variables`): JAX evaluates the equation at the example point (`evaluate`) and
  its outputs are constants;
* a call (``jit``, ``custom_jvp_call``, ``custom_vjp_call``, ``remat``, ``cond`` at a constant
  index; at a traced index every branch, selected by ``la.where``): its jaxpr is pushed on
  the work stack and runs in place. A custom rule is not read: the library differentiates
  the function's primal jaxpr;
* ``custom_linear_solve``: ``la.linalg.solve`` with the matrix of its linear map; ``eigh``:
  ``la.linalg.eigvalsh`` (its eigenvectors are a `Refused` output, noted if read);
* ``scan``: unrolled, one body per step, each pushed when the previous one finishes;
  ``while`` whose condition depends only on constants (a static trip count): unrolled the same
  way; a ``while`` that iterates ``x <- g(x, params)`` to convergence becomes a cycle of the
  graph through ``la.fixed_point`` (`jaxpr_fixed_point`); any other ``while`` is refused;
* otherwise the primitive's rule in `lax_table.RULES` records it with ``la.`` functions.

An equation without a rule, or a refused ``while``, is noted and evaluated as a constant so
that the walk goes on; at the end `UnsupportedOperationError` lists every one with its count.
Nothing here recurses over the graph: sub-jaxprs are frames on an explicit stack, and a frame
that finishes hands its outputs to a continuation that may push the next frame. The one nested
call is a fixed-point ``while``, whose body a second interpreter records inside
``la.fixed_point`` (as deep as such loops are nested in the program text).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import numpy as np
from jax.extend.core import ClosedJaxpr, Jaxpr, Literal, jaxpr_as_fun

from .. import linalg
from ..errors import UnsupportedOperationError
from ..tracing import functions as la
from ..tracing.functions.core import control_flow_error, value_of
from ..tracing.scope import scope
from ..tracing.tape import Traced
from .lax_table import MASKS, RULES

CALLS = ("jit", "pjit", "closed_call", "core_call", "custom_jvp_call", "custom_vjp_call",
         "custom_vjp_call_jaxpr", "remat2", "checkpoint")
REFUSAL_HINTS = {
    "while": "a while_loop whose condition depends on traced values has no static trip "
             "count and cannot be unrolled, and it is not a converged fixed-point iteration "
             "x <- g(x, params); write the iteration as la.fixed_point(g, init, *params) "
             "(differentiated implicitly), or use lax.scan / lax.fori_loop with a static "
             "trip count",
}


@dataclass(frozen=True)
class Refused:
    """An output without a mapping (eigenvectors), refused only if something reads it."""

    eqn: object
    refused_value: np.ndarray


@dataclass
class Frame:
    """A jaxpr being interpreted: its variables' values, the next equation, its continuation."""

    jaxpr: Jaxpr
    env: dict
    finish: Callable[[list], None]
    live: set  # the variables whose derivative reaches the outputs (`live_variables`)
    position: int = 0
    scope: str = ""  # the scope path of the equation that pushed it (`scope_path`)


@dataclass
class Interpreter:
    """The work stack of frames and the equations found without a mapping."""

    stack: list = field(default_factory=list)
    unmapped: dict = field(default_factory=dict)  # primitive name -> ids of its equations
    lives: dict = field(default_factory=dict)  # id of a jaxpr -> its live variables

    def run(self, closed: ClosedJaxpr, inputs: list) -> list:
        """The outputs of ``closed`` at ``inputs``, every equation recorded or evaluated."""
        outputs: list = []
        self.push(closed.jaxpr, closed.consts, inputs, outputs.extend)
        while self.stack:
            frame = self.stack[-1]
            if frame.position == len(frame.jaxpr.eqns):
                self.stack.pop()
                depth = len(self.stack)
                frame.finish([read(frame.env, v) for v in frame.jaxpr.outvars])
                self.inherit_scope(depth, frame.scope)  # the next step of a scan
                continue
            eqn = frame.jaxpr.eqns[frame.position]
            frame.position += 1
            path, depth = scope_path(frame.scope, eqn), len(self.stack)
            with scope(path) if path else contextlib.nullcontext():
                self.step(eqn, frame)
            self.inherit_scope(depth, path)
        return [self.resolve(x) for x in outputs]

    def resolve(self, x):
        """``x``, or the value of a refused output that is used after all (noting its eqn)."""
        if isinstance(x, Refused):
            self.unmapped.setdefault(x.eqn.primitive.name, set()).add(id(x.eqn))
            return x.refused_value
        return x

    def raise_unmapped(self) -> None:
        """`UnsupportedOperationError` listing every equation noted, if any."""
        if self.unmapped:
            raise UnsupportedOperationError(unmapped_message(self.unmapped))

    def inherit_scope(self, depth: int, path: str) -> None:
        """Frames pushed above ``depth`` run in the scope ``path`` of the equation that
        pushed them."""
        for frame in self.stack[depth:]:
            frame.scope = path

    def push(self, jaxpr: Jaxpr, consts, inputs: list, finish: Callable[[list], None]) -> None:
        """Start interpreting ``jaxpr`` at ``inputs``; ``finish`` receives its outputs."""
        env = dict(zip(jaxpr.constvars, consts))
        env.update(zip(jaxpr.invars, inputs))
        live = self.lives.get(id(jaxpr))
        if live is None:
            live = self.lives[id(jaxpr)] = live_variables(jaxpr)
        self.stack.append(Frame(jaxpr, env, finish, live))

    def step(self, eqn, frame: Frame) -> None:
        """Record, inline, evaluate or note one equation; its outputs go into the frame's env.

        An equation whose outputs reach the frame's outputs only through ``stop_gradient``
        (or not at all) is evaluated: its values are constants of the graph.
        """
        env = frame.env
        operands = [read(env, v) for v in eqn.invars]
        live = any(v in frame.live for v in eqn.outvars)
        operands = [self.resolve(x) if live else getattr(x, "refused_value", x)
                    for x in operands]

        def write(outputs):
            env.update(zip(eqn.outvars, outputs))

        name = eqn.primitive.name
        if live and name in MASKS and any(isinstance(x, Traced) for x in operands) \
                and all(is_float_or_bool(v) for v in eqn.invars):
            write([MASKS[name](*operands)])  # a comparison of traced values: a mask node
        elif live and name == "convert_element_type" and isinstance(operands[0], Traced) \
                and eqn.invars[0].aval.dtype == np.bool_:
            write(operands)  # a mask as 0/1 (``cond``'s branch index): still the mask node
        elif not live or not any(isinstance(x, Traced) for x in operands) or \
                not has_float_output(eqn):
            write(evaluate(eqn, operands))
        elif name in CALLS:
            params = eqn.params
            sub = params.get("jaxpr", params.get("call_jaxpr", params.get("fun_jaxpr")))
            self.push_sub(sub, operands, write)
        elif name in CONTROL:
            CONTROL[name](self, eqn, operands, write)
        elif name in RULES:
            out = RULES[name](*operands, **eqn.params)
            write(out if eqn.primitive.multiple_results else [out])
        else:
            self.note(eqn, operands, write)

    def push_sub(self, sub, inputs: list, finish: Callable[[list], None]) -> None:
        """Push a closed or an open jaxpr (``remat`` holds an open one)."""
        if isinstance(sub, ClosedJaxpr):
            self.push(sub.jaxpr, sub.consts, inputs, finish)
        else:
            self.push(sub, (), inputs, finish)

    def note(self, eqn, operands: list, write: Callable[[list], None]) -> None:
        """Remember an equation without a mapping, and go on with its value as a constant."""
        self.unmapped.setdefault(eqn.primitive.name, set()).add(id(eqn))
        write(evaluate(eqn, operands))


def scope_path(outer: str, eqn) -> str:
    """The scope of an equation: its frame's path, then its name stack (``jax.named_scope``)
    with ``/`` read as ``.``."""
    inner = [part for part in str(eqn.source_info.name_stack).split("/") if part]
    return ".".join(([outer] if outer else []) + inner)


def read(env: dict, v):
    """The value of a variable or a literal."""
    return np.asarray(v.val) if isinstance(v, Literal) else env[v]


def live_variables(jaxpr: Jaxpr) -> set:
    """The variables whose derivative reaches the outputs of ``jaxpr`` (one backward pass):
    an output, or an operand of an equation with a live output, except ``stop_gradient``'s."""
    live = {v for v in jaxpr.outvars if not isinstance(v, Literal)}
    for eqn in reversed(jaxpr.eqns):
        if eqn.primitive.name != "stop_gradient" and any(v in live for v in eqn.outvars):
            live.update(v for v in eqn.invars if not isinstance(v, Literal))
    return live


def is_float_or_bool(v) -> bool:
    """Whether a variable or literal is a float or boolean array (a comparison of integers,
    or a bitwise operation on them, stays with JAX)."""
    dtype = getattr(v.aval, "dtype", np.float64)
    return dtype == np.bool_ or np.issubdtype(dtype, np.floating)


def has_float_output(eqn) -> bool:
    return any(np.issubdtype(getattr(v.aval, "dtype", np.bool_), np.floating)
               for v in eqn.outvars)


def evaluate(eqn, operands: list) -> list:
    """The outputs of ``eqn`` computed by JAX at the operands' values, as numpy arrays."""
    params = eqn.primitive.get_bind_params(eqn.params)
    values = [np.asarray(value_of(x)).astype(v.aval.dtype) if isinstance(x, Traced)
              else value_of(x) for x, v in zip(operands, eqn.invars)]  # a mask: boolean
    out = eqn.primitive.bind(*values, **params)
    return [np.asarray(o) for o in (out if eqn.primitive.multiple_results else [out])]


def unmapped_message(unmapped: dict) -> str:
    """Every primitive without a mapping, with its number of equations, most frequent first."""
    counts = sorted(((len(ids), name) for name, ids in unmapped.items()), key=lambda c: -c[0])
    parts = []
    for count, name in counts:
        hint = REFUSAL_HINTS.get(name)
        parts.append(f"{name} ({count} equation{'s' if count > 1 else ''}"
                     + (f": {hint})" if hint else ")"))
    return (f"from_jax: {len(counts)} primitive(s) of the jaxpr have no mapping to the "
            f"library's primitives on traced values: {'; '.join(parts)}. The mapped ones are "
            f"listed in lagrange_ad.importers.lax_table.RULES; write the function with those")


def stacked(parts: list, shape: tuple, dtype) -> object:
    """The per-step outputs of a scan stacked along a new first axis."""
    if not parts:
        return np.zeros(shape, dtype=dtype)
    if any(isinstance(p, Traced) for p in parts):
        return la.stack(parts, axis=0)
    return np.stack([np.asarray(p) for p in parts])


def unroll_scan(interpreter: Interpreter, eqn, operands: list, write) -> None:
    """``scan``: the body applied ``length`` times, carry threaded, per-step outputs stacked.

    Each step's body is pushed when the previous step finishes (its continuation).
    """
    params = eqn.params
    body, length = params["jaxpr"], params["length"]
    n_consts, n_carry = params["num_consts"], params["num_carry"]
    consts = operands[:n_consts]
    xs = operands[n_consts + n_carry:]
    steps = range(length - 1, -1, -1) if params["reverse"] else range(length)
    state = {"carry": operands[n_consts:n_consts + n_carry], "done": 0}
    ys: dict = {}

    def next_step(outputs=None):
        if outputs is not None:
            state["carry"] = outputs[:n_carry]
            ys[steps[state["done"]]] = outputs[n_carry:]
            state["done"] += 1
        if state["done"] == length:
            avals = [v.aval for v in eqn.outvars[n_carry:]]
            write(state["carry"] + [
                stacked([interpreter.resolve(ys[t][j]) for t in range(length)], a.shape, a.dtype)
                for j, a in enumerate(avals)])
            return
        t = steps[state["done"]]
        interpreter.push(body.jaxpr, body.consts, consts + state["carry"] + [x[t] for x in xs],
                         next_step)

    next_step()


def unroll_while(interpreter: Interpreter, eqn, operands: list, write) -> None:
    """``while`` with a static trip count: condition and body alternate until it is false.

    The trip count is static when the condition reads no traced value (a counter of
    ``fori_loop``); otherwise it is solved as a fixed point when it is one, else refused.
    """
    from .jaxpr_fixed_point import solve_fixed_point  # it interprets the body with this module

    params = eqn.params
    cond, body = params["cond_jaxpr"], params["body_jaxpr"]
    n_cond, n_body = params["cond_nconsts"], params["body_nconsts"]
    cond_consts = operands[:n_cond]
    body_consts = operands[n_cond:n_cond + n_body]
    reads = inputs_read(cond.jaxpr)
    state = {"carry": operands[n_cond + n_body:]}

    def test(outputs=None):
        if outputs is not None:
            state["carry"] = outputs
        inputs = cond_consts + state["carry"]
        if any(isinstance(x, Traced) for x, used in zip(inputs, reads) if used):
            if not solve_fixed_point(interpreter, eqn, operands, write):
                interpreter.note(eqn, operands, write)
            return
        interpreter.push(cond.jaxpr, cond.consts, inputs, decide)

    def decide(predicate):
        if bool(np.asarray(predicate[0])):
            interpreter.push(body.jaxpr, body.consts, body_consts + state["carry"], test)
        else:
            write(state["carry"])

    test()


def inline_cond(interpreter: Interpreter, eqn, operands: list, write) -> None:
    """``cond`` at its constant branch index: the branch taken at the example point.

    A traced index (from a comparison of traced values, a mask node) runs every branch
    and selects their outputs with ``la.where`` on ``index == k``, so replay at another
    point takes that point's branch (JAX requires the branches' outputs to have the same
    shapes). A non-float output that differs between branches raises `ControlFlowError`.
    """
    branches, index = eqn.params["branches"], operands[0]
    if not isinstance(index, Traced):
        index = int(np.clip(int(np.asarray(index)), 0, len(branches) - 1))
        interpreter.push_sub(branches[index], operands[1:], write)
        return
    results: list = []

    def run_next(outputs=None):
        if outputs is not None:
            results.append(outputs)
        if len(results) < len(branches):
            interpreter.push_sub(branches[len(results)], operands[1:], run_next)
        else:
            write(selected(index, results))

    run_next()


def selected(index, results: list) -> list:
    """Each output of the branches chosen entrywise by the mask node ``index``."""
    outputs = []
    for values in zip(*results):
        if not any(isinstance(v, Traced) for v in values) and all(
                np.array_equal(np.asarray(v), np.asarray(values[0])) for v in values):
            outputs.append(values[0])
            continue
        if not all(isinstance(v, Traced) or np.issubdtype(np.asarray(v).dtype, np.floating)
                   for v in values):
            raise control_flow_error(
                index, "lax.cond on a predicate",
                "an integer or boolean output differs between its branches and would keep "
                "the one taken at the example point; write jnp.where on float values")
        out = values[0]
        for k in range(1, len(values)):
            picked = index if len(values) == 2 else la.equal(index, float(k))
            out = la.where(picked, values[k], out)
        outputs.append(out)
    return outputs


def linear_solve(interpreter: Interpreter, eqn, operands: list, write) -> None:
    """``custom_linear_solve`` (``jnp.linalg.solve``, ``inv``) as ``la.linalg.solve(M, b)``.

    The right-hand side b (one array of N entries) is the image of x under the linear map
    ``matvec``; its N x N matrix M has the column ``matvec(e_j)`` for each unit array e_j
    (all of them at once by ``jax.vmap``). That jaxpr is interpreted like any other, so M is
    traced where the map's constants are, and ``x = reshape(solve(M, ravel(b)))``.
    """
    lengths, jaxprs = eqn.params["const_lengths"], eqn.params["jaxprs"]
    consts, rhs = operands[:lengths.matvec], operands[sum(lengths):]
    if len(rhs) != 1:
        interpreter.note(eqn, operands, write)
        return
    b = rhs[0]
    shape = np.shape(value_of(b))
    size = int(np.prod(shape, dtype=np.int64))
    units = np.eye(size).reshape((size,) + shape)
    images = jax.vmap(jaxpr_as_fun(jaxprs.matvec), in_axes=(None,) * len(consts) + (0,))
    matrix = jax.make_jaxpr(images)(*[value_of(c) for c in consts], units)

    def solved(out):
        columns = la.transpose(la.reshape(out[0], (size, size)))
        write([la.reshape(linalg.solve(columns, la.reshape(b, (size,))), shape)])

    interpreter.push(matrix.jaxpr, matrix.consts, consts + [units], solved)


def eigenvalues(interpreter: Interpreter, eqn, operands: list, write) -> None:
    """``eigh``: its eigenvalues by ``la.linalg.eigvalsh``; its eigenvectors are refused if read.

    (Eigenvector signs are a convention that differs between libraries.)
    """
    x = operands[0]
    if eqn.params.get("subset_by_index") not in (None, (0, np.shape(value_of(x))[-1])):
        interpreter.note(eqn, operands, write)
        return
    vectors = evaluate(eqn, operands)[0]
    write([Refused(eqn, vectors), linalg.eigvalsh(x, UPLO="L" if eqn.params["lower"] else "U")])


def inputs_read(jaxpr: Jaxpr) -> list[bool]:
    """For each input of ``jaxpr``, whether some output depends on it."""
    reads = set().union(*dependencies(jaxpr))
    return [k in reads for k in range(len(jaxpr.invars))]


def dependencies(jaxpr: Jaxpr) -> list[frozenset]:
    """For each output of ``jaxpr``, the positions of the inputs it depends on (one forward
    pass; an equation's outputs depend on all its operands)."""
    reads = {v: frozenset({k}) for k, v in enumerate(jaxpr.invars)}
    none: frozenset = frozenset()
    for eqn in jaxpr.eqns:
        depends = none.union(*(reads.get(v, none) for v in eqn.invars
                               if not isinstance(v, Literal)))
        reads.update((v, depends) for v in eqn.outvars)
    return [none if isinstance(v, Literal) else reads.get(v, none) for v in jaxpr.outvars]


CONTROL = {"scan": unroll_scan, "while": unroll_while, "cond": inline_cond,
           "custom_linear_solve": linear_solve, "eigh": eigenvalues}
