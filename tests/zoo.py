"""Programs with known answers shared by the tests: hand-made ones and seeded random ones.

Random array functions are written as Python functions of numpy-like operations so that the
same function runs under la.trace, under finite differences and under another AD library.
"""

from __future__ import annotations

import numpy as np

import lagrange_ad as la

UNARY = {
    "sin": lambda ops, u: ops.sin(u),
    "cos": lambda ops, u: ops.cos(u),
    "tanh": lambda ops, u: ops.tanh(u),
    "sigmoid": lambda ops, u: ops.sigmoid(u),
    "exp_tanh": lambda ops, u: ops.exp(ops.tanh(u)),
    "square_sin": lambda ops, u: ops.sin(u) ** 2,
    "neg": lambda ops, u: -u,
}
BINARY = {
    "add": lambda ops, u, w: u + w,
    "sub": lambda ops, u, w: u - w,
    "mul": lambda ops, u, w: u * w,
}
ARRAY_OPS = {
    "sum_axis": lambda ops, u, matrix: ops.sum(u, axis=0) + 0 * u,
    "softmax": lambda ops, u, matrix: ops.softmax(u, axis=-1),
    "log_softmax": lambda ops, u, matrix: ops.log_softmax(u, axis=0),
    "logsumexp_keep": lambda ops, u, matrix: ops.logsumexp(u) + u,
    "matvec": lambda ops, u, matrix: u @ matrix,
    "transpose": lambda ops, u, matrix: ops.transpose(u),
    "slice": lambda ops, u, matrix: ops.concatenate([u[1:], u[:1]], axis=0),
    "mean_axis": lambda ops, u, matrix: ops.mean(u, axis=1) * u,
}


def random_function(seed: int, n_nodes: int = 12, array: bool = False):
    """A random function of three inputs ``f(ops, x, y, z)``, from a seeded list of steps.

    ``ops`` is a namespace with sin, cos, tanh, exp, sum, ... (lagrange_ad, numpy or
    autograd.numpy), so the same recipe is evaluated by every library.
    """
    rng = np.random.default_rng(seed)
    steps = []
    for k in range(n_nodes):
        kind = rng.choice(["unary", "binary"] + (["array"] * 2 if array else []))
        table = {"unary": UNARY, "binary": BINARY, "array": ARRAY_OPS}[str(kind)]
        a, b = rng.integers(0, 3 + k, 2)
        steps.append((str(kind), str(rng.choice(list(table))), int(a), int(b)))
    matrix = rng.standard_normal((3, 3)) / 2

    def f(ops, x, y, z):
        vals = [x, y, z]
        for kind, name, a, b in steps:
            if kind == "unary":
                vals.append(UNARY[name](ops, vals[a]))
            elif kind == "binary":
                vals.append(BINARY[name](ops, vals[a], vals[b]))
            else:
                vals.append(ARRAY_OPS[name](ops, vals[a], matrix))
        return ops.sum(vals[-1] * vals[-2]) + ops.sum(ops.tanh(vals[-3]))

    return f


def random_point(seed: int, array: bool = False):
    rng = np.random.default_rng(seed + 1)
    shape = (3, 3) if array else ()
    return tuple(rng.uniform(-1, 1, shape) for _ in range(3))


class LagrangeOps:
    """The namespace of la functions under the names random_function uses."""

    sin, cos, tanh, sigmoid, exp = la.sin, la.cos, la.tanh, la.sigmoid, la.exp
    sum, mean, logsumexp = la.sum, la.mean, la.logsumexp
    softmax, log_softmax = la.softmax, la.log_softmax
    transpose, concatenate = la.transpose, la.concatenate


def traced(seed: int, array: bool = False, n_nodes: int = 12):
    recipe = random_function(seed, n_nodes, array)
    point = random_point(seed, array)
    return la.trace(lambda x, y, z: recipe(LagrangeOps, x, y, z), *point), recipe, point


def central_difference(f, point, direction, h=1e-5):
    plus = f(*[x + h * d for x, d in zip(point, direction)])
    minus = f(*[x - h * d for x, d in zip(point, direction)])
    return (plus - minus) / (2 * h)


def finite_difference_jacobian(program, step: float = 1e-5) -> np.ndarray:
    """The dense local Jacobian J by central differences of each node's ``evaluate`` rule.

    Column k of block ``J[i, j]`` is ``(p_i(.., v_j + h e_k, ..) - p_i(.., v_j - h e_k, ..)) / 2h``
    with ``h = step * max(1, |v_j[k]|)`` (every occurrence of v_j among i's operands moves),
    at the program's values: no derivative rule of any primitive is read.
    """
    graph = program.graph
    values = program.values.blocks()
    offsets = graph.offsets
    jac = np.zeros((graph.total_size, graph.total_size))
    for i in range(len(graph)):
        if graph.is_source[i]:
            continue
        primitive, params = graph.primitive(i), graph.params(i)
        parents = graph.parents(i).tolist()
        for j in dict.fromkeys(parents):
            flat = np.array(values[j], np.float64).ravel()
            for k in range(flat.size):
                h = step * max(1.0, abs(flat[k]))
                sides = []
                for delta in (h, -h):
                    moved = flat.copy()
                    moved[k] += delta
                    moved = moved.reshape(np.shape(values[j]))
                    xs = [moved if p == j else values[p] for p in parents]
                    sides.append(np.ravel(primitive.evaluate(*xs, **params)))
                jac[offsets[i]:offsets[i + 1], offsets[j] + k] = (sides[0] - sides[1]) / (2 * h)
    return jac


def dense_multipliers(program) -> np.ndarray:
    """The multipliers by a dense solve of ``(I - J)^T lam = e_N``, J by finite differences."""
    graph = program.graph
    e_n = np.zeros(graph.total_size)
    e_n[graph.offsets[graph.output]] = 1.0
    system = np.eye(graph.total_size) - finite_difference_jacobian(program)
    return np.linalg.solve(system.T, e_n)


def random_cyclic_graph(seed: int, n_cycles: int = 2, n_nodes: int = 10) -> la.Graph:
    """A random scalar graph with cycles whose fixed-point map is a contraction.

    Declared nodes h_1..h_m are defined at the end as ``h = 0.45 tanh(u)`` for some earlier
    node u; every other node is ``tanh((p + q) / 2)`` of two earlier nodes (inputs, h's or
    intermediates). Each node is 1-Lipschitz in the max-norm of its operands and h's map
    scales by 0.45, so the whole map is a contraction.
    """
    rng = np.random.default_rng(seed)
    b = la.GraphBuilder()
    inputs = [b.input(name=f"x{k}") for k in range(3)]
    hs = [b.declare(initial=float(rng.uniform(-0.5, 0.5))) for _ in range(n_cycles)]
    half = b.const(0.5)
    scale = b.const(0.45)
    pool = inputs + hs
    for _ in range(n_nodes):
        p, q = rng.choice(len(pool), 2)
        mean = b.add("mul", half, b.add("add", pool[p], pool[q]))
        pool.append(b.add("tanh", mean))
    for h in hs:
        u = pool[int(rng.integers(len(inputs) + n_cycles, len(pool)))]
        b.define(h, "mul", scale, b.add("tanh", u))
    out = b.add("add", pool[-1], b.add("mul", pool[-2], hs[0]))
    point = tuple(rng.uniform(-1, 1, 3))
    return b.build(output=out, point=point)


def coupled_layers(seed: int = 7) -> la.Graph:
    """Two coupled array fixed points, ``h1 = tanh(W1 h2 + x)``, ``h2 = sin(h1 + W2 h1) / 2``.

    One cyclic block with two feedback nodes (the tanh and the halving product), objective
    ``sum(h1 * h2)``; ``||W_k|| <= 0.3 ||N(0, 1)||`` keeps the map a contraction.
    """
    rng = np.random.default_rng(seed)
    b = la.GraphBuilder()
    x = b.input(shape=(3,), name="x")
    w1 = b.const(0.3 * rng.standard_normal((3, 3)))
    w2 = b.const(0.3 * rng.standard_normal((3, 3)))
    h1 = b.declare(shape=(3,), name="h1", initial=np.zeros(3))
    h2 = b.declare(shape=(3,), name="h2", initial=np.zeros(3))
    b.define(h1, "tanh", b.add("add", b.add("matmul", w1, h2), x))
    b.define(h2, "mul", b.const(0.5), b.add("sin", b.add("add", h1, b.add("matmul", w2, h1))))
    b.add("sum", b.add("mul", h1, h2))
    return b.build(point=(rng.uniform(-1, 1, 3),))


def small_cycle() -> la.Graph:
    """``v1 = sin(v2)``, ``v2 = v0 * v1``: a cycle through v1 and v2, then ``v3 = v1 + v2``."""
    b = la.GraphBuilder()
    x = b.input(name="x")
    h = b.declare()
    k = b.add("mul", x, h)
    b.define(h, "sin", k)
    b.add("add", h, k)
    return b.build()


def singular_cycle() -> la.Graph:
    """``h = 1 * h + 0 * a``: every h is a fixed point, so ``I - J`` is singular on the cycle."""
    b = la.GraphBuilder()
    a = b.input()
    h = b.declare(initial=0.3)
    b.define(h, "add", b.add("mul", h, b.const(1.0)), b.add("mul", a, b.const(0.0)))
    return b.build(output=h)
