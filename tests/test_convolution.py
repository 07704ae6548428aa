"""Convolution and pooling: values and gradients against PyTorch (float64) and central finite
differences, the tie convention of max_pool, schedules and second derivatives on a small CNN,
and the named errors of bad shapes and parameters.

The registry-wide checks of the rows (JVP against finite differences, the dot-product test,
explicit Jacobians, multiply-add counts, curvature) run in test_primitives.py and
test_curvature.py on the operands of convolution_cases.py.
"""

import numpy as np
import pytest
from linalg_cases import check_gradient

import lagrange_ad as la
from lagrange_ad.errors import ShapeError

RNG = np.random.default_rng(20261205)


def rand(*shape):
    return RNG.standard_normal(shape)


def torch_functional():
    torch = pytest.importorskip("torch")
    return torch, torch.nn.functional


def value_and_gradients(f, *args):
    """``f(*args)`` and the gradient of ``sum(c * f(*args))`` for a fixed random c, by la."""
    out = f(*args)
    c = rand(*np.shape(out))
    grads = la.grad(lambda *xs: la.sum(f(*xs) * c))(*args)
    return out, c, grads


def torch_value_and_gradients(torch, f, c, *args):
    tensors = [torch.tensor(a, requires_grad=True) for a in args]
    out = f(*tensors)
    (out * torch.tensor(c)).sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


def assert_agree(ours, theirs):
    out, grads = ours
    ref_out, ref_grads = theirs
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-12)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=1e-11, atol=1e-12)


# ------------------------------------------------------------------------ against PyTorch

CONV_CASES = [
    # x shape, w shape, stride, padding, dilation, groups
    ((2, 3, 9), (4, 3, 3), 1, 0, 1, 1),
    ((2, 4, 10), (6, 2, 3), 2, 1, 2, 2),
    ((1, 2, 7), (3, 2, 4), 1, "same", 1, 1),
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 1, 1, 1),
    ((2, 4, 9, 8), (6, 2, 3, 2), (2, 1), (1, 0), (1, 2), 2),
    ((1, 3, 8, 8), (3, 1, 3, 3), 2, 1, 1, 3),  # depthwise
    ((1, 2, 6, 7), (2, 2, 2, 4), 1, "same", (2, 1), 1),
    ((1, 2, 5, 5), (3, 2, 5, 5), 3, 2, 1, 1),
    ((1, 2, 5, 4, 4), (2, 2, 2, 3, 2), (1, 2, 1), (1, 0, 1), 1, 1),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CONV_CASES)
def test_conv_and_its_gradients_match_torch(x_shape, w_shape, stride, padding, dilation,
                                            groups):
    torch, F = torch_functional()
    x, w = rand(*x_shape), rand(*w_shape)
    conv_nd = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[len(x_shape)]
    out, c, grads = value_and_gradients(
        lambda x, w: la.conv(x, w, stride=stride, padding=padding, dilation=dilation,
                             groups=groups), x, w)
    theirs = torch_value_and_gradients(
        torch, lambda x, w: conv_nd(x, w, stride=stride, padding=padding, dilation=dilation,
                                    groups=groups), c, x, w)
    assert_agree((out, grads), theirs)


MAX_POOL_CASES = [
    # x shape, kernel, stride, padding, dilation, ceil_mode
    ((2, 3, 9), 2, None, 0, 1, False),
    ((2, 3, 10), 3, 2, 1, 2, False),
    ((2, 3, 8, 8), 2, None, 0, 1, False),
    ((2, 2, 9, 7), (3, 2), (2, 1), (1, 1), (1, 2), False),
    ((1, 2, 7, 7), 3, 1, 1, 1, False),
    ((2, 3, 9), 2, None, 0, 1, True),
    ((1, 2, 9, 8), 3, 2, 1, 1, True),
    ((1, 2, 8, 10), (2, 3), (3, 2), (1, 0), (2, 1), True),
    ((1, 1, 6, 5), 2, 4, 0, 1, True),
    ((1, 2, 5, 4, 6), (2, 3, 2), (1, 2, 2), (1, 1, 0), 1, False),
]


@pytest.mark.parametrize("x_shape, kernel, stride, padding, dilation, ceil", MAX_POOL_CASES)
def test_max_pool_and_its_gradient_match_torch(x_shape, kernel, stride, padding, dilation, ceil):
    torch, F = torch_functional()
    x = rand(*x_shape)
    pool_nd = {3: F.max_pool1d, 4: F.max_pool2d, 5: F.max_pool3d}[len(x_shape)]
    out, c, grads = value_and_gradients(
        lambda x: la.max_pool(x, kernel, stride=stride, padding=padding, dilation=dilation,
                              ceil_mode=ceil), x)
    theirs = torch_value_and_gradients(
        torch, lambda x: pool_nd(x, kernel, stride=stride, padding=padding, dilation=dilation,
                                 ceil_mode=ceil), c, x)
    assert_agree((out, grads), theirs)


def tied_image():
    """Windows with tied maxima: constant blocks, repeated values, a plateau of zeros."""
    x = np.zeros((1, 2, 6, 6))
    x[0, 0] = np.kron(np.array([[1.0, 2.0, 0.5], [3.0, 3.0, -1.0], [0.0, 2.0, 2.0]]),
                      np.ones((2, 2)))
    x[0, 1] = np.round(RNG.uniform(0, 2, (6, 6)))
    return x


@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (3, 1, 1), ((2, 3), (1, 2), 0)])
def test_max_pool_gives_a_tie_to_the_first_maximum_as_torch_does(kernel, stride, padding):
    torch, F = torch_functional()
    x = tied_image()
    out, c, grads = value_and_gradients(
        lambda x: la.max_pool(x, kernel, stride=stride, padding=padding), x)
    theirs = torch_value_and_gradients(
        torch, lambda x: F.max_pool2d(x, kernel, stride=stride, padding=padding), c, x)
    assert_agree((out, grads), theirs)


def test_the_first_maximum_in_c_order_takes_the_whole_cotangent():
    x = np.array([[[[1.0, 4.0, 4.0], [4.0, 4.0, 0.0]]]])  # one 2x3 window, four ties
    (g,) = la.grad(lambda v: la.sum(la.max_pool(v, (2, 3))))(x)
    np.testing.assert_array_equal(g, [[[[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]])
    # overlapping windows: each sends its cotangent to its own first maximum
    x1 = np.array([[[2.0, 2.0, 2.0, 1.0]]])
    (g1,) = la.grad(lambda v: la.sum(la.max_pool(v, 2, stride=1) * np.array([1.0, 10.0,
                                                                             100.0])))(x1)
    np.testing.assert_array_equal(g1, [[[1.0, 10.0, 100.0, 0.0]]])


AVG_POOL_CASES = [
    # x shape, kernel, stride, padding, count_include_pad, divisor_override, ceil_mode
    ((2, 3, 9), 2, None, 0, True, None, False),
    ((2, 3, 9), 2, None, 0, True, None, True),
    ((1, 2, 9, 8), 3, 2, 1, True, None, True),
    ((1, 2, 9, 8), 3, 2, 1, False, None, True),
    ((1, 2, 8, 10), (2, 3), (3, 2), (1, 0), True, None, True),
    ((1, 2, 8, 10), (2, 3), (3, 2), (1, 0), True, 5, True),
    ((1, 1, 6, 5), 2, 4, 0, True, None, True),
    ((2, 3, 10), 3, 2, 1, False, None, False),
    ((2, 3, 10), 3, 2, 1, True, None, False),
    ((2, 3, 8, 8), 2, None, 0, True, None, False),
    ((2, 2, 9, 7), (3, 2), (2, 1), (1, 1), False, None, False),
    ((2, 2, 9, 7), (3, 2), (2, 1), (1, 1), True, None, False),
    ((1, 2, 7, 7), 3, 1, 1, True, 4, False),
    ((1, 2, 5, 4, 6), (2, 3, 2), (1, 2, 2), (1, 1, 0), False, None, False),
]


@pytest.mark.parametrize("x_shape, kernel, stride, padding, include, divisor, ceil",
                         AVG_POOL_CASES)
def test_avg_pool_and_its_gradient_match_torch(x_shape, kernel, stride, padding, include,
                                               divisor, ceil):
    torch, F = torch_functional()
    x = rand(*x_shape)
    out, c, grads = value_and_gradients(
        lambda x: la.avg_pool(x, kernel, stride=stride, padding=padding,
                              count_include_pad=include, divisor_override=divisor,
                              ceil_mode=ceil), x)
    if len(x_shape) == 3:
        def reference(x):
            return F.avg_pool1d(x, kernel, stride=stride, padding=padding, ceil_mode=ceil,
                                count_include_pad=include)
    else:
        pool_nd = F.avg_pool2d if len(x_shape) == 4 else F.avg_pool3d

        def reference(x):
            return pool_nd(x, kernel, stride=stride, padding=padding, ceil_mode=ceil,
                           count_include_pad=include, divisor_override=divisor)
    assert_agree((out, grads), torch_value_and_gradients(torch, reference, c, x))


@pytest.mark.parametrize("x_shape, output_size", [((2, 3, 7, 6), (1, 1)), ((2, 3, 7, 6), (3, 4)),
                                                  ((2, 3, 10), 4), ((1, 2, 5, 6), (None, 2))])
def test_adaptive_avg_pool_matches_torch(x_shape, output_size):
    torch, F = torch_functional()
    x = rand(*x_shape)
    pool_nd = F.adaptive_avg_pool1d if len(x_shape) == 3 else F.adaptive_avg_pool2d
    out, c, grads = value_and_gradients(lambda x: la.adaptive_avg_pool(x, output_size), x)
    assert_agree((out, grads),
                 torch_value_and_gradients(torch, lambda x: pool_nd(x, output_size), c, x))


# ------------------------------------------------------------ without torch: finite differences


def test_gradients_through_convolutions_and_pools_match_finite_differences():
    x, w, v = rand(2, 2, 7, 6), rand(3, 2, 3, 2), rand(4, 3, 2, 2)

    def loss(ns, x, w, v):
        h = ns.tanh(ns.conv(x, w, stride=(1, 2), padding=1, dilation=(2, 1)))
        h = ns.conv(ns.max_pool(h, 2, stride=1), v)
        return ns.sum(ns.avg_pool(h, 2, padding=1, count_include_pad=False) ** 2)

    check_gradient(loss, x, w, v)


def test_one_unbatched_example_is_the_batch_of_one():
    x, w = rand(3, 6, 5), rand(2, 3, 3, 3)
    np.testing.assert_allclose(la.conv(x, w, padding=1), la.conv(x[None], w, padding=1)[0])
    # an int kernel size reads N from x.ndim - 2: a tuple says N for one example
    np.testing.assert_allclose(la.max_pool(x, (2, 2)), la.max_pool(x[None], 2)[0])
    np.testing.assert_allclose(la.avg_pool(x, (2, 2)), la.avg_pool(x[None], 2)[0])
    (g,) = la.grad(lambda v: la.sum(la.conv(v, w) ** 2))(x)
    (g_batch,) = la.grad(lambda v: la.sum(la.conv(v, w) ** 2))(x[None])
    np.testing.assert_allclose(g, g_batch[0], rtol=1e-13)


def test_max_pool_chooses_again_at_every_point():
    # the graph traced at x replayed at x2, where other entries are the maxima
    x = np.array([[[3.0, 1.0, 0.0, 2.0]]])
    graph = la.trace(lambda v: la.sum(la.max_pool(v, 2) * np.array([1.0, 5.0])), x)
    np.testing.assert_array_equal(la.grad(graph)(x)[0], [[[1.0, 0.0, 0.0, 5.0]]])
    x2 = np.array([[[1.0, 3.0, 4.0, 2.0]]])
    np.testing.assert_array_equal(la.grad(graph)(x2)[0], [[[0.0, 1.0, 5.0, 0.0]]])


# ----------------------------------------------------------- a small CNN: schedules, curvature


def tiny_cnn(x, labels, n_classes=3):
    """conv, relu, max pool, conv, relu, average pool, linear, log-softmax, NLL."""
    onehot = np.eye(n_classes)[labels]

    def loss(w1, b1, w2, W):
        h = la.relu(la.conv(x, w1, padding=1) + b1[:, None, None])
        h = la.max_pool(h, 2)
        h = la.relu(la.conv(h, w2, padding=1))
        h = la.avg_pool(h, 2)
        logits = la.reshape(h, (x.shape[0], -1)) @ W
        return -la.sum(la.log_softmax(logits, axis=1) * onehot) / x.shape[0]

    return loss


def tiny_cnn_parameters():
    return rand(2, 1, 3, 3), 0.1 * rand(2), rand(2, 2, 3, 3), rand(2, 3)


@pytest.mark.parametrize("method", ["reverse", "spsolve", "gauss-seidel"])
def test_schedules_agree_on_a_tiny_cnn(method):
    x, labels = rand(2, 1, 4, 4), np.array([0, 2])
    loss = tiny_cnn(x, labels)
    params = tiny_cnn_parameters()
    reference = la.grad(loss)(*params)
    grads = la.grad(loss, method=method)(*params)
    for g, r in zip(grads, reference):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)
    if method == "reverse":
        check_gradient(lambda ns, *p: loss(*p), *params)


def test_tiny_cnn_gradient_matches_torch():
    torch, F = torch_functional()
    x, labels = rand(3, 1, 8, 8), np.array([0, 2, 1])
    params = tiny_cnn_parameters()
    params = params[:3] + (rand(2 * 2 * 2, 3),)
    grads = la.grad(tiny_cnn(x, labels))(*params)
    w1, b1, w2, W = (torch.tensor(p, requires_grad=True) for p in params)
    h = F.max_pool2d(F.relu(F.conv2d(torch.tensor(x), w1, b1, padding=1)), 2)
    h = F.avg_pool2d(F.relu(F.conv2d(h, w2, padding=1)), 2)
    F.nll_loss(F.log_softmax(h.reshape(3, -1) @ W, dim=1), torch.tensor(labels)).backward()
    for g, t in zip(grads, (w1, b1, w2, W)):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-11, atol=1e-13)


def gradient_differences(f, args, direction, h=1e-5):
    """Central differences of la.grad along ``direction``: the Hessian-vector product."""
    grad = la.grad(f)
    plus = grad(*[a + h * d for a, d in zip(args, direction)])
    minus = grad(*[a - h * d for a, d in zip(args, direction)])
    return [(p - m) / (2 * h) for p, m in zip(plus, minus)]


def test_hvp_through_a_conv_is_its_bilinear_cross_term_and_more():
    x, w = rand(2, 2, 5, 5), rand(3, 2, 3, 3)

    def f(x, w):
        return la.sum(la.tanh(la.conv(x, w, stride=2, padding=1)) ** 2)

    direction = (rand(*x.shape), rand(*w.shape))
    ours = la.hvp(f)((x, w), direction)
    for o, fd in zip(ours, gradient_differences(f, (x, w), direction)):
        np.testing.assert_allclose(o, fd, rtol=1e-6, atol=1e-7)


def test_hessian_of_a_bilinear_form_of_conv_has_cross_blocks_only():
    x, w, c = rand(1, 1, 4), rand(2, 1, 2), rand(1, 2, 3)
    (hxx, hxw), (hwx, hww) = la.hessian(lambda x, w: la.sum(la.conv(x, w) * c))(x, w)
    np.testing.assert_array_equal(hxx, 0.0)
    np.testing.assert_array_equal(hww, 0.0)
    # d^2 / dx[q] dw[o, k] of sum_{o, p} c[o, p] w[o, k] x[p + k] is c[o, q - k]
    expected = np.zeros((4, 2, 2))
    for q in range(4):
        for o in range(2):
            for k in range(2):
                if 0 <= q - k < 3:
                    expected[q, o, k] = c[0, o, q - k]
    np.testing.assert_allclose(hxw.reshape(4, 2, 2), expected, rtol=1e-13)
    np.testing.assert_allclose(hwx.reshape(2, 2, 4), np.moveaxis(expected, 0, -1), rtol=1e-13)


def test_hessian_through_pools_is_the_selected_diagonal():
    x = np.array([[[0.5, -2.0, 3.0, 1.0, 0.0, 0.2]]])
    h = la.hessian(lambda v: la.sum(la.max_pool(v, 2) ** 2) + la.sum(la.avg_pool(v, 3)))(x)
    expected = np.zeros((6, 6))
    for k in (0, 2, 5):  # the maxima of the windows (0.5, -2), (3, 1), (0, 0.2)
        expected[k, k] = 2.0
    np.testing.assert_allclose(h.reshape(6, 6), expected, atol=1e-13)


def test_hessian_of_a_tiny_cnn_matches_differences_of_its_gradient():
    x, labels = rand(2, 1, 4, 4), np.array([1, 0])
    loss = tiny_cnn(x, labels)
    params = tiny_cnn_parameters()
    direction = tuple(rand(*np.shape(p)) for p in params)
    ours = la.hvp(loss)(params, direction)
    for o, fd in zip(ours, gradient_differences(loss, params, direction)):
        np.testing.assert_allclose(o, fd, rtol=1e-5, atol=1e-7)
    # the second adjoint system solved from the assembled matrices agrees with the sweeps
    for o, theirs in zip(ours, la.hvp(loss, method="spsolve")(params, direction)):
        np.testing.assert_allclose(theirs, o, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------- refusals

REFUSALS = [
    (lambda: la.conv(rand(1, 3, 5, 5), rand(2, 2, 3, 3)), ShapeError,
     r"input has 3 channels but the weight .* takes 2 \* 1 = 2"),
    (lambda: la.conv(rand(1, 4, 5, 5), rand(3, 2, 3, 3), groups=2), ShapeError,
     r"groups=2 does not divide the 3 output channels"),
    (lambda: la.conv(rand(1, 2, 2, 2), rand(2, 2, 3, 3)), ShapeError,
     r"window spans 3 entries .* the output would be empty"),
    (lambda: la.conv(rand(1, 2, 6), rand(2, 2, 3), stride=0), ShapeError,
     r"stride takes an int >= 1"),
    (lambda: la.conv(rand(1, 2, 6), rand(2, 2, 3), padding=-1), ShapeError,
     r"padding takes an int >= 0"),
    (lambda: la.conv(rand(1, 2, 6), rand(2, 2, 3), padding="full"), ShapeError,
     r"padding takes 'valid', 'same'"),
    (lambda: la.conv(rand(1, 2, 6), rand(2, 2, 3), padding="same", stride=2), ShapeError,
     r"'same' needs stride 1"),
    (lambda: la.conv(rand(1, 2, 6), rand(2, 2)), ShapeError, r"1, 2 or 3 spatial axes"),
    (lambda: la.conv(rand(2, 1, 2, 6), rand(2, 2, 3)), ShapeError,
     r"\(batch, channels, \*spatial\) or \(channels, \*spatial\)"),
    (lambda: la.max_pool(rand(1, 1, 6, 6), 2, padding=2), ShapeError,
     r"as wide as the window's span 2, so a window would read padding alone"),
    (lambda: la.avg_pool(rand(1, 1, 6, 6), 7), ShapeError, r"the output would be empty"),
    (lambda: la.avg_pool(rand(1, 1, 6, 6), 2, divisor_override=0), ShapeError,
     r"divisor_override takes an int >= 1"),
    (lambda: la.avg_pool(rand(6, 6), (2, 2, 2)), ShapeError,
     r"\(batch, channels, \*spatial\) or \(channels, \*spatial\)"),
]


@pytest.mark.parametrize("call, error, message", REFUSALS)
def test_bad_shapes_and_parameters_are_refused_by_name(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_traced_refusal_names_the_shapes():
    with pytest.raises(ShapeError, match=r"groups=2 does not divide"):
        la.grad(lambda w: la.sum(la.conv(rand(1, 4, 5), w, groups=2)))(rand(3, 2, 3))


@pytest.mark.parametrize("stride", [(1, 2), (1, 1)])
def test_a_large_batch_is_taken_in_chunks_with_the_same_result(monkeypatch, stride):
    from lagrange_ad.primitives import convolution

    x, w = rand(5, 4, 6, 7), rand(6, 2, 3, 2)
    params = {"stride": stride, "padding": ((1, 1), (0, 1)), "dilation": (1, 1), "groups": 2}
    row = convolution.CONV
    ans = row.evaluate(x, w, **params)
    g = rand(*ans.shape)
    whole = (ans, *row.vjp(g, ans, x, w, **params))
    windows = convolution.geometry(x.shape, w.shape, **params)
    per_example = 4 * 6 * int(np.prod(windows.columns.grid))
    monkeypatch.setattr(convolution, "COLUMNS_BUDGET", 2 * per_example)  # two examples
    assert len(convolution._chunks(windows, 5, 4)) == 3
    chunked = (row.evaluate(x, w, **params), *row.vjp(g, ans, x, w, **params))
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
