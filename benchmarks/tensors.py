"""Tensor workloads: the MLP gradient against numpy, autograd and PyTorch, a small CNN's
against PyTorch, and the equilibrium layer (implicit gradient against unrolled backprop).
"""

from __future__ import annotations

import numpy as np

import lagrange_ad as la

from . import models, peers
from .context import (
    Context,
    check_gradient,
    named,
    ratio_goal,
    relative_error,
    reverse_sweep,
)
from .harness import (
    NotAvailable,
    Row,
    Table,
    failed,
    measure_alternating,
    timed_row,
    timing_table,
)

ALTERNATING_ROUNDS = 4  # the ratios to numpy are targets: more samples than other rows

# ----------------------------------------------------------------- 6. MLP


def mlp_forward_backward(ctx: Context, width: int) -> tuple[Row, Row]:
    """lagrange_ad's forward values and reverse sweep on the MLP graph, per gradient."""
    def rows():
        params, X, Y = models.mlp_problem(width, ctx.size.batch)
        graph = la.trace(models.lagrange_mlp(X, Y), *params)
        program = la.Program(graph)
        forward = timed_row("values", 1, lambda: ctx.time(lambda: la.Program(graph), 1))
        backward = timed_row("sweep", 1, lambda: ctx.time(lambda: reverse_sweep(program), 1))
        return forward, backward

    return ctx.memo(("mlp", width), rows)


def mlp_workload(ctx: Context) -> list[Table]:
    return [mlp_table(ctx, width) for width in ctx.size.widths]


def mlp_table(ctx: Context, width: int) -> Table:
    params, X, Y = models.mlp_problem(width, ctx.size.batch)
    loss = models.lagrange_mlp(X, Y)
    grad = la.grad(loss)
    _, expected = models.numpy_mlp_grad(X, Y, *params)
    expected = np.concatenate([g.ravel() for g in expected])
    check_gradient("lagrange_ad", grad(*params), expected, rtol=1e-10)
    traced_once = la.grad(la.trace(loss, *params))
    check_gradient("lagrange_ad (graph)", traced_once(*params), expected, rtol=1e-10)
    # the two targets are ratios to numpy: the three are timed in turn (see harness)
    timings = measure_alternating(
        [lambda: grad(*params), lambda: traced_once(*params),
         lambda: models.numpy_mlp_grad(X, Y, *params)],
        1, ALTERNATING_ROUNDS * ctx.repeat, ctx.size.budget)
    mine, replayed, numpy_row = (timed_row(system, 1, lambda t=t: t) for system, t in zip(
        ("la.grad", "la.grad(graph)", "numpy"), timings))
    trace = timed_row("trace", 1, lambda: ctx.time(lambda: la.trace(loss, *params), 1))
    forward, backward = mlp_forward_backward(ctx, width)
    autograd_row = tensor_peer_row(ctx, "autograd", params, X, Y, expected)
    rows = [named(mine, "lagrange_ad la.grad(f) (traced at every call)"),
            named(replayed, "lagrange_ad la.grad(graph) (traced once)"),
            named(trace, "lagrange_ad trace (build + values)"),
            named(forward, "lagrange_ad values Program(graph)"),
            named(backward, "lagrange_ad reverse sweep (VJP rules)"),
            named(numpy_row, "numpy hand-written backprop",
                  f"{ratio_goal(mine, numpy_row, 1.15, 'la.grad(f) within 1.15x')}; "
                  f"{ratio_goal(replayed, numpy_row, 1.15, 'la.grad(graph) within 1.15x')}"),
            named(autograd_row, "autograd grad",
                  f"{ratio_goal(mine, autograd_row, 1.0, 'la.grad(f) faster')}; "
                  f"{ratio_goal(replayed, autograd_row, 1.0, 'la.grad(graph) faster')}"),
            named(tensor_peer_row(ctx, "torch", params, X, Y, expected),
                  "torch (float64) backward")]
    return timing_table(
        f"MLP gradient: 4 layers of width {width}, batch {ctx.size.batch}, tanh, softmax "
        f"cross-entropy", rows, unit="gradient",
        notes=("Every gradient is checked against the numpy backprop (to 1e-10) before "
               "timing.",
               "la.grad(graph) differentiates a graph traced once (la.trace) at each call, "
               "as a training loop would; la.grad(f) traces f again at every call."))


def tensor_peer_row(ctx: Context, peer: str, params, X, Y, expected) -> Row:
    def work():
        if peer == "autograd":
            autograd = peers.load("autograd")
            grad = autograd.grad(models.autograd_mlp(X, Y), argnum=list(range(len(params))))

            def run():
                return grad(*params)
        else:
            torch = peers.load("torch")
            loss = models.torch_mlp(X, Y)

            def run():
                leaves = [torch.from_numpy(p).requires_grad_() for p in params]
                loss(*leaves).backward()
                return [leaf.grad.numpy() for leaf in leaves]
        check_gradient(peer, run(), expected, rtol=1e-10)
        return ctx.time(run, 1)

    return timed_row(peer, 1, work)


# ----------------------------------------------------------------- a small CNN


def cnn_workload(ctx: Context) -> list[Table]:
    batch = min(models.CNN_BATCH, ctx.size.batch)
    params, X, Y = models.cnn_problem(batch)
    loss = models.lagrange_cnn(X, Y)
    grad = la.grad(loss)
    expected = np.concatenate([g.ravel() for g in grad(*params)])
    traced_once = la.grad(la.trace(loss, *params))
    check_gradient("lagrange_ad (graph)", traced_once(*params), expected, rtol=1e-12)
    timings = measure_alternating([lambda: grad(*params), lambda: traced_once(*params)],
                                  1, ctx.repeat, ctx.size.budget)
    mine, replayed = (timed_row(system, 1, lambda t=t: t)
                      for system, t in zip(("la.grad", "la.grad(graph)"), timings))

    def torch_timing():
        torch = peers.load("torch")
        torch_loss = models.torch_cnn(X, Y)

        def run():
            leaves = [torch.from_numpy(p).requires_grad_() for p in params]
            torch_loss(*leaves).backward()
            return [leaf.grad.numpy() for leaf in leaves]

        check_gradient("torch", run(), expected, rtol=1e-10)
        return ctx.time(run, 1)

    torch_row = timed_row("torch", 1, torch_timing)
    rows = [named(mine, "lagrange_ad la.grad(f) (traced at every call)"),
            named(replayed, "lagrange_ad la.grad(graph) (traced once)"),
            named(torch_row, "torch (float64) backward",
                  ratio_goal(mine, torch_row, 2.0, "la.grad(f) within 2x"))]
    return [timing_table(
        f"CNN gradient: conv 1->8 3x3, relu, max-pool 2, conv 8->16 3x3, relu, max-pool 2, "
        f"linear to 10, cross-entropy; 28x28 images, batch {batch}", rows, unit="gradient",
        notes=("torch's gradient is checked against lagrange_ad's (to 1e-10) before timing.",
               "The conv rows are numpy im2col products (BLAS); pooling makes one pass per "
               "kernel offset."))]


# ----------------------------------------------------------------- 7. cyclic graphs


# the accuracy: the implicit gradient and the unrolled one are compared at this error
TARGET_ERROR = 1e-8
IMPLICIT_TOL = 1e-10  # forward fixed point and adjoint GMRES: comfortably below TARGET_ERROR
FIXED_POINT_STEPS = 20_000  # the slow layer's forward iteration needs about 1,200


def cyclic_workload(ctx: Context) -> list[Table]:
    return [cyclic_table(ctx, slow) for slow in (False, True)]


def cyclic_table(ctx: Context, slow: bool) -> Table:
    n = ctx.size.equilibrium_n
    W, U, x, b = models.equilibrium_problem(n, slow=slow)
    exact = models.implicit_gradient(W, U, x, b)
    krylov = implicit_row(ctx, W, U, x, b, exact, "gmres")
    neumann = implicit_row(ctx, W, U, x, b, exact, "fixed-point")
    steps, error = unrolled_steps(W, U, x, b, exact, TARGET_ERROR)
    grad = la.grad(models.unrolled_loss(W, U, x, steps))
    unrolled = timed_row(f"lagrange_ad unrolled backprop, K = {steps} (error {error:.1e})", n,
                         lambda: ctx.time(lambda: grad(b), n))
    rows = [krylov, neumann,
            named(unrolled, unrolled.system,
                  ratio_goal(krylov, unrolled, 0.2, "implicit (GMRES) >= 5x faster")),
            timed_row("numpy implicit gradient (iterate, dense solve)", n,
                      lambda: ctx.time(lambda: models.implicit_gradient(W, U, x, b), n))]
    case = ("slow: W = 0.98 Q, Q orthogonal, small inputs" if slow
            else "W Gaussian, ||W||_2 = 1/2")
    return timing_table(
        f"Equilibrium layer h = tanh(W h + U x + b), n = {n} ({case}): dl/db", rows,
        unit="unit of h", notes=(
            "Errors: max-norm distance to the numpy implicit gradient (dense solve), relative. "
            f"The implicit rows solve the forward fixed point and the adjoint block to "
            f"{IMPLICIT_TOL:g}; K is the fewest unrolled steps whose gradient is within "
            f"{TARGET_ERROR:g}. Each implicit iteration, forward or adjoint, costs about one "
            f"unrolled step, and GMRES converges no faster than the iteration when the "
            f"eigenvalues of W^T D lie on a circle (the slow layer).",))


def implicit_row(ctx: Context, W, U, x, b, exact, inner: str) -> Row:
    """la.grad through ``la.fixed_point`` (the KKT system of the cyclic graph)."""
    n = len(b)
    label = f"lagrange_ad implicit (la.fixed_point + la.grad, inner {inner})"
    if not hasattr(la, "fixed_point"):
        return failed(label, n, NotAvailable("la.fixed_point"))
    # timed whatever its cost estimate (the slow layer's is over the default budget)
    grad = la.grad(models.implicit_loss(W, U, x, IMPLICIT_TOL, FIXED_POINT_STEPS), inner=inner,
                   tol=IMPLICIT_TOL, maxiter=FIXED_POINT_STEPS, budget=float("inf"))
    try:
        error = relative_error(grad(b)[0], exact)
    except Exception as exc:  # reported in the table
        return failed(label, n, exc)
    return timed_row(f"{label} (error {error:.1e})", n, lambda: ctx.time(lambda: grad(b), n))


def unrolled_steps(W, U, x, b, exact, tol: float, limit: int = 2048) -> tuple[int, float]:
    """The fewest unrolled steps K whose gradient is within ``tol``, and its error.

    K doubles until the error is small enough, then bisection finds the fewest; the error
    falls with K (geometrically, at the contraction's rate).
    """
    def error(steps: int) -> float:
        (got,) = la.grad(models.unrolled_loss(W, U, x, steps))(b)
        return relative_error(got, exact)

    high = 1
    while error(high) > tol:
        if high >= limit:
            raise ArithmeticError(f"the unrolled gradient did not reach {tol:.1e} in {limit} "
                                  f"steps")
        high *= 2
    low = high // 2  # too few (or 0)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if error(middle) <= tol else (middle, high)
    return high, error(high)
