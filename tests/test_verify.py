"""`la.verify`: passes on the zoo, fails on a corrupted derivative rule, leaves no state behind."""

import numpy as np
import pytest
from zoo import traced

import lagrange_ad as la
from lagrange_ad.primitives import PRIMITIVES
from lagrange_ad.primitives.structure import elementwise
from lagrange_ad.schedules import Outcome, Schedule, register_schedule
from lagrange_ad.verify import random_directions, theil_sen_slope

DEFAULT_METHODS = ("cvxpy", "gmres", "forward")
ALWAYS = ("kkt residual", "finite differences", "taylor remainder")


def check_passes(report):
    assert report.ok, str(report)
    names = [check.name for check in report.checks]
    assert all(name in names for name in ALWAYS)
    for method in DEFAULT_METHODS:
        check = next(c for c in report.checks if c.name == f"agrees with {method}")
        assert method in la.SCHEDULES, method
        if check.skipped:
            assert "cannot solve this program" in check.detail, check
        else:
            assert check.error <= check.tolerance == 1e-6
    assert str(report).startswith("verification passed")


def test_lecture():
    report = la.verify(la.examples.lecture().program())
    check_passes(report)
    fd = next(c for c in report.checks if c.name == "finite differences")
    # the tolerance is rtol plus the rounding noise of the quotient, negligible here
    assert fd.error < 1e-8 and 1e-6 <= fd.tolerance < 1.001e-6


def test_finite_differences_allow_for_rounding_when_the_gradient_is_small_against_f():
    # f ~ 1e3 and g ~ 1e-6: the central difference is accurate to about eps 1e3 / h / g only
    graph = la.trace(lambda x: 1e3 + 1e-6 * la.sin(x), 0.3)
    report = la.verify(la.Program(graph))
    fd = next(c for c in report.checks if c.name == "finite differences")
    assert fd.error > 1e-6 and fd.ok and fd.tolerance > fd.error
    assert "rounding noise" in fd.detail
    check_passes(report)


@pytest.mark.parametrize("x", [-1.0, 0.5])
def test_domke(x):
    check_passes(la.verify(la.examples.domke(x).program()))


def test_random_dag():
    check_passes(la.verify(la.examples.random_dag(n=200, seed=0).program()))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("array", [False, True])
def test_traced_random_functions(seed, array):
    graph, _, point = traced(seed, array, n_nodes=16)
    check_passes(la.verify(la.Program(graph), n_directions=2, seed=seed))


def test_unregistered_and_refusing_methods_are_skipped_with_a_note():
    refusing = Schedule("test-refuses", lambda program: Outcome(program.rhs(), 1, True, [], 0),
                        "refuses everything", refuses=lambda program, options: "never applies")
    register_schedule(refusing)
    try:
        report = la.verify(la.examples.lecture().program(),
                           methods=("no-such-schedule", "test-refuses"))
    finally:
        la.SCHEDULES.pop("test-refuses", None)
    missing, refused = report.checks[1:3]
    assert missing.skipped and missing.ok and "not a registered schedule" in missing.detail
    assert refused.skipped and refused.ok and "never applies" in refused.detail
    assert report.ok
    assert "SKIP  agrees with no-such-schedule" in str(report)


def test_a_disagreeing_method_fails_its_check():
    # a Schedule object need not be registered to be compared against
    wrong = Schedule("test-wrong", lambda program: Outcome(2 * program.rhs(), 1, True, [], 0),
                     "returns 2 e_N")
    report = la.verify(la.examples.lecture().program(),
                       methods=(wrong, ("wrong-variant", wrong, {})))
    assert "test-wrong" not in la.SCHEDULES
    assert not report.ok
    assert [check.name for check in report.failures] == ["agrees with test-wrong",
                                                         "agrees with wrong-variant"]
    program = la.examples.lecture().program()
    lam = la.solve(program).multipliers.flat
    expected = np.max(np.abs(2 * program.rhs() - lam)) / np.max(np.abs(lam))
    assert report.failures[0].error == pytest.approx(expected, rel=1e-12)
    assert "FAIL  agrees with test-wrong" in str(report)


@pytest.fixture
def bad_sin():
    """``bad_sin(x) = sin(x)`` whose derivative rules all say ``-cos(x)``; removed afterwards."""
    try:
        yield elementwise("bad_sin", 1, np.sin, lambda ans, x: (-np.cos(x),))
    finally:
        PRIMITIVES.pop("bad_sin", None)


def test_a_corrupted_derivative_rule_is_caught(bad_sin):
    # f(x, y) = bad_sin(x y) + exp(x): every schedule builds J from the same wrong rule
    b = la.GraphBuilder()
    x, y = b.input(name="x"), b.input(name="y")
    b.add("add", b.add("bad_sin", b.add("mul", x, y)), b.add("exp", x))
    program = la.Program(b.build(), 0.7, -0.4)
    report = la.verify(program)
    assert not report.ok
    failed = {check.name for check in report.failures}
    assert failed == {"finite differences", "taylor remainder"}, str(report)
    taylor = next(c for c in report.checks if c.name == "taylor remainder")
    assert taylor.error == pytest.approx(1.0, abs=0.1)  # the remainder decays like h, not h^2
    # consistent use of the wrong rule: KKT and agreement between schedules still hold
    assert all(c.ok for c in report.checks if c.name.startswith(("kkt", "agrees")))
    text = str(report)
    assert text.startswith("verification FAILED: 2 of")
    assert "(finite differences, taylor remainder)" in text.splitlines()[0]
    assert "FAIL  finite differences" in text and "FAIL  taylor remainder" in text
    gradient = la.solve(program).gradient
    np.testing.assert_allclose(gradient[0], -np.cos(-0.28) * -0.4 + np.exp(0.7))


def test_the_corrupted_rule_does_not_outlive_its_test():
    assert "bad_sin" not in PRIMITIVES


def test_no_global_state_changes():
    example = la.examples.domke()
    program = example.program()
    point = tuple(np.copy(x) for x in example.graph.point)
    values = program.values.flat.copy()
    rng_state = np.random.get_state()  # noqa: NPY002  (the legacy global state must not move)
    errstate = np.geterr()
    schedules, primitives = list(la.SCHEDULES), list(PRIMITIVES)
    first = la.verify(program, n_directions=4, seed=7)
    after = np.random.get_state()  # noqa: NPY002
    assert after[1].tolist() == rng_state[1].tolist() and after[2:] == rng_state[2:]
    assert np.geterr() == errstate
    assert list(la.SCHEDULES) == schedules and list(PRIMITIVES) == primitives
    np.testing.assert_array_equal(program.values.flat, values)
    for a, b in zip(example.graph.point, point):
        np.testing.assert_array_equal(a, b)
    # deterministic: the same seed gives the same report
    assert la.verify(program, n_directions=4, seed=7) == first


def test_directions_are_unit_and_shaped_like_the_inputs():
    point = (np.zeros((2, 3)), np.zeros(()), np.zeros(4))
    directions = random_directions(point, 3, seed=1)
    assert len(directions) == 3
    for d in directions:
        assert [di.shape for di in d] == [(2, 3), (), (4,)]
        assert sum(np.sum(di**2) for di in d) == pytest.approx(1.0)
    assert not np.allclose(directions[0][0], directions[1][0])


def test_array_inputs():
    graph = la.trace(lambda w, x: la.sum(la.tanh(w @ x)) + la.sum(w**2),
                     np.arange(6.0).reshape(2, 3) / 5, np.array([0.3, -0.2, 0.1]))
    check_passes(la.verify(la.Program(graph)))


def test_linear_function_has_remainders_at_rounding_level():
    graph = la.trace(lambda x, y: 3.0 * x - y, 0.2, 0.4)
    report = la.verify(la.Program(graph), methods=())
    taylor = report.checks[-1]
    assert report.ok and taylor.error == 0.0 and "rounding level" in taylor.detail


def test_taylor_steps_that_leave_the_domain_are_dropped():
    # log(x) at x = 0.05: the steps h = 0.1 and 0.046 along d = -1 leave the domain
    graph = la.trace(lambda x: la.log(x) * 2.0, 0.05)
    report = la.verify(la.Program(graph), methods=(), n_directions=4)
    assert report.ok, str(report)


def test_theil_sen_ignores_one_outlier():
    x = np.log(np.geomspace(1e-1, 1e-4, 7))
    y = 2 * x
    y[0] += 3.0
    assert theil_sen_slope(x, y) == pytest.approx(2.0)


def test_bad_arguments():
    program = la.examples.lecture().program()
    with pytest.raises(la.LagrangeADError, match="needs a Program"):
        la.verify(program.graph)
    with pytest.raises(la.LagrangeADError, match="n_directions"):
        la.verify(program, n_directions=0)
