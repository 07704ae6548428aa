"""The Tracer as an ndarray stand-in: every public attribute of numpy.ndarray and every
operator either works on a traced value or raises a library error (never a raw exception from
numpy), and the idioms of ordinary numpy code trace as they are."""

import copy
import operator

import numpy as np
import pytest
import scipy.special
from scipy.special import log_softmax, logsumexp, softmax  # bound before any trace

import lagrange_ad as la
from lagrange_ad.errors import ControlFlowError, LagrangeADError, TracingError

RNG = np.random.default_rng(3)
X = RNG.uniform(0.5, 1.5, (3, 4))

# arguments for the methods that need some (the rest are called without arguments)
METHOD_ARGS = {
    "astype": (float,), "choose": ([np.zeros(4)] * 3,), "compress": ([True, False, True],),
    "dump": ("unused.npy",), "getfield": (np.float64,), "put": ([0], [1.0]),
    "repeat": (2,), "reshape": (4, 3), "resize": ((4, 3),), "searchsorted": (1.0,),
    "setfield": (1.0, np.float64), "setflags": (False,), "swapaxes": (0, 1),
    "take": ([0, 2],), "tofile": ("unused.bin",), "to_device": ("cpu",), "fill": (0.0,),
    "view": (np.float64,), "dot": (np.ones(4),), "clip": (0.7, 1.2), "argpartition": (1,),
}
PUBLIC = [name for name in dir(np.ndarray) if not name.startswith("_")]


def outcome(action):
    """'works' or the library error class; any other exception fails the test."""
    try:
        action()
    except LagrangeADError as exc:
        return type(exc).__name__
    return "works"


def drive(x, name):
    attribute = getattr(x, name)
    if callable(attribute):
        return attribute(*METHOD_ARGS.get(name, ()))
    return attribute


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_ndarray_attribute_works_or_is_a_library_error(name):
    seen = {}

    def f(x):
        seen[name] = outcome(lambda: drive(x, name))
        return la.sum(x)

    la.trace(f, X)
    assert seen[name] in ("works", "TracingError", "ControlFlowError", "ShapeError",
                          "DomainError")


WORKING = ["T", "mT", "real", "imag", "sum", "mean", "max", "min", "prod", "var", "std",
           "cumsum", "cumprod", "argmax", "argmin", "reshape", "ravel", "flatten", "squeeze",
           "transpose", "swapaxes", "repeat", "clip", "dot", "round", "astype", "copy",
           "shape", "ndim", "size", "conj", "diagonal", "trace", "take", "itemsize", "nbytes",
           "strides", "all", "any", "argsort", "compress"]


@pytest.mark.parametrize("name", WORKING)
def test_the_attributes_a_float64_value_has_work(name):
    def f(x):
        out = drive(x, name)
        expected = drive(X, name)
        got = out.value if isinstance(out, la.Tracer) else out
        np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(expected, float),
                                   rtol=1e-14)
        return la.sum(x)

    la.trace(f, X)


OPERATORS = {
    "+": lambda x: x + 1.5, "r+": lambda x: 1.5 + x, "-": lambda x: x - X, "*": lambda x: x * 2,
    "/": lambda x: x / 3, "r/": lambda x: 3 / x, "//": lambda x: x // 0.3,
    "r//": lambda x: 2.0 // x, "%": lambda x: x % 0.3, "r%": lambda x: 2.0 % x,
    "divmod": lambda x: divmod(x, 0.3)[1], "**": lambda x: x ** 2, "r**": lambda x: 2 ** x,
    "@": lambda x: x @ X.T, "r@": lambda x: X.T @ x, "neg": operator.neg, "pos": operator.pos,
    "abs": abs, "round": lambda x: round(x, 1), "<": lambda x: x < 1, ">=": lambda x: x >= X,
    "==": lambda x: x == x, "!=": lambda x: x != 1, "len": len, "iter": lambda x: list(x),
    "index": lambda x: x[1:, ::2], "fancy": lambda x: x[[0, 2]], "mask": lambda x: x[x > 1],
    "copy": copy.copy, "deepcopy": copy.deepcopy, "hash": hash,
    "int": int, "float": float, "complex": complex, "bool": bool,
    "as index": lambda x: [1, 2][x[0, 0]], "setitem": lambda x: x.__setitem__(0, 1.0),
    "asarray": np.asarray,
    "array of list": lambda x: np.array([x, x]), "in": lambda x: 1.0 in x,
}


@pytest.mark.parametrize("name", list(OPERATORS))
def test_every_operator_works_or_is_a_library_error(name):
    seen = {}

    def f(x):
        seen[name] = outcome(lambda: OPERATORS[name](x))
        return la.sum(x)

    la.trace(f, X)
    assert seen[name] in ("works", "TracingError", "ControlFlowError")


@pytest.mark.parametrize("name, error", [
    ("int", ControlFlowError), ("float", ControlFlowError), ("complex", TracingError),
    ("bool", ControlFlowError), ("as index", ControlFlowError), ("setitem", TracingError),
    ("mask", ControlFlowError), ("in", ControlFlowError),
])
def test_what_cannot_be_traced_says_so(name, error):
    with pytest.raises(error):
        la.trace(lambda x: la.sum(OPERATORS[name](x)) + la.sum(x), X)


def test_writing_into_a_numpy_buffer_is_a_library_error_that_says_what_to_write():
    def f(x):
        out = np.zeros(3)
        out[0] = x[0, 0]
        return out.sum()

    with pytest.raises(TracingError, match=r"build it from a list .* la.stack"):
        la.trace(f, X)


def test_the_dtype_is_float64():
    def f(x):
        assert x.dtype == np.float64 and np.dtype(x.dtype) == np.float64
        assert x.dtype.kind == "f" and np.issubdtype(x.dtype, np.floating)
        assert np.zeros(2, dtype=x.dtype).dtype == np.float64
        return la.sum(x)

    la.trace(f, X)


def test_astype_to_an_integer_type_is_refused():
    with pytest.raises(TracingError, match=r"astype\(int64\) .* np.floor"):
        la.trace(lambda x: x.astype(np.int64), X)


def test_comparisons_are_mask_nodes_and_a_python_branch_on_them_is_refused():
    def f(x):
        mask = x > 1.0
        assert isinstance(mask, la.Tracer)
        np.testing.assert_array_equal(mask.value, (X > 1.0) * 1.0)
        return la.sum(x * mask)

    g = la.grad(f)(X)[0]
    np.testing.assert_array_equal(g, (X > 1.0) * 1.0)
    with pytest.raises(ControlFlowError, match=r"np.where\(condition, a, b\)"):
        la.trace(lambda x: la.sum(x) if x[0, 0] > 0 else -la.sum(x), X)


# ----------------------------------------------------------------- the idioms of numpy code


def gradient(f, *args):
    return la.grad(f)(*args)


def finite_difference(f, x, h=1e-6):
    direction = RNG.standard_normal(np.shape(x))
    return (f(x + h * direction) - f(x - h * direction)) / (2 * h), direction


@pytest.mark.parametrize("f", [
    lambda x: np.sum(np.exp(x - x.max(axis=1, keepdims=True)) ** 2),
    lambda x: scipy.special.logsumexp(x),
    lambda x: np.sum(scipy.special.logsumexp(x, axis=1, keepdims=True) * x),
    lambda x: np.sum(scipy.special.softmax(x, axis=1) * x),
    lambda x: np.sum(scipy.special.log_softmax(x) * x),
    lambda x: np.sum(scipy.special.expit(x) * x),
    lambda x: np.linalg.norm(x),
    lambda x: np.sum(np.log1p(np.exp(x - 1.0))),
    lambda x: np.sum(np.logaddexp(0, x)),
    lambda x: np.sum(x.ravel() * x.flatten()) + x.squeeze().astype(float).sum() + (x % 0.3).sum(),
    lambda x: np.std([x, x + 2]),
    lambda x: np.mean([x[0, 0], 2 * x[0, 1]]) + np.sum([x[1, 1], x[2, 2]]),
    lambda x: np.linalg.norm([x[0, 0], x[1, 1] + 2.0]),
    lambda x: np.sum(np.array([x[0], x[1] ** 2])),
    lambda x: np.sum(np.r_[x[0], x[1]] ** 2) + np.sum(np.c_[x[0], x[2]] ** 3),
])
def test_idioms_of_numpy_code_trace_and_differentiate(f):
    (g,) = gradient(f, X)
    fd, direction = finite_difference(f, X)
    assert np.sum(g * direction) == pytest.approx(fd, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("f", [
    lambda x: logsumexp(x),
    lambda x: np.sum(logsumexp(x, axis=1, keepdims=True) * x),
    lambda x: logsumexp(x, b=np.arange(1.0, 13.0).reshape(3, 4)),
    lambda x: np.sum(softmax(x, axis=0) * x),
    lambda x: np.sum(log_softmax(x) * x),
    lambda x: np.sum(log_softmax(x, axis=1) ** 2),
])
def test_scipy_functions_bound_at_import_before_the_trace_trace_and_differentiate(f):
    (g,) = gradient(f, X)
    fd, direction = finite_difference(f, X)
    assert np.sum(g * direction) == pytest.approx(fd, rel=1e-6, abs=1e-8)
    graph = la.trace(f, X)
    np.testing.assert_allclose(la.Program(graph, 2 * X).output_value, f(2 * X), rtol=1e-13)


def test_scipy_functions_are_themselves_again_after_a_trace_and_plain_inside_one():
    codes = [function.__code__ for function in (logsumexp, softmax, log_softmax)]

    def f(x):
        assert logsumexp(np.array([0.0, 0.0])) == pytest.approx(np.log(2.0), rel=1e-15)
        return logsumexp(x) + scipy.special.logsumexp(x)

    la.trace(f, X)
    assert scipy.special.logsumexp is logsumexp
    assert [function.__code__ for function in (logsumexp, softmax, log_softmax)] == codes
    assert logsumexp([1000.0, 1000.0]) == pytest.approx(1000.0 + np.log(2.0), rel=1e-15)
    with pytest.raises(TracingError):  # restored after a failed trace too
        la.trace(lambda x: int(logsumexp(x)), X)
    assert [function.__code__ for function in (logsumexp, softmax, log_softmax)] == codes


def test_numpy_constructors_are_restored_after_a_trace():
    originals = np.array, np.asarray
    with pytest.raises(TracingError):
        la.trace(lambda x: int(x[0, 0]), X)
    assert (np.array, np.asarray) == originals
    assert np.array([1.0]).dtype == np.float64
