"""Value-dependent control flow is never silent: masks and indices are nodes, Python decisions
on traced values raise `ControlFlowError`.

A graph traced at one point is replayed (``la.Program``, ``la.grad(graph)``) at points on the
other side of every branch; its values must equal the numpy function run on plain arrays there,
and its gradient ``la.grad`` of the function (traced anew) and central finite differences.
"""

import operator

import numpy as np
import pytest
import scipy.special

import lagrange_ad as la
from lagrange_ad.errors import ControlFlowError, TracingError

RNG = np.random.default_rng(11)


def central_difference(f, x, direction, h=1e-6):
    return (f(x + h * direction) - f(x - h * direction)) / (2 * h)


def check_replay(f, traced_at, points):
    """The graph of ``f`` traced at one point, replayed at the others, against numpy's f."""
    graph = la.trace(f, traced_at)
    gradient_of_graph = la.grad(graph)
    for x in points:
        np.testing.assert_allclose(la.Program(graph, x).output_value, f(x), rtol=1e-13,
                                   atol=1e-14)
        (g,) = gradient_of_graph(x)
        np.testing.assert_allclose(g, la.grad(f)(x)[0], rtol=1e-13, atol=1e-14)
        direction = RNG.standard_normal(np.shape(x))
        assert np.sum(g * direction) == pytest.approx(central_difference(f, x, direction),
                                                      rel=1e-6, abs=1e-8)


def relu_net(x):
    hidden = np.maximum(x @ np.arange(1.0, 7.0).reshape(3, 2) - 4.0, 0.0)
    return np.sum(hidden * (hidden > 1.0)) + np.sum(np.where(x > 0.5, x ** 2, -x))


BRANCHY = {
    "where": lambda x: np.sum(np.where(x > 0, np.sin(x), x ** 3)),
    "nested where": lambda x: np.sum(np.where(x < -1, -x, np.where(x < 1, x * x, 2 * x - 1))),
    "clip": lambda x: np.sum(np.clip(x, -0.5, 0.7) ** 2),
    "maximum": lambda x: np.sum(np.maximum(x, 0.2 * x)),
    "abs": lambda x: np.sum(np.abs(x) * x),
    "relu by mask": lambda x: np.sum(x * (x > 0)),
    "mask arithmetic": lambda x: np.sum(x * ((x > -1) & (x < 1)) + x ** 2 * ~(x < 1)),
    "relu net": relu_net,
    "select": lambda x: np.sum(np.select([x < -1, x < 1], [x ** 2, np.sin(x)], 3 * x)),
    "max, sort, median": lambda x: np.max(x) * np.sum(np.sort(x)[:2]) + np.median(x),
    "argmax": lambda x: x[np.argmax(x)] * 3.0 + np.take(x, np.argmin(x)),
    "argsort": lambda x: np.take_along_axis(x, np.argsort(x), axis=-1) @ np.arange(3.0),
    "all, any": lambda x: np.sum(x) * np.all(x > -2) + np.any(x > 1) * np.sum(x ** 2),
    "sinc, trunc": lambda x: np.sum(np.sinc(x) + np.trunc(x) * x),
    "sum where=": lambda x: np.sum(x ** 2, where=x > 0) + np.mean(x, where=x < 1),
    "interp": lambda x: np.sum(np.interp(x, [-1.0, 0.0, 1.0], [0.0, 2.0, 1.0]) * x),
    "copysign, fmod, heaviside": lambda x: np.sum(np.copysign(x ** 2, x) + np.fmod(x, 0.7)
                                                  + np.heaviside(x, 0.5) * x),
    "searchsorted": lambda x: np.sum(np.searchsorted([-1.0, 0.0, 1.0], x) * x),
}
SIDES = [np.array([0.3, -1.4, 2.1]), np.array([-0.6, 1.7, -2.2]), np.array([1.2, 0.4, -0.1])]


@pytest.mark.parametrize("name", list(BRANCHY))
def test_a_graph_replays_every_branch_at_another_point(name):
    check_replay(BRANCHY[name], SIDES[0], SIDES[1:])


def test_a_graph_traced_at_a_zero_of_sinc_replays_away_from_it():
    check_replay(lambda x: np.sum(np.sinc(x) * x), np.array([0.0, 0.5, -1.5]), SIDES)


def test_argmax_along_an_axis_picks_per_row_on_replay():
    def f(x):
        best = np.argmax(x, axis=1)
        onehot = np.arange(3) == best[:, None]
        return np.sum(x * onehot) + np.sum(np.take_along_axis(x, best[:, None], axis=1) ** 2)

    a, b = RNG.standard_normal((2, 4, 3))
    check_replay(f, a, [b, -a])


def test_matrix_rank_is_recounted_on_replay():
    def f(a):
        return np.linalg.matrix_rank(a) * np.sum(a)

    full, deficient = np.array([[1.0, 2.0], [2.0, 5.0]]), np.array([[1.0, 2.0], [2.0, 4.0]])
    graph = la.trace(f, full)
    assert la.Program(graph, full).output_value == 2 * full.sum()
    assert la.Program(graph, deficient).output_value == deficient.sum()


def test_masks_are_float_nodes_with_derivative_zero():
    def f(x):
        mask = x > 0
        assert isinstance(mask, la.Tracer) and mask.dtype == np.float64
        assert mask.astype(bool) is mask and np.argmax(x).astype(int) is not None
        return np.sum(mask * 5.0) + np.sum(x)

    np.testing.assert_array_equal(la.grad(f)(SIDES[0])[0], np.ones(3))


def jittered_cholesky(k):
    try:
        factor = np.linalg.cholesky(k)
    except np.linalg.LinAlgError:  # a decision on the values, taken by an exception
        factor = np.linalg.cholesky(k + 2.0 * np.eye(2))
    return np.sum(factor * np.array([[1.0, 0.0], [2.0, 3.0]]))


INDEFINITE = np.array([[1.0, 2.0], [2.0, 1.0]])
DEFINITE = np.array([[2.0, 0.5], [0.5, 1.0]])


def test_an_except_branch_taken_at_the_traced_point_is_guarded_on_replay():
    graph = la.trace(jittered_cholesky, INDEFINITE)
    assert la.Program(graph, 1.1 * INDEFINITE).output_value == \
        pytest.approx(jittered_cholesky(1.1 * INDEFINITE), rel=1e-14)
    with pytest.raises(la.DomainError, match=r"traced where cholesky failed .* except"):
        la.Program(graph, DEFINITE)
    with pytest.raises(la.DomainError, match=r"traced where cholesky failed"):
        la.grad(graph)(DEFINITE)
    # traced on the other branch, the row's own domain check guards the replay
    with pytest.raises(la.DomainError, match=r"not positive definite"):
        la.grad(la.trace(jittered_cholesky, DEFINITE))(INDEFINITE)
    (g,) = la.grad(jittered_cholesky)(DEFINITE)  # la.grad of the function traces anew
    direction = RNG.standard_normal((2, 2))
    assert np.sum(g * direction) == pytest.approx(
        central_difference(jittered_cholesky, DEFINITE, direction), rel=1e-6)


# ----------------------------------------------------------------- Python decisions refused

DECISIONS = {
    "if": lambda x: x if x[0] > 0 else -x,
    "while": lambda x: [x := x / 2 for _ in range(3) if np.max(x) > 1.0][-1],
    "bool": lambda x: bool(x[0]),
    "bool of a mask": lambda x: bool(np.all(x > 0)),
    "and": lambda x: (x[0] > 0) and x,
    "int": lambda x: int(x[0]),
    "float": lambda x: float(x[0]),
    "item": lambda x: x[0].item(),
    "operator.index": lambda x: operator.index(np.argmax(x)),
    "a list indexed by argmax": lambda x: [1.0, 2.0, 3.0][np.argmax(x)] * x,
    "boolean mask": lambda x: x[x > 0],
    "np.nonzero": lambda x: np.nonzero(x > 0),
    "np.where of one argument": lambda x: np.where(x > 0),
    "np.unique": lambda x: np.unique(x),
    "compress": lambda x: np.compress(x > 0, x),
    "in": lambda x: 0.3 in x,
}


@pytest.mark.parametrize("name", list(DECISIONS))
def test_a_python_decision_on_a_traced_value_raises_control_flow_error(name):
    with pytest.raises(ControlFlowError, match="traced value"):
        la.trace(lambda x: np.sum(DECISIONS[name](x)) + np.sum(x), SIDES[0])


def test_a_numpy_array_indexed_by_a_traced_index_is_refused_and_la_take_works():
    # numpy's indexing refuses the traced index without asking it (IndexError); np.take does
    # not dispatch on its indices and reads them as ints; la.take records a node
    with pytest.raises(IndexError):
        la.trace(lambda x: np.sum(np.eye(3)[np.argmax(x)] * x), SIDES[0])
    with pytest.raises(ControlFlowError, match=r"int\(\) of traced value .* la.take\(W, i"):
        la.trace(lambda x: np.sum(np.take(np.eye(3), np.argmax(x), axis=0) * x), SIDES[0])
    check_replay(lambda x: np.sum(la.take(np.eye(3), np.argmax(x), axis=0) * x), SIDES[0],
                 SIDES[1:])


def test_the_error_says_what_to_write_instead():
    with pytest.raises(ControlFlowError) as raised:
        la.trace(lambda x: x if x > 0 else -x, 1.0)
    message = str(raised.value)
    assert "np.where" in message and "mask" in message and "la.fixed_point" in message
    assert isinstance(raised.value, TracingError) and isinstance(raised.value, la.LagrangeADError)


def test_tests_whose_answer_is_the_same_everywhere_stay_plain():
    def f(x):
        assert np.all(np.isfinite(x)) and not np.any(np.isnan(x))
        return np.sum(x)

    la.trace(f, SIDES[0])


def test_scipy_functions_with_masks_inside_trace():
    check_replay(lambda x: np.sum(scipy.special.xlogy(x > 0, np.abs(x) + 1.0) * x),
                 SIDES[0], SIDES[1:])


# ----------------------------------------------------------------- random points, both sides

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

POINTS = arrays(np.float64, 5, elements=st.floats(-2.0, 2.0, allow_subnormal=False))


@settings(max_examples=40, deadline=None)
@given(POINTS, POINTS, st.floats(-1.5, 1.5))
def test_a_graph_traced_at_one_random_point_is_the_function_at_another(x0, x1, t):
    def f(x):
        return np.sum(np.where(x > t, np.sin(x), x ** 2) + np.clip(x, -1.0, 1.0) * (x < 0.5)
                      + np.maximum(x, 0.3 * x) + np.abs(x - t) * x[np.argmax(x)])

    graph = la.trace(f, x0)
    assert la.Program(graph, x1).output_value == pytest.approx(f(x1), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(la.grad(graph)(x1)[0], la.grad(f)(x1)[0], rtol=1e-12,
                               atol=1e-12)


NEW_FUNCTIONS = {  # la.name(*args) on plain arrays against numpy's function of that name
    "less": (SIDES[0], 0.3), "greater_equal": (SIDES[0], SIDES[1]), "equal": (SIDES[0], 0.3),
    "logical_and": (SIDES[0] > 0, SIDES[1] > 0), "logical_not": (SIDES[0] > 0,),
    "signbit": (SIDES[0],), "all": (SIDES[0] > -2,), "any": (SIDES[0] > 3,),
    "count_nonzero": (SIDES[0] > 0,), "isclose": (SIDES[0], SIDES[0] + 1e-9),
    "argmax": (SIDES[1],), "argmin": (SIDES[1],), "argsort": (SIDES[1],),
    "searchsorted": (np.array([-1.0, 0.0, 1.0]), SIDES[1]),
    "digitize": (SIDES[1], np.array([-1.0, 0.0, 1.0])),
    "copysign": (SIDES[0], SIDES[1]), "fmod": (SIDES[0], 0.7), "heaviside": (SIDES[0], 0.5),
    "convolve": (SIDES[0], SIDES[1][:2]), "correlate": (SIDES[0], SIDES[1][:2]),
    "interp": (SIDES[1], np.array([-1.0, 0.0, 2.0]), np.array([1.0, 3.0, 2.0])),
    "linspace": (1.0, 2.0, 5), "logspace": (0.0, 2.0, 3), "geomspace": (1.0, 8.0, 4),
    "polyval": (SIDES[0], SIDES[1]), "vander": (SIDES[0],), "resize": (SIDES[0], (2, 2)),
    "insert": (SIDES[0], 1, 5.0), "delete": (SIDES[0], [0, 2]),
}


@pytest.mark.parametrize("name", list(NEW_FUNCTIONS))
def test_la_functions_on_plain_arrays_are_numpy_s(name):
    args = NEW_FUNCTIONS[name]
    # (fmod as x - trunc(x / y) y rounds where C's fmod is exact: atol)
    np.testing.assert_allclose(getattr(la, name)(*args), getattr(np, name)(*args) * 1.0,
                               rtol=1e-14, atol=1e-15)
