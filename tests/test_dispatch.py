"""The dispatcher: the documented rule for choosing an accelerator, and the reference switch."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from zoo import random_cyclic_graph, traced

import lagrange_ad as la
from lagrange_ad.accel import dispatch
from lagrange_ad.accel.dispatch import (
    Accelerator,
    accelerator_for,
    accelerators,
    reference_only,
    register_accelerator,
    use_reference,
)
from lagrange_ad.program.values import Reads, forward_propagate, forward_values


@pytest.fixture
def scratch_registry(monkeypatch):
    """An empty registry for the duration of one test (the real one is restored after)."""
    monkeypatch.setattr(dispatch, "_REGISTRY", [])
    monkeypatch.setattr(dispatch, "_LOADED", [True])
    monkeypatch.setattr(dispatch, "ENVIRONMENT_FORCES_REFERENCE", False)


def make(name, task, serves):
    return Accelerator(name=name, task=task, serves=serves, run=lambda *a: name, doc=name)


def test_first_registered_accelerator_that_serves_is_chosen(scratch_registry):
    small = register_accelerator(make("small", "forward", lambda n: n < 10))
    anything = register_accelerator(make("anything", "forward", lambda n: True))
    register_accelerator(make("sweeper", "sweep", lambda n: True))
    assert accelerator_for("forward", 3) is small
    assert accelerator_for("forward", 30) is anything
    assert accelerator_for("sweep", 30).name == "sweeper"
    assert accelerator_for("record", 30) is None
    assert [a.name for a in accelerators("forward")] == ["small", "anything"]


def test_no_accelerator_serves_means_reference(scratch_registry):
    register_accelerator(make("never", "forward", lambda n: False))
    assert accelerator_for("forward", 1) is None


def test_registering_a_name_again_replaces_in_place(scratch_registry):
    register_accelerator(make("a", "forward", lambda n: False))
    register_accelerator(make("b", "forward", lambda n: True))
    replacement = register_accelerator(make("a", "forward", lambda n: True))
    assert [x.name for x in accelerators()] == ["a", "b"]
    assert accelerator_for("forward", 0) is replacement


def test_use_reference_forces_the_reference_path_and_nests(scratch_registry):
    register_accelerator(make("all", "forward", lambda n: True))
    assert not reference_only()
    with use_reference():
        assert reference_only()
        with use_reference():
            assert accelerator_for("forward", 1) is None
        assert reference_only()
    assert not reference_only()
    assert accelerator_for("forward", 1).name == "all"


def test_use_reference_is_restored_after_an_exception(scratch_registry):
    with pytest.raises(RuntimeError), use_reference():
        raise RuntimeError("boom")
    assert not reference_only()


def test_environment_variable_forces_the_reference_path(scratch_registry, monkeypatch):
    register_accelerator(make("all", "forward", lambda n: True))
    monkeypatch.setattr(dispatch, "ENVIRONMENT_FORCES_REFERENCE", True)
    assert reference_only()
    assert accelerator_for("forward", 1) is None
    monkeypatch.setattr(dispatch, "ENVIRONMENT_FORCES_REFERENCE", False)
    assert not reference_only()
    assert accelerator_for("forward", 1) is not None


@pytest.mark.parametrize("value, forced", [("1", True), ("0", False), ("", False)])
def test_the_environment_variable_is_read_when_the_library_is_imported(value, forced):
    code = ("import lagrange_ad as la; from lagrange_ad.accel.dispatch import reference_only, "
            "accelerator_for; print(reference_only(), "
            "accelerator_for('sweep', la.examples.lecture().program(), 'partials', False) is None)")
    env = {**os.environ, dispatch.ENVIRONMENT_VARIABLE: value}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == [str(forced), str(forced)]


def test_accelerator_is_frozen():
    acc = make("x", "forward", lambda: True)
    with pytest.raises(AttributeError):
        acc.name = "y"


# ----------------------------------------------------------------- reference against accelerated


def _subjects():
    """(name, graph, point): the zoo's examples and generated graphs, scalar and array,
    acyclic and cyclic, some large enough that every accelerator has work."""
    cases = [(f"example-{name}", e.graph, e.point) for name, e in
             ((name, factory()) for name, factory in la.examples.EXAMPLES.items())]
    for seed in range(3):
        for array in (False, True):
            graph, _, point = traced(seed, array, n_nodes=20)
            cases.append((f"traced-{seed}-{'array' if array else 'scalar'}", graph, point))
        cyclic = random_cyclic_graph(seed)
        cases.append((f"cyclic-{seed}", cyclic, cyclic.point))
    dag = la.examples.random_dag(n=3000, seed=1)
    cases.append(("random-dag-3000", dag.graph, dag.point))
    wide = np.random.default_rng(2).standard_normal((30, 40))
    layer = la.trace(lambda w: la.sum(la.tanh(wide @ w) * 0.5) + la.sum(la.exp(w) * w),
                     0.1 * np.ones((40, 30)))
    cases.append(("array-layer", layer, layer.point))
    return cases


SUBJECTS = _subjects()


def _gradients(graph, point):
    """la.grad of the graph (the shortcut's plan) and the full program's solve."""
    by_grad = la.grad(graph)(*point)
    by_solve = la.solve(la.Program(graph, *point), check=False).gradient
    return [np.asarray(g) for g in (*by_grad, *by_solve)]


@pytest.mark.parametrize("name, graph, point", SUBJECTS, ids=[s[0] for s in SUBJECTS])
def test_the_reference_path_gives_the_accelerated_gradients(name, graph, point):
    accelerated = _gradients(graph, point)
    with use_reference():
        reference = _gradients(graph, point)
    for got, want in zip(accelerated, reference):
        scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * scale)


def test_the_agreement_cases_exercise_every_forward_accelerator():
    gradient = Reads.by_schedule("reverse", {"check": False, "gradient_only": True})
    chosen = {accelerator_for("forward", graph, gradient) for _, graph, _ in SUBJECTS}
    assert set(accelerators("forward")) <= chosen
    with use_reference():
        assert {accelerator_for("forward", graph, gradient) for _, graph, _ in SUBJECTS} \
            == {None}


def test_the_reference_forward_runs_no_accelerator(monkeypatch):
    # with the switch on, not even the dispatcher's predicates are asked
    def refuse(*subject):
        raise AssertionError("an accelerator was consulted")

    graph = la.examples.random_dag(n=500, seed=3).graph
    monkeypatch.setattr(dispatch, "_REGISTRY", [
        dataclasses.replace(a, serves=refuse) for a in accelerators()])
    with use_reference():
        values = forward_values(graph, graph.point).values
    np.testing.assert_allclose(values.flat, forward_propagate(graph, graph.point).values.flat,
                               rtol=0, atol=0)


@pytest.mark.parametrize("bad, error", [
    ({"op": "sin", "params": {"exponent": 2.0}}, la.GraphError),
    ({"op": "sum", "params": {"axis": (0,)}}, la.ShapeError),
])
def test_scalar_validation_refuses_what_the_reference_refuses(bad, error):
    lecture = la.examples.lecture().graph
    op_names = lecture.op_names + (bad["op"],)
    fields = dict(op_names=op_names, op=np.r_[lecture.op, len(op_names) - 1],
                  parent_ptr=np.r_[lecture.parent_ptr, lecture.parent_ptr[-1] + 1],
                  parent_idx=np.r_[lecture.parent_idx, 8], shape_table=lecture.shape_table,
                  shape_id=np.r_[lecture.shape_id, 0],
                  param_table=lecture.param_table + (bad["params"],),
                  param_id=np.r_[lecture.param_id, len(lecture.param_table)],
                  n_inputs=3, output=9)
    assert accelerator_for("validate", lecture).name == "scalar-validation"
    with pytest.raises(error, match="v9|sum") as accelerated:
        la.Graph(**fields)
    with use_reference(), pytest.raises(error) as reference:
        la.Graph(**fields)
    assert type(accelerated.value) is type(reference.value)


REFERENCE_MODULES = sorted([*(Path(la.__file__).parent / "graph").glob("*.py"),
                            *(Path(la.__file__).parent / "program").glob("*.py"),
                            Path(la.__file__).parent / "grad.py"])


@pytest.mark.parametrize("path", REFERENCE_MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_reference_modules_hold_no_fast_path(path):
    # the fast paths live in accel/: no compiler, no reference counting, no scalar-graph
    # special case, no memory mode, and no decision by a schedule's name
    text = path.read_text()
    for marker in ("numba", "getrefcount", "shape_table == ((),)", "keep=", ".accel.kernels",
                   ".accel.compiled", 'name == "reverse"'):
        assert marker not in text, f"{path.name} holds {marker!r}"


def _second_order_subjects():
    """The agreement cases whose Hessian-vector products exist (scalar output, every primitive
    with a curvature rule), with a seeded direction."""
    from lagrange_ad.errors import NoCurvatureRuleError, NonScalarOutputError
    from lagrange_ad.program.second_order import require_second_order

    cases = []
    for name, graph, point in SUBJECTS:
        program = la.Program(graph, *point)
        try:
            program.require_scalar_output()
            require_second_order(program)
        except (NoCurvatureRuleError, NonScalarOutputError):
            continue
        rng = np.random.default_rng(len(cases))
        cases.append((name, graph, point, tuple(rng.standard_normal(np.shape(x)) for x in point)))
    return cases


SECOND_ORDER_SUBJECTS = _second_order_subjects()


@pytest.mark.parametrize("name, graph, point, direction", SECOND_ORDER_SUBJECTS,
                         ids=[s[0] for s in SECOND_ORDER_SUBJECTS])
def test_the_reference_path_gives_the_accelerated_hessian_vector_products(name, graph, point,
                                                                          direction):
    from lagrange_ad.hessian import SecondOrder

    accelerated = SecondOrder(la.Program(graph, *point)).hvp(direction)
    with use_reference():
        reference = SecondOrder(la.Program(graph, *point)).hvp(direction)
    for got, want in zip(accelerated, reference):
        scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * scale)


def test_the_second_order_cases_exercise_the_kkt_solves_accelerator():
    from lagrange_ad.hessian import SecondOrder

    served = [name for name, graph, point, _ in SECOND_ORDER_SUBJECTS
              if SecondOrder(la.Program(graph, *point)).form == "partials"
              and accelerator_for("kkt solves", la.Program(graph, *point)) is not None]
    assert "random-dag-3000" in served and any(name.startswith("example-") for name in served)
    assert any(name.startswith("cyclic-") for name, *_ in SECOND_ORDER_SUBJECTS)
