"""``la.from_jax``: graphs imported from jaxprs, checked against JAX's own derivatives."""

from __future__ import annotations

import numpy as np
import pytest

import lagrange_ad as la
from lagrange_ad.errors import GraphError, LagrangeADError, UnsupportedOperationError

jax = pytest.importorskip("jax")
jnp = jax.numpy

from lagrange_ad.examples.jax_models import MODELS  # noqa: E402  (after the importorskip)


def jax_value_and_gradient(function, args) -> tuple[float, list[np.ndarray]]:
    """JAX's value and the float leaves of its gradient in every argument, in float64 (jitted:
    one compilation costs less than compiling every operation on its own)."""
    with jax.enable_x64(True):
        value, grads = jax.jit(jax.value_and_grad(function, argnums=tuple(range(len(args))),
                                                  allow_int=True))(*args)
    leaves = [np.asarray(g) for g in jax.tree_util.tree_leaves(grads)]
    return float(value), [g for g in leaves if g.dtype.kind == "f"]  # not integer arguments


def assert_gradients_agree(function, *args, tol=1e-10):
    graph = la.from_jax(function, *args)
    ours = la.grad(graph)(*graph.point)
    value, theirs = jax_value_and_gradient(function, args)
    assert la.Program(graph).output_value == pytest.approx(value, rel=1e-12)
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs):
        assert mine.shape == reference.shape
        scale = max(1.0, float(np.max(np.abs(reference), initial=0.0)))
        assert np.max(np.abs(mine - reference), initial=0.0) <= tol * scale
    return graph


@pytest.mark.parametrize("name", list(MODELS))
def test_model_gradients_agree_with_jax(name):
    function, args = MODELS[name]()
    assert_gradients_agree(function, *args)


def test_jacobian_of_a_vector_output_agrees_with_jax_jacobian():
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=3), rng.normal(size=(3, 3))

    def function(x, w):
        return jnp.tanh(w @ x) * jnp.sum(x ** 2) + jnp.concatenate([x[:1], x[1:] * 2.0, x[:0]])

    graph = la.from_jax(function, x, w)
    result = la.jacobian(la.Program(graph))
    with jax.enable_x64(True):
        jx, jw = jax.jit(jax.jacobian(function, argnums=(0, 1)))(x, w)
    out = graph.output
    np.testing.assert_allclose(result.blocks[(out, 0)], jx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.blocks[(out, 1)], jw, rtol=1e-12, atol=1e-12)


def test_stop_gradient_is_a_constant_with_zero_derivative():
    x = np.array([0.5, -1.5, 2.0])

    def function(x):
        return jnp.sum(x * jax.lax.stop_gradient(x) + jnp.exp(jax.lax.stop_gradient(x))
                       + jax.lax.stop_gradient(jnp.tanh(x)))

    graph = assert_gradients_agree(function, x)
    np.testing.assert_allclose(la.grad(graph)(x)[0], x, rtol=1e-15)
    # what only stop_gradient reads is evaluated, not recorded
    assert "tanh" not in graph.op_names and "exp" not in graph.op_names


def test_verify_passes_on_the_attention_block():
    function, args = MODELS["attention"]()
    report = la.verify(la.Program(la.from_jax(function, *args)), methods=("forward",),
                       progress=False)
    assert report.ok, str(report)


def test_indexing_shapes_and_selections_agree_with_jax():
    rng = np.random.default_rng(2)
    x, m = rng.normal(size=6), rng.normal(size=(3, 4))

    def function(x, m):
        picked = x[jnp.array([4, 0, 4])] + x[1:4] * m[:, 0] + jnp.take(m, 2, axis=1)
        rolled = jnp.flip(jnp.cumsum(x)) * jnp.pad(x[:4], (1, 1))
        clipped = jnp.clip(m, -0.5, 0.5) + jnp.where(m > 0, m ** 2, jnp.abs(m))
        sorted_rows = jnp.sort(m, axis=1) @ jnp.maximum(x[:4], 0.1)
        batched = jnp.einsum("bij,bjk->bik", m.reshape(3, 2, 2), m.reshape(3, 2, 2))
        pieces = jnp.split(x, 3)
        return (jnp.sum(picked ** 2) + jnp.sum(rolled) + jnp.sum(clipped * m.T.T)
                + jnp.sum(sorted_rows) + jnp.sum(batched) + jnp.prod(pieces[1])
                + jnp.max(m) - jnp.min(x) + jax.nn.logsumexp(m, axis=0).sum())

    assert_gradients_agree(function, x, m)


def test_linear_algebra_agrees_with_jax():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(3, 3))
    a = a @ a.T + 3 * np.eye(3)
    b = rng.normal(size=(3, 2))

    def function(a, b):
        lower = jax.scipy.linalg.solve_triangular(a, b, lower=True)
        upper = jax.scipy.linalg.solve_triangular(a, b, trans=1, unit_diagonal=True)
        return (jnp.sum(jnp.linalg.solve(a, b) ** 2) + jnp.sum(jnp.linalg.inv(a) @ b)
                + jnp.sum(jnp.linalg.solve(a, b[:, 0])) + jnp.sum(lower * upper)
                + jnp.sum(jnp.linalg.cholesky(a) ** 2) + jnp.sum(jnp.stack([a, a.T]) @ b)
                + jnp.sum(jnp.tile(b, (1, 2)) ** 3))

    assert_gradients_agree(function, a, b)


def test_lu_determinants_and_lu_solve_agree_with_jax():
    rng = np.random.default_rng(10)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=5)

    def function(a):
        solved = jax.scipy.linalg.lu_solve(jax.scipy.linalg.lu_factor(a), b)
        return jnp.linalg.slogdet(a)[1] + jnp.linalg.det(a) + jnp.sum(solved ** 2)

    assert_gradients_agree(function, a)


def test_a_cholesky_factor_read_from_one_triangle_has_the_derivative_of_that_triangle():
    # jax.grad of cho_factor assumes symmetric perturbations; the graph's gradient is the
    # derivative of the function as computed (it reads one triangle): central differences
    rng = np.random.default_rng(7)
    a = rng.normal(size=(3, 3))
    a, b = a @ a.T + 3 * np.eye(3), rng.normal(size=(3, 2))

    def function(a):
        return jnp.sum(jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(a), b) ** 2)

    gradient = la.grad(la.from_jax(function, a))(a)[0]
    step, differences = 1e-6, np.zeros((3, 3))
    with jax.enable_x64(True):
        jitted = jax.jit(function)
        for index in np.ndindex(3, 3):
            e = np.zeros((3, 3))
            e[index] = step
            differences[index] = (jitted(a + e) - jitted(a - e)) / (2 * step)
    np.testing.assert_allclose(gradient, differences, atol=1e-8)


def test_dynamic_indices_in_loops_and_a_constant_cond_are_unrolled():
    rng = np.random.default_rng(3)
    xs, h = rng.normal(size=(4, 3)), rng.normal(size=3)

    def function(xs, h):
        h = jax.lax.fori_loop(0, 4, lambda i, h: jnp.sin(h) * xs[i] + h, h)
        buffer = jax.lax.fori_loop(0, 3, lambda i, b: b.at[i].set(h[i] ** 2), jnp.zeros(3))
        buffer = buffer.at[jnp.array([0, 2, 0])].add(h * xs[0])
        branch = jax.lax.cond(jnp.sum(h) > 0, lambda v: jnp.exp(v), lambda v: -v, h)
        return jnp.sum(buffer ** 2) + jnp.sum(branch)

    assert_gradients_agree(function, xs, h)


def test_a_while_loop_with_a_static_trip_count_is_unrolled():
    # JAX's reverse mode refuses while_loop; its forward mode is the reference
    x = np.array([0.3, -0.7, 1.1])

    def function(x):
        def body(c):
            return c[0] + 1, c[1] * jnp.cos(x) + jnp.sum(x ** 2)

        return jnp.sum(jax.lax.while_loop(lambda c: c[0] < 3, body, (0, x))[1])

    graph = la.from_jax(function, x)
    with jax.enable_x64(True):
        reference = jax.jit(jax.jacfwd(function))(x)
    np.testing.assert_allclose(la.grad(graph)(x)[0], reference, rtol=1e-12, atol=1e-12)


def test_pytree_inputs_are_named_by_their_paths_and_integer_leaves_are_constants():
    params = {"layers": [{"w": np.ones((2, 2))}, {"w": np.eye(2)}], "scale": 2.0}
    data = (np.arange(2.0), np.array([1, 0]))

    def function(params, data):
        x, order = data
        for layer in params["layers"]:
            x = jnp.tanh(layer["w"] @ x)
        return params["scale"] * jnp.sum(x[order] ** 2)

    graph = assert_gradients_agree(function, params, data)
    assert [graph.names[i] for i in graph.inputs] == [
        "params['layers'][0]['w']", "params['layers'][1]['w']", "params['scale']", "data[0]"]


def test_unmapped_primitives_are_listed_all_at_once_with_counts():
    def function(x):
        y = jax.lax.erf_inv(x * 0.5) + jax.lax.erf_inv(x * 0.25) + jnp.cbrt(x)
        return jnp.sum(y + jax.lax.population_count(jnp.int32(3)))

    with pytest.raises(UnsupportedOperationError) as raised:
        la.from_jax(function, np.array([0.3, 0.6]))
    message = str(raised.value)
    assert "erf_inv (2 equations)" in message
    assert "cbrt (1 equation)" in message
    assert "population_count" not in message  # an integer operation is a constant
    assert isinstance(raised.value, LagrangeADError)


def test_a_while_loop_on_traced_values_that_is_no_fixed_point_is_refused():
    def function(x):
        return jax.lax.while_loop(lambda y: jnp.sum(y) < 10.0, lambda y: 2.0 * y, x)

    with pytest.raises(UnsupportedOperationError, match=r"while \(1 equation.*la\.fixed_point"):
        la.from_jax(function, np.array([0.5, 1.0]))


def test_a_fixed_point_while_loop_is_a_cycle_with_the_implicit_derivative():
    def function(a):
        def body(c):
            return a * jnp.cos(c[0]), c[0]

        h, previous = jax.lax.while_loop(lambda c: jnp.abs(c[0] - c[1]) > 1e-13, body,
                                         (jnp.float64(0.5), jnp.float64(10.0)))
        return h + 0.5 * previous

    a = 0.8
    graph = la.from_jax(function, a)
    assert not graph.is_acyclic
    h = float(la.Program(graph).output_value) / 1.5
    assert h == pytest.approx(a * np.cos(h), abs=1e-14)
    implicit = np.cos(h) / (1 + a * np.sin(h))  # dh/da from h = a cos h
    assert la.grad(graph)(a)[0] == pytest.approx(1.5 * implicit, rel=1e-12)


def test_a_fixed_point_loop_with_a_counter_and_an_error_carry():
    rng = np.random.default_rng(4)
    a, b = 0.5 * rng.normal(size=(3, 3)), rng.normal(size=3)

    def function(a, b):
        def body(c):
            i, x, _ = c
            new = 0.5 * jnp.tanh(a @ x) + b
            return i + 1, new, jnp.max(jnp.abs(new - x))

        _, x, _ = jax.lax.while_loop(lambda c: (c[0] < 500) & (c[2] > 1e-14), body,
                                     (0, jnp.zeros(3), jnp.float64(1.0)))
        return jnp.sum(x ** 2)

    graph = la.from_jax(function, a, b)
    assert not graph.is_acyclic
    x = np.zeros(3)
    for _ in range(200):
        x = 0.5 * np.tanh(a @ x) + b
    # implicit derivative: (I - dg/dx)^T mu = 2 x, gradient in b is mu, in a is outer terms
    slope = 0.5 * (1 - np.tanh(a @ x) ** 2)
    mu = np.linalg.solve((np.eye(3) - slope[:, None] * a).T, 2 * x)
    grad_a, grad_b = la.grad(graph)(a, b)
    np.testing.assert_allclose(grad_b, mu, rtol=1e-10)
    np.testing.assert_allclose(grad_a, np.outer(mu * slope, x), rtol=1e-10)


def test_a_jitted_function_imports_and_the_64_bit_setting_is_restored():
    before = jax.config.jax_enable_x64

    @jax.jit
    def function(w, x):
        return {"loss": jnp.sum(jnp.tanh(w @ x) ** 2)}  # one leaf: the output

    rng = np.random.default_rng(5)
    w, x = rng.normal(size=(2, 3)), rng.normal(size=3)
    graph = assert_gradients_agree(lambda w, x: function(w, x)["loss"], w, x)
    assert la.from_jax(function, w, x).names == graph.names
    assert [graph.names[i] for i in graph.inputs] == ["w", "x"]
    assert jax.config.jax_enable_x64 == before


def test_a_pytree_output_is_refused():
    with pytest.raises(GraphError, match="returns 2 arrays"):
        la.from_jax(lambda x: (jnp.sin(x), jnp.cos(x)), np.ones(2))


def test_missing_jax_names_the_extra(monkeypatch):
    import importlib

    real_import = importlib.import_module

    def without_jax(name, *args):
        if name.split(".")[0] == "jax":
            raise ImportError(name)
        return real_import(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_jax)
    with pytest.raises(LagrangeADError, match=r"la.from_jax needs the optional package 'jax'.*"
                                              r"lagrange_ad\[jax\]"):
        la.from_jax(jnp.sin, 1.0)


def test_custom_vjp_checkpoint_and_eigenvalues_import():
    # a custom VJP rule is not read: the primal jaxpr is differentiated
    @jax.custom_vjp
    def scaled_sin(x):
        return jnp.sin(x) * 2.0

    scaled_sin.defvjp(lambda x: (scaled_sin(x), x), lambda x, g: (2.0 * g * jnp.cos(x),))
    rng = np.random.default_rng(8)
    a, x = rng.normal(size=(3, 3)), rng.normal(size=3)

    def function(a, x):
        inner = jax.checkpoint(lambda y: jnp.tanh(a @ y) * y)(x)
        return (jnp.sum(scaled_sin(inner)) + jnp.sum(jnp.linalg.eigvalsh(a @ a.T) ** 2)
                + jnp.sum(jax.lax.optimization_barrier(x) ** 2))

    assert_gradients_agree(function, a, x)


def test_eigenvectors_are_refused():
    with pytest.raises(UnsupportedOperationError, match=r"eigh \(1 equation\)"):
        la.from_jax(lambda a: jnp.sum(jnp.linalg.eigh(a)[1]), np.diag([1.0, 2.0, 3.0]))


def test_scans_in_reverse_without_xs_and_with_pytree_carries():
    rng = np.random.default_rng(9)
    xs, w = rng.normal(size=(4, 2)), rng.normal(size=(2, 2))

    def function(xs, w):
        def cell(carry, x):
            h, total = carry["h"], carry["total"]
            h = jnp.tanh(w @ h + x)
            return {"h": h, "total": total + jnp.sum(h)}, h * total

        carry, ys = jax.lax.scan(cell, {"h": jnp.zeros(2), "total": 1.0}, xs, reverse=True)
        powers, _ = jax.lax.scan(lambda c, _: (c * w, None), jnp.eye(2), length=3)
        return carry["total"] + jnp.sum(ys ** 2) + jnp.sum(powers)

    assert_gradients_agree(function, xs, w)


def test_an_out_of_bounds_gather_is_refused():
    with pytest.raises(UnsupportedOperationError, match="out of bounds"):
        la.from_jax(lambda x: jnp.sum(x.at[jnp.array([5])].get(mode="fill")), np.ones(3))


def test_a_cnn_with_lax_convolution_and_window_pooling_agrees_with_jax():
    # conv - relu - max pool by lax.reduce_window - dense - log_softmax - NLL of labels
    rng = np.random.default_rng(2)
    x, labels = rng.normal(size=(2, 1, 8, 8)), np.array([1, 3])
    w, b = rng.normal(size=(3, 1, 3, 3)) / 3, 0.1 * rng.normal(size=3)
    dense = rng.normal(size=(3 * 4 * 4, 5)) / 7

    def function(w, b, dense, x):
        z = jax.lax.conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)),
                                         dimension_numbers=("NCHW", "OIHW", "NCHW"))
        z = jax.nn.relu(z + b[None, :, None, None])
        z = jax.lax.reduce_window(z, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        logits = jax.nn.log_softmax(z.reshape(2, -1) @ dense, axis=-1)
        return -jnp.mean(logits[jnp.arange(2), labels])

    graph = assert_gradients_agree(function, w, b, dense, x)
    assert {"conv", "max_pool"} <= set(graph.op_names)


def test_convolution_layouts_strides_dilation_groups_and_window_sums_agree_with_jax():
    # NHWC / HWIO layouts, uneven padding pairs, rhs dilation and groups; a window sum with
    # padding (average pooling's numerator), an average over NHWC windows, a strided max
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(2, 7, 6, 4)), rng.normal(size=(3, 2, 2, 6))

    def function(x, w):
        z = jax.lax.conv_general_dilated(x, w, (2, 1), ((1, 0), (2, 1)), rhs_dilation=(1, 2),
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                         feature_group_count=2)
        total = jax.lax.reduce_window(z, 0.0, jax.lax.add, (1, 2, 2, 1), (1, 1, 1, 1),
                                      ((0, 0), (1, 0), (0, 1), (0, 0)))
        mean = jax.lax.reduce_window(z, 0.0, jax.lax.add, (1, 2, 2, 1), (1, 2, 2, 1),
                                     "VALID") / 4
        peak = jax.lax.reduce_window(z, -jnp.inf, jax.lax.max, (1, 3, 1, 2), (1, 2, 1, 1),
                                     "VALID")
        return jnp.sum(jnp.tanh(total)) + jnp.sum(mean ** 2) + jnp.sum(jnp.sin(peak))

    assert_gradients_agree(function, x, w)


def test_a_transposed_convolution_is_refused():
    def function(x, w):
        return jnp.sum(jax.lax.conv_general_dilated(x, w, (1,), ((1, 1),), lhs_dilation=(2,)))

    with pytest.raises(UnsupportedOperationError, match="lhs_dilation"):
        la.from_jax(function, np.ones((1, 1, 4)), np.ones((1, 1, 2)))


def test_branches_are_mask_nodes_recomputed_at_another_point():
    # imported where every entry is positive (inside the clip, cond's true branch), replayed
    # where the branches differ: the gradient is JAX's at the new point
    def function(x):
        jnp = jax.numpy
        y = jnp.where((x > 0) & (x < 1.5), jnp.sin(x), x ** 3) + jax.nn.leaky_relu(x, 0.1)
        y = y + jnp.clip(x, -0.5, 0.5) ** 2 + jax.nn.elu(x) + jnp.where(x > 0, 0.0, x)
        z = jax.lax.cond(jnp.sum(x) > 0, lambda v: jnp.exp(v), lambda v: -v, x)
        return jnp.sum(y * jnp.cos(x)) + jnp.sum(z)

    first = np.array([0.2, 0.3, 0.1, 0.4, 0.25, 0.05])
    graph = la.from_jax(function, first)
    for second in (np.array([-0.8, 0.7, -0.2, 2.0, 1.7, -1.3]),
                   np.array([-0.8, 0.7, -0.2, 0.0, 0.3, -1.3])):
        value, (expected,) = jax_value_and_gradient(function, (second,))
        np.testing.assert_allclose(la.grad(graph)(second)[0], expected, rtol=1e-10,
                                   atol=1e-10)
        assert la.Program(graph, second).output_value == pytest.approx(value, rel=1e-12)
