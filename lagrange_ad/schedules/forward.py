"""Forward mode: tangent sweeps ``A vdot = s``, with the multipliers read off their outputs.

A tangent sweep solves ``A vdot = s`` for a seed ``s`` by forward substitution in topological
order::

    vdot_i = s_i + sum_{j in Pa(i)} J_ij vdot_j

It is the transpose of the reverse sweep: with ``lam = A^{-T} e_N`` the output's tangent is

    vdot_N = e_N^T A^{-1} s = lam^T s,

so a sweep seeded with the unit vector of entry c returns ``lam_c = d v_N / d v_c``, and one
seeded with a direction on the inputs returns a directional derivative. A sweep seeded at a
node starts there: its ancestors keep a zero tangent.

Three modes, all running the sweeps on the sparse J, many seeds at once as the columns of one
tangent matrix:

* default: one sweep per scalar entry of every node up to N in topological order (nodes after
  N are not ancestors of N, so their multipliers are 0 without a sweep). Every multiplier is
  exact; ``iterations`` is the number of tangent sweeps, ``graph.total_size`` when N is last.
* ``inputs_only=True``: one sweep per input entry, the cheap gradient-only mode. Only the input
  multipliers (the gradient) and ``lam_N = 1`` are computed; every other multiplier is left at
  0 and is NOT the adjoint. ``Solution.message`` says so and ``stats.extra["computed_nodes"]``
  lists the nodes whose multipliers are exact. No KKT residual is reported.
* ``seeds=[(t_1, ..., t_n), ...]``: one sweep per direction (a tangent per input, shaped like
  it). ``stats.extra["directional_derivatives"]`` holds ``grad . t`` for each. The gradient
  itself is not recoverable from fewer directions than input entries, so the input
  multipliers hold the orthogonal projection of the gradient onto the span of the directions
  (the gradient itself when they span the input space, e.g. the unit vectors), ``lam_N = 1``,
  and every other multiplier is 0.

The cost of forward mode is a sweep per seed, against one reverse sweep for all multipliers:
``stats.multiply_adds`` counts the local partials applied over all sweeps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..program.program import Program
from .budget import Cost
from .options import flag, value
from .plans import node_entries
from .registry import Outcome, Schedule, register_schedule

# tangent matrix entries per block of simultaneous sweeps (32 MB of float64)
BLOCK_ENTRIES = 1 << 22


def tangent_sweep(nodes: np.ndarray, offsets: np.ndarray, indptr: np.ndarray,
                  indices: np.ndarray, data: np.ndarray, row: np.ndarray,
                  tangents: np.ndarray) -> None:
    """In place, for node i in ``nodes``: ``vdot_i += J_i,Pa(i) vdot_Pa(i)``, every column at once.

    ``tangents`` starts as the seeds (entries x sweeps); ``indptr, indices, data`` are J in CSR
    and ``row`` is ``indptr`` expanded (the row of every stored partial).
    """
    for i in nodes.tolist():
        k0, k1 = indptr[offsets[i]], indptr[offsets[i + 1]]
        if k0 == k1:
            continue
        products = data[k0:k1, None] * tangents[indices[k0:k1]]
        np.add.at(tangents, row[k0:k1], products)


class TangentSweeps:
    """Blocks of tangent sweeps on one program; `output_tangents` returns ``vdot_N`` per seed."""

    def __init__(self, program: Program):
        graph = program.graph
        jac = program.local_jacobian()
        self.offsets = graph.offsets
        self.indptr = jac.indptr.astype(np.int64)
        self.indices = jac.indices.astype(np.int64)
        self.data = jac.data
        self.row = np.repeat(np.arange(graph.total_size, dtype=np.int64), np.diff(self.indptr))
        self.order = graph.topological_order()
        self.position = np.empty(len(graph), np.int64)
        self.position[self.order] = np.arange(len(graph))
        self.output_entry = int(graph.offsets[graph.output])
        self.first_input = int(self.position[:graph.n_inputs].min()) if graph.n_inputs else 0
        # the sweeps stop at N: nodes after it in the order cannot change vdot_N
        self.stop = int(self.position[graph.output]) + 1
        order_nnz = (self.indptr[self.offsets[self.order + 1]]
                     - self.indptr[self.offsets[self.order]])
        self.nnz_from = np.concatenate([np.cumsum(order_nnz[::-1])[::-1], [0]])
        self.width = max(1, BLOCK_ENTRIES // max(1, graph.total_size))
        self.spent = 0
        self.sweeps = 0

    def output_tangents(self, seeds: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """``vdot_N`` for each seed column; column k vanishes before order position ``starts[k]``.

        The sweeps run together from the earliest start; each is charged the partials from its
        own start to N, which is what it costs alone.
        """
        tangents = np.array(seeds, dtype=np.float64)
        nodes = self.order[int(starts.min()):self.stop]
        tangent_sweep(nodes, self.offsets, self.indptr, self.indices, self.data, self.row,
                      tangents)
        self.sweeps += tangents.shape[1]
        self.spent += int(np.sum(self.nnz_from[starts] - self.nnz_from[self.stop]))
        return tangents[self.output_entry].copy()


def _unit_sweeps(sweeps: TangentSweeps, entries: np.ndarray, entry_position: np.ndarray,
                 lam: np.ndarray) -> None:
    """``lam_c = vdot_N`` of the sweep seeded with the unit vector of each entry c, in blocks."""
    n = lam.size
    for b0 in range(0, entries.size, sweeps.width):
        block = entries[b0:b0 + sweeps.width]
        seeds = np.zeros((n, block.size))
        seeds[block, np.arange(block.size)] = 1.0
        lam[block] = sweeps.output_tangents(seeds, entry_position[b0:b0 + block.size])


def _directional(sweeps: TangentSweeps, directions: np.ndarray) -> np.ndarray:
    """``grad . t`` for each column t of ``directions`` (over the input entries)."""
    n, n_in = sweeps.offsets[-1], directions.shape[0]
    out = []
    for b0 in range(0, directions.shape[1], sweeps.width):
        block = directions[:, b0:b0 + sweeps.width]
        seeds = np.zeros((n, block.shape[1]))
        seeds[:n_in] = block
        out.append(sweeps.output_tangents(seeds, np.full(block.shape[1], sweeps.first_input)))
    return np.concatenate(out) if out else np.zeros(0)


def _run(program: Program, *, inputs_only: bool = False,
         seeds: Sequence[Sequence] | None = None, check: bool = True) -> Outcome:
    graph = program.graph
    sweeps = TangentSweeps(program)
    lam = np.zeros(graph.total_size)
    n_in = int(graph.offsets[graph.n_inputs])
    if seeds is not None:
        directions = _seed_matrix(program, seeds)
        derivatives = _directional(sweeps, directions)
        # the minimum-norm g with directions^T g = derivatives is the projection of the gradient
        lam[:n_in] = np.linalg.lstsq(directions.T, derivatives, rcond=None)[0]
        lam[sweeps.output_entry] = 1.0
        computed = np.zeros(0, np.int64)
        message = (f"forward: {sweeps.sweeps} directional tangent sweep(s); the directional "
                   f"derivatives are in stats.extra['directional_derivatives']; the input "
                   f"multipliers hold the projection of the gradient onto the span of the seeds, "
                   f"the other multipliers are not computed (0)")
        extra = {"mode": "directional", "directional_derivatives": derivatives,
                 "computed_nodes": computed}
        residuals: list[float] = []
    else:
        order = sweeps.order[:sweeps.stop]
        if inputs_only:
            order = order[order < graph.n_inputs]
        entries = node_entries(graph.offsets, order)
        entry_position = np.repeat(sweeps.position[order],
                                   graph.offsets[order + 1] - graph.offsets[order])
        _unit_sweeps(sweeps, entries, entry_position, lam)
        if inputs_only:
            lam[sweeps.output_entry] = 1.0
            computed = np.unique(np.r_[np.arange(graph.n_inputs), graph.output])
            message = (f"forward: {sweeps.sweeps} tangent sweep(s), one per input entry; only "
                       f"the input multipliers (the gradient) and lam_N = 1 are computed, the "
                       f"other multipliers are left at 0")
            residuals = []
        else:
            computed = np.arange(len(graph))
            message = f"forward: {sweeps.sweeps} tangent sweep(s), one per entry up to N"
            residuals = [program.kkt_residual(lam)] if check else []
        extra = {"mode": "inputs only" if inputs_only else "all nodes",
                 "computed_nodes": computed}
    extra["tangent_sweeps"] = sweeps.sweeps
    return Outcome(lam, iterations=sweeps.sweeps, converged=True, residuals=residuals,
                   multiply_adds=sweeps.spent, message=message, extra=extra)


def _seed_matrix(program: Program, seeds) -> np.ndarray:
    """The directions as columns over the input entries (checked by `_refuses`)."""
    n_in = int(program.graph.offsets[program.graph.n_inputs])
    columns = [np.concatenate([np.ravel(np.asarray(t, np.float64)) for t in seed] or
                              [np.zeros(0)]) for seed in seeds]
    return np.stack(columns, axis=1) if columns else np.zeros((n_in, 0))


def seeds_problem(program: Program, seeds) -> str | None:
    """Why ``seeds`` is not a sequence of tangent tuples shaped like the inputs, or None."""
    graph = program.graph
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, np.ndarray)):
        return (f"seeds={seeds!r:.80}: expected a sequence of directions, each a tuple with one "
                f"tangent per input")
    if len(seeds) == 0:
        return "seeds is empty: give at least one direction"
    for k, seed in enumerate(seeds):
        if not isinstance(seed, (Sequence, np.ndarray)) or len(seed) != graph.n_inputs:
            return (f"seeds[{k}] must hold one tangent per input ({graph.n_inputs}); got "
                    f"{seed!r:.80}")
        for i, t in enumerate(seed):
            try:
                t = np.asarray(t, dtype=np.float64)
            except (TypeError, ValueError):
                return f"seeds[{k}][{i}] is not a number or array of numbers: {t!r:.80}"
            if t.shape != graph.shape(i):
                return (f"seeds[{k}][{i}], the tangent of input {graph.name(i)}, has shape "
                        f"{t.shape}; expected {graph.shape(i)}")
            if not np.all(np.isfinite(t)):
                return f"seeds[{k}][{i}] contains NaN or infinity"
    return None


def _refuses(program: Program, options: dict) -> str | None:
    if not program.graph.is_acyclic:
        return ("the graph has a cycle, so there is no topological order for tangent sweeps; "
                "use method='jacobi' or a Krylov method")
    return None


def _seeds_apply(program: Program, options: dict) -> str | None:
    if options["seeds"] is not None and options.get("inputs_only"):
        return "seeds= and inputs_only=True exclude each other; pass one of them"
    return None


def _check_applies(program: Program, options: dict) -> str | None:
    if options["check"] and (options.get("inputs_only") or options.get("seeds") is not None):
        return "the KKT residual needs every multiplier, and this mode computes the gradient alone"
    return None


def _cost(program: Program, options: dict) -> Cost:
    """Tangent sweeps times the partials of one sweep (each stops at N: an upper bound)."""
    graph = program.graph
    if options.get("seeds") is not None:
        sweeps, what = len(options["seeds"]), "directional tangent sweeps"
    elif options.get("inputs_only"):
        sweeps, what = int(graph.offsets[graph.n_inputs]), "tangent sweeps (one per input entry)"
    else:
        sweeps, what = graph.total_size, "tangent sweeps (one per entry)"
    nnz = program.total_multiply_adds
    return Cost(float(sweeps) * nnz, f"{sweeps:,} {what} x {nnz:,} partials")


FORWARD = register_schedule(Schedule(
    name="forward",
    run=_run,
    summary="forward mode: one tangent sweep A vdot = e_c per entry (or per seed direction)",
    refuses=_refuses,
    accepts=(
        flag("inputs_only", False, "one sweep per input entry: the gradient alone"),
        value("seeds", None, "directions, each a tuple with one tangent per input: one sweep "
              "each", seeds_problem, none=True, applies=_seeds_apply),
        flag("check", True, "compute the KKT residual (all-entries mode only)",
             applies=_check_applies)),
    cost=_cost,
))
