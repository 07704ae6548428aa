"""The step every sweep by VJP rules repeats: node i sends ``g^T d p_i / d v_Pa(i)`` upward.

With ``lam_i = g`` final, node i adds to each parent's multiplier

    lam_j += g^T d p_i / d v_j,       j in Pa(i),

one cotangent per parent, computed by the primitive's VJP rule. Multipliers are kept node by
node (`NodeVector.from_blocks`), and nothing is added in place, so a rule may return its
incoming cotangent itself. The acyclic reverse sweep and the condensation sweep over graphs
with cycles both run on this.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np

from ..program.program import Program
from ..program.vectors import NodeVector


class CotangentSweep:
    """The multipliers of a sweep by VJP rules, and the multiply-adds spent on them.

    With ``gradient_only`` the nodes that depend on no input (`Program.depends_on_input`) get
    no multiplier: the gradient never needs them, and for a data matrix X in ``X @ W``
    skipping them saves a product as large as the forward one.
    """

    def __init__(self, program: Program, gradient_only: bool):
        graph = program.graph
        needed = program.depends_on_input if gradient_only else np.ones(len(graph), bool)
        self.program = program
        # plain lists: the sweeps read single entries, where numpy scalars are slow
        self.needed = needed.tolist()
        self.skipped = (graph.is_source | ~needed).tolist()
        self.cost = program.multiply_adds.tolist()
        self.ptr, self.idx = graph.parent_ptr.tolist(), graph.parent_idx.tolist()
        # a value the program did not keep is read by no rule (`lean.gradient_reads`) but for
        # its shape: a NaN stand-in of that shape, which costs no memory and could not go
        # unnoticed if a rule read it after all
        self.values = [_stand_in(graph.shape(i)) if v is None else v
                       for i, v in enumerate(program.values.blocks())]
        self.lam: list = [None] * len(graph)
        if program.seeds_output:
            self.lam[graph.output] = np.ones(graph.shape(graph.output))
        else:  # another right-hand side (a `SecondSystem`'s w), node by node
            self.lam = [b if b.any() else None
                        for b in NodeVector(graph, program.rhs(), copy=False).blocks()]
        self.spent = 0

    def parents(self, i: int) -> list[int]:
        return self.idx[self.ptr[i]:self.ptr[i + 1]]

    def pending(self, i: int) -> bool:
        """Whether node i has a nonzero multiplier to send on (sources send nothing)."""
        g = self.lam[i]
        return g is not None and not self.skipped[i] and bool(g.any())

    def cotangents(self, i: int, g: np.ndarray, wanted: list) -> list:
        """``(j, g^T d p_i / d v_j)`` for the wanted parents j of node i.

        A cotangent the rule leaves out (None) is not paid for; products, the only rules
        given per operand, cost the same for each operand.
        """
        parents = self.parents(i)
        cts = self.program.node_vjp(i, g, self.values[i], [self.values[j] for j in parents],
                                    wanted=wanted)
        self.spent += self.cost[i] * sum(ct is not None for ct in cts) // len(parents)
        return [(j, ct) for j, ct, w in zip(parents, cts, wanted) if w and ct is not None]

    def send(self, i: int, g: np.ndarray, wanted: list | None = None) -> None:
        """Add node i's cotangents of g to the multipliers of its (wanted, needed) parents."""
        lam = self.lam
        if wanted is None:
            wanted = [self.needed[j] for j in self.parents(i)]
        for j, ct in self.cotangents(i, g, wanted):
            lam[j] = ct if lam[j] is None else lam[j] + ct

    def result(self, kept: Iterable[int], missing: str) -> NodeVector:
        """The multipliers, zero for the nodes of ``kept`` that received none; the others
        missing, for the reason ``missing``."""
        graph = self.program.graph
        for j in kept:
            if self.lam[j] is None:
                self.lam[j] = np.zeros(graph.shape(j))
        return NodeVector.from_blocks(graph, self.lam, missing)


@functools.lru_cache(maxsize=256)
def _stand_in(shape: tuple) -> np.ndarray:
    """A read-only NaN array of ``shape`` taking no memory (one entry, broadcast)."""
    return np.broadcast_to(np.float64(np.nan), shape)
