"""Models written in PyTorch, for `lagrange_ad.from_torch`: each returns ``(module, args)``.

Every module ends in a scalar loss, so `la.grad` of the imported graph is the gradient of the
loss with respect to every parameter and every float input; the tests check it against
``torch.autograd`` in float64. Sizes are small and every model is deterministic
(``torch.manual_seed``). PyTorch is imported when a model is built, never when lagrange_ad is.

- ``mlp``: two linear layers with tanh, mean squared error to a fixed target.
- ``cnn``: conv 3x3 - ReLU - max pool 2 - linear - log-softmax - negative log-likelihood of
  integer labels, on 28x28 images.
- ``transformer``: ``nn.TransformerEncoderLayer`` (d_model 16, 2 heads, batch first) in eval
  mode, sum-of-squares head.
- ``lstm``, ``gru``: ``nn.LSTM`` / ``nn.GRU`` over 4 steps, a linear read-out of the last
  state, mean squared error.
- ``embedding_bag``: ``nn.EmbeddingBag`` (mean of each bag of token ids) and a linear layer,
  cross-entropy of integer labels.
- ``vector``: a linear layer and tanh with a vector output (for `la.jacobian`).
"""

from __future__ import annotations

from ..report.optional import require_module


def _torch():
    return require_module("torch", "the PyTorch example models")


def mlp(n_in: int = 4, n_hidden: int = 8, n_out: int = 3, batch: int = 5, seed: int = 0):
    """``mean((W2 tanh(W1 x + b1) + b2 - y)^2)`` with ``y`` a fixed target."""
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(n_in, n_hidden), nn.Tanh(), nn.Linear(n_hidden, n_out))
    target = torch.randn(batch, n_out)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, x):
            return ((self.net(x) - target) ** 2).mean()

    return MLP(), (torch.randn(batch, n_in),)


def cnn(batch: int = 2, channels: int = 4, classes: int = 10, seed: int = 0):
    """Negative log-likelihood of ``log_softmax(linear(maxpool(relu(conv(x)))))``."""
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(seed)

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, channels, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(channels * 14 * 14, classes)

        def forward(self, x, labels):
            z = self.pool(torch.relu(self.conv(x)))
            logits = self.fc(z.flatten(1))
            return nn.functional.nll_loss(nn.functional.log_softmax(logits, dim=1), labels)

    x = torch.randn(batch, 1, 28, 28)
    labels = torch.randint(0, classes, (batch,))
    return CNN(), (x, labels)


def transformer(batch: int = 2, length: int = 5, d_model: int = 16, heads: int = 2,
                seed: int = 0):
    """``sum(layer(x)^2)`` of a ``TransformerEncoderLayer`` in eval mode."""
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(seed)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=32,
                                                    dropout=0.0, batch_first=True)

        def forward(self, x):
            return (self.layer(x) ** 2).sum()

    return Encoder().eval(), (torch.randn(batch, length, d_model),)


def _recurrent(kind: str, steps: int, batch: int, n_in: int, n_hidden: int, seed: int):
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(seed)

    class Recurrent(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(nn, kind)(n_in, n_hidden, batch_first=True)
            self.readout = nn.Linear(n_hidden, 1)

        def forward(self, x, y):
            out = self.rnn(x)[0]
            return ((self.readout(out[:, -1]) - y) ** 2).mean()

    return Recurrent(), (torch.randn(batch, steps, n_in), torch.randn(batch, 1))


def lstm(steps: int = 4, batch: int = 2, n_in: int = 3, n_hidden: int = 5, seed: int = 0):
    """Mean squared error of a linear read-out of the last state of an ``nn.LSTM``."""
    return _recurrent("LSTM", steps, batch, n_in, n_hidden, seed)


def gru(steps: int = 4, batch: int = 2, n_in: int = 3, n_hidden: int = 5, seed: int = 0):
    """Mean squared error of a linear read-out of the last state of an ``nn.GRU``."""
    return _recurrent("GRU", steps, batch, n_in, n_hidden, seed)


def embedding_bag(vocabulary: int = 20, width: int = 6, classes: int = 3, seed: int = 0):
    """Cross-entropy of ``linear(mean of each bag's embeddings)``; three bags of token ids."""
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(seed)

    class TextClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.EmbeddingBag(vocabulary, width, mode="mean")
            self.fc = nn.Linear(width, classes)

        def forward(self, tokens, offsets, labels):
            logits = self.fc(self.embedding(tokens, offsets))
            return nn.functional.cross_entropy(logits, labels)

    tokens = torch.tensor([1, 4, 7, 2, 9, 9, 13, 0, 5, 19])
    offsets = torch.tensor([0, 3, 6])
    labels = torch.tensor([0, 2, 1])
    return TextClassifier(), (tokens, offsets, labels)


def vector(n_in: int = 3, n_out: int = 4, seed: int = 0):
    """``tanh(W x + b)``: a vector output, for `la.jacobian`."""
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, n_out), nn.Tanh()), (torch.randn(n_in),)


MODELS = {"mlp": mlp, "cnn": cnn, "transformer": transformer, "lstm": lstm, "gru": gru,
          "embedding_bag": embedding_bag}
