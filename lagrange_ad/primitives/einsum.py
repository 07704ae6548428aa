"""``einsum``: a sum of products of entries, named by index letters (``"ij,jk->ik"``).

With operand k written ``x_k[s_k]`` and the output ``ans[o]``, the value is a sum over every
letter not in ``o`` of the product of the operands. It is linear in each operand, so

    jvp  = sum_k einsum(x_1, .., t_k, .., x_m),
    vjp_k[s_k] = einsum(g[o], x_j[s_j] for j != k)   (summed over letters not in s_k),

and the explicit block of operand k has one entry per assignment of the letters of ``o`` and
``s_k`` together: ``d ans[o] / d x_k[s_k] = einsum of the other operands`` at that assignment.

Rules of the subscripts: the output is explicit (``"->"`` always written), letters only (no
``"..."``: name every axis), no letter twice in the output, and every occurrence of one letter
has the same length (no broadcasting of length-1 axes). A letter repeated within one operand
(``"ii->i"``, a diagonal; ``"ii->"``, a trace) is supported: the cotangent is written on that
diagonal and is zero off it. A letter of one operand that appears nowhere else is summed over,
and its cotangent is the same for every value of that letter.

Being linear in each operand, its second derivatives are the cross terms alone:
``curvature_k = sum_{j != k} vjp_k`` with operand j replaced by its tangent
(`structure.multilinear_curvature`).
"""

from __future__ import annotations

from string import ascii_letters

import numpy as np

from ..errors import ShapeError
from .registry import Block, Primitive, register
from .structure import multilinear_curvature, size_of


def parse(subscripts, shapes) -> tuple[list[str], str, dict]:
    """The operand terms, the output term and each letter's length, or `ShapeError`."""
    if not isinstance(subscripts, str) or "->" not in subscripts:
        raise ShapeError(f"einsum needs explicit subscripts with '->' (such as 'ij,jk->ik'); "
                         f"got {subscripts!r}")
    inputs, output = subscripts.replace(" ", "").split("->", 1)
    terms = inputs.split(",")
    if "." in subscripts:
        raise ShapeError(f"einsum subscripts {subscripts!r}: '...' is not supported; name "
                         f"every axis with a letter")
    if not all(c in ascii_letters for c in "".join(terms) + output):
        raise ShapeError(f"einsum subscripts {subscripts!r} may hold the letters a-z and A-Z, "
                         f"',' and '->' only")
    if len(terms) != len(shapes):
        raise ShapeError(f"einsum subscripts {subscripts!r} name {len(terms)} operand(s); "
                         f"{len(shapes)} given")
    if len(set(output)) != len(output):
        raise ShapeError(f"einsum subscripts {subscripts!r}: a letter appears twice in the "
                         f"output")
    sizes: dict[str, int] = {}
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        if len(term) != len(shape):
            raise ShapeError(f"einsum subscripts {subscripts!r}: operand {k} has shape "
                             f"{tuple(shape)} but {len(term)} letter(s) {term!r}")
        for letter, n in zip(term, shape):
            if sizes.setdefault(letter, n) != n:
                raise ShapeError(f"einsum subscripts {subscripts!r}: letter {letter!r} has "
                                 f"lengths {sizes[letter]} and {n} (no broadcasting)")
    missing = [letter for letter in output if letter not in sizes]
    if missing:
        raise ShapeError(f"einsum subscripts {subscripts!r}: output letter {missing[0]!r} is "
                         f"in no operand")
    return terms, output, sizes


def _unique(letters: str) -> str:
    return "".join(dict.fromkeys(letters))


def _contract(terms, arrays, target: str, sizes: dict) -> np.ndarray:
    """``einsum(terms -> target)`` where target letters missing from terms are broadcast."""
    present = "".join(letter for letter in target if any(letter in t for t in terms))
    shape = tuple(sizes[letter] for letter in target)
    if not terms:
        return np.ones(shape)
    value = np.einsum(",".join(terms) + "->" + present, *arrays, optimize=len(arrays) > 1)
    if len(present) == len(target):
        return value
    missing = tuple(k for k, letter in enumerate(target) if letter not in present)
    return np.array(np.broadcast_to(np.expand_dims(value, missing), shape))


def _evaluate(*xs, subscripts):
    return np.einsum(subscripts, *xs, optimize=len(xs) > 1)


def _vjp_operand(k, g, ans, *xs, subscripts):
    terms, output, sizes = parse(subscripts, [np.shape(x) for x in xs])
    term = terms[k]
    letters = _unique(term)
    others = [t for j, t in enumerate(terms) if j != k]
    arrays = [x for j, x in enumerate(xs) if j != k]
    r = _contract([output] + others, [g] + arrays, letters, sizes)
    if len(letters) == len(term):
        return r if letters == term else np.transpose(r, [letters.index(c) for c in term])
    # a repeated letter: the cotangent lives on the diagonal it names
    ct = np.zeros(np.shape(xs[k]))
    position = {c: i for i, c in enumerate(letters)}
    index = tuple(np.arange(sizes[c]).reshape([-1 if i == position[c] else 1
                                               for i in range(len(letters))]) for c in term)
    ct[index] = r
    return ct


def _vjp(g, ans, *xs, subscripts):
    return tuple(_vjp_operand(k, g, ans, *xs, subscripts=subscripts) for k in range(len(xs)))


def _jvp(ts, ans, *xs, subscripts):
    out = np.zeros(np.shape(ans))
    for k, t in enumerate(ts):
        if t is not None:
            out = out + _evaluate(*xs[:k], t, *xs[k + 1:], subscripts=subscripts)
    return out


def _joint(output: str, term: str) -> str:
    """The letters of the output and of one operand: one Jacobian entry per assignment."""
    return _unique(output + term)


def _jacobian(ans, *xs, subscripts):
    terms, output, sizes = parse(subscripts, [np.shape(x) for x in xs])
    blocks = []
    for k, term in enumerate(terms):
        joint = _joint(output, term)
        dims = tuple(sizes[c] for c in joint)
        grid = {c: axis.ravel() for c, axis in zip(joint, np.indices(dims))}
        count = size_of(dims)
        rows = np.ravel_multi_index([grid[c] for c in output], np.shape(ans)) if output else \
            np.zeros(count, np.int64)
        cols = np.ravel_multi_index([grid[c] for c in term], np.shape(xs[k])) if term else \
            np.zeros(count, np.int64)
        others = [t for j, t in enumerate(terms) if j != k]
        arrays = [np.asarray(x, float) for j, x in enumerate(xs) if j != k]
        vals = _contract(others, arrays, joint, sizes).ravel()
        blocks.append(Block(rows, cols, np.array(vals, dtype=np.float64)))
    return tuple(blocks)


def _shape(*shapes, subscripts):
    terms, output, sizes = parse(subscripts, shapes)
    return tuple(sizes[c] for c in output)


def _count(ans_shape, *shapes, subscripts):
    terms, output, sizes = parse(subscripts, shapes)
    return sum(size_of(tuple(sizes[c] for c in _joint(output, term))) for term in terms)


EINSUM = register(Primitive(
    name="einsum", arity=None, evaluate=_evaluate, vjp=_vjp, jvp=_jvp, shape=_shape,
    jacobian=_jacobian, param_names=("subscripts",), multiply_adds=_count,
    vjp_operand=_vjp_operand, vjp_reads=("operands",),
    curvature=multilinear_curvature(_vjp_operand), multilinear=True,
))
