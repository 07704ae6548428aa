"""A ``while_loop`` that iterates ``x <- g(x, params)`` to convergence, as a cycle of the graph.

The loop's carry is split into the state x and the rest (a counter, a previous iterate, an
error estimate). The state is the smallest set of float carries that contains every carry
whose next value reads itself and everything those next values read; so the body maps x to
``g(x, params)`` reading nothing else of the carry. The loop is recognized when such a state
exists and JAX's own run of the loop ends at a fixed point of g:
``|g(x_end) - x_end| <= RTOL |x_end| + ATOL`` entrywise (a loop that stops at a threshold,
``x <- 2 x`` while ``x < 10``, is not one and is refused).

Then ``x = la.fixed_point(g, x_end, *params)``: the body's jaxpr, interpreted on the traced
state, closes a cycle, and the derivative of everything downstream comes from the KKT system
of the cyclic graph (the implicit function theorem), ``dx/dp = (I - dg/dx)^-1 dg/dp``, not
from the iterations. A carry that the body sets to a state component (the previous iterate)
equals it at the fixed point; the other carries (counter, error) are the constants JAX
computed.
"""

from __future__ import annotations

import numpy as np
from jax.extend.core import Literal, jaxpr_as_fun

from ..tracing import functions as la
from ..tracing.fixed_point import fixed_point
from ..tracing.functions.core import value_of
from ..tracing.tape import Traced
from .jaxpr_interpreter import dependencies, evaluate

RTOL, ATOL = 1e-6, 1e-9


def solve_fixed_point(interpreter, eqn, operands: list, write) -> bool:
    """Write the outputs of a fixed-point ``while`` and return True, or return False."""
    params = eqn.params
    body, n_cond, n_body = params["body_jaxpr"], params["cond_nconsts"], params["body_nconsts"]
    consts, carry = operands[n_cond:n_cond + n_body], operands[n_cond + n_body:]
    state = state_positions(body.jaxpr, n_body, [v.aval for v in eqn.outvars])
    if not state:
        return False
    end = evaluate(eqn, operands)
    image = jaxpr_as_fun(body)(*[value_of(c) for c in consts], *end)
    if not all(np.allclose(np.asarray(image[k]), end[k], rtol=RTOL, atol=ATOL) for k in state):
        return False
    shapes = [end[k].shape for k in state]
    traced = [k for k, c in enumerate(consts) if isinstance(c, Traced)]

    def g(x, *traced_consts):
        inputs = list(consts)
        for k, c in zip(traced, traced_consts):
            inputs[k] = c
        pieces = dict(zip(state, unpacked(x, shapes)))
        inputs += [pieces.get(k, end[k]) for k in range(len(carry))]
        nested = type(interpreter)(unmapped=interpreter.unmapped)
        return packed(nested.run(body, inputs), state)

    x = fixed_point(g, np.asarray(value_of(packed(end, state))), *[consts[k] for k in traced])
    pieces = dict(zip(state, unpacked(x, shapes)))
    carried = {j: k - n_body for j, k in passed_through(body.jaxpr)}
    write([pieces.get(j, pieces.get(carried.get(j), end[j])) for j in range(len(carry))])
    return True


def state_positions(body, n_consts: int, avals) -> list[int]:
    """The carry positions of the state: self-reading float carries, closed under reads."""
    reads = [{k - n_consts for k in depends if k >= n_consts} for depends in dependencies(body)]
    floats = {k for k, aval in enumerate(avals) if np.issubdtype(aval.dtype, np.floating)}
    state = {k for k in floats if k in reads[k]}
    while True:
        needed = set().union(*(reads[k] for k in state)) - state
        if not needed:
            return sorted(state)
        if not needed <= floats:
            return []
        state |= needed


def passed_through(body) -> list[tuple[int, int]]:
    """``(j, k)`` for each body output j that is the body's input k unchanged."""
    position = {v: k for k, v in enumerate(body.invars)}
    return [(j, position[v]) for j, v in enumerate(body.outvars)
            if not isinstance(v, Literal) and v in position]


def packed(values: list, state: list[int]):
    """The state components as one array (the one component itself, or raveled and joined)."""
    if len(state) == 1:
        return values[state[0]]
    return la.concatenate([la.reshape(values[k], (-1,)) for k in state], axis=0)


def unpacked(x, shapes: list[tuple]) -> list:
    """The state components of a packed array."""
    if len(shapes) == 1:
        return [x]
    out, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape, dtype=np.int64))
        out.append(la.reshape(x[start:start + size], shape))
        start += size
    return out
