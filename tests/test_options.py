"""Every schedule checks every option before it runs, and names what it accepts."""

import numpy as np
import pytest

import lagrange_ad as la
from lagrange_ad.errors import OptionError
from lagrange_ad.schedules.options import choice, flag, integer, real
from lagrange_ad.schedules.registry import Outcome, Schedule


def lecture():
    return la.examples.lecture().program()


TOLERANCES = ("tol", "rtol", "atol")
CAPS = ("maxiter", "steps", "restart", "max_paths", "max_size")
NOT_A_VALUE = object()


def bad_options():
    """(schedule, options, the text the error must hold) for every registered schedule."""
    cases = []
    names = list(la.SCHEDULES)
    for k, (name, schedule) in enumerate(la.SCHEDULES.items()):
        cases.append((name, {"frobnicate": 1}, "has no option 'frobnicate'"))
        # an option that only some other schedule has
        foreign = next((option for other in names[k + 1:] + names[:k]
                        for option in la.SCHEDULES[other].options
                        if option not in schedule.options), None)
        if foreign is not None:
            cases.append((name, {foreign: 1}, f"'{foreign}' is an option of"))
        if schedule.accepts is None:
            continue  # known by name only, which test_every_schedule_declares_its_options forbids
        for option in schedule.options:
            cases.append((name, {option: NOT_A_VALUE}, option))
            if option in TOLERANCES:
                cases.append((name, {option: -1e-3}, f"{option}=-0.001"))
            if option in CAPS:
                cases.append((name, {option: 0}, f"{option}=0"))
                cases.append((name, {option: -2}, f"{option}=-2"))
    return cases


CASES = bad_options()


@pytest.mark.parametrize("method, options, needle", CASES,
                         ids=[f"{m}-{'-'.join(o)}-{n[:20]}" for m, o, n in CASES])
def test_every_schedule_refuses_every_bad_option(method, options, needle):
    with pytest.raises(la.MethodNotApplicableError) as info:
        la.solve(lecture(), method, **options)
    assert needle in str(info.value)
    assert f"'{method}'" in str(info.value)


def test_the_table_covers_every_schedule_and_the_usual_mistakes():
    methods = {method for method, _, _ in CASES}
    assert methods == set(la.SCHEDULES)
    needles = " ".join(needle for _, _, needle in CASES)
    for kind in ("tol=-0.001", "maxiter=0", "maxiter=-2", "is an option of", "has no option"):
        assert kind in needles


def test_every_schedule_declares_its_options():
    undeclared = {name for name, schedule in la.SCHEDULES.items() if schedule.accepts is None}
    assert undeclared == set()


@pytest.mark.parametrize("method", [name for name, s in la.SCHEDULES.items()
                                    if s.accepts is not None])
def test_declared_schedules_raise_option_error_listing_their_options(method):
    schedule = la.SCHEDULES[method]
    with pytest.raises(OptionError) as info:
        la.solve(lecture(), method, frobnicate=1)
    message = str(info.value)
    assert message.startswith(f"method '{method}' has no option 'frobnicate'")
    assert f"its options are: {', '.join(schedule.options)}" in message
    listing = schedule.describe_options()
    for option in schedule.accepts:
        assert f"{option.name} (" in listing and option.doc in listing


# options that are well formed but do not apply to the program or to the other options
INAPPLICABLE = [
    ("gauss-seidel", {"seed": 3}, "seed only seeds order='random'", lecture),
    ("nlp", {"perturbation": 0.1}, "pass start='perturbed'", lecture),
    ("forward", {"inputs_only": True, "check": True}, "computes the gradient alone", lecture),
    ("forward", {"inputs_only": True, "seeds": [(1.0, 0.0, 0.0)]}, "exclude each other",
     lecture),
    ("spsolve", {"triangular": True}, "triangular=True needs a DAG",
     lambda: la.examples.fixed_cos().program()),
]


@pytest.mark.parametrize("method, options, needle, factory", INAPPLICABLE,
                         ids=[f"{m}-{'-'.join(o)}" for m, o, _, _ in INAPPLICABLE])
def test_inapplicable_options_are_named(method, options, needle, factory):
    with pytest.raises(OptionError, match="does not apply") as info:
        la.solve(factory(), method, **options)
    assert needle in str(info.value)


def test_the_same_options_where_they_apply_run():
    program = lecture()
    assert la.solve(program, "gauss-seidel", order="random", seed=3).converged
    assert la.solve(program, "nlp", start="perturbed", perturbation=0.1).converged
    assert la.solve(program, "forward", inputs_only=True, check=False).converged
    assert la.solve(program, "spsolve", triangular=True).converged


@pytest.mark.parametrize("method, options, needle", [
    ("jacobi", {"omega": 2.0}, "with 0 < omega < 2"),
    ("jacobi", {"tol": float("inf")}, "expected a finite number with tol >= 0"),
    ("gmres", {"maxiter": 2.0}, "expected an int with maxiter >= 1, or None"),
    ("gmres", {"matrix_free": 1}, "expected True or False"),
    ("dual-descent", {"algorithm": "newton"}, "'newton' is unknown; expected one of 'cg'"),
    ("bicgstab", {"seed": True}, "seed=True: expected an int"),
])
def test_messages_say_what_is_expected(method, options, needle):
    with pytest.raises(OptionError, match=needle.replace("(", r"\(")):
        la.solve(lecture(), method, **options)


def test_numpy_scalars_are_accepted():
    program = lecture()
    solution = la.solve(program, "jacobi", tol=np.float64(1e-12), maxiter=np.int64(50))
    assert solution.converged


def _run(program, *, tol=1e-8, maxiter=None, mode="a", fast=False):
    return Outcome(program.rhs(), 1, True, [], 0)


def test_a_declaration_must_match_the_run_signature():
    declared = (real("tol", 1e-8, "tolerance", low=0),
                integer("maxiter", None, "cap", low=1, none=True),
                choice("mode", "a", ("a", "b"), "mode"), flag("fast", False, "flag"))
    schedule = Schedule("declared", _run, "test", accepts=declared)
    assert schedule.options == ("tol", "maxiter", "mode", "fast")
    with pytest.raises(ValueError, match=r"declares tol=1e-06 but run's default is 1e-08"):
        Schedule("drifted", _run, "test",
                 accepts=(real("tol", 1e-6, "tolerance"),) + declared[1:])
    with pytest.raises(ValueError, match="same names in the same order"):
        Schedule("missing", _run, "test", accepts=declared[:2])
