"""la.from_torch: PyTorch modules imported from torch.export programs, their gradients against
torch.autograd in float64, saved .pt2 programs, names, scopes, constants and refusals."""

import copy
import sys

import numpy as np
import pytest

import lagrange_ad as la
from lagrange_ad.examples import torch_models

torch = pytest.importorskip("torch")

TOL = 1e-10


def torch_reference(module, args):
    """The loss and the gradient by name (parameters, then float arguments in order) of the
    module converted to float64, by torch.autograd."""
    module = copy.deepcopy(module).double()
    args = [a.detach().double().requires_grad_() if a.is_floating_point() else a for a in args]
    loss = module(*args)
    loss.backward()
    gradient = {name: p.grad.numpy() for name, p in module.named_parameters()}
    floats = [a.grad.numpy() for a in args if a.is_floating_point()]
    return loss.item(), gradient, floats


def assert_agrees(graph, module, args):
    """Value and gradient of the graph at its point equal torch's to TOL (relative to the
    largest entry); every parameter and float argument is an input. Float buffers that are
    inputs (running statistics) have no gradient in torch and are not compared."""
    loss, by_name, floats = torch_reference(module, args)
    buffers = {name for name, b in module.named_buffers() if b.is_floating_point()}
    names = [graph.names[i] for i in graph.inputs]
    compared = [k for k, n in enumerate(names) if n not in buffers]
    expected = [by_name[names[k]] for k in compared if names[k] in by_name] + floats
    assert [names[k] for k in compared[:len(by_name)]] == list(by_name)
    assert len(compared) == len(by_name) + len(floats)
    assert la.Program(graph).output_value == pytest.approx(loss, rel=TOL, abs=TOL)
    gradient = la.grad(graph)(*graph.point)
    for k, theirs in zip(compared, expected):
        scale = max(1.0, float(np.max(np.abs(theirs))))
        assert np.max(np.abs(gradient[k] - theirs)) <= TOL * scale, names[k]


@pytest.mark.parametrize("name", list(torch_models.MODELS))
def test_gradient_agrees_with_torch(name):
    module, args = torch_models.MODELS[name]()
    assert_agrees(la.from_torch(module, *args), module, args)


@pytest.mark.parametrize("name", list(torch_models.MODELS))
def test_saved_float32_program_imports_in_float64(name, tmp_path):
    module, args = torch_models.MODELS[name]()
    path = tmp_path / f"{name}.pt2"
    torch.export.save(torch.export.export(module, args), path)  # float32, as built
    graph = la.from_torch(path)  # the example inputs saved with the program
    assert all(x.dtype == np.float64 for x in graph.point)
    assert_agrees(graph, module, args)


def test_exported_program_at_new_arguments():
    module, (x,) = torch_models.mlp()
    program = torch.export.export(module, (x,))
    x2 = torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    graph = la.from_torch(program, x2)
    np.testing.assert_array_equal(graph.point[-1], x2.double().numpy())
    assert_agrees(graph, module, (x2,))


@pytest.mark.parametrize("name", ["cnn", "transformer"])
def test_hessian_vector_product_agrees_with_torch(name):
    module, args = torch_models.MODELS[name]()
    graph = la.from_torch(module, *args)
    direction = tuple(np.random.default_rng(0).normal(size=x.shape) for x in graph.point)
    mine = la.hvp(graph)(graph.point, direction)

    double = copy.deepcopy(module).double()
    names = [graph.names[i] for i in graph.inputs]
    n_params = len(dict(double.named_parameters()))

    def loss(*inputs):  # the graph's inputs: parameters, then the float arguments
        floats = iter(inputs[n_params:])
        full = tuple(next(floats) if a.is_floating_point() else a for a in args)
        return torch.func.functional_call(double, dict(zip(names, inputs[:n_params])), full)

    point = tuple(torch.from_numpy(np.array(x)) for x in graph.point)
    tangent = tuple(torch.from_numpy(d) for d in direction)
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
        theirs = torch.autograd.functional.hvp(loss, point, tangent)[1]
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b.numpy(), rtol=0, atol=1e-10 * max(1.0, b.abs().max()))


def test_jacobian_of_a_vector_output():
    module, (x,) = torch_models.vector()
    graph = la.from_torch(module, x)
    result = la.jacobian(la.Program(graph))
    names = [graph.names[i] for i in graph.inputs]
    assert names == ["0.weight", "0.bias", "input"]
    double = copy.deepcopy(module).double()
    params = {k: v.detach() for k, v in double.named_parameters()}

    def f(weight, bias, x):
        return torch.func.functional_call(double, {"0.weight": weight, "0.bias": bias}, (x,))

    expected = torch.autograd.functional.jacobian(
        f, (params["0.weight"], params["0.bias"], x.double()))
    for node, block in zip(graph.inputs, expected):
        mine = result.blocks[(graph.output, node)]
        np.testing.assert_allclose(mine, block.numpy(), rtol=0, atol=1e-12)


def test_verify_passes():
    module, args = torch_models.mlp()
    report = la.verify(la.Program(la.from_torch(module, *args)), methods=("forward",),
                       n_directions=2, progress=False)
    assert report.ok, str(report)


def test_scopes_name_the_modules():
    module, args = torch_models.transformer()
    graph = la.from_torch(module, *args)
    scopes = set(graph.scopes.values())
    assert {"layer.self_attn", "layer.linear1", "layer.linear2", "layer.norm1",
            "layer.norm2"} <= scopes
    # every node but the inputs, the constants and the head (the top module's own square
    # and sum, in no scope) was recorded by some module of the layer
    recorded = [i for i in range(len(graph)) if not graph.is_source[i]]
    head = recorded[-2:]
    assert [graph.primitive(i).name for i in head] == ["pow", "sum"]
    assert all(i not in graph.scopes for i in head)
    assert all(graph.scopes[i].startswith("layer") for i in recorded[:-2])


def test_integer_arguments_are_constants():
    module, args = torch_models.embedding_bag()
    graph = la.from_torch(module, *args)
    assert [graph.names[i] for i in graph.inputs] == ["embedding.weight", "fc.weight",
                                                      "fc.bias"]
    module, args = torch_models.cnn()
    assert [la.from_torch(module, *args).names[i] for i in range(5)][-1] == "x"


def test_embedding_bag_modes_and_padding():
    torch.manual_seed(0)
    tokens, offsets = torch.tensor([1, 4, 0, 2, 4, 4, 3]), torch.tensor([0, 3, 3, 6])
    for mode in ("sum", "mean", "max"):
        bag = torch.nn.EmbeddingBag(5, 3, mode=mode, padding_idx=4)

        class Model(torch.nn.Module):
            def __init__(self, bag=bag):
                super().__init__()
                self.bag = bag

            def forward(self, tokens, offsets):
                return (self.bag(tokens, offsets) ** 2).sum()

        assert_agrees(la.from_torch(Model(), tokens, offsets), Model(), (tokens, offsets))


def many_layers():
    """A module touching most rows of the ATen table (eval-mode batch norm, grouped and
    dilated convolutions, pools, embedding, activations, reductions, moves, losses)."""
    nn, F = torch.nn, torch.nn.functional
    torch.manual_seed(0)

    class Layers(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv1d(2, 4, 3, stride=2, padding=1, bias=False)
            self.bn = nn.BatchNorm1d(4)
            self.conv2 = nn.Conv2d(1, 4, 3, dilation=2)
            self.grouped = nn.Conv2d(4, 4, 2, groups=2, stride=2)
            self.avg = nn.AvgPool2d(2, stride=1, padding=1, count_include_pad=False)
            self.adaptive = nn.AdaptiveAvgPool2d((2, 2))
            self.emb = nn.Embedding(7, 4, padding_idx=0)
            self.ln = nn.LayerNorm(4)

        def forward(self, x1, x2, ids):
            a = F.elu(self.bn(self.conv1(x1))).sum() + F.softplus(x1).mean()
            b = self.adaptive(self.avg(self.grouped(F.silu(self.conv2(x2))))).sum()
            c = self.ln(self.emb(ids))
            d = (F.gelu(c, approximate="tanh").sum() + F.gelu(c).sum() + F.leaky_relu(c).sum()
                 + F.hardtanh(c).sum() + torch.clamp(c, -0.5, 0.5).sum())
            e = (c.var(dim=0).sum() + c.std() + c.amax(dim=1).sum() + torch.logsumexp(c, 1).sum()
                 + c.max() + c.min(dim=0).values.sum() + torch.sigmoid(c).prod())
            f = (torch.cumsum(c, 0).sum() + torch.flip(c, [0])[0].sum()
                 + torch.roll(c, 1, 0)[0].sum() + c.repeat(2, 1)[3].sum()
                 + F.pad(c, (1, 2), value=0.5).sum() + torch.tril(c[:4, :4]).sum()
                 + torch.stack([c[0], c[1]]).sum() + torch.cat(torch.chunk(c, 2, 1), 0).sum())
            g = (F.mse_loss(c, torch.ones_like(c)) + F.smooth_l1_loss(c, torch.zeros_like(c))
                 + F.cross_entropy(c, ids % 4, label_smoothing=0.1)
                 + torch.where(c > 0, c, c * c).sum() + (c / (c.abs() + 1)).sum()
                 + torch.sqrt(c * c + 1).sum() + torch.log1p(c * c).sum())
            h = (torch.einsum("ij,kj->ik", c, c).sum() + (c @ c.T).trace()
                 + F.normalize(c, dim=1).sum()
                 + F.scaled_dot_product_attention(c[None, None], c[None, None],
                                                  c[None, None]).sum())
            return a + b + d + e + f + g + h

    return Layers().eval(), (torch.randn(2, 2, 9), torch.randn(2, 1, 9, 9),
                             torch.tensor([1, 3, 4, 5, 6, 2]))


def causal_decoder():
    """A pre-norm ``TransformerDecoderLayer`` (GELU) with a causal mask of -inf entries."""
    torch.manual_seed(0)

    class Decoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0,
                                                          batch_first=True, norm_first=True,
                                                          activation="gelu")

        def forward(self, x, memory):
            mask = torch.nn.Transformer.generate_square_subsequent_mask(x.shape[1])
            return (self.layer(x, memory, tgt_mask=mask) ** 2).sum()

    return Decoder().eval(), (torch.randn(2, 3, 8), torch.randn(2, 4, 8))


@pytest.mark.parametrize("make", [many_layers, causal_decoder])
def test_more_layers_agree_with_torch(make):
    module, args = make()
    graph = la.from_torch(module, *args)
    # batch norm's running statistics (float buffers) are inputs, after the parameters
    buffers = [name for name, b in module.named_buffers() if b.is_floating_point()]
    assert set(buffers) <= {graph.names[i] for i in graph.inputs}
    assert_agrees(graph, module, args)


def test_buffers_are_inputs_or_constants():
    class Scaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(3, 2)
            self.register_buffer("scale", torch.tensor([2.0, -1.0]))

        def forward(self, x):
            return (self.linear(x) * self.scale).sum()

    module, x = Scaled(), torch.ones(4, 3)
    graph = la.from_torch(module, x)
    assert [graph.names[i] for i in graph.inputs] == ["linear.weight", "linear.bias", "scale",
                                                      "x"]
    scale_gradient = la.grad(graph)(*graph.point)[2]
    with torch.no_grad():
        np.testing.assert_allclose(scale_gradient, module.linear(x).sum(0).double().numpy(),
                                   rtol=1e-6)
    graph = la.from_torch(module, x, buffers="constants")
    assert [graph.names[i] for i in graph.inputs] == ["linear.weight", "linear.bias", "x"]
    with pytest.raises(la.LagrangeADError, match="buffers must be one of"):
        la.from_torch(module, x, buffers="parameters")


def test_functions_and_numpy_arguments():
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=(3, 3)), rng.normal(size=3)
    graph = la.from_torch(lambda w, x: torch.tanh(w @ x).sum(), w, x)
    assert [graph.names[i] for i in graph.inputs] == ["w", "x"]
    gw, gx = la.grad(graph)(w, x)
    s = 1 - np.tanh(w @ x) ** 2
    np.testing.assert_allclose(gw, np.outer(s, x), rtol=1e-13)
    np.testing.assert_allclose(gx, w.T @ s, rtol=1e-13)


def test_unmapped_operations_are_all_listed():
    class Special(torch.nn.Module):
        def forward(self, x):
            return (torch.erfinv(x / 2) + torch.erfinv(x / 4) + torch.special.i0(x)).sum()

    with pytest.raises(la.UnsupportedOperationError) as info:
        la.from_torch(Special(), torch.rand(3))
    message = str(info.value)
    assert "aten.erfinv.default (2 nodes)" in message
    assert "aten.i0.default (1 node)" in message
    assert "2 ATen operation(s)" in message


def test_several_outputs_are_refused():
    class Two(torch.nn.Module):
        def forward(self, x):
            return x.sum(), x.mean()

    with pytest.raises(la.GraphError, match="returns 2 tensors"):
        la.from_torch(Two(), torch.ones(3))


def test_what_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(la.LagrangeADError, match="no such file"):
        la.from_torch(str(tmp_path / "missing.pt2"))
    with pytest.raises(la.LagrangeADError, match="needs a torch.nn.Module"):
        la.from_torch(3.0)


def test_missing_torch_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(la.LagrangeADError, match=r"lagrange_ad\[torch\]"):
        la.from_torch(object())


class Branches(torch.nn.Module):
    """Value-dependent branches: activations, a clamp and a where on a comparison."""

    def forward(self, x):
        y = torch.nn.functional.leaky_relu(x, 0.1) + torch.nn.functional.elu(x)
        y = y + torch.clamp(x, min=-0.5, max=0.5) ** 2 + torch.nn.functional.hardtanh(x)
        y = y + torch.where((x > 0) & (x < 1.5), torch.sin(x), x ** 3)
        y = y + torch.nn.functional.softplus(3 * x, beta=2, threshold=1.0)
        return torch.sum(y * torch.cos(x))


def test_branches_are_mask_nodes_recomputed_at_another_point():
    # imported where every entry is positive (and inside the clamp), replayed where the
    # branches differ: the gradient is torch's at the new point, not the example point's
    first = torch.tensor([0.2, 0.3, 0.1, 0.4, 0.25, 0.05], dtype=torch.float64)
    second = np.array([-0.8, 0.7, -0.2, 2.0, 1.7, -1.3])
    graph = la.from_torch(Branches(), first)
    _, _, (expected,) = torch_reference(Branches(), [torch.from_numpy(second)])
    np.testing.assert_allclose(la.grad(graph)(second)[0], expected, rtol=TOL, atol=TOL)
    value = float(np.asarray(la.Program(graph, second).output_value).item())
    np.testing.assert_allclose(value, Branches()(torch.from_numpy(second)).item(), rtol=TOL)


def test_argmax_and_argmin_used_for_gathering_are_index_nodes():
    def function(x):
        rows = torch.index_select(x, 0, torch.argmin(x, 0))
        return torch.sum(rows ** 2) + torch.sum(torch.gather(x, 1, torch.argmax(x, 1, True)) ** 3)

    first = torch.tensor([[0.3, -0.2, 0.5], [0.1, 0.7, -0.4]], dtype=torch.float64)
    second = torch.tensor([[0.9, -0.2, 0.5], [0.1, -0.7, 0.4]], dtype=torch.float64)
    graph = la.from_torch(function, first)
    leaf = second.clone().requires_grad_()
    function(leaf).backward()
    np.testing.assert_allclose(la.grad(graph)(second.numpy())[0], leaf.grad.numpy(),
                               rtol=TOL, atol=TOL)


def test_an_index_read_as_a_python_integer_raises():
    x = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)
    with pytest.raises(la.errors.ControlFlowError, match="item"):
        la.from_torch(lambda x: x[torch.argmax(x)] ** 2, x)
