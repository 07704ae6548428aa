"""The second-order checks pass on correct Hessians and catch a wrong curvature rule."""

from dataclasses import replace

import numpy as np

import lagrange_ad as la
from lagrange_ad.primitives import PRIMITIVES
from lagrange_ad.verify_second_order import second_order_checks

lecture = la.examples.lecture_function


def test_checks_pass_on_the_lecture_example_a_quadratic_and_the_mlp():
    mlp = la.examples.get("mlp")
    for f, point in ((lecture, (2.0, -1.0, 0.0)), (lambda x: la.sum(x * x), (np.ones(3),)),
                     (mlp.graph, mlp.point)):
        checks = second_order_checks(f, *point)
        assert [c.name for c in checks] == ["Hessian symmetry",
                                            "Hessian-vector product vs differences of the "
                                            "gradient", "Taylor test of order 3"]
        assert all(c.ok for c in checks), [str(c) for c in checks]


def test_a_wrong_curvature_rule_fails_the_gradient_and_taylor_checks(monkeypatch):
    sin = PRIMITIVES["sin"]

    def twice(g, ts, ans, x):
        return tuple(2.0 * c for c in sin.curvature(g, ts, ans, x))

    monkeypatch.setitem(PRIMITIVES, "sin", replace(sin, curvature=twice))
    checks = {c.name: c for c in second_order_checks(lecture, 2.0, -1.0, 0.0)}
    assert checks["Hessian symmetry"].ok  # a wrong W is still symmetric
    assert not checks["Hessian-vector product vs differences of the gradient"].ok
    assert not checks["Taylor test of order 3"].ok
