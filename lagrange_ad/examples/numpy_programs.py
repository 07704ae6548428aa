"""Programs written in plain numpy, traced as they are, each with an independent reference.

These are the programs researchers bring: code that calls ``np.`` functions, ndarray methods,
``scipy.special`` and ``np.linalg``, with no ``la.`` in sight. Each example's value and gradient
come from a computation that does not use lagrange_ad:

- ``transformer``: a pre-norm transformer block (layer normalization, multi-head attention with
  the stable softmax ``z - z.max(axis=-1, keepdims=True)``, a GELU through ``erf``, two
  residuals) with a sum-of-squares head. Reference: the complex-step derivative of the same
  numpy code, ``d f / d x_k = Im f(x + i h e_k) / h`` with ``h = 1e-30``, exact to rounding for
  real-analytic code (the subtracted maximum cancels in the softmax, so its choice is
  immaterial).
- ``crf``: the negative log-likelihood of a linear-chain CRF. Its gradient with respect to the
  emission and transition potentials is the expected minus the observed counts, checked by
  enumerating every label sequence.
- ``gaussian_process``: the negative log marginal likelihood of a Gaussian process with a
  squared-exponential kernel, through ``cholesky``, ``solve`` and ``slogdet``. Its gradient
  in the log hyperparameters is ``-1/2 tr((alpha alpha^T - K^-1) dK/dtheta)`` with
  ``alpha = K^-1 y``, in closed form.
- ``logistic``: logistic regression written with ``np.logaddexp(0, -y * (X @ w))``; its
  gradient is ``-X^T (y * expit(-y * (X @ w)))``.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.special as special

from ..tracing.tracer import trace
from .models import _check_enumeration, _check_sizes
from .registry import Example, example

COMPLEX_STEP = 1e-30


def complex_step_gradient(function, *args) -> tuple[np.ndarray, ...]:
    """The gradient of a real-analytic numpy function by complex steps, one entry at a time.

    ``d f / d x_k = Im f(x + i h e_k) / h``: no subtraction, so no cancellation, and exact to
    rounding for ``h = 1e-30``.
    """
    args = [np.asarray(a, np.float64) for a in args]
    gradient = []
    for k, arg in enumerate(args):
        out = np.zeros(arg.shape)
        for index in np.ndindex(arg.shape):
            shifted = [a.astype(np.complex128) for a in args]
            shifted[k][index] += 1j * COMPLEX_STEP
            out[index] = np.imag(function(*shifted)) / COMPLEX_STEP
        gradient.append(out)
    return tuple(gradient)


# -------------------------------------------------------------------------------- transformer


def _layer_norm(x, gain, bias, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    variance = (centered * centered).mean(axis=-1, keepdims=True)
    return centered / np.sqrt(variance + eps) * gain + bias


def _gelu(x):
    return 0.5 * x * (1.0 + special.erf(x / np.sqrt(2.0)))


def _attention(x, wq, wk, wv, wo, heads):
    tokens, width = x.shape
    size = width // heads
    q = (x @ wq).reshape(tokens, heads, size).transpose(1, 0, 2)
    k = (x @ wk).reshape(tokens, heads, size).transpose(1, 0, 2)
    v = (x @ wv).reshape(tokens, heads, size).transpose(1, 0, 2)
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(size)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)
    mixed = (weights @ v).transpose(1, 0, 2).reshape(tokens, width)
    return mixed @ wo


def transformer_function(heads: int):
    """The block ``f(x, wq, wk, wv, wo, w1, w2, gain1, gain2)`` as plain numpy code."""

    def block(x, wq, wk, wv, wo, w1, w2, gain1, gain2):
        h = x + _attention(_layer_norm(x, gain1, 0.0), wq, wk, wv, wo, heads)
        out = h + _gelu(_layer_norm(h, gain2, 0.0) @ w1) @ w2
        return np.sum(out * out)

    return block


@example
def transformer(tokens: int = 4, width: int = 4, heads: int = 2, hidden: int = 6,
                seed: int = 0) -> Example:
    """A transformer block in plain numpy with a sum-of-squares head.

    Inputs: the token embeddings ``x`` (tokens x width), the attention weights ``wq``, ``wk``,
    ``wv``, ``wo``, the feed-forward weights ``w1``, ``w2`` and the two layer-norm gains. The
    reference gradient is the complex-step derivative of the same numpy code.
    """
    _check_sizes("transformer", tokens=tokens, width=width, heads=heads, hidden=hidden)
    if width % heads:
        from ..errors import LagrangeADError

        raise LagrangeADError(f"transformer: width {width} is not a multiple of heads {heads}")
    rng = np.random.default_rng(seed)
    scale = 1.0 / np.sqrt(width)
    point = (rng.standard_normal((tokens, width)),
             *(scale * rng.standard_normal((width, width)) for _ in range(4)),
             scale * rng.standard_normal((width, hidden)),
             rng.standard_normal((hidden, width)) / np.sqrt(hidden),
             1.0 + 0.1 * rng.standard_normal(width), 1.0 + 0.1 * rng.standard_normal(width))
    function = transformer_function(heads)
    names = ["x", "wq", "wk", "wv", "wo", "w1", "w2", "gain1", "gain2"]
    return Example(
        name="transformer",
        summary=f"transformer block in plain numpy: {tokens} tokens, width {width}, "
                f"{heads} heads",
        graph=trace(function, *point, names=names), value=float(function(*point)),
        gradient=complex_step_gradient(function, *point), function=function,
    )


# ---------------------------------------------------------------------------------------- crf


def crf_function(labels: np.ndarray):
    """``nll(emissions, transitions)`` of the label sequence ``labels`` under a linear-chain CRF.

    ``score(y) = sum_t emissions[t, y_t] + sum_t transitions[y_t, y_{t+1}]`` and
    ``log Z = log sum_y exp(score(y))`` by the forward recursion in log space.
    """
    length = len(labels)

    def nll(emissions, transitions):
        alpha = emissions[0]
        for t in range(1, length):
            alpha = special.logsumexp(alpha[:, None] + transitions, axis=0) + emissions[t]
        log_z = special.logsumexp(alpha)
        score = np.sum(emissions[np.arange(length), labels]) + np.sum(
            transitions[labels[:-1], labels[1:]])
        return log_z - score

    return nll


@example
def crf(length: int = 4, states: int = 3, seed: int = 0) -> Example:
    """Negative log-likelihood of a linear-chain CRF; its gradient is expected minus observed.

    ``d nll / d emissions[t, s] = P(y_t = s) - [labels_t = s]`` and ``d nll / d
    transitions[r, s] = sum_t P(y_t = r, y_{t+1} = s) - observed transitions``: the
    multipliers of the potentials are the posterior marginals (forward-backward), checked by
    enumerating all ``states ** length`` label sequences.
    """
    _check_sizes("crf", length=length, states=states)
    _check_enumeration("crf", states ** length)
    rng = np.random.default_rng(seed)
    emissions = rng.standard_normal((length, states))
    transitions = rng.standard_normal((states, states))
    labels = rng.integers(0, states, length)
    sequences = np.array(list(itertools.product(range(states), repeat=length)), np.int64)
    steps = np.arange(length)
    score = emissions[steps, sequences].sum(axis=1)
    if length > 1:
        score = score + transitions[sequences[:, :-1], sequences[:, 1:]].sum(axis=1)
    log_z = float(special.logsumexp(score))
    p = np.exp(score - log_z)
    expected_emissions = np.zeros((length, states))
    np.add.at(expected_emissions, (np.broadcast_to(steps, sequences.shape), sequences),
              np.broadcast_to(p[:, None], sequences.shape))
    expected_transitions = np.zeros((states, states))
    if length > 1:
        pairs = (sequences[:, :-1], sequences[:, 1:])
        np.add.at(expected_transitions, pairs, np.broadcast_to(p[:, None], pairs[0].shape))
    observed_emissions = np.zeros((length, states))
    observed_emissions[steps, labels] = 1.0
    observed_transitions = np.zeros((states, states))
    np.add.at(observed_transitions, (labels[:-1], labels[1:]), 1.0)
    observed_score = emissions[steps, labels].sum() + transitions[labels[:-1], labels[1:]].sum()
    function = crf_function(labels)
    return Example(
        name="crf", summary=f"linear-chain CRF negative log-likelihood: {length} steps, "
                            f"{states} states",
        graph=trace(function, emissions, transitions, names=["emissions", "transitions"]),
        value=log_z - float(observed_score),
        gradient=(expected_emissions - observed_emissions,
                  expected_transitions - observed_transitions),
        function=function, data={"labels": labels},
    )


# ------------------------------------------------------------------------ gaussian process


def gaussian_process_function(inputs: np.ndarray, targets: np.ndarray):
    """``nlml(log_params)`` with ``log_params = (log lengthscale, log signal sd, log noise sd)``.

    ``K = s^2 exp(-|x - x'|^2 / (2 l^2)) + sigma^2 I`` and
    ``nlml = 1/2 y^T K^-1 y + 1/2 log det K + n/2 log 2 pi``, through a Cholesky factor.
    """
    squared = np.sum((inputs[:, None, :] - inputs[None, :, :]) ** 2, axis=-1)
    n = len(targets)

    def nlml(log_params):
        lengthscale, signal, noise = np.exp(log_params[0]), np.exp(log_params[1]), \
            np.exp(log_params[2])
        kernel = signal**2 * np.exp(-0.5 * squared / lengthscale**2) + noise**2 * np.eye(n)
        # y^T K^-1 y = |L^-1 y|^2 with K = L L^T
        whitened = np.linalg.solve(np.linalg.cholesky(kernel), targets)
        logdet = np.linalg.slogdet(kernel)[1]
        return 0.5 * whitened @ whitened + 0.5 * logdet + 0.5 * n * np.log(2 * np.pi)

    return nlml


@example
def gaussian_process(points: int = 6, dims: int = 2, seed: int = 0) -> Example:
    """Negative log marginal likelihood of a Gaussian process in its log hyperparameters.

    The closed-form gradient ``d nlml / d theta_j = -1/2 tr((alpha alpha^T - K^-1) dK/d
    theta_j)`` with ``alpha = K^-1 y`` and ``dK/d log l = K_se * |x - x'|^2 / l^2``,
    ``dK/d log s = 2 K_se``, ``dK/d log sigma = 2 sigma^2 I``.
    """
    _check_sizes("gaussian_process", points=points, dims=dims)
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal((points, dims))
    targets = np.sin(inputs.sum(axis=1)) + 0.1 * rng.standard_normal(points)
    log_params = np.array([0.1, -0.2, -1.0])
    lengthscale, signal, noise = np.exp(log_params)
    squared = np.sum((inputs[:, None, :] - inputs[None, :, :]) ** 2, axis=-1)
    k_se = signal**2 * np.exp(-0.5 * squared / lengthscale**2)
    kernel = k_se + noise**2 * np.eye(points)
    inverse = np.linalg.inv(kernel)
    alpha = inverse @ targets
    value = float(0.5 * targets @ alpha + 0.5 * np.linalg.slogdet(kernel)[1]
                  + 0.5 * points * np.log(2 * np.pi))
    inner = np.outer(alpha, alpha) - inverse
    derivatives = (k_se * squared / lengthscale**2, 2 * k_se, 2 * noise**2 * np.eye(points))
    gradient = np.array([-0.5 * np.sum(inner * dk) for dk in derivatives])
    function = gaussian_process_function(inputs, targets)
    return Example(
        name="gaussian_process",
        summary=f"Gaussian-process negative log marginal likelihood: {points} points",
        graph=trace(function, log_params, names=["log_params"]), value=value,
        gradient=(gradient,), function=function, data={"inputs": inputs, "targets": targets},
    )


# -------------------------------------------------------------------------------- logistic


def logistic_function(features: np.ndarray, labels: np.ndarray):
    """``loss(w) = sum_i log(1 + exp(-y_i x_i . w))``, written with ``np.logaddexp``."""

    def loss(w):
        return np.sum(np.logaddexp(0.0, -labels * (features @ w)))

    return loss


@example
def logistic(observations: int = 20, features: int = 5, seed: int = 0) -> Example:
    """Logistic regression loss with labels in {-1, 1}, in the stable ``logaddexp`` form.

    Its gradient is ``-X^T (y * expit(-y * (X w)))`` in closed form.
    """
    _check_sizes("logistic", observations=observations, features=features)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((observations, features))
    y = np.where(rng.uniform(size=observations) < 0.5, -1.0, 1.0)
    w = 0.5 * rng.standard_normal(features)
    margins = y * (x @ w)
    function = logistic_function(x, y)
    return Example(
        name="logistic", summary=f"logistic regression: {observations} observations, "
                                 f"{features} features",
        graph=trace(function, w, names=["w"]), value=float(np.sum(np.logaddexp(0.0, -margins))),
        gradient=(-x.T @ (y * special.expit(-margins)),), function=function,
        data={"features": x, "labels": y},
    )
