"""Every primitive's curvature rule against central differences of its own VJP rule.

The curvature rule of a row gives, per operand k, ``sum_j g . d^2 p / (d x_k d x_j) [t_j]``:
the derivative of ``vjp_k(g, p(xs), xs)`` along ``xs + h ts`` with g fixed. The test runs
over the registry with the sample operands of `test_primitives.CASES`, so a row is checked
the moment it is registered; rows without a rule are listed and may only become fewer.
"""

import dataclasses

import numpy as np
import pytest
from test_primitives import CASES, SOURCES, Kink, unpack

from lagrange_ad.errors import NoCurvatureRuleError
from lagrange_ad.primitives import PRIMITIVES, lookup

RNG = np.random.default_rng(20261204)

# rows still without a curvature rule: second derivatives through them are refused
WITHOUT_CURVATURE = ()


def curvature_cases():
    for name in sorted(PRIMITIVES):
        if name in SOURCES or PRIMITIVES[name].curvature is None:
            continue
        for k, case in enumerate(CASES.get(name, [])):
            if not isinstance(case, Kink):
                yield pytest.param(name, case, id=f"{name}-{k}")


def vjp_at(primitive, g, xs, params):
    ans = np.asarray(primitive.evaluate(*xs, **params))
    return [np.asarray(ct, float) for ct in primitive.vjp(g, ans, *xs, **params)]


def test_rows_without_a_curvature_rule_are_the_declared_ones():
    missing = tuple(sorted(name for name, p in PRIMITIVES.items() if p.curvature is None))
    assert missing == WITHOUT_CURVATURE


@pytest.mark.parametrize("name, case", list(curvature_cases()))
def test_curvature_is_the_derivative_of_the_vjp(name, case):
    primitive = lookup(name)
    xs, params = unpack(case)
    ans = np.asarray(primitive.evaluate(*xs, **params))
    g = RNG.standard_normal(ans.shape)
    ts = [RNG.standard_normal(x.shape) for x in xs]
    rule = primitive.node_curvature(g, tuple(ts), ans, *xs, **params)
    assert len(rule) == len(xs)
    h = 1e-5

    def step(s):
        return vjp_at(primitive, g, [x + s * h * t for x, t in zip(xs, ts)], params)

    # the fourth-order central difference: the matrix rows' third derivatives are large
    # enough (spectral gaps near 1) for the error of the second-order one to show
    near, far = zip(step(1), step(-1)), zip(step(2), step(-2))
    fds = [(8 * (p1 - m1) - (p2 - m2)) / (12 * h) for (p1, m1), (p2, m2) in zip(near, far)]
    for k, (c, x, fd) in enumerate(zip(rule, xs, fds)):
        c = np.zeros(x.shape) if c is None else np.asarray(c)
        assert c.shape == x.shape, f"operand {k}"
        np.testing.assert_allclose(c, fd, rtol=1e-6, atol=1e-7, err_msg=f"operand {k}")


@pytest.mark.parametrize("name, case", list(curvature_cases())[:40])
def test_none_tangents_are_zero(name, case):
    primitive = lookup(name)
    xs, params = unpack(case)
    ans = np.asarray(primitive.evaluate(*xs, **params))
    g = RNG.standard_normal(ans.shape)
    for c in primitive.node_curvature(g, (None,) * len(xs), ans, *xs, **params):
        assert c is None or not np.any(c)


def test_a_row_without_a_rule_is_refused_by_name():
    primitive = dataclasses.replace(lookup("det"), curvature=None)
    with pytest.raises(NoCurvatureRuleError, match=repr(primitive.name)):
        primitive.node_curvature(np.ones(()), (None,), np.ones(()), np.ones(()))
