"""Models written in JAX, for `lagrange_ad.from_jax`: each returns ``(function, example_args)``.

The gradient of each imported graph is checked against ``jax.grad`` of the same function
(``tests/test_from_jax.py``). JAX is imported when a model is built, never when lagrange_ad
is. They are not entries of ``EXAMPLES``: the registry's readers (the command line's list,
the tests crossing every example with every schedule) build every entry, which would make
JAX a requirement of all of them; ``MODELS`` names them instead.

- ``mlp``: a two-layer perceptron (tanh) with its weights in a dict, mean squared error.
- ``attention``: a single-head self-attention block: layer normalization, softmax attention,
  residual, sum-of-squares head.
- ``rnn``: a tanh cell ``h <- tanh(W h + U x_t + b)`` over 5 steps with ``jax.lax.scan``.
- ``activations``: ``jax.nn`` relu, gelu, softplus, sigmoid, logsumexp, log_softmax, softmax.
- ``fori``: ``x <- x + 0.1 sin(A x)`` four times with ``jax.lax.fori_loop`` (static count).
"""

from __future__ import annotations

import numpy as np

from ..report.optional import require_module


def _jax():
    jax = require_module("jax", "the JAX example models")
    return jax, jax.numpy


def mlp(n_in: int = 4, n_hidden: int = 8, n_out: int = 2, batch: int = 5, seed: int = 0):
    """``mean((tanh(x W1 + b1) W2 + b2 - y)^2)`` with ``params = {w1, b1, w2, b2}``."""
    jax, jnp = _jax()
    rng = np.random.default_rng(seed)
    params = {"w1": rng.normal(size=(n_in, n_hidden)) / np.sqrt(n_in),
              "b1": rng.normal(size=n_hidden) * 0.1,
              "w2": rng.normal(size=(n_hidden, n_out)) / np.sqrt(n_hidden),
              "b2": rng.normal(size=n_out) * 0.1}
    x, y = rng.normal(size=(batch, n_in)), rng.normal(size=(batch, n_out))

    def function(params, x, y):
        hidden = jnp.tanh(x @ params["w1"] + params["b1"])
        return jnp.mean((hidden @ params["w2"] + params["b2"] - y) ** 2)

    return function, (params, x, y)


def attention(length: int = 6, width: int = 4, seed: int = 0):
    """``sum(z^2)`` of ``z = x + softmax(q k^T / sqrt(d)) v W_o``, ``q, k, v`` of ``LN(x)``."""
    jax, jnp = _jax()
    rng = np.random.default_rng(seed)
    params = {name: rng.normal(size=(width, width)) / np.sqrt(width)
              for name in ("wq", "wk", "wv", "wo")}
    params["gain"] = 1.0 + 0.1 * rng.normal(size=width)
    params["bias"] = 0.1 * rng.normal(size=width)
    x = rng.normal(size=(length, width))

    def function(params, x):
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.mean((x - mean) ** 2, axis=-1, keepdims=True)
        normed = (x - mean) / jnp.sqrt(var + 1e-5) * params["gain"] + params["bias"]
        q, k, v = (normed @ params[name] for name in ("wq", "wk", "wv"))
        weights = jax.nn.softmax(q @ k.T / jnp.sqrt(width), axis=-1)
        z = x + (weights @ v) @ params["wo"]
        return jnp.sum(z ** 2)

    return function, (params, x)


def rnn(steps: int = 5, width: int = 3, seed: int = 0):
    """``sum(h_T^2) + sum_t mean(h_t)`` of ``h_t = tanh(W h_{t-1} + U x_t + b)`` by ``scan``."""
    jax, jnp = _jax()
    rng = np.random.default_rng(seed)
    params = {"w": rng.normal(size=(width, width)) / np.sqrt(width),
              "u": rng.normal(size=(width, width)) / np.sqrt(width),
              "b": 0.1 * rng.normal(size=width)}
    xs, h0 = rng.normal(size=(steps, width)), rng.normal(size=width)

    def function(params, xs, h0):
        def cell(h, x):
            h = jnp.tanh(params["w"] @ h + params["u"] @ x + params["b"])
            return h, jnp.mean(h)

        last, means = jax.lax.scan(cell, h0, xs)
        return jnp.sum(last ** 2) + jnp.sum(means)

    return function, (params, xs, h0)


def activations(size: int = 7, seed: int = 0):
    """A sum of ``jax.nn`` activations of an affine map of ``x``."""
    jax, jnp = _jax()
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=size), rng.normal(size=(size, size)) / np.sqrt(size)

    def function(x, w):
        z = w @ x
        out = jnp.sum(jax.nn.relu(z) * jax.nn.gelu(z) + jax.nn.softplus(z) * jax.nn.sigmoid(z))
        out = out + jax.nn.gelu(z, approximate=False) @ jax.nn.softmax(z)
        return out + jax.nn.logsumexp(z) - jnp.sum(jax.nn.log_softmax(z) ** 2) / size

    return function, (x, w)


def fori(size: int = 4, count: int = 4, seed: int = 0):
    """``sum(x_n^2)`` after ``x <- x + 0.1 sin(A x)`` applied ``count`` times (``fori_loop``)."""
    jax, jnp = _jax()
    rng = np.random.default_rng(seed)
    a, x = rng.normal(size=(size, size)), rng.normal(size=size)

    def function(a, x):
        x = jax.lax.fori_loop(0, count, lambda i, x: x + 0.1 * jnp.sin(a @ x), x)
        return jnp.sum(x ** 2)

    return function, (a, x)


MODELS = {"mlp": mlp, "attention": attention, "rnn": rnn, "activations": activations,
          "fori": fori}
