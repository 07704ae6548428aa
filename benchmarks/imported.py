"""Imported models: a PyTorch TransformerEncoderLayer and a small CNN, and the same models
written in JAX with the same weights.

Transformer. ``torch.nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128,
dropout=0, batch_first=True)`` in float64 (post-norm, ReLU) on a batch of sequences of
length 16. CNN. ``conv 3x3 (1 -> 8) - ReLU - max pool 2 - conv 3x3 (8 -> 16) - ReLU - max
pool 2 - linear (784 -> 10)`` on 28x28 images. The loss of either is the mean squared
error ``mean((model(x) - target)^2)`` to a fixed random target (`with_loss`). The JAX
functions take the torch modules' parameters (named as torch names them) and compute the
same loss.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .peers import load

D_MODEL, HEADS, FEEDFORWARD, LENGTH = 64, 4, 128, 16
IMAGE, CLASSES = 28, 10


def transformer(batch: int, seed: int = 0):
    """``(module, loss, x)``: the layer, ``loss(module, x)`` in torch, and the input."""
    torch = load("torch")
    torch.manual_seed(seed)
    layer = torch.nn.TransformerEncoderLayer(D_MODEL, HEADS, FEEDFORWARD, dropout=0.0,
                                             batch_first=True).double().eval()
    x = np.random.default_rng(seed).standard_normal((batch, LENGTH, D_MODEL))
    return layer, x


def cnn(batch: int, seed: int = 0):
    """``(module, x)``: the CNN and a batch of images of shape (batch, 1, 28, 28)."""
    torch = load("torch")
    nn = torch.nn
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(16 * 7 * 7, CLASSES)).double().eval()
    x = np.random.default_rng(seed).standard_normal((batch, 1, IMAGE, IMAGE))
    return model, x


def with_loss(module, target: np.ndarray):
    """``mean((module(x) - target)^2)`` as a torch module, which holds the whole program."""
    torch = load("torch")

    class MeanSquaredError(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = module
            self.register_buffer("target", torch.from_numpy(target))

        def forward(self, x):
            return ((self.model(x) - self.target) ** 2).mean()

    return MeanSquaredError()


def target_for(module, x: np.ndarray, seed: int = 1) -> np.ndarray:
    """A fixed random target of the module's output shape at ``x``."""
    torch = load("torch")
    with torch.no_grad():
        shape = module(torch.from_numpy(x)).shape
    return np.random.default_rng(seed).standard_normal(tuple(shape))


def parameters(module) -> dict[str, np.ndarray]:
    """The module's parameters as float64 arrays, by torch's names."""
    return {name: p.detach().numpy().copy() for name, p in module.named_parameters()}


def torch_gradient(module, x: np.ndarray) -> Callable[[], list[np.ndarray]]:
    """Eager forward and backward in float64: the gradient of every parameter and of x."""
    torch = load("torch")
    params = list(module.parameters())

    def run():
        for p in params:
            p.grad = None
        inputs = torch.from_numpy(x).requires_grad_()
        module(inputs).backward()
        return [p.grad.numpy() for p in params] + [inputs.grad.numpy()]

    return run


# ----------------------------------------------------------------- the same models in JAX


def jax_transformer_loss(target: np.ndarray, prefix: str = "model.") -> Callable:
    """``loss(params, x)`` of the TransformerEncoderLayer, params named as torch names them."""
    jax = load("jax")
    jnp = jax.numpy

    def layer_norm(z, weight, bias):
        mean = jnp.mean(z, axis=-1, keepdims=True)
        var = jnp.mean((z - mean) ** 2, axis=-1, keepdims=True)
        return (z - mean) / jnp.sqrt(var + 1e-5) * weight + bias

    def loss(params, x):
        p = {name[len(prefix):]: value for name, value in params.items()}
        batch, length, width = x.shape
        head = width // HEADS
        qkv = x @ p["self_attn.in_proj_weight"].T + p["self_attn.in_proj_bias"]
        q, k, v = (qkv[..., j * width:(j + 1) * width].reshape(batch, length, HEADS, head)
                   .transpose(0, 2, 1, 3) for j in range(3))
        weights = jax.nn.softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(head), axis=-1)
        attended = (weights @ v).transpose(0, 2, 1, 3).reshape(batch, length, width)
        attended = attended @ p["self_attn.out_proj.weight"].T + p["self_attn.out_proj.bias"]
        h = layer_norm(x + attended, p["norm1.weight"], p["norm1.bias"])
        inner = jax.nn.relu(h @ p["linear1.weight"].T + p["linear1.bias"])
        h = layer_norm(h + inner @ p["linear2.weight"].T + p["linear2.bias"], p["norm2.weight"],
                       p["norm2.bias"])
        return jnp.mean((h - target) ** 2)

    return loss


def jax_cnn_loss(target: np.ndarray, prefix: str = "model.") -> Callable:
    """``loss(params, x)`` of the CNN, params named as torch names them."""
    jax = load("jax")
    jnp, lax = jax.numpy, jax.lax

    def conv(z, weight, bias):
        out = lax.conv_general_dilated(z, weight, (1, 1), ((1, 1), (1, 1)),
                                       dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return out + bias[None, :, None, None]

    def pool(z):
        return lax.reduce_window(z, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss(params, x):
        p = {name[len(prefix):]: value for name, value in params.items()}
        z = pool(jax.nn.relu(conv(x, p["0.weight"], p["0.bias"])))
        z = pool(jax.nn.relu(conv(z, p["3.weight"], p["3.bias"])))
        logits = z.reshape(z.shape[0], -1) @ p["7.weight"].T + p["7.bias"]
        return jnp.mean((logits - target) ** 2)

    return loss
