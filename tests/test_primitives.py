"""Every registered primitive's rules against finite differences and against each other.

The table CASES gives sample operands per primitive; the tests iterate over the registry, so a
newly registered primitive fails here until it has cases, and is then checked by the
dot-product test (VJP against JVP), central finite differences in random directions, its
explicit Jacobian entries, its multiply-add count and its shape rule.
"""

import numpy as np
import pytest
from convolution_cases import CONVOLUTION_CASES, CONVOLUTION_KINKS
from linalg_cases import LINALG_CASES

from lagrange_ad.primitives import PRIMITIVES, dense_jacobian, lookup

RNG = np.random.default_rng(20261126)


def uniform(shape, low=-1.5, high=1.5):
    return RNG.uniform(low, high, shape)


def away_from_zero(shape):
    return RNG.uniform(0.3, 1.5, shape) * RNG.choice([-1.0, 1.0], shape)


def positive(shape):
    return RNG.uniform(0.3, 2.0, shape)


SOURCES = {"input", "const"}


class Kink(tuple):
    """A case at a point of non-differentiability (ties of max, min and sort): the rules give
    the documented convention there, which finite differences do not see, so they are skipped."""


def kink(*case):
    return Kink(case)

# primitive -> list of (operands, params)
CASES = {
    "add": [((uniform(()), uniform(()))), ((uniform((2, 3)), uniform((3,))))],
    "sub": [((uniform((3,)), uniform((2, 1))))],
    "mul": [((uniform(()), uniform(()))), ((uniform((2, 3)), uniform((2, 1))))],
    "div": [((uniform((3,)), away_from_zero((3,))))],
    "maximum": [((uniform((4,)), uniform((4,))))],
    "minimum": [((uniform((2, 2)), uniform(())))],
    "neg": [((uniform((3,)),))],
    "pow": [((uniform(()),), {"exponent": 3.0}), ((positive((3,)),), {"exponent": 2.5}),
            ((positive((2,)),), {"exponent": -1.5}), ((uniform((2,)),), {"exponent": 0.0})],
    "square": [((uniform((3,)),))],
    "sqrt": [((positive((3,)),))],
    "exp": [((uniform((2, 2)),))],
    "log": [((positive((3,)),))],
    "sin": [((uniform(()),))],
    "cos": [((uniform((3,)),))],
    "tan": [((uniform((3,), -1.0, 1.0),))],
    "tanh": [((uniform((3,)),))],
    "sigmoid": [((uniform((3,), -4, 4),))],
    "relu": [((away_from_zero((5,)),))],
    "abs": [((away_from_zero((5,)),))],
    "expm1": [((uniform(()),)), ((uniform((2, 3)),))],
    "log1p": [((uniform((4,), -0.9, 2.0),))],
    "sinh": [((uniform((3,)),))],
    "cosh": [((uniform((2, 2)),))],
    "arcsin": [((uniform((4,), -0.9, 0.9),)), ((uniform((), -0.5, 0.5),))],
    "arccos": [((uniform((4,), -0.9, 0.9),))],
    "arctan": [((uniform((3,), -3, 3),))],
    "arcsinh": [((uniform((3,), -3, 3),))],
    "arccosh": [((uniform((3,), 1.2, 4.0),))],
    "arctanh": [((uniform((2, 2), -0.9, 0.9),))],
    # the derivative is zero, so finite differences must stay between the jumps
    "sign": [((away_from_zero((4,)),))],
    "floor": [((np.array([-1.3, -0.2, 0.4, 2.7]),))],
    "ceil": [((np.array([-1.3, -0.2, 0.4, 2.7]),))],
    "rint": [((np.array([-1.3, -0.2, 0.4, 2.7]),))],
    "erf": [((uniform((4,), -2, 2),))],
    "erfc": [((uniform((2, 2), -2, 2),))],
    "gammaln": [((uniform((4,), 0.2, 5.0),)), ((np.array([-0.5, -1.7, -2.3]),))],
    "digamma": [((uniform((4,), 0.2, 5.0),)), ((np.array([-0.5, -1.7]),))],
    "arctan2": [((uniform((3,)), uniform((3,)))), ((uniform((2, 3)), away_from_zero((3,))))],
    "logaddexp": [((uniform(()), uniform(()))), ((uniform((2, 3), -30, 30), uniform((2, 1))))],
    # away from the jumps of the remainder (x / y an integer), where finite differences jump
    "mod": [((np.array([5.3, -5.3, 5.3, -5.3]), np.array([2.0, 2.0, -2.0, -2.0]))),
            ((np.array([[0.7, 3.2], [-2.6, 7.9]]), np.array([1.5, -2.5])))],
    "xlogy": [((uniform((3,)), positive((3,)))),
              ((np.array([0.0, 1.2, -0.4]), positive((2, 1))))],
    "xlog1py": [((uniform((3,)), uniform((3,), -0.7, 2.0))),
                ((np.array([0.0, 0.5]), np.array([-0.5, 0.3])))],
    "sum": [((uniform((2, 3, 4)),), {"axis": None}), ((uniform((2, 3, 4)),), {"axis": 1}),
            ((uniform((2, 3, 4)),), {"axis": (0, 2)})],
    "mean": [((uniform((2, 3)),), {"axis": None}), ((uniform((2, 3)),), {"axis": -1})],
    "logsumexp": [((uniform((2, 3)),), {"axis": None}), ((uniform((2, 3)),), {"axis": 0})],
    "softmax": [((uniform((2, 3)),), {"axis": -1}), ((uniform((3, 2)),), {"axis": 0})],
    "max": [((uniform((2, 3, 4)),), {"axis": None}), ((uniform((2, 3, 4)),), {"axis": (0, 2)}),
            ((uniform((3, 4)),), {"axis": -1}), ((uniform(()),), {"axis": None}),
            kink((np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]),), {"axis": (1,)}),
            kink((np.array([[1.0, 3.0, 3.0], [3.0, 2.0, 0.5]]),), {"axis": None})],
    "min": [((uniform((2, 3, 4)),), {"axis": (1,)}), ((uniform((5,)),), {"axis": None}),
            kink((np.array([[0.5, 0.5], [0.5, 2.0]]),), {"axis": (0,)})],
    "prod": [((uniform((2, 3, 4)),), {"axis": None}), ((uniform((2, 3, 4)),), {"axis": (0, 2)}),
             ((uniform((3, 4)),), {"axis": -1}), ((uniform(()),), {"axis": None}),
             ((np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5], [1.0, 2.0, -0.5]]),), {"axis": (1,)}),
             ((np.array([[0.0, 2.0, 3.0], [1.1, 0.7, 1.5]]),), {"axis": None})],
    "log_softmax": [((uniform((2, 3)),), {"axis": 1}), ((uniform((4,)),), {"axis": 0})],
    "cumsum": [((uniform((5,)),), {"axis": 0}), ((uniform((2, 3, 4)),), {"axis": 1}),
               ((uniform((3, 4)),), {"axis": -1})],
    "cumprod": [((uniform((5,)),), {"axis": 0}), ((uniform((2, 3, 4)),), {"axis": -2}),
                ((uniform((3, 7)),), {"axis": 1}),
                ((np.array([[2.0, 0.0, 3.0, 0.0, -1.5], [0.0, 1.5, 2.0, 0.5, 3.0]]),),
                 {"axis": 1}),
                ((np.array([[2.0, 0.0], [0.0, 0.0], [1.5, -2.0]]),), {"axis": 0})],
    "dot": [((uniform((3,)), uniform((3,)))), ((uniform((2, 3)), uniform((3,)))),
            ((uniform((2, 3)), uniform((3, 4))))],
    "matmul": [((uniform((2, 3)), uniform((3, 4)))), ((uniform((3,)), uniform((3, 2)))),
               ((uniform((2, 2, 3)), uniform((3, 2))))],
    "transpose": [((uniform((2, 3)),), {"axes": None}),
                  ((uniform((2, 3, 4)),), {"axes": (1, 0, 2)})],
    "reshape": [((uniform((2, 3)),), {"shape": (3, 2)}), ((uniform((6,)),), {"shape": (1, 6)})],
    "getitem": [((uniform((4,)),), {"index": 2}),
                ((uniform((3, 4)),), {"index": (slice(0, 2), 1)}),
                ((uniform((5,)),), {"index": np.array([0, 3, 3, 1])}),
                ((uniform((2, 3)),),
                 {"index": np.array([[True, False, True], [False, True, True]])})],
    "broadcast_to": [((uniform(()),), {"shape": (2, 3)}), ((uniform((3,)),), {"shape": (2, 3)}),
                     ((uniform((2, 1, 3)),), {"shape": (4, 2, 5, 3)}),
                     ((uniform((2, 3)),), {"shape": (2, 3)})],
    "where": [((uniform((2, 3)), uniform((2, 3))),
               {"mask": np.array([[True, False, True], [False, False, True]])}),
              ((uniform((3,)), uniform((2, 1))), {"mask": np.array([True, False, False])}),
              ((uniform(()), uniform((2, 2))), {"mask": np.array([[True], [False]])}),
              ((uniform((4,)), uniform(())), {"mask": np.array(True)})],
    "pad": [((uniform((3,)),), {"pad_width": ((1, 2),)}),
            ((uniform((2, 3)),), {"pad_width": ((0, 1), (2, 0))}),
            ((uniform(()),), {"pad_width": ()}),
            ((uniform((2, 2)),), {"pad_width": ((0, 0), (0, 0))})],
    "sort": [((uniform((5,)),), {"axis": 0}), ((uniform((3, 4)),), {"axis": -1}),
             ((uniform((3, 4, 2)),), {"axis": 1}),
             kink((np.array([2.0, 1.0, 2.0, 1.0, 0.5]),), {"axis": 0}),
             kink((np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]),), {"axis": 0})],
    "einsum": [((uniform((2, 3)), uniform((3, 4))), {"subscripts": "ij,jk->ik"}),
               ((uniform((2, 3)),), {"subscripts": "ij->ji"}),
               ((uniform((2, 3)),), {"subscripts": "ij->"}),
               ((uniform((3, 3)),), {"subscripts": "ii->i"}),
               ((uniform((3, 3)),), {"subscripts": "ii->"}),
               ((uniform((3,)), uniform((2,))), {"subscripts": "i,j->ij"}),
               ((uniform((3,)), uniform((3,))), {"subscripts": "i,i->"}),
               ((uniform((2, 2, 3)), uniform((2, 3, 2))), {"subscripts": "bij,bjk->bik"}),
               ((uniform((2, 3)), uniform((3, 2)), uniform((2, 4))),
                {"subscripts": "ij,jk,kl->il"}),
               ((uniform((2, 3)), uniform((4,))), {"subscripts": "ij,k->i"}),
               ((uniform((3, 3)), uniform((2,))), {"subscripts": "ii,j->j"}),
               ((uniform((2, 2, 3)), uniform((3, 4))), {"subscripts": "iij,jk->ki"}),
               ((uniform(()), uniform((3,))), {"subscripts": ",i->i"}),
               ((uniform((2, 3)), uniform((2, 3))), {"subscripts": "ij,ij->ij"})],
    "concatenate": [((uniform((2, 3)), uniform((2, 1))), {"axis": 1}),
                    ((uniform((2,)), uniform((3,)), uniform((1,))), {"axis": 0})],
    "stack": [((uniform((2, 3)), uniform((2, 3))), {"axis": 0}),
              ((uniform((3,)), uniform((3,)), uniform((3,))), {"axis": 1})],
}
CASES.update(LINALG_CASES)  # the matrix rows' sample operands live beside their tests
CASES.update(CONVOLUTION_CASES)
for name, kinks in CONVOLUTION_KINKS.items():
    CASES[name] = CASES[name] + [kink(*case) for case in kinks]


def cases():
    for name in sorted(PRIMITIVES):
        if name in SOURCES:
            continue
        for k, case in enumerate(CASES.get(name, [None])):
            yield pytest.param(name, case, id=f"{name}-{k}")


def unpack(case):
    operands, params = (case, {}) if len(case) == 0 or isinstance(case[0], np.ndarray) \
        else (case[0], case[1]) if isinstance(case[-1], dict) else (case, {})
    return [np.asarray(x, float) for x in operands], params


def test_every_primitive_has_cases():
    missing = sorted(set(PRIMITIVES) - set(CASES) - SOURCES)
    assert not missing, f"primitives without test cases: {missing}"


def directional_fd(primitive, xs, params, ts, h=1e-6):
    plus = primitive.evaluate(*[x + h * t for x, t in zip(xs, ts)], **params)
    minus = primitive.evaluate(*[x - h * t for x, t in zip(xs, ts)], **params)
    return (np.asarray(plus) - np.asarray(minus)) / (2 * h)


@pytest.mark.parametrize("name, case", list(cases()))
def test_rules(name, case):
    assert case is not None, f"no test case for primitive {name}"
    primitive = lookup(name)
    xs, params = unpack(case)
    ans = np.asarray(primitive.evaluate(*xs, **params))
    assert tuple(primitive.shape(*[x.shape for x in xs], **params)) == ans.shape
    ts = [RNG.standard_normal(x.shape) for x in xs]
    g = RNG.standard_normal(ans.shape)

    jvp = np.asarray(primitive.jvp(tuple(ts), ans, *xs, **params))
    assert jvp.shape == ans.shape
    if not isinstance(case, Kink):
        fd = directional_fd(primitive, xs, params, ts)
        np.testing.assert_allclose(jvp, fd, rtol=1e-6, atol=1e-7)

    # the dot-product test: <g, J t> = <J^T g, t>
    cts = primitive.vjp(g, ans, *xs, **params)
    assert len(cts) == len(xs)
    for ct, x in zip(cts, xs):
        assert np.shape(ct) == x.shape
    lhs = float(np.sum(g * jvp))
    rhs = sum(float(np.sum(ct * t)) for ct, t in zip(cts, ts))
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)
    if primitive.vjp_operand is not None:  # the same cotangents, one operand at a time
        for k, ct in enumerate(cts):
            np.testing.assert_array_equal(primitive.vjp_operand(k, g, ans, *xs, **params), ct)

    # explicit entries reproduce the JVP, and the count is their number
    blocks = primitive.jacobian(ans, *xs, **params)
    applied = np.zeros(ans.size)
    for block, t in zip(blocks, ts):
        np.add.at(applied, block.rows, block.vals * t.ravel()[block.cols])
    np.testing.assert_allclose(applied, jvp.ravel(), rtol=1e-12, atol=1e-12)
    assert primitive.node_multiply_adds(ans.shape, *[x.shape for x in xs], **params) == \
        sum(len(block.vals) for block in blocks)


@pytest.mark.parametrize("name, case", [c for c in cases() if PRIMITIVES[c.values[0]].partials])
def test_partials_give_the_jvp(name, case):
    # the entrywise partials serve the vectorized scalar graphs and the compiled loop
    primitive = lookup(name)
    xs, params = unpack(case)
    ans = np.asarray(primitive.evaluate(*xs, **params))
    ts = [RNG.standard_normal(x.shape) for x in xs]
    ds = primitive.partials(ans, *xs, **params)
    assert len(ds) == len(xs)
    applied = sum(np.broadcast_to(t * d, ans.shape) for t, d in zip(ts, ds))
    np.testing.assert_allclose(applied, primitive.jvp(tuple(ts), ans, *xs, **params),
                               rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name, case", list(cases()))
def test_vjp_reads_only_what_it_declares(name, case):
    # a gradient-only sweep hands a rule NaN stand-ins (of the right shape) for the values it
    # does not declare; the cotangents must come out the same, bit for bit
    primitive = lookup(name)
    assert set(primitive.vjp_reads) <= {"ans", "operands"}
    xs, params = unpack(case)
    ans = np.asarray(primitive.evaluate(*xs, **params))
    g = RNG.standard_normal(ans.shape)
    expected = primitive.vjp(g, ans, *xs, **params)

    def stand_in(x, kept):
        return x if kept else np.broadcast_to(np.float64(np.nan), np.shape(x))

    reads = primitive.vjp_reads
    got = primitive.vjp(g, stand_in(ans, "ans" in reads),
                        *[stand_in(x, "operands" in reads) for x in xs], **params)
    for ct, want in zip(got, expected):
        np.testing.assert_array_equal(ct, want)


def test_vjp_reads_are_declared_narrowly_where_it_matters():
    # the values a training step keeps: products read operands, tanh its value, add nothing
    assert lookup("matmul").vjp_reads == ("operands",)
    assert lookup("tanh").vjp_reads == ("ans",)
    assert lookup("add").vjp_reads == () and lookup("sum").vjp_reads == ()


@pytest.mark.parametrize("name", ["sin", "matmul", "softmax", "getitem"])
def test_dense_jacobian_fallback_matches_explicit(name):
    primitive = lookup(name)
    xs, params = unpack(CASES[name][-1])
    ans = primitive.evaluate(*xs, **params)
    for explicit, dense in zip(primitive.jacobian(ans, *xs, **params),
                               dense_jacobian(primitive, ans, xs, params)):
        a = np.zeros((np.size(ans), 64))
        b = np.zeros_like(a)
        np.add.at(a, (explicit.rows, explicit.cols), explicit.vals)
        np.add.at(b, (dense.rows, dense.cols), dense.vals)
        np.testing.assert_allclose(a, b, atol=1e-14)


def test_lecture_derivative_table():
    """The lecture's six primitives and their derivatives, in closed form."""
    y, z = 0.7, -1.3
    assert lookup("add").vjp(1.0, y + z, y, z) == (1.0, 1.0)
    assert lookup("mul").vjp(1.0, y * z, y, z) == (z, y)
    assert lookup("pow").vjp(1.0, y**3, y, exponent=3)[0] == pytest.approx(3 * y**2)
    assert lookup("sin").vjp(1.0, np.sin(y), y)[0] == pytest.approx(np.cos(y))
    assert lookup("exp").vjp(1.0, np.exp(y), y)[0] == pytest.approx(np.exp(y))
    assert lookup("log").vjp(1.0, np.log(y), y)[0] == pytest.approx(1 / y)
