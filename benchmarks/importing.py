"""Imported models: the time `la.from_torch` and `la.from_jax` take per node, and the gradient
of the imported graphs against torch's eager float64 backward and ``jax.grad``.

Both models and their JAX twins are in `imported`. Every gradient is checked against torch's
(to 1e-9, relative to the largest entry) before it is timed.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

import lagrange_ad as la

from . import imported, peers
from .context import Context, check_gradient, named, ratio_goal
from .harness import (
    NotAvailable,
    Row,
    Table,
    failed,
    measure_alternating,
    timed_row,
    timing_table,
)

BATCH = 32  # both models; the smoke size uses SMOKE_BATCH
SMOKE_BATCH = 2
ALTERNATING_ROUNDS = 4  # lagrange_ad and torch timed in turn: their ratio is a target
MODELS = {"transformer": ("TransformerEncoderLayer (d_model 64, 4 heads, length 16)",
                          imported.transformer, imported.jax_transformer_loss),
          "cnn": ("CNN on 28x28 (2 conv, 2 max pool, linear)", imported.cnn,
                  imported.jax_cnn_loss)}


class Case:
    """One model at one batch size: the torch module with its loss, the input and the target."""

    def __init__(self, name: str, batch: int):
        self.name, self.batch = name, batch
        self.title, make, self._jax_loss = MODELS[name]
        model, self.x = make(batch)
        self.target = imported.target_for(model, self.x)
        self.module = imported.with_loss(model, self.target)
        self.torch_gradient = imported.torch_gradient(self.module, self.x)
        self.expected = np.concatenate([g.ravel() for g in self.torch_gradient()])

    def graph(self) -> la.Graph:
        """The module imported by `la.from_torch` (NotAvailable when there is none)."""
        if not hasattr(la, "from_torch"):
            raise NotAvailable("la.from_torch")
        return la.from_torch(self.module, self.x, buffers="constants")  # the target

    def jax_problem(self) -> tuple[Callable, dict, np.ndarray]:
        """The loss in JAX, the parameters by torch's names and the input."""
        peers._jax()  # float64
        return self._jax_loss(self.target), imported.parameters(self.module), self.x


def batch_of(ctx: Context) -> int:
    return SMOKE_BATCH if ctx.size.name == "smoke" else BATCH


def case(ctx: Context, name: str) -> Case:
    def make():
        peers.load("torch")
        return Case(name, batch_of(ctx))

    return ctx.memo(("imported", name), make)


def imported_workload(ctx: Context) -> list[Table]:
    return [import_table(ctx)] + [gradient_table(ctx, name) for name in MODELS]


# ----------------------------------------------------------------- import time per node


def import_table(ctx: Context) -> Table:
    rows = []
    for name, (title, _, _) in MODELS.items():
        rows.append(import_row(ctx, name, "torch", f"lagrange_ad la.from_torch, {title}"))
    for name, (title, _, _) in MODELS.items():
        rows.append(import_row(ctx, name, "jax", f"la.from_jax of the JAX twin, {title}"))
    return timing_table(
        f"Importing a model (batch {batch_of(ctx)}): time per node of the graph", rows,
        notes=("la.from_torch runs torch.export and interprets its FX graph; la.from_jax "
               "makes the jaxpr and interprets it. Both record the nodes and compute their "
               "values once. N is the number of nodes of the graph.",))


def import_row(ctx: Context, name: str, library: str, label: str) -> Row:
    try:
        model = case(ctx, name)
        if library == "torch":
            n = len(model.graph())
            return timed_row(label, n, lambda: ctx.time(model.graph, n))
        loss, params, x = model.jax_problem()
        if not hasattr(la, "from_jax"):
            raise NotAvailable("la.from_jax")
        n = len(la.from_jax(loss, params, x))
        return timed_row(label, n, lambda: ctx.time(lambda: la.from_jax(loss, params, x), n))
    except Exception as exc:  # a missing peer or feature, or a failure: reported in the table
        return failed(label, None, exc)


# ----------------------------------------------------------------- gradients


def gradient_table(ctx: Context, name: str) -> Table:
    title = MODELS[name][0]
    try:
        model = case(ctx, name)
    except Exception as exc:  # torch missing: every row says so
        rows = [failed(label, None, exc) for label in GRADIENT_LABELS]
        return gradient_timing_table(ctx, title, rows)
    mine, torch_row = lagrange_and_torch_rows(ctx, model)
    rows = [mine, named(torch_row, torch_row.system,
                        ratio_goal(mine, torch_row, 2.0, "la.grad(graph) within 2x")),
            from_jax_row(ctx, model)]
    rows += [jax_row(ctx, model, jit) for jit in (False, True)]
    return gradient_timing_table(ctx, title, rows)


GRADIENT_LABELS = ("lagrange_ad la.grad(graph) of la.from_torch",
                   "torch eager forward + backward (float64, one thread)",
                   "la.grad(graph) of la.from_jax (the JAX twin)", "jax.grad (eager)",
                   "jax.grad (jit)")


def gradient_timing_table(ctx: Context, title: str, rows: list[Row]) -> Table:
    return timing_table(
        f"Gradient of an imported model: {title}, batch {batch_of(ctx)}", rows,
        unit="gradient",
        notes=("Every system computes the loss and the gradient of every parameter and of the "
               "input, in float64, from the same weights and input. lagrange_ad differentiates "
               "the graph imported once (as a training loop would); torch runs its forward and "
               "backward eagerly on one thread; jax.grad runs the JAX twin of the model.",
               f"numpy's BLAS threads: OPENBLAS_NUM_THREADS = "
               f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}. On a busy machine set it to 1 "
               f"(as torch's threads are here): a thread pool waiting on busy cores can make "
               f"either system several times slower.",))


def lagrange_and_torch_rows(ctx: Context, model: Case) -> tuple[Row, Row]:
    labels = GRADIENT_LABELS[:2]
    torch = peers.load("torch")
    threads = torch.get_num_threads()
    # one thread: on a shared machine torch's thread pool waits on busy cores (a layer that
    # takes 10 ms on one thread took 0.5 s on two under load); numpy's sweeps run on one too
    torch.set_num_threads(1)
    try:
        graph = model.graph()
        grad = la.grad(graph)
        point = graph.point
        check_gradient("lagrange_ad", ordered_like_torch(graph, grad(*point)), model.expected,
                       rtol=1e-9)
        timings = measure_alternating([lambda: grad(*point), model.torch_gradient], 1,
                                      ALTERNATING_ROUNDS * ctx.repeat, ctx.size.budget)
    except Exception as exc:  # reported in the table; torch is timed alone
        return failed(labels[0], 1, exc), timed_row(
            labels[1], 1, lambda: ctx.time(model.torch_gradient, 1))
    finally:
        torch.set_num_threads(threads)
    return tuple(timed_row(label, 1, lambda t=t: t) for label, t in zip(labels, timings))


def ordered_like_torch(graph: la.Graph, gradient) -> list[np.ndarray]:
    """The gradient in torch's order: the parameters by name, then the input.

    `la.from_torch` names its inputs by the module (``model.layer.weight``), the input ``x``;
    the buffer (the target) is imported as a constant.
    """
    return [np.asarray(g) for g in gradient]


def from_jax_row(ctx: Context, model: Case) -> Row:
    """la.grad of the graph `la.from_jax` makes of the JAX twin."""
    label = GRADIENT_LABELS[2]

    def work():
        loss, params, x = model.jax_problem()
        if not hasattr(la, "from_jax"):
            raise NotAvailable("la.from_jax")
        graph = la.from_jax(loss, params, x)
        grad = la.grad(graph)
        point = graph.point
        # the graph's inputs are the dict's leaves in sorted key order, then x
        position = {graph.names[i]: i for i in graph.inputs}

        def run():
            gradient = grad(*point)
            return [gradient[position[f"params[{k!r}]"]] for k in params] + [gradient[-1]]

        check_gradient(label, run(), model.expected, rtol=1e-9)
        return ctx.time(run, 1)

    return timed_row(label, 1, work)


def jax_row(ctx: Context, model: Case, jit: bool) -> Row:
    label = GRADIENT_LABELS[4 if jit else 3]

    def work():
        jax = peers._jax()
        loss, params, x = model.jax_problem()
        gradient = jax.grad(loss, argnums=(0, 1))
        if jit:
            gradient = jax.jit(gradient)

        def run():
            by_name, dx = gradient(params, x)
            leaves = [by_name[k] for k in params] + [dx]
            return [np.asarray(leaf.block_until_ready()) for leaf in leaves]

        check_gradient(label, run(), model.expected, rtol=1e-9)
        return ctx.time(run, 1)

    return timed_row(label, 1, work)
