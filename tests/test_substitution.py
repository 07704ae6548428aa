"""Back-substitution along an order of nodes: the reference loop and its accelerator agree,
in the condensation sweep over graphs with cycles and in the Jacobian by adjoints."""

import numpy as np
import pytest
from zoo import dense_multipliers, random_cyclic_graph, traced

import lagrange_ad as la
from lagrange_ad.accel.dispatch import accelerator_for, accelerators, use_reference
from lagrange_ad.accel.kernels import njit
from lagrange_ad.jacobians.jacobian import jacobian
from lagrange_ad.schedules.condensation import condensation_sweep
from lagrange_ad.schedules.substitution import back_substitute, substitute_in_order


def assert_agree(got, want, rtol=1e-12):
    want = np.asarray(want)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(1.0, np.abs(want).max()))


def test_the_compiled_substitution_is_registered_where_numba_is():
    if njit is None:
        pytest.skip("numba is not installed")
    program = la.Program(traced(0)[0])
    accelerator = accelerator_for("back-substitution", program.local_jacobian())
    assert accelerator is not None and accelerator.name == "compiled substitution"
    with use_reference():
        assert accelerator_for("back-substitution", program.local_jacobian()) is None


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("array", [False, True])
def test_every_substitution_agrees_with_the_reference_loop(seed, array):
    program = la.Program(traced(seed, array, n_nodes=25)[0])
    graph, jac = program.graph, program.local_jacobian()
    order = graph.topological_order()[::-1]
    reference = program.rhs()
    reference_spent = substitute_in_order(order, graph.offsets, jac, reference)
    assert_agree(reference, dense_multipliers(program), rtol=1e-6)
    for accelerator in accelerators("back-substitution"):
        if accelerator.serves(jac):
            lam = program.rhs()
            assert accelerator.run(order, graph.offsets, jac, lam) == reference_spent
            assert_agree(lam, reference)
    lam = program.rhs()
    assert back_substitute(order, graph.offsets, jac, lam) == reference_spent
    assert_agree(lam, reference)


@pytest.mark.parametrize("seed", range(3))
def test_the_condensation_sweep_agrees_with_its_reference(seed):
    program = la.Program(random_cyclic_graph(seed, n_nodes=20))
    with use_reference():
        reference, reference_spent, _ = condensation_sweep(program, inner="direct")
    lam, spent, _ = condensation_sweep(program, inner="direct")
    assert_agree(lam, reference)
    assert spent == reference_spent
    # and both solve A^T lam = e_N (J by finite differences, so a looser tolerance)
    assert_agree(reference, dense_multipliers(program), rtol=1e-5)


@pytest.mark.parametrize("array", [False, True])
def test_the_jacobian_by_adjoints_agrees_with_its_reference(array):
    program = la.Program(traced(1, array, n_nodes=25)[0])
    outputs = list(range(len(program.graph)))[-3:]
    with use_reference():
        reference = jacobian(program, outputs, mode="reverse")
    got = jacobian(program, outputs, mode="reverse")
    assert_agree(got.matrix, reference.matrix)
    assert got.multiplications == reference.multiplications
    assert_agree(reference.matrix, jacobian(program, outputs, mode="forward").matrix)
