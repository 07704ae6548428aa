"""The dispatcher: the documented rule for choosing an accelerator, and the reference switch."""

import pytest

from lagrange_ad.accel import dispatch
from lagrange_ad.accel.dispatch import (
    Accelerator,
    accelerator_for,
    accelerators,
    reference_only,
    register_accelerator,
    use_reference,
)


@pytest.fixture
def scratch_registry(monkeypatch):
    """An empty registry for the duration of one test (the real one is restored after)."""
    monkeypatch.setattr(dispatch, "_REGISTRY", [])
    monkeypatch.setattr(dispatch, "_LOADED", [True])
    monkeypatch.delenv(dispatch.ENVIRONMENT_VARIABLE, raising=False)


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
    monkeypatch.setenv(dispatch.ENVIRONMENT_VARIABLE, "1")
    assert reference_only()
    assert accelerator_for("forward", 1) is None
    monkeypatch.setenv(dispatch.ENVIRONMENT_VARIABLE, "0")
    assert not reference_only()
    assert accelerator_for("forward", 1) is not None


def test_accelerator_is_frozen():
    acc = make("x", "forward", lambda: True)
    with pytest.raises(AttributeError):
        acc.name = "y"
