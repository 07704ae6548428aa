"""Models from machine learning and NLP whose multipliers have a meaning of their own.

Each example's value and gradient come from a computation that does not use lagrange_ad:

- ``mlp``: a tanh network with softmax cross-entropy; the gradient by hand-written backprop.
- ``hmm``: log Z of a hidden Markov model by the forward algorithm. The multipliers of the
  log-potentials are posterior marginals, ``d log Z / d theta_r = E[count of r]``, so solving
  ``A^T lam = e_N`` is the forward-backward algorithm; checked by enumerating all state
  sequences.
- ``pcfg``: log Z of a sentence under a PCFG by the inside algorithm; the multipliers of the
  rule log-weights are expected rule counts (inside-outside); checked by enumerating all trees.
- ``loglinear``: a conditional log-linear model; the gradient of the log-likelihood is observed
  minus expected features, in closed form.

The three log-partition functions share one fact: for ``log Z = log sum_s exp(score(s))`` with
``score(s) = sum_r theta_r count_r(s)``, ``d log Z / d theta_r = sum_s p(s) count_r(s)``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.special import logsumexp, softmax

from ..errors import LagrangeADError
from ..tracing import functions as la
from ..tracing.tracer import trace
from .registry import Example, example

MAX_ENUMERATION = 10**6


def _log_probabilities(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Log of random probabilities normalized over the last axis."""
    weights = rng.uniform(0.1, 1.0, shape)
    return np.log(weights / weights.sum(axis=-1, keepdims=True))


def _check_sizes(name: str, **sizes: int) -> None:
    """`LagrangeADError` naming the first size below 1."""
    for key, size in sizes.items():
        if int(size) < 1:
            raise LagrangeADError(f"{name}: {key} must be at least 1; got {size}")


def _check_enumeration(name: str, enumerated: int) -> None:
    """`LagrangeADError` when the brute-force answer would enumerate too many structures."""
    if enumerated > MAX_ENUMERATION:
        raise LagrangeADError(f"{name}: the brute-force answer enumerates {enumerated} "
                              f"structures, more than {MAX_ENUMERATION}; choose smaller sizes")


def _expected_counts(score: np.ndarray, uses: list[tuple[np.ndarray, ...]],
                     shapes: list[tuple]) -> tuple[float, list[np.ndarray]]:
    """log Z and the expected counts ``E[count_r] = sum_s p(s) count_r(s)`` by enumeration.

    ``score`` holds one entry per enumerated structure s. ``uses[k]`` indexes parameter array
    k (of shape ``shapes[k]``): a tuple of index arrays that broadcast to one row per structure
    and one column per use of a parameter in it, repeated uses counted.
    """
    log_z = float(logsumexp(score))
    p = np.exp(score - log_z)
    expected = []
    for shape, index in zip(shapes, uses):
        out = np.zeros(shape)
        columns = np.broadcast_shapes(*(np.shape(i) for i in index))
        np.add.at(out, index, np.broadcast_to(p[:, None], columns))
        expected.append(out)
    return log_z, expected


# ---------------------------------------------------------------------------------------- mlp


def _mlp_backprop(params: list[np.ndarray], inputs: np.ndarray,
                  onehot: np.ndarray) -> tuple[float, list[np.ndarray]]:
    """Loss and gradient of the MLP by backpropagation written out in numpy.

    Forward: ``a_0 = X``, ``z_l = a_{l-1} W_l + b_l``, ``a_l = tanh(z_l)`` for hidden layers,
    ``loss = -(1/B) sum_i log softmax(z_L)_{i, y_i}``. Backward, with ``delta_l = d loss / d z_l``:
    ``delta_L = (softmax(z_L) - Y) / B``, ``dW_l = a_{l-1}^T delta_l``,
    ``db_l = sum_i delta_l[i]``, ``delta_{l-1} = (delta_l W_l^T) (1 - a_{l-1}^2)``.
    """
    activations, z = [inputs], inputs
    layers = len(params) // 2
    for l in range(layers):
        z = activations[-1] @ params[2 * l] + params[2 * l + 1]
        if l < layers - 1:
            activations.append(np.tanh(z))
    batch = inputs.shape[0]
    loss = -float(np.sum(onehot * (z - logsumexp(z, axis=1, keepdims=True)))) / batch
    grads: list[np.ndarray] = [np.empty(0)] * len(params)
    delta = (softmax(z, axis=1) - onehot) / batch
    for l in range(layers - 1, -1, -1):
        grads[2 * l] = activations[l].T @ delta
        grads[2 * l + 1] = delta.sum(axis=0)
        if l > 0:
            delta = (delta @ params[2 * l].T) * (1 - activations[l] ** 2)
    return loss, grads


@example
def mlp(widths: tuple[int, ...] = (4, 8, 8, 3), batch: int = 5, seed: int = 0) -> Example:
    """A tanh MLP with softmax cross-entropy on random data; inputs are its weights and biases.

    ``loss = -(1/B) sum_i log softmax(z_L)_{i, y_i}`` with ``z_l = a_{l-1} W_l + b_l`` and
    ``a_l = tanh(z_l)``. The inputs are ``W1, b1, W2, b2, ...`` (``W_l`` of shape
    ``widths[l-1] x widths[l]``), so the gradient has one array per parameter array. The data
    ``X`` (``batch x widths[0]``) and labels are in ``data["X"]``, ``data["labels"]``; the
    gradient comes from `_mlp_backprop`.
    """
    widths = tuple(int(w) for w in widths)
    if len(widths) < 2:
        raise LagrangeADError(f"mlp: widths needs an input and an output width; got {widths}")
    _check_sizes("mlp", batch=batch, **{f"widths[{k}]": w for k, w in enumerate(widths)})
    rng = np.random.default_rng(seed)
    params, names = [], []
    for l, (fan_in, fan_out) in enumerate(zip(widths, widths[1:]), start=1):
        params += [rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in),
                   0.1 * rng.standard_normal(fan_out)]
        names += [f"W{l}", f"b{l}"]
    inputs = rng.standard_normal((batch, widths[0]))
    labels = rng.integers(0, widths[-1], batch)
    onehot = np.eye(widths[-1])[labels]
    layers = len(widths) - 1

    def function(*params):
        a = inputs
        for l in range(layers):
            z = a @ params[2 * l] + params[2 * l + 1]
            a = la.tanh(z) if l < layers - 1 else z
        return -la.sum(onehot * la.log_softmax(z, axis=1)) / batch

    loss, grads = _mlp_backprop(params, inputs, onehot)
    return Example(
        name="mlp", summary=f"tanh MLP {widths}, softmax cross-entropy over a batch of {batch}",
        graph=trace(function, *params, names=names), value=loss, gradient=tuple(grads),
        function=function, data={"X": inputs, "labels": labels},
    )


# ---------------------------------------------------------------------------------------- hmm


def _hmm_enumeration(init, trans, emit, observations):
    """log Z, unary and pairwise posterior marginals by enumerating all state sequences."""
    T, S = len(observations), init.size
    z = np.array(list(itertools.product(range(S), repeat=T)))  # one row per state sequence
    score = (init[z[:, 0]] + emit[z, observations].sum(axis=1)
             + trans[z[:, :-1], z[:, 1:]].sum(axis=1))
    steps = np.arange(T)
    log_z, (unary, pairwise) = _expected_counts(
        score, [(steps, z), (steps[:-1], z[:, :-1], z[:, 1:])], [(T, S), (T - 1, S, S)])
    return log_z, unary, pairwise


@example
def hmm(length: int = 5, states: int = 3, symbols: int = 4, seed: int = 0) -> Example:
    """log p(x) of an HMM by the forward algorithm; the gradient is the posterior marginals.

    Inputs are log-potentials: ``init[s]`` (initial), ``trans[a, b]`` (transition a -> b) and
    ``emit[s, w]`` (emission), drawn as random log-probabilities, so that
    ``log Z = log sum_z exp(init[z_1] + sum_t trans[z_{t-1}, z_t] + sum_t emit[z_t, x_t])``
    is the log-likelihood of the observations ``x = data["observations"]``. The forward
    algorithm, in log space, is

        alpha_1 = init + u_1,   alpha_t = logsumexp_a(alpha_{t-1}[a] + trans[a, :]) + u_t,
        log Z = logsumexp(alpha_T),

    with ``u_t = emit[:, x_t]`` the node of unary log-potentials. Every potential is treated as
    a free variable, and ``d log Z / d theta`` is the posterior expectation of how often it is
    used: the multipliers of ``u`` are the unary marginals ``p(z_t = s | x)``, those of the
    node ``alpha_{t-1}[a] + trans[a, b]`` the pairwise marginals ``p(z_{t-1} = a, z_t = b | x)``,
    so the reverse sweep is forward-backward. ``data["marginals"]`` holds both, ``"unary"``
    ``(length, states)`` and ``"pairwise"`` ``(length - 1, states, states)``, computed with
    ``log Z`` by enumerating all ``states^length`` sequences; the gradient is
    ``(unary[0], sum_t pairwise[t], sum_t unary[t] e_{x_t}^T)``.

    Examples
    --------
    >>> import numpy as np, lagrange_ad as la
    >>> example = la.examples.hmm()
    >>> g_init, g_trans, g_emit = la.solve(example.program()).gradient
    >>> unary = example.data["marginals"]["unary"]
    >>> bool(np.allclose(g_init, unary[0])), round(float(g_emit.sum()), 12)
    (True, 5.0)
    """
    _check_sizes("hmm", length=length, states=states, symbols=symbols)
    _check_enumeration("hmm", states**length)
    rng = np.random.default_rng(seed)
    init = _log_probabilities(rng, (states,))
    trans = _log_probabilities(rng, (states, states))
    emit = _log_probabilities(rng, (states, symbols))
    observations = rng.integers(0, symbols, length)

    def function(init, trans, emit):
        unary = la.transpose(emit)[observations]  # row t: emit[:, x_t]
        alpha = init + unary[0]
        for t in range(1, length):
            alpha = la.logsumexp(la.reshape(alpha, (states, 1)) + trans, axis=0) + unary[t]
        return la.logsumexp(alpha)

    log_z, unary, pairwise = _hmm_enumeration(init, trans, emit, observations)
    g_emit = np.zeros((states, symbols))
    np.add.at(g_emit.T, observations, unary)
    return Example(
        name="hmm", summary=f"HMM forward algorithm: {states} states, {length} observations",
        graph=trace(function, init, trans, emit), value=log_z,
        gradient=(unary[0], pairwise.sum(axis=0), g_emit), function=function,
        data={"observations": observations,
              "marginals": {"unary": unary, "pairwise": pairwise}},
    )


# --------------------------------------------------------------------------------------- pcfg


def _bracketings(length: int) -> list[tuple]:
    """Every binary bracketing of positions ``0..length``, as a tuple of splits ``(i, j, k)``."""
    trees: dict[tuple[int, int], list[tuple]] = {(i, i + 1): [()] for i in range(length)}
    for width in range(2, length + 1):
        for i in range(length - width + 1):
            k = i + width
            trees[i, k] = [((i, j, k),) + left + right for j in range(i + 1, k)
                           for left in trees[i, j] for right in trees[j, k]]
    return trees[0, length]


def _pcfg_enumeration(binary, lexical, words):
    """log Z and expected rule counts by enumerating every labeled parse tree (root label 0)."""
    N, L = binary.shape[0], len(words)
    scores, binary_uses, lexical_uses = [], [], []
    for splits in _bracketings(L):
        # columns of a labeling: the root span (label 0), then every other span of the tree
        spans = [(0, L)] + [s for i, j, k in splits for s in ((i, j), (j, k))]
        column = {span: c for c, span in enumerate(spans)}
        labels = np.array(list(itertools.product(range(N), repeat=len(spans) - 1)),
                          dtype=np.int64)
        labels = np.hstack([np.zeros((len(labels), 1), np.int64), labels])
        parent = labels[:, [column[i, k] for i, j, k in splits]]
        left = labels[:, [column[i, j] for i, j, k in splits]]
        right = labels[:, [column[j, k] for i, j, k in splits]]
        leaf = labels[:, [column[i, i + 1] for i in range(L)]]
        scores.append(binary[parent, left, right].sum(axis=1)
                      + lexical[leaf, words].sum(axis=1))
        binary_uses.append((parent, left, right))
        lexical_uses.append(leaf)
    uses = [tuple(np.vstack(parts) for parts in zip(*binary_uses)),
            (np.vstack(lexical_uses), words)]
    return _expected_counts(np.concatenate(scores), uses, [binary.shape, lexical.shape])


@example
def pcfg(length: int = 4, nonterminals: int = 3, terminals: int = 3, seed: int = 0) -> Example:
    """log p(sentence) of a PCFG by the inside algorithm; the gradient is expected rule counts.

    A grammar in Chomsky normal form with start symbol 0: inputs are the log-weights
    ``binary[A, B, C]`` of rules ``A -> B C`` and ``lexical[A, w]`` of rules ``A -> w``, drawn
    as log-probabilities (each A's rules sum to 1). With ``w = data["words"]``, the inside
    algorithm in log space is

        beta[i, i+1, A] = lexical[A, w_i],
        beta[i, k, A] = logsumexp_{j, B, C}(binary[A, B, C] + beta[i, j, B] + beta[j, k, C]),
        log Z = beta[0, n, 0],

    the log of the sum over all parse trees of the product of their rule probabilities. The
    gradient is the expected number of uses of each rule under the posterior over trees (what
    the outside pass computes), here computed with ``log Z`` by enumerating all
    ``Catalan(n-1) * nonterminals^(2n-2)`` labeled trees.
    """
    _check_sizes("pcfg", length=length, nonterminals=nonterminals, terminals=terminals)
    catalan = math.comb(2 * length - 2, length - 1) // length
    n_trees = catalan * nonterminals ** (2 * length - 2)
    _check_enumeration("pcfg", n_trees)
    N, L = nonterminals, length
    rng = np.random.default_rng(seed)
    rules = _log_probabilities(rng, (N, N * N + terminals))
    binary, lexical = rules[:, :N * N].reshape(N, N, N), rules[:, N * N:]
    words = rng.integers(0, terminals, L)

    def function(binary, lexical):
        leaves = la.transpose(lexical)[words]  # row i: lexical[:, w_i]
        inside = {(i, i + 1): leaves[i] for i in range(L)}
        for width in range(2, L + 1):
            for i in range(L - width + 1):
                k = i + width
                terms = [binary + la.reshape(inside[i, j], (1, N, 1))
                         + la.reshape(inside[j, k], (1, 1, N)) for j in range(i + 1, k)]
                inside[i, k] = la.logsumexp(la.stack(terms), axis=(0, 2, 3))
        return inside[0, L][0]

    log_z, (g_binary, g_lexical) = _pcfg_enumeration(binary, lexical, words)
    return Example(
        name="pcfg", summary=f"PCFG inside algorithm: {N} nonterminals, sentence of {L} words",
        graph=trace(function, binary, lexical), value=log_z, gradient=(g_binary, g_lexical),
        function=function, data={"words": words, "trees": n_trees},
    )


# ---------------------------------------------------------------------------------- loglinear


@example
def loglinear(classes: int = 4, features: int = 6, observations: int = 5,
              seed: int = 0) -> Example:
    """Log-likelihood of a log-linear model; the gradient is observed minus expected features.

    ``p(y | x, theta) = exp(theta . f(x, y)) / sum_y' exp(theta . f(x, y'))`` with random
    feature vectors ``f(x_i, y) = data["features"][i, y]`` and observed labels
    ``y_i = data["labels"][i]``. The output is ``sum_i log p(y_i | x_i, theta)`` and its
    gradient, in closed form, is ``data["observed"] - data["expected"]`` with
    ``observed = sum_i f(x_i, y_i)`` and ``expected = sum_i sum_y p(y | x_i) f(x_i, y)``.
    """
    _check_sizes("loglinear", classes=classes, features=features, observations=observations)
    rng = np.random.default_rng(seed)
    phi = rng.standard_normal((observations, classes, features))
    labels = rng.integers(0, classes, observations)
    theta = 0.5 * rng.standard_normal(features)
    onehot = np.eye(classes)[labels]

    def function(theta):
        return la.sum(onehot * la.log_softmax(phi @ theta, axis=1))

    scores = phi @ theta
    p = softmax(scores, axis=1)
    observed = phi[np.arange(observations), labels].sum(axis=0)
    expected = np.einsum("ic,icf->f", p, phi)
    value = float(np.sum(scores[np.arange(observations), labels] - logsumexp(scores, axis=1)))
    return Example(
        name="loglinear", summary=f"log-linear model: {classes} classes, {features} features",
        graph=trace(function, theta), value=value, gradient=(observed - expected,),
        function=function,
        data={"features": phi, "labels": labels, "observed": observed, "expected": expected},
    )
