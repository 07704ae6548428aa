"""Conformance table, imported models: the PyTorch and JAX example models crossed with every
registered schedule.

The graphs are made by `la.from_torch` (`lagrange_ad.examples.torch_models`) and `la.from_jax`
(`lagrange_ad.examples.jax_models`), once per session and only when the framework imports. The
reference of each is the framework's own gradient (``torch.autograd``, ``jax.grad``) with
respect to every graph input; every schedule must reproduce it to its tolerance in
`test_conformance.TOLERANCE` (1e-10 for the exact ones), or refuse with a declared reason, or
report a declared non-convergence, as the table of the numpy programs does.
"""

import numpy as np
import pytest
from test_conformance import OPTIONS, TOLERANCE, relative_error

import lagrange_ad as la
from lagrange_ad.examples import jax_models, torch_models

MODELS = [("torch", name) for name in torch_models.MODELS] + \
         [("jax", name) for name in jax_models.MODELS]
ACYCLIC = [f"{framework}:{name}" for framework, name in MODELS]

# (model, method) -> the words the refusal must contain. No imported model has a cycle; nlp
# factors dense matrices of at most 200 scalar variables (jax:rnn and jax:fori have fewer)
REFUSALS = {(model, "unrolled"): "no cycle" for model in ACYCLIC}
REFUSALS |= {(model, "nlp"): "max_size" for model in ACYCLIC
             if model not in ("jax:rnn", "jax:fori")}
# the CNN (39,326 scalar variables, 28x28 images) and the encoder layer (25,315): a tangent
# sweep per entry, or Krylov and dual iterations up to 2 N, cost over the default budget of
# 1e9 multiply-adds; cvxpy's linearized program is over its max_size of 20,000 variables
for big in ("torch:cnn", "torch:transformer"):
    REFUSALS |= {(big, method): "multiply-adds"
                 for method in ("forward", "gmres", "bicgstab", "lsqr", "dual-descent")}
    REFUSALS[big, "cvxpy"] = "max_size"
# gmres restarts keep 100 vectors of 3,334 (2,689) entries over up to 2 N iterations: over budget
REFUSALS |= {("torch:lstm", "gmres"): "multiply-adds", ("torch:gru", "gmres"): "multiply-adds"}
# from 4e5 to 6e15 paths to the output, over the table's max_paths of 1e5
REFUSALS |= {(model, "paths"): "max_paths" for model in
             ("torch:cnn", "torch:transformer", "torch:lstm", "torch:gru", "jax:attention")}

# (model, method) -> the words of the message of a declared non-convergence: A^T of the
# attention block (layer normalization, softmax) spans many scales, and the normal equations
# of lsqr and dual descent square its condition number; their default caps stop near 1e-7
NONCONVERGENCE = {("jax:attention", "lsqr"): "iteration cap",
                  ("jax:attention", "dual-descent"): "did NOT meet"}


def torch_case(name: str):
    """The program of a PyTorch model and torch.autograd's gradient in each graph input."""
    from test_from_torch import torch_reference

    module, args = torch_models.MODELS[name]()
    graph = la.from_torch(module, *args)
    _, by_name, floats = torch_reference(module, args)
    names = [graph.names[i] for i in graph.inputs]
    assert names[:len(by_name)] == list(by_name)  # parameters, then the float arguments
    return la.Program(graph), list(by_name.values()) + floats


def jax_case(name: str):
    """The program of a JAX model and jax.grad's gradient in each graph input."""
    from test_from_jax import jax_value_and_gradient

    function, args = jax_models.MODELS[name]()
    graph = la.from_jax(function, *args)
    return la.Program(graph), jax_value_and_gradient(function, args)[1]


@pytest.fixture(scope="session")
def imported():
    """Each framework's programs and references, built on first use, once per session."""
    built: dict = {}

    def case(framework: str, name: str):
        if framework not in built:
            pytest.importorskip(framework)
            make = torch_case if framework == "torch" else jax_case
            models = torch_models.MODELS if framework == "torch" else jax_models.MODELS
            built[framework] = {model: make(model) for model in models}
        return built[framework][name]

    return case


@pytest.mark.parametrize("method", list(la.SCHEDULES))
@pytest.mark.parametrize(("framework", "name"), MODELS)
def test_every_method_on_every_imported_model(imported, framework, name, method):
    program, reference = imported(framework, name)
    model = f"{framework}:{name}"
    assert program.graph.is_acyclic
    assert len(reference) == program.graph.n_inputs
    assert method in TOLERANCE, f"declare the tolerance of the new schedule {method!r}"
    declared = REFUSALS.get((model, method))
    try:
        solution = la.solve(program, method, **OPTIONS.get(method, {}))
    except la.MethodNotApplicableError as refusal:
        assert declared is not None, f"{method} refused {model} without a declared reason: " \
                                     f"{refusal}"
        assert declared in str(refusal)
        return
    assert declared is None, f"{method} was expected to refuse {model} ({declared})"
    if (model, method) in NONCONVERGENCE:
        assert not solution.converged and NONCONVERGENCE[model, method] in solution.message
        return
    assert solution.converged, solution.message
    for got, expected in zip(solution.gradient, reference, strict=True):
        assert np.shape(got) == np.shape(expected)
        error = relative_error(got, expected)
        assert error <= TOLERANCE[method], f"{method} on {model}: gradient off by {error:.3g}"
