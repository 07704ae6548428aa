"""Direct, Krylov, optimization and path-sum schedules against the reverse sweep.

Every schedule solves ``A^T lam = e_N``; the reverse sweep's multipliers are the reference.
Agreement is checked entry by entry as ``|lam - lam_rev| <= rtol * max|lam_rev|`` (multipliers
of a random DAG span many orders of magnitude, so a per-entry relative test would only measure
round-off in the tiny ones), with these tolerances:

    spsolve, paths            1e-10   (direct: round-off only)
    gmres, bicgstab           1e-9    (rtol=1e-12 on a residual of norm 1)
    lsqr                      1e-7    (normal equations square the condition number)
    nlp                       1e-8    (from the forward values 1e-12)
    cvxpy                     1e-6    (interior-point duals; CLARABEL reaches ~1e-13)
"""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, splu
from zoo import random_cyclic_graph, singular_cycle, traced

import lagrange_ad as la
from lagrange_ad.errors import SingularKKTError
from lagrange_ad.schedules.direct import entry_permutation, solve_lu_transposed
from lagrange_ad.schedules.krylov import krylov_outcome
from lagrange_ad.schedules.nlp import kkt_matrix_at
from lagrange_ad.schedules.paths import count_paths

TOLERANCE = {"spsolve": 1e-10, "paths": 1e-10, "gmres": 1e-9, "bicgstab": 1e-9, "lsqr": 1e-7,
             "nlp": 1e-8, "cvxpy": 1e-6}
METHODS = tuple(TOLERANCE)


def lecture():
    return la.examples.lecture().program()


def domke():
    return la.examples.domke().program()


def random_dag():
    return la.examples.random_dag(n=300).program()


def traced_array(seed):
    return lambda: la.Program(traced(seed, array=True)[0])


def traced_scalar(seed):
    return lambda: la.Program(traced(seed, array=False)[0])


# (name, program factory, options per method, methods declared to refuse and why)
CASES = [
    ("lecture", lecture, {}, {}),
    ("domke", domke, {}, {}),
    ("random_dag(300)", random_dag, {"lsqr": {"matrix_free": False}},
     {"nlp": "300 scalar variables > max_size=200"}),
    *[(f"traced array {seed}", traced_array(seed), {}, {}) for seed in range(3)],
    *[(f"traced scalar {seed}", traced_scalar(seed), {}, {}) for seed in range(3)],
]


def assert_agrees(lam, reference, rtol):
    scale = np.max(np.abs(reference))
    np.testing.assert_allclose(lam, reference, rtol=0, atol=rtol * scale)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name, factory, options, refusals", CASES, ids=[c[0] for c in CASES])
def test_schedule_agrees_with_reverse(method, name, factory, options, refusals):
    program = factory()
    reference = la.solve(program, "reverse").multipliers.flat
    if method in refusals:
        with pytest.raises(la.MethodNotApplicableError, match="max_size"):
            la.solve(program, method)
        return
    solution = la.solve(program, method, **options.get(method, {}))
    assert solution.converged, solution.message
    assert_agrees(solution.multipliers.flat, reference, TOLERANCE[method])
    assert solution.multipliers[program.graph.output] == pytest.approx(1.0, abs=1e-6)
    assert solution.kkt_residual <= 10 * TOLERANCE[method]
    assert solution.stats.multiply_adds > 0
    assert solution.iterations >= 1 or method == "cvxpy"  # cvxpy does not count its own


# ----------------------------------------------------------------- spsolve


def test_topological_entry_order_makes_A_unit_lower_triangular():
    program = la.Program(traced(1, array=True)[0])
    graph = program.graph
    assert graph.total_size > len(graph)  # nodes with several entries
    perm = entry_permutation(graph, graph.topological_order())
    assert sorted(perm.tolist()) == list(range(graph.total_size))
    a = program.kkt_matrix().toarray()[np.ix_(perm, perm)]
    np.testing.assert_array_equal(np.triu(a, 1), 0)
    np.testing.assert_array_equal(np.diag(a), 1)


def test_entry_permutation_keeps_each_node_block_together():
    b = la.GraphBuilder()
    x = b.input((2,))
    y = b.input((3,))
    b.add("sum", b.add("concatenate", y, x, axis=0), axis=None)
    graph = b.build()
    np.testing.assert_array_equal(entry_permutation(graph, np.array([1, 0, 2, 3])),
                                  [2, 3, 4, 0, 1, 5, 6, 7, 8, 9, 10])


def test_spsolve_triangular_and_lu_agree_and_count_the_factor():
    program = la.examples.random_dag(n=500, seed=2).program()
    triangular = la.solve(program, "spsolve")
    lu = la.solve(program, "spsolve", triangular=False)
    assert triangular.stats.extra["triangular"] and not lu.stats.extra["triangular"]
    assert_agrees(lu.multipliers.flat, triangular.multipliers.flat, 1e-12)
    # back substitution with a unit diagonal applies every off-diagonal entry of A, i.e. every
    # nonzero of J (the sparse difference I - J drops J's explicit zeros, as x - x gives)
    assert triangular.stats.multiply_adds == np.count_nonzero(program.local_jacobian().data)
    factor = splu(program.kkt_matrix().T.tocsc())
    assert lu.stats.multiply_adds == factor.L.nnz - program.graph.total_size + factor.U.nnz
    assert triangular.iterations == lu.iterations == 1


def test_singular_kkt_matrix_raises_instead_of_nan():
    program = la.Program(singular_cycle(), 1.0)
    with pytest.raises(SingularKKTError, match="singular.*gradient does not exist"):
        la.solve(program, "spsolve")
    with pytest.raises(la.LagrangeADError, match="triangular=True needs a DAG"):
        la.solve(program, "spsolve", triangular=True)
    # nearly singular: a pivot at round-off level is reported too, not a huge answer
    nearly = sp.csr_array(np.array([[1.0, -1.0], [-1.0, 1.0 + np.finfo(float).eps]]))
    with pytest.raises(SingularKKTError, match="numerically singular"):
        solve_lu_transposed(nearly, np.array([0.0, 1.0]))


@pytest.mark.parametrize("seed", range(3))
def test_direct_and_krylov_solve_cyclic_graphs(seed):
    program = la.Program(random_cyclic_graph(seed, n_cycles=2, n_nodes=12))
    assert not program.graph.is_acyclic
    lu = la.solve(program, "spsolve")
    assert not lu.stats.extra["triangular"]
    assert lu.kkt_residual <= 1e-12
    for method in ("gmres", "bicgstab", "lsqr"):
        solution = la.solve(program, method)
        assert solution.converged, (method, solution.message)
        assert_agrees(solution.multipliers.flat, lu.multipliers.flat, TOLERANCE[method])
    with pytest.raises(la.MethodNotApplicableError, match="infinitely many paths"):
        la.solve(program, "paths")


# ----------------------------------------------------------------- Krylov


def test_gmres_terminates_within_depth_plus_one_iterations_on_a_dag():
    # J^T is nilpotent of index <= depth + 1, so unrestarted GMRES is exact by then
    program = la.examples.random_dag(n=400, seed=5).program()
    solution = la.solve(program, "gmres", restart=400)
    assert solution.converged
    assert solution.iterations <= program.graph.depth + 1
    assert len(solution.residuals) == solution.iterations + 1
    assert solution.residuals[-1] == pytest.approx(program.kkt_residual(solution), abs=1e-15)


def test_gmres_iteration_cap_reports_not_converged():
    program = random_dag()
    solution = la.solve(program, "gmres", maxiter=1, restart=2)
    assert not solution.converged
    assert solution.iterations == 2
    assert "iteration cap" in solution.message
    assert solution.kkt_residual > 1e-6


def test_krylov_multiply_adds_count_operator_applications():
    program = lecture()
    solution = la.solve(program, "bicgstab")
    applications = solution.stats.extra["operator_applications"]
    assert applications >= solution.iterations
    assert solution.stats.multiply_adds == applications * int(program.multiply_adds.sum())
    # bicgstab records the true KKT residual of every iterate
    assert solution.residuals[-1] == pytest.approx(program.kkt_residual(solution), abs=1e-15)


def test_krylov_matrix_free_and_assembled_operators_agree():
    program = random_dag()
    free = la.solve(program, "gmres")
    assembled = la.solve(program, "gmres", matrix_free=False)
    assert free.iterations == assembled.iterations
    assert_agrees(free.multipliers.flat, assembled.multipliers.flat, 1e-12)


def test_exact_preconditioner_converges_in_one_iteration():
    program = random_dag()
    n = program.graph.total_size
    factor = splu(program.kkt_matrix().T.tocsc())
    M = LinearOperator((n, n), matvec=factor.solve, dtype=np.float64)
    reference = la.solve(program).multipliers.flat
    for method in ("gmres", "bicgstab"):
        solution = la.solve(program, method, M=M)
        assert solution.converged and solution.iterations <= 2, (method, solution.iterations)
        assert_agrees(solution.multipliers.flat, reference, 1e-9)


def test_bad_preconditioner_is_named():
    program = lecture()
    with pytest.raises(la.LagrangeADError, match="option M"):
        la.solve(program, "gmres", M=np.eye(3))
    with pytest.raises(la.LagrangeADError, match="named preconditioners"):
        la.solve(program, "bicgstab", M="jacobi")


def test_krylov_breakdown_raises_convergence_error_with_the_trace():
    def broken(op, rhs, history):
        history.extend([1.0, 0.5])
        return rhs, -10, 2, False, "rho breakdown"

    with pytest.raises(la.ConvergenceError, match="broke down") as info:
        krylov_outcome(lecture(), "bicgstab", broken, matrix_free=True)
    assert info.value.residuals == (1.0, 0.5) and info.value.iterations == 2


def test_lsqr_iteration_cap_reports_not_converged():
    solution = la.solve(random_dag(), "lsqr", maxiter=3, matrix_free=False)
    assert not solution.converged and solution.iterations == 3
    assert "iteration cap" in solution.message


# ----------------------------------------------------------------- cvxpy


@pytest.mark.parametrize("factory", [lecture, domke, random_dag, traced_array(4)])
def test_cvxpy_duals_are_the_multipliers_node_by_node(factory):
    program = factory()
    reverse = la.solve(program).multipliers
    solution = la.solve(program, "cvxpy")
    assert solution.converged and solution.stats.extra["status"] == "optimal"
    scale = np.max(np.abs(reverse.flat))
    # lam = +dual (no sign flip): the output's multiplier is +1, not -1
    assert solution.multipliers[program.graph.output] == pytest.approx(1.0, rel=1e-6)
    for i in range(len(program.graph)):
        np.testing.assert_allclose(solution.multipliers[i], reverse[i], rtol=1e-6,
                                   atol=1e-9 * scale, err_msg=program.graph.describe(i))


def test_cvxpy_refuses_large_programs_and_unknown_solvers():
    program = random_dag()
    with pytest.raises(la.MethodNotApplicableError, match="max_size=100"):
        la.solve(program, "cvxpy", max_size=100)
    with pytest.raises(la.LagrangeADError, match="not installed"):
        la.solve(lecture(), "cvxpy", solver="NO_SUCH_SOLVER")


# ----------------------------------------------------------------- nlp


def test_nlp_from_a_perturbed_start_reaches_the_forward_values():
    program = la.Program(traced(2, array=True)[0])
    reverse = la.solve(program).multipliers.flat
    solution = la.solve(program, "nlp", start="perturbed")
    assert solution.converged and solution.iterations > 1
    assert solution.stats.extra["distance_to_forward_values"] < 1e-8
    assert_agrees(solution.multipliers.flat, reverse, 1e-8)
    exact = la.solve(program, "nlp")  # the forward values are feasible: one iteration
    assert exact.iterations == 1
    assert_agrees(exact.multipliers.flat, reverse, 1e-12)


def test_nlp_refuses_large_programs_and_bad_options():
    with pytest.raises(la.MethodNotApplicableError, match="300 scalar variables.*max_size=200"):
        la.solve(random_dag(), "nlp")
    with pytest.raises(la.LagrangeADError, match="start='middle'"):
        la.solve(lecture(), "nlp", start="middle")


def test_kkt_matrix_at_other_values_matches_a_program_there():
    graph = la.examples.lecture().graph
    program = la.Program(graph)
    there = la.Program(graph, 2.5, -0.5, 0.25)
    np.testing.assert_allclose(kkt_matrix_at(program, there.values.flat).toarray(),
                               there.kkt_matrix().toarray(), rtol=1e-15)
    assert not np.allclose(program.kkt_matrix().toarray(), there.kkt_matrix().toarray())


# ----------------------------------------------------------------- paths


def fully_connected(n: int, x: float = 0.3) -> la.Graph:
    """The lecture's fully connected graph: ``v_k = sin(mean(v_1, ..., v_{k-1}))``, v_1 = x.

    Every node uses every earlier node, so the paths from v_1 to v_k satisfy
    ``P(k) = P(1) + ... + P(k-1)`` with ``P(1) = P(2) = 1``: ``P(n) = 2^(n-2)``. The
    graph has O(n^2) edges. (A mean, not a sum: ``s + sin(s)`` converges to pi so fast that
    the gradient of a sum version underflows to exactly zero by n = 9.)
    """
    b = la.GraphBuilder()
    nodes = [b.input(name="x")]
    for _ in range(n - 1):
        mean = b.add("mean", b.add("stack", *nodes, axis=0), axis=None)
        nodes.append(b.add("sin", mean))
    return b.build(point=(np.array(x),))


def test_count_paths_small_graphs():
    program = la.Program(la.trace(lambda x: la.sin(x) * la.cos(x), 0.5))
    assert count_paths(program) == (2, 1, 1, 1)
    # lecture: x -> x^2 -> d -> sin -> out; y -> y e^z -> d ...; z -> e^z and z -> out
    counts = count_paths(lecture())
    assert counts[:3] == (1, 1, 2)
    assert counts[lecture().graph.output] == 1


def test_paths_grow_exponentially_while_reverse_grows_with_the_edges():
    paths, reverse_cost, edges = [], [], []
    for n in range(4, 17):
        program = la.Program(fully_connected(n))
        assert count_paths(program)[0] == 2 ** (n - 2)
        summed = la.solve(program, "paths")
        reverse = la.solve(program, "reverse")
        assert_agrees(summed.multipliers.flat, reverse.multipliers.flat, 1e-12)
        paths.append(summed.stats.extra["paths"])
        reverse_cost.append(reverse.stats.multiply_adds)
        edges.append(program.local_jacobian().nnz)
        assert summed.stats.extra["paths"] == sum(count_paths(program))
        assert summed.stats.multiply_adds == summed.stats.extra["paths"] - 1
    # each extra node doubles the paths (plus a constant), the edges grow by O(n)
    ratios = np.array(paths[1:]) / np.array(paths[:-1])
    np.testing.assert_allclose(ratios, 2.0, rtol=0.06)
    assert reverse_cost == edges
    n = np.arange(4, 17)
    # node k's stack and mean each have k - 1 partials and its sin one: n(n - 1) + (n - 1)
    np.testing.assert_array_equal(edges, n * (n - 1) + (n - 1))
    assert paths[-1] > 300 * reverse_cost[-1]


def test_fully_connected_gradient_matches_finite_differences():
    graph = fully_connected(10)
    g = la.solve(la.Program(graph), "paths").gradient[0]
    h = 1e-6
    fd = (float(la.Program(graph, 0.3 + h).output_value)
          - float(la.Program(graph, 0.3 - h).output_value)) / (2 * h)
    assert float(g) == pytest.approx(fd, rel=1e-7)


def test_paths_refuses_before_enumerating_and_names_the_count():
    program = la.Program(fully_connected(12))
    total = sum(count_paths(program))
    with pytest.raises(la.MethodNotApplicableError, match=f"there are {total} paths.*"
                                                          f"max_paths=1000"):
        la.solve(program, "paths", max_paths=1000)
    big = la.examples.random_dag(n=2000, seed=3).program()
    with pytest.raises(la.MethodNotApplicableError, match="max_paths=1000000"):
        la.solve(big, "paths")
