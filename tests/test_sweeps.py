"""Forward mode, Gauss-Seidel, Jacobi, the level sweep and dual descent against the reverse sweep.

Exact schedules must match the reverse sweep to 1e-10 relative; iterative ones must meet their
tolerance, and on DAGs the sweep counts must equal the settling formula of `schedules.sweeps`.
"""

import numpy as np
import pytest
from zoo import traced

import lagrange_ad as la

EXACT_RTOL = 1e-10


def chain(n: int, x: float = 0.3) -> la.Program:
    """``sin(sin(...sin(x)))`` with n sin nodes: depth n, every partial cos(.) near 1."""
    builder = la.GraphBuilder()
    x_node = builder.input(name="x")
    builder.add_many("sin", np.r_[x_node, -np.ones(n - 1, np.int64)])
    return la.Program(builder.build(), x)


def zoo_programs() -> dict[str, la.Program]:
    programs = {
        "lecture": la.examples.lecture().program(),
        "domke": la.examples.domke().program(),
        "chain-40": chain(40),
    }
    for seed in (0, 1, 2):
        programs[f"random_dag-{seed}"] = la.examples.random_dag(150, seed=seed).program()
    for seed in (0, 1, 2, 3):
        for array in (False, True):
            graph, _, _ = traced(seed, array)
            programs[f"traced-{seed}-{'array' if array else 'scalar'}"] = la.Program(graph)
    return programs


ZOO = zoo_programs()
SMALL = ("lecture", "domke", "traced-0-scalar", "traced-1-array")


def reference(program: la.Program) -> np.ndarray:
    return la.solve(program, "reverse").multipliers.flat


def assert_exact(lam: np.ndarray, ref: np.ndarray, rtol: float = EXACT_RTOL) -> None:
    np.testing.assert_allclose(lam, ref, rtol=rtol, atol=rtol * np.abs(ref).max())


def assert_meets_tolerance(program: la.Program, solution: la.Solution, tol: float) -> None:
    """The true KKT residual meets the relative tolerance (with room for rounding)."""
    lam = solution.multipliers.flat
    assert solution.converged, solution.message
    assert program.kkt_residual(lam) <= 10 * tol * max(1.0, np.linalg.norm(lam)) + 1e-14


def settling_sweeps(program: la.Program, order=None) -> int:
    """Sweeps until exact, from ``s(r) = max_c s(c) + [c visited after r]`` over entries.

    ``order=None`` is Jacobi (every child counts as visited after). Only partials that are
    nonzero count as edges, and only entries with a path to the output matter.
    """
    graph = program.graph
    jt = program.local_jacobian().T.tocsr()
    jt.eliminate_zeros()
    position = np.zeros(len(graph), np.int64)
    if order is not None:
        position[np.asarray(order)] = np.arange(len(graph))
    out = int(graph.offsets[graph.output])
    settle = np.zeros(graph.total_size, np.int64)
    reaches = np.zeros(graph.total_size, bool)
    settle[out], reaches[out] = 1, True
    for i in graph.topological_order()[::-1].tolist():
        for c in range(graph.offsets[i], graph.offsets[i + 1]):
            if c == out:
                continue
            for k in range(jt.indptr[c], jt.indptr[c + 1]):
                r = jt.indices[k]
                if reaches[r]:
                    child = np.searchsorted(graph.offsets, r, side="right") - 1
                    after = order is None or position[child] > position[i]
                    reaches[c] = True
                    settle[c] = max(settle[c], settle[r] + int(after))
    return int(settle.max())


# ----------------------------------------------------------------- exact schedules


@pytest.mark.parametrize("name", list(ZOO))
def test_forward_mode_multipliers_equal_the_reverse_sweep(name):
    program = ZOO[name]
    solution = la.solve(program, "forward")
    assert_exact(solution.multipliers.flat, reference(program))
    assert solution.stats.extra["mode"] == "all nodes"
    np.testing.assert_array_equal(solution.stats.extra["computed_nodes"],
                                  np.arange(len(program.graph)))
    # the output is the last node, so there is one tangent sweep per scalar entry
    assert solution.iterations == program.graph.total_size
    assert solution.kkt_residual <= 1e-10 * max(1.0, np.linalg.norm(solution.multipliers.flat))


@pytest.mark.parametrize("name", list(ZOO))
def test_gauss_seidel_in_reverse_order_is_backprop_in_one_sweep(name):
    program = ZOO[name]
    solution = la.solve(program, "gauss-seidel", order="reverse")
    assert solution.iterations == 1 and solution.converged
    assert_exact(solution.multipliers.flat, reference(program))


@pytest.mark.parametrize("name", list(ZOO))
def test_reverse_sweep_by_levels(name):
    program = ZOO[name]
    solution = la.solve(program, "reverse", blocks="levels")
    assert solution.iterations == 1 and solution.converged
    assert solution.stats.multiply_adds == program.local_jacobian().nnz
    assert_exact(solution.multipliers.flat, reference(program))


def test_forward_mode_skips_nodes_after_the_output():
    builder = la.GraphBuilder()
    x, y = builder.input(name="x"), builder.input(name="y")
    a = builder.add("sin", x)
    b = builder.add("mul", a, y)
    builder.add("exp", b)  # after the output: not an ancestor of it, so lam = 0
    program = la.Program(builder.build(output=b), 0.7, -2.0)
    solution = la.solve(program, "forward")
    assert solution.iterations == 4  # one sweep per node up to the output
    np.testing.assert_allclose(solution.multipliers.flat,
                               [np.cos(0.7) * -2.0, np.sin(0.7), -2.0, 1.0, 0.0], rtol=1e-14)
    assert_exact(solution.multipliers.flat, reference(program))
    assert la.solve(program, "jacobi").iterations == 3  # 1 + the longest path into the output


def test_forward_mode_inputs_only_fills_the_gradient_and_says_so():
    program = ZOO["traced-2-array"]
    ref = la.solve(program, "reverse")
    solution = la.solve(program, "forward", inputs_only=True)
    graph = program.graph
    assert solution.iterations == int(graph.offsets[graph.n_inputs]) == 27
    for ours, theirs in zip(solution.gradient, ref.gradient):
        assert_exact(ours, theirs)
    np.testing.assert_array_equal(solution.stats.extra["computed_nodes"],
                                  list(range(graph.n_inputs)) + [graph.output])
    assert solution.multipliers[graph.output] == 1.0
    assert "only the input multipliers" in solution.message
    assert len(solution.residuals) == 0
    # a sweep per input entry is far cheaper than one per entry of every node
    full = la.solve(program, "forward")
    assert solution.stats.multiply_adds < full.stats.multiply_adds


def test_forward_mode_directional_derivatives():
    program = ZOO["traced-3-array"]
    gradient = la.solve(program, "reverse").gradient
    rng = np.random.default_rng(5)
    directions = [tuple(rng.standard_normal((3, 3)) for _ in range(3)) for _ in range(4)]
    solution = la.solve(program, "forward", seeds=directions)
    assert solution.iterations == 4
    expected = [sum(float(np.sum(g * t)) for g, t in zip(gradient, d)) for d in directions]
    np.testing.assert_allclose(solution.stats.extra["directional_derivatives"], expected,
                               rtol=1e-10, atol=1e-12)
    # the input multipliers are the projection of the gradient onto the seeds' span
    basis = np.stack([np.concatenate([np.ravel(t) for t in d]) for d in directions], axis=1)
    g = np.concatenate([np.ravel(t) for t in gradient])
    projection = basis @ np.linalg.lstsq(basis, g, rcond=None)[0]
    got = np.concatenate([np.ravel(t) for t in solution.gradient])
    np.testing.assert_allclose(got, projection, rtol=1e-9, atol=1e-12)
    assert "directional_derivatives" in solution.message


def test_forward_mode_unit_seeds_recover_the_gradient():
    example = la.examples.lecture()
    unit = [tuple(row) for row in np.eye(3)]
    solution = la.solve(example.program(), "forward", seeds=unit)
    np.testing.assert_allclose(solution.gradient, example.gradient, rtol=1e-12)
    np.testing.assert_allclose(solution.stats.extra["directional_derivatives"],
                               example.gradient, rtol=1e-12)


@pytest.mark.parametrize("seeds, needle", [
    ([(1.0, 2.0)], "one tangent per input"),
    ([(1.0, 2.0, np.ones(2))], "has shape (2,)"),
    ([], "empty"),
    ("xyz", "expected a sequence"),
    ([(1.0, np.nan, 0.0)], "NaN"),
])
def test_forward_mode_rejects_bad_seeds(seeds, needle):
    with pytest.raises(la.MethodNotApplicableError, match=needle.replace("(", r"\(")
                       .replace(")", r"\)")):
        la.solve(ZOO["lecture"], "forward", seeds=seeds)


# ----------------------------------------------------------------- sweep counts


@pytest.mark.parametrize("n", [1, 2, 7, 40])
def test_sweep_counts_on_chains(n):
    program = chain(n)
    assert program.graph.depth == n
    ref = reference(program)
    counts = {}
    for method, options in [("gauss-seidel", {"order": "forward"}),
                            ("gauss-seidel", {"order": "reverse"}), ("jacobi", {})]:
        solution = la.solve(program, method, **options)
        assert solution.converged
        assert len(solution.residuals) == solution.iterations
        assert_exact(solution.multipliers.flat, ref)
        counts[method, options.get("order")] = solution.iterations
    assert counts == {("gauss-seidel", "forward"): n + 1, ("gauss-seidel", "reverse"): 1,
                      ("jacobi", None): n + 1}


@pytest.mark.parametrize("name", ["lecture", "domke"])
def test_sweep_counts_on_the_named_examples(name):
    program = ZOO[name]
    depth = program.graph.depth
    assert depth == program.graph.levels()[program.graph.output] == 5
    assert la.solve(program, "gauss-seidel").iterations == depth + 1
    assert la.solve(program, "jacobi").iterations == depth + 1
    assert la.solve(program, "gauss-seidel", order="reverse").iterations == 1


@pytest.mark.parametrize("name", [n for n in ZOO if n.startswith(("random", "traced"))])
def test_sweep_counts_equal_the_settling_formula(name):
    program = ZOO[name]
    graph = program.graph
    ref = reference(program)
    orders = {"forward": graph.topological_order(),
              "reverse": graph.topological_order()[::-1]}
    for method, options, order in [
        ("jacobi", {}, None),
        ("gauss-seidel", {"order": "forward"}, orders["forward"]),
        ("gauss-seidel", {"order": "reverse"}, orders["reverse"]),
        ("gauss-seidel", {"order": "random", "seed": 3},
         np.random.default_rng(3).permutation(len(graph))),
        ("gauss-seidel", {"order": [int(i) for i in np.random.default_rng(7).permutation(
            len(graph))]}, np.random.default_rng(7).permutation(len(graph))),
    ]:
        solution = la.solve(program, method, tol=0.0, **options)
        expected = settling_sweeps(program, order)
        assert solution.iterations == expected, (method, options.get("order"))
        assert solution.residuals[-1] == 0.0
        assert_exact(solution.multipliers.flat, ref)
        # the formula's special cases
        if order is None or options.get("order") == "forward":
            assert expected <= graph.levels()[graph.output] + 1 <= graph.depth + 1
        if options.get("order") == "reverse":
            assert expected == 1


def test_forward_order_and_jacobi_give_identical_iterates_on_a_dag():
    program = ZOO["random_dag-1"]
    for maxiter in (1, 3, 6):
        gs = la.solve(program, "gauss-seidel", order="forward", maxiter=maxiter, tol=0.0)
        jacobi = la.solve(program, "jacobi", maxiter=maxiter, tol=0.0)
        np.testing.assert_array_equal(gs.multipliers.flat, jacobi.multipliers.flat)
        np.testing.assert_array_equal(gs.residuals, jacobi.residuals)


def test_jacobi_iterates_are_the_truncated_neumann_series():
    program = ZOO["lecture"]
    jt = program.local_jacobian().T.toarray()
    e = program.rhs()
    term, partial = e.copy(), np.zeros_like(e)
    for k in range(1, 7):
        partial, term = partial + term, jt @ term
        solution = la.solve(program, "jacobi", maxiter=k, tol=0.0)
        np.testing.assert_allclose(solution.multipliers.flat, partial, rtol=1e-14, atol=1e-14)
        # the residual after k sweeps is (J^T)^k e_N
        assert solution.residuals[-1] == pytest.approx(np.linalg.norm(term), abs=1e-14)


# ----------------------------------------------------------------- iterations


@pytest.mark.parametrize("order", ["forward", "reverse"])
@pytest.mark.parametrize("omega", [0.6, 1.5])
def test_sor_converges_linearly_to_the_tolerance(order, omega):
    program = ZOO["random_dag-0"]
    solution = la.solve(program, "gauss-seidel", order=order, omega=omega, tol=1e-11)
    assert_meets_tolerance(program, solution, 1e-11)
    assert solution.iterations > 1
    assert solution.stats.extra["omega"] == omega
    assert_exact(solution.multipliers.flat, reference(program), rtol=1e-8)


def test_damped_jacobi_converges():
    program = ZOO["traced-1-array"]
    solution = la.solve(program, "jacobi", omega=0.8)
    assert_meets_tolerance(program, solution, 1e-12)
    assert_exact(solution.multipliers.flat, reference(program), rtol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_orders_converge_within_the_depth_bound(seed):
    program = ZOO["random_dag-2"]
    solution = la.solve(program, "gauss-seidel", order="random", seed=seed)
    assert solution.converged and solution.stats.extra["order"] == "random"
    assert 1 <= solution.iterations <= program.graph.depth + 1
    assert_exact(solution.multipliers.flat, reference(program))


def test_iteration_cap_reports_non_convergence():
    program = ZOO["random_dag-0"]
    for method, options in [("gauss-seidel", {}), ("jacobi", {}),
                            ("gauss-seidel", {"order": "reverse", "omega": 1.5}),
                            ("dual-descent", {"operator": "sparse"}),
                            ("dual-descent", {"algorithm": "gradient"})]:
        solution = la.solve(program, method, maxiter=2, **options)
        assert not solution.converged
        assert solution.iterations == 2 and len(solution.residuals) == 2
        assert "did NOT meet" in solution.message
        assert solution.kkt_residual > 1e-6


def test_default_cap_is_enough_for_any_order_on_a_dag():
    program = chain(1200, x=0.05)  # partials cos(.) ~ 1: nothing falls below tol early
    solution = la.solve(program, "jacobi")
    assert solution.converged and solution.iterations == 1201


def array_cycle_program() -> la.Program:
    """``h = W h`` for a vector h (a self-loop coupling the entries of one node), then
    ``sum(tanh(h + x) * x)``: the block update of h reads the old lam_h for every entry."""
    builder = la.GraphBuilder()
    x = builder.input(shape=(3,), name="x")
    w = builder.const([[0.2, -0.3, 0.1], [0.4, 0.1, -0.2], [-0.1, 0.3, 0.25]])
    h = builder.declare(shape=(3,), name="h", initial=[0.1, 0.2, 0.3])
    builder.define(h, "matmul", w, h)
    builder.add("sum", builder.add("mul", builder.add("tanh", builder.add("add", h, x)), x))
    return la.Program(builder.build(), np.array([0.3, -0.5, 0.8]))


def dense_sweeps(program: la.Program, order, omega: float, sweeps: int):
    """Block SOR (or Jacobi, ``order=None``) with dense matrices: the iterates and the true
    residual norms ``||e_N - A^T lam^(k)||`` after each sweep."""
    graph = program.graph
    jt, e = program.local_jacobian().T.toarray(), program.rhs()
    lam, iterates, residuals = np.zeros_like(e), [], []
    for _ in range(sweeps):
        if order is None:
            lam = (1 - omega) * lam + omega * (e + jt @ lam)
        for i in [] if order is None else order:
            block = slice(graph.offsets[i], graph.offsets[i + 1])
            lam[block] = (1 - omega) * lam[block] + omega * (e[block] + jt[block] @ lam)
        iterates.append(lam.copy())
        residuals.append(np.linalg.norm(e + jt @ lam - lam))
    return iterates, residuals


RESIDUAL_CASES = [
    ("random_dag-0", "forward"), ("random_dag-0", "reverse"), ("random_dag-0", "random"),
    ("random_dag-0", None), ("traced-1-array", "forward"), ("traced-1-array", "random"),
    ("traced-2-array", None), ("chain-40", "random"), ("lecture", "explicit"),
]


@pytest.mark.parametrize("name, order", RESIDUAL_CASES)
@pytest.mark.parametrize("omega", [1.0, 0.7])
def test_iterates_and_residuals_equal_dense_block_sor(name, order, omega):
    """Each sweep's iterate, and the residual reported for it, against a dense reference.

    Rows of every kind occur: updated after all their children (residual exactly 0 at
    omega = 1), before all of them (residual known one sweep later) and in between.
    """
    program = ZOO[name]
    graph = program.graph
    if order is None:
        method, options, nodes = "jacobi", {}, None
    elif order == "explicit":
        nodes = np.random.default_rng(11).permutation(len(graph))
        method, options = "gauss-seidel", {"order": nodes.tolist()}
    else:
        nodes = {"forward": graph.topological_order(),
                 "reverse": graph.topological_order()[::-1],
                 "random": np.random.default_rng(5).permutation(len(graph))}[order]
        method, options = "gauss-seidel", {"order": order, "seed": 5} if order == "random" \
            else {"order": order}
    iterates, residuals = dense_sweeps(program, nodes, omega, 6)
    scale = np.abs(iterates[-1]).max()
    for sweeps in (1, 2, 6):
        solution = la.solve(program, method, omega=omega, tol=0.0, maxiter=sweeps, **options)
        done = solution.iterations
        assert len(solution.residuals) == done <= sweeps
        if done < sweeps:  # exact early: reverse order, or a short path to the output
            assert solution.converged and solution.residuals[-1] == 0.0
        np.testing.assert_allclose(solution.multipliers.flat, iterates[done - 1],
                                   rtol=1e-12, atol=1e-13 * scale)
        np.testing.assert_allclose(solution.residuals, residuals[:done], rtol=1e-9,
                                   atol=1e-13 * scale)
        assert solution.residuals[-1] == pytest.approx(
            program.kkt_residual(solution.multipliers.flat), rel=1e-9, abs=1e-13 * scale)


@pytest.mark.parametrize("order", ["random", [0, 1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1, 0]])
@pytest.mark.parametrize("omega", [1.0, 0.8])
def test_a_self_loop_block_reads_the_old_multipliers(order, omega):
    program = array_cycle_program()
    graph = program.graph
    nodes = np.random.default_rng(0).permutation(len(graph)) if order == "random" else order
    iterates, residuals = dense_sweeps(program, nodes, omega, 4)
    solution = la.solve(program, "gauss-seidel", order=order, omega=omega, maxiter=4, tol=0.0)
    np.testing.assert_allclose(solution.multipliers.flat, iterates[-1], rtol=1e-12)
    np.testing.assert_allclose(solution.residuals, residuals, rtol=1e-9)
    converged = la.solve(program, "gauss-seidel", order=order, omega=omega)
    assert converged.converged
    assert_exact(converged.multipliers.flat, reference(program), rtol=1e-9)


@pytest.mark.parametrize("method, options", [
    ("gauss-seidel", {"order": "forward", "omega": 0.6}),
    ("gauss-seidel", {"order": "random", "seed": 2}),
    ("jacobi", {"omega": 0.8}),
])
def test_stopping_returns_the_iterate_the_residual_was_measured_at(method, options):
    """The residual of sweep k is known after the sweep ahead; lam^(k) is what comes back."""
    program = ZOO["random_dag-2"]
    solution = la.solve(program, method, tol=1e-6, **options)
    assert solution.converged
    again = la.solve(program, method, tol=0.0, maxiter=solution.iterations, **options)
    np.testing.assert_array_equal(solution.multipliers.flat, again.multipliers.flat)
    np.testing.assert_array_equal(solution.residuals, again.residuals)
    assert solution.residuals[-1] <= 1e-6 * max(1.0, np.linalg.norm(solution.multipliers.flat))
    assert solution.residuals[-2] > 1e-6 * max(1.0, np.linalg.norm(again.multipliers.flat))


def test_plans_are_built_once_per_order():
    program = la.examples.random_dag(300, seed=4).program()
    for options in ({"order": "forward"}, {"order": "random", "seed": 1}, {}):
        method = "gauss-seidel" if options else "jacobi"
        first = la.solve(program, method, **options)
        plans = dict(program.__dict__["_sweep_plans"])
        second = la.solve(program, method, **options)
        assert program.__dict__["_sweep_plans"] == plans
        np.testing.assert_array_equal(first.multipliers.flat, second.multipliers.flat)
    assert len(program.__dict__["_sweep_plans"]) == 3
    other_seed = la.solve(program, "gauss-seidel", order="random", seed=2)
    assert len(program.__dict__["_sweep_plans"]) == 4
    assert_exact(other_seed.multipliers.flat, reference(program), rtol=1e-12)


# ----------------------------------------------------------------- dual descent


@pytest.mark.parametrize("name", list(ZOO))
def test_dual_descent_cg(name):
    program = ZOO[name]
    operator = "matrix-free" if name in SMALL else "sparse"
    solution = la.solve(program, "dual-descent", operator=operator)
    assert_meets_tolerance(program, solution, 1e-12)
    assert solution.stats.extra == {"algorithm": "cg", "operator": operator}
    # the error is bounded by cond(A) times the residual
    assert_exact(solution.multipliers.flat, reference(program), rtol=1e-6)


def test_dual_descent_matrix_free_equals_sparse():
    program = ZOO["traced-1-array"]
    free = la.solve(program, "dual-descent")
    sparse = la.solve(program, "dual-descent", operator="sparse")
    assert abs(free.iterations - sparse.iterations) <= 2
    assert_exact(free.multipliers.flat, sparse.multipliers.flat, rtol=1e-8)


def test_dual_descent_cg_finishes_in_about_n_steps_on_a_small_graph():
    program = ZOO["lecture"]
    solution = la.solve(program, "dual-descent")
    assert solution.iterations <= program.graph.total_size + 2
    assert_exact(solution.multipliers.flat, reference(program), rtol=1e-12)


def test_dual_descent_steepest_descent():
    program = ZOO["lecture"]
    solution = la.solve(program, "dual-descent", algorithm="gradient", operator="sparse",
                        tol=1e-8, maxiter=50_000)
    assert_meets_tolerance(program, solution, 1e-8)
    # far slower than CG: its rate is set by cond(A)^2
    assert solution.iterations > 50 * la.solve(program, "dual-descent").iterations
    assert np.all(np.diff(solution.residuals[::100]) < 0)
    assert_exact(solution.multipliers.flat, reference(program), rtol=1e-6)


# ----------------------------------------------------------------- options and refusals


@pytest.mark.parametrize("order, needle", [
    ([0, 1, 2], "v3 is missing"),
    (list(range(9)) + [4], "v4 more than once"),
    ([0, 1, 2, 3, 4, 5, 6, 7, 9], "v9, which does not exist"),
    ([0.5] * 9, "node indices"),
    ("sideways", "'sideways' is unknown"),
    (3, "expected a name or a sequence"),
])
def test_explicit_order_is_validated(order, needle):
    with pytest.raises(la.MethodNotApplicableError, match=needle):
        la.solve(ZOO["lecture"], "gauss-seidel", order=order)


def test_explicit_order_runs():
    program = ZOO["lecture"]
    order = program.graph.topological_order()[::-1].tolist()
    solution = la.solve(program, "gauss-seidel", order=order)
    assert solution.iterations == 1 and solution.stats.extra["order"] == "explicit"


@pytest.mark.parametrize("method, options, needle", [
    ("gauss-seidel", {"omega": 2.0}, "0 < omega < 2"),
    ("jacobi", {"omega": 0}, "0 < omega < 2"),
    ("jacobi", {"tol": -1.0}, "tol=-1.0"),
    ("jacobi", {"maxiter": 0}, "maxiter=0"),
    ("gauss-seidel", {"maxiter": 2.5}, "maxiter=2.5"),
    ("gauss-seidel", {"order": "random", "seed": "one"}, "seed='one'"),
    ("dual-descent", {"algorithm": "newton"}, "'newton' is unknown"),
    ("dual-descent", {"operator": "dense"}, "'dense' is unknown"),
    ("dual-descent", {"tol": float("nan")}, "tol=nan"),
    ("forward", {"inputs_only": True, "seeds": [(1.0, 0.0, 0.0)]}, "exclude each other"),
])
def test_bad_option_values_are_refused(method, options, needle):
    with pytest.raises(la.MethodNotApplicableError, match=needle):
        la.solve(ZOO["lecture"], method, **options)


@pytest.mark.parametrize("method, option", [
    ("jacobi", "order"), ("gauss-seidel", "algorithm"), ("forward", "tol"),
    ("dual-descent", "omega"),
])
def test_unknown_options_are_an_error(method, option):
    with pytest.raises(la.LagrangeADError, match=f"has no option '{option}'"):
        la.solve(ZOO["lecture"], method, **{option: 1})


def cyclic_program() -> la.Program:
    """``h = x * h`` (fixed point h = 0 at x = 0.5), output ``h + x``.

    KKT: lam_out = 1, lam_h = 1 + x lam_h = 2, lam_x = 1 + h lam_h = 1.
    """
    builder = la.GraphBuilder()
    x = builder.input(name="x")
    h = builder.declare(name="h")
    builder.define(h, "mul", x, h)
    builder.add("add", h, x)
    return la.Program(builder.build(), 0.5)


@pytest.mark.parametrize("method, options", [
    ("forward", {}), ("gauss-seidel", {}), ("gauss-seidel", {"order": "reverse"}),
    ("reverse", {"blocks": "levels"}),
])
def test_cyclic_graphs_are_refused_by_topological_schedules(method, options):
    program = cyclic_program()
    with pytest.raises(la.MethodNotApplicableError, match="cycle"):
        la.solve(program, method, **options)


@pytest.mark.parametrize("method, options", [
    ("jacobi", {}), ("gauss-seidel", {"order": "random"}), ("gauss-seidel", {"order": [2, 1, 0]}),
    ("gauss-seidel", {"order": [0, 1, 2], "omega": 0.9}), ("dual-descent", {}),
])
def test_order_free_schedules_solve_a_cyclic_program(method, options):
    program = cyclic_program()
    solution = la.solve(program, method, **options)
    assert solution.converged, solution.message
    np.testing.assert_allclose(solution.multipliers.flat, [1.0, 2.0, 1.0], rtol=1e-10)
    if method != "dual-descent":
        assert solution.iterations > 10  # a fixed-point iteration, no longer finite


# ----------------------------------------------------------------- the plan sweep, compiled


@pytest.mark.parametrize("name", list(ZOO))
def test_the_compiled_plan_sweep_agrees_with_the_reference_loop(name):
    from lagrange_ad.accel.dispatch import accelerators, use_reference
    from lagrange_ad.schedules.plans import jacobi_plan, level_plan, node_plan, run_sweep

    program = ZOO[name]
    compiled = list(accelerators("plan sweep"))
    if not compiled:
        pytest.importorskip("numba")
    assert compiled, "numba is installed, yet no accelerator serves the plan sweep"
    rng = np.random.default_rng(0)
    plans = [node_plan(program, "forward", program.graph.topological_order), jacobi_plan(program),
             level_plan(program)]
    for plan in plans:
        n = plan.deferred.size
        for omega, accumulate in ((1.0, False), (1.0, True), (1.3, True)):
            cur = rng.standard_normal(n)
            want_out, want_acc = np.empty(n), np.empty(n if accumulate else 0)
            with use_reference():
                want = run_sweep(plan, cur, want_out, omega, want_acc)
            for accelerator in compiled:
                out, acc = np.empty(n), np.empty(n if accumulate else 0)
                got = accelerator.run(plan, cur, out, omega, acc)
                np.testing.assert_allclose(out, want_out, rtol=1e-12, atol=1e-12)
                np.testing.assert_allclose(acc, want_acc, rtol=1e-12, atol=1e-12)
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
