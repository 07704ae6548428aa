"""`compare` on the second adjoint system A^T mu = W t (``order=2``)."""

import numpy as np
import pytest

import lagrange_ad as la
from lagrange_ad import examples
from lagrange_ad.compare import REFUSED, SOLVED, compare, default_direction, second_system
from lagrange_ad.errors import LagrangeADError, OrderError, ShapeError
from lagrange_ad.hessian import SECOND_ADJOINT_METHODS, SecondOrder
from lagrange_ad.program.second_order import second_adjoints

FAST = ["reverse", "forward", "gauss-seidel", "jacobi", "spsolve", "gmres", "bicgstab", "lsqr",
        "dual-descent", "paths"]


def programs():
    return [examples.lecture().program(), examples.mlp().program()]


@pytest.mark.parametrize("index", [0, 1], ids=["lecture", "mlp"])
def test_every_schedule_agrees_with_the_reverse_mu(index):
    program = programs()[index]
    comparison = compare(program, FAST, progress=False, track_memory=False, order=2)
    assert comparison.order == 2
    direction = default_direction(program)
    mu_ref = second_adjoints(program, SecondOrder(program).multipliers, direction)
    hvp = SecondOrder(program).hvp(direction)
    for g, h in zip(comparison.gradient, hvp):
        np.testing.assert_allclose(g, h, rtol=1e-10, atol=1e-12)
    scale = max(1.0, float(np.max(np.abs(mu_ref.flat))))
    for row in comparison.rows:
        if row.method in SECOND_ADJOINT_METHODS:
            assert row.status == SOLVED, row
            assert row.max_rel_diff < 1e-6, row
            mu = comparison.solutions[row.label].multipliers.flat
            np.testing.assert_allclose(mu, mu_ref.flat, atol=1e-6 * scale)
            if row.method in ("gauss-seidel", "jacobi", "gmres"):
                residuals = comparison.solutions[row.label].residuals
                assert len(residuals) >= 1 and residuals[-1] < 1e-6 * scale
        else:
            assert row.status == REFUSED
            assert "second adjoint system" in row.note


def test_mu_from_compare_equals_the_second_order_module():
    program = examples.lecture().program()
    direction = (np.array(1.0), np.array(-0.5), np.array(2.0))
    comparison = compare(program, ["reverse"], progress=False, track_memory=False, order=2,
                         direction=direction)
    mu = second_adjoints(program, SecondOrder(program).multipliers, direction)
    np.testing.assert_allclose(comparison.solutions["reverse"].multipliers.flat, mu.flat,
                               rtol=1e-12, atol=1e-14)
    system, _ = second_system(program, direction)
    assert comparison["reverse"].kkt_residual == pytest.approx(
        system.kkt_residual(mu.flat), abs=1e-12)


def test_lecture_hvp_is_the_hessian_times_the_direction():
    program = examples.lecture().program()
    direction = (np.array(0.3), np.array(1.0), np.array(-2.0))
    comparison = compare(program, ["gmres"], progress=False, track_memory=False, order=2,
                         direction=direction)
    hessian = SecondOrder(program).matrix()
    np.testing.assert_allclose(np.concatenate([np.ravel(g) for g in comparison.gradient]),
                               hessian @ np.array([0.3, 1.0, -2.0]), rtol=1e-10)


def test_order_one_is_unchanged():
    comparison = compare(examples.lecture().program(), ["reverse"], progress=False,
                         track_memory=False)
    assert comparison.order == 1 and comparison.direction is None


@pytest.mark.parametrize("order", [0, 3, "x", 1.5, True])
def test_bad_order_is_named(order):
    with pytest.raises(OrderError):
        compare(examples.lecture().program(), ["reverse"], progress=False, order=order)
    assert issubclass(OrderError, LagrangeADError)


def test_bad_direction_is_a_shape_error():
    with pytest.raises(ShapeError):
        compare(examples.lecture().program(), ["reverse"], progress=False, order=2,
                direction=(np.zeros(2),))


def test_default_direction_is_reproducible():
    program = examples.lecture().program()
    a, b = default_direction(program), default_direction(program)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert la.compare is compare or callable(la.compare)


@pytest.mark.parametrize("name", ["fixed_cos", "jacobi_solve", "pagerank", "equilibrium"])
def test_the_reverse_sweep_through_cycles_solves_the_second_system(name):
    # the sweep over the condensation starts from w, not from e_N, in both of its forms
    program = examples.get(name).program()
    system, direction = second_system(program)
    mu = la.solve(system, "reverse").multipliers.flat
    by_lu = la.solve(system, "spsolve").multipliers.flat
    np.testing.assert_allclose(mu, by_lu, rtol=1e-8, atol=1e-10 * max(1.0, np.abs(by_lu).max()))
    hvp = np.concatenate([np.ravel(h) for h in SecondOrder(program).hvp(direction)])
    np.testing.assert_allclose(mu[:hvp.size], hvp, rtol=1e-8, atol=1e-10)
