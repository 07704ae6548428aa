"""Convolution and pooling with PyTorch's layout: ``(batch, channels, *spatial)`` arrays.

`conv` is the ``conv`` row (``torch.nn.functional.conv1d/2d/3d`` without the bias, which is a
broadcast addition), `max_pool` and `avg_pool` the pooling rows (``max_pool1d/2d``,
``avg_pool1d/2d``), `adaptive_avg_pool` a product with constant averaging matrices. The
number N of spatial axes is read from the weight (conv) or from the kernel size; an input
with one axis fewer than ``2 + N`` is a single unbatched example, as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from ...primitives.windows import padding_pairs, per_axis
from .core import call, lift, shape_of


def _batched(name: str, x, n: int):
    """``x`` with a batch axis (added when x is one example), and whether one was added."""
    x = lift(x)
    shape = shape_of(x)
    if len(shape) == n + 2:
        return x, False
    if len(shape) == n + 1:
        return call("reshape", x, shape=(1,) + tuple(shape)), True
    raise ShapeError(f"{name}: with {n} spatial axes the input has shape (batch, channels, "
                     f"*spatial) or (channels, *spatial); got shape {tuple(shape)}")


def _unbatched(y, added: bool):
    return call("reshape", y, shape=shape_of(y)[1:]) if added else y


def _same_padding(kernel, dilation, stride, n: int):
    """PyTorch's ``padding="same"``: the output as long as the input (stride 1), the odd
    entry of an odd total padding on the right."""
    if any(s != 1 for s in stride):
        raise ShapeError(f"conv: padding='same' needs stride 1; got stride {stride}")
    totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return tuple((t // 2, t - t // 2) for t in totals)


def conv(x, w, stride=1, padding=0, dilation=1, groups: int = 1):
    r"""N-d cross-correlation of a batch of images with a bank of filters (N = 1, 2, 3).

    As ``torch.nn.functional.conv1d/conv2d/conv3d`` without the bias (add it by
    broadcasting: ``la.conv(x, w) + b[:, None, None]``).

    Parameters
    ----------
    x : array_like or traced
        The input, ``(batch, C_in, *spatial)`` or one example ``(C_in, *spatial)``.
    w : array_like or traced
        The filters, ``(C_out, C_in / groups, *kernel)``; N is ``w.ndim - 2``.
    stride, dilation : int or tuple of N ints
        The step between windows and between the taps of one window (at least 1).
    padding : int, tuple of N ints, tuple of N (before, after) pairs, "valid" or "same"
        Zeros added on each side of each spatial axis (an int or N ints pad both sides);
        ``"valid"`` is 0 and ``"same"`` keeps the spatial size (stride 1), as in PyTorch.
    groups : int
        Input and output channels split into this many groups, group g of the output seeing
        group g of the input only; it divides ``C_out``, and ``C_in = groups * w.shape[1]``.

    Returns
    -------
    traced or ndarray
        ``(batch, C_out, *out)`` with ``out = (spatial + before + after - dilation (kernel -
        1) - 1) // stride + 1`` per axis.

    Notes
    -----
    With ``x_pad`` the padded input and ``g(o)`` the group of output channel o,

    .. math::

        y[b, o, p] = \sum_{c < C_{in}/G} \sum_k w[o, c, k]\,
                     x_{pad}[b, g(o) C_{in}/G + c, p \cdot stride + k \cdot dilation].

    It is bilinear in ``(x, w)``: the cotangent of x is the transposed convolution of the
    output's, that of w the correlation of x with it, and second derivatives are the cross
    terms alone.

    Raises
    ------
    ShapeError
        Shapes of different ranks, a channel count that does not match ``groups * w.shape[1]``,
        groups not dividing ``C_out``, parameters that are not positive ints (non-negative for
        padding), or a window longer than the padded input (an empty output).

    Examples
    --------
    >>> import numpy as np
    >>> import lagrange_ad as la
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> la.conv(x, np.array([[[1.0, -1.0]]]))
    array([[[-1., -1., -1., -1.]]])
    >>> la.grad(lambda w: la.sum(la.conv(x, w, padding=1)))(np.ones((1, 1, 2)))[0]
    array([[[10., 10.]]])
    """
    n = len(shape_of(w)) - 2
    if n not in (1, 2, 3):
        raise ShapeError(f"conv: the weight (C_out, C_in / groups, *kernel) has 1, 2 or 3 "
                         f"spatial axes; got shape {shape_of(w)}")
    x, added = _batched("conv", x, n)
    kernel = tuple(shape_of(w)[2:])
    stride = per_axis(stride, n, "conv", "stride", 1)
    dilation = per_axis(dilation, n, "conv", "dilation", 1)
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ShapeError(f"conv: padding takes 'valid', 'same', an int or a tuple; got "
                             f"{padding!r}")
        padding = 0 if padding == "valid" else _same_padding(kernel, dilation, stride, n)
    (groups,) = per_axis(groups, 1, "conv", "groups", 1)
    y = call("conv", x, w, stride=stride, padding=padding_pairs(padding, n, "conv"),
             dilation=dilation, groups=groups)
    return _unbatched(y, added)


def _pool_arguments(name: str, x, kernel_size, stride, padding):
    """The batched input, N and the normalized kernel, stride and padding of a pooling."""
    n = len(kernel_size) if np.ndim(kernel_size) == 1 else len(shape_of(x)) - 2
    if n not in (1, 2, 3):
        raise ShapeError(f"{name} takes inputs with 1, 2 or 3 spatial axes (batch, channels, "
                         f"*spatial); got shape {shape_of(x)} and kernel_size {kernel_size!r}")
    x, added = _batched(name, x, n)
    kernel = per_axis(kernel_size, n, name, "kernel_size", 1)
    stride = kernel if stride is None or stride == () else per_axis(stride, n, name, "stride",
                                                                   1)
    return x, added, n, kernel, stride, padding_pairs(padding, n, name)


def _ceil_padding(spatial, kernel, stride, padding, dilation):
    """The padding of PyTorch's ceil mode: more on the right, so that a last, partial window
    is taken when it starts inside the input or the left padding."""
    pairs = []
    for n, k, s, (before, after), d in zip(spatial, kernel, stride, padding, dilation):
        span = d * (k - 1) + 1
        positions = -(-(n + before + after - span) // s) + 1
        if (positions - 1) * s >= n + before:
            positions -= 1
        pairs.append((before, max(after, (positions - 1) * s + span - n - before)))
    return tuple(pairs)


def max_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False):
    r"""The maximum of each window (N = 1, 2, 3), as ``torch.nn.functional.max_pool1d/2d``.

    Parameters
    ----------
    x : array_like or traced
        ``(batch, C, *spatial)`` or one example ``(C, *spatial)``.
    kernel_size : int or tuple of N ints
        The window; N is its length when a tuple, else ``x.ndim - 2``.
    stride : int or tuple of N ints, optional
        The step between windows; the kernel size when None.
    padding : int or tuple of N ints
        Entries of value minus infinity added on both sides (less than the window's span).
    dilation : int or tuple of N ints
        The step between the taps of one window.
    ceil_mode : bool
        Whether the output size rounds up, as PyTorch's: a last, partial window is taken
        when it starts inside the input or the left padding (the right side is padded
        further with minus infinity).

    Returns
    -------
    traced or ndarray
        ``(batch, C, *out)``, ``out = (spatial + 2 padding - dilation (kernel - 1) - 1) //
        stride + 1`` (rounded up in ceil mode).

    Notes
    -----
    :math:`y[b, c, p] = \max_k x_{pad}[b, c, p \cdot stride + k \cdot dilation]`. Each output
    entry copies one input entry, so the derivative is a selection (zero curvature): the
    cotangent of ``y[b, c, p]`` goes to that entry. Among tied entries of one window the
    first in C order over the kernel offsets receives all of it, as the indices of PyTorch's
    ``max_pool2d_with_indices``. The entry is chosen again from the values at every point.

    Examples
    --------
    >>> import numpy as np
    >>> import lagrange_ad as la
    >>> x = np.array([[[1.0, 3.0, 3.0, 2.0]]])
    >>> la.max_pool(x, 2, stride=1)
    array([[[3., 3., 3.]]])
    >>> la.grad(lambda v: la.sum(la.max_pool(v, 2, stride=1)))(x)[0]
    array([[[0., 2., 1., 0.]]])
    """
    x, added, n, kernel, stride, padding = _pool_arguments("max_pool", x, kernel_size, stride,
                                                           padding)
    dilation = per_axis(dilation, n, "max_pool", "dilation", 1)
    if ceil_mode:
        padding = _ceil_padding(shape_of(x)[2:], kernel, stride, padding, dilation)
    y = call("max_pool", x, kernel_size=kernel, stride=stride, padding=padding,
             dilation=dilation)
    return _unbatched(y, added)


def avg_pool(x, kernel_size, stride=None, padding=0, count_include_pad: bool = True,
             divisor_override: int | None = None, *, ceil_mode: bool = False):
    r"""The mean of each window (N = 1, 2, 3), as ``torch.nn.functional.avg_pool1d/2d``.

    Parameters
    ----------
    x : array_like or traced
        ``(batch, C, *spatial)`` or one example ``(C, *spatial)``.
    kernel_size : int or tuple of N ints
        The window; N is its length when a tuple, else ``x.ndim - 2``.
    stride : int or tuple of N ints, optional
        The step between windows; the kernel size when None.
    padding : int or tuple of N ints
        Zeros added on both sides (less than the kernel).
    count_include_pad : bool
        Whether the padding zeros count in the divisor (PyTorch's default, True), or only the
        input entries of the window.
    divisor_override : int, optional
        A divisor for every window instead.
    ceil_mode : bool
        Whether the output size rounds up, as PyTorch's: a last, partial window is taken
        when it starts inside the input or the left padding, and with ``count_include_pad``
        its divisor counts the entries of the window within the padded input.

    Returns
    -------
    traced or ndarray
        ``(batch, C, *out)``, ``out = (spatial + 2 padding - kernel) // stride + 1`` (rounded
        up in ceil mode).

    Notes
    -----
    :math:`y[b, c, p] = \frac{1}{d_p} \sum_k x_{pad}[b, c, p \cdot stride + k]` with
    :math:`d_p` the kernel's size, the number of input entries in the window (without
    ``count_include_pad``) or ``divisor_override``. Linear: the cotangent spreads
    :math:`g / d_p` over each window, and there is no curvature. In ceil mode with
    ``count_include_pad`` the row averages over the input entries and a constant factor
    rescales to PyTorch's divisor.

    Examples
    --------
    >>> import numpy as np
    >>> import lagrange_ad as la
    >>> x = np.array([[[1.0, 3.0, 5.0, 7.0]]])
    >>> la.avg_pool(x, 2)
    array([[[2., 6.]]])
    >>> la.avg_pool(x, 2, padding=1, count_include_pad=False)
    array([[[1., 4., 7.]]])
    """
    x, added, n, kernel, stride, padding = _pool_arguments("avg_pool", x, kernel_size, stride,
                                                           padding)
    spatial = shape_of(x)[2:]
    wider = _ceil_padding(spatial, kernel, stride, padding, (1,) * n) if ceil_mode else padding
    if wider == padding or divisor_override is not None or not count_include_pad:
        y = call("avg_pool", x, kernel_size=kernel, stride=stride, padding=wider,
                 count_include_pad=count_include_pad, divisor_override=divisor_override)
        return _unbatched(y, added)
    # a window reaching past the padded input: PyTorch divides by its part inside the padded
    # input, the row (count_include_pad=False) by its part inside the input
    y = call("avg_pool", x, kernel_size=kernel, stride=stride, padding=wider,
             count_include_pad=False)
    rescale = np.ones(())
    for size, k, s, (before, after), m in zip(spatial, kernel, stride, padding,
                                               shape_of(y)[2:]):
        start = np.arange(m) * s - before
        inside = np.minimum(start + k, size) - np.maximum(start, 0)
        counted = np.minimum(start + k, size + after) - start
        rescale = np.multiply.outer(rescale, inside / counted)
    return _unbatched(call("mul", y, rescale), added)


def _averaging_matrix(size: int, out: int) -> np.ndarray:
    """Row i averages entries ``floor(i n / m) .. ceil((i + 1) n / m) - 1`` (PyTorch's bins)."""
    matrix = np.zeros((out, size))
    for i in range(out):
        start, stop = (i * size) // out, -((-(i + 1) * size) // out)
        matrix[i, start:stop] = 1.0 / (stop - start)
    return matrix


def adaptive_avg_pool(x, output_size):
    r"""Means over a grid of ``output_size`` bins, as ``torch.nn.functional.adaptive_avg_pool*``.

    Parameters
    ----------
    x : array_like or traced
        ``(batch, C, *spatial)`` or one example ``(C, *spatial)``.
    output_size : int or tuple of N ints
        Bins per spatial axis; N is its length when a tuple, else ``x.ndim - 2``. An entry
        None keeps that axis's size.

    Notes
    -----
    Along an axis of n entries, bin i of m averages the entries from
    :math:`\lfloor i n / m \rfloor` to :math:`\lceil (i + 1) n / m \rceil - 1`: a product
    with a constant ``(m, n)`` matrix per axis (an einsum), linear in x.

    Examples
    --------
    >>> import numpy as np
    >>> import lagrange_ad as la
    >>> la.adaptive_avg_pool(np.arange(6.0).reshape(1, 1, 2, 3), 1)
    array([[[[2.5]]]])
    """
    n = len(output_size) if np.ndim(output_size) == 1 else len(shape_of(x)) - 2
    if n not in (1, 2, 3):
        raise ShapeError(f"adaptive_avg_pool takes inputs with 1, 2 or 3 spatial axes; got "
                         f"shape {shape_of(x)} and output_size {output_size!r}")
    x, added = _batched("adaptive_avg_pool", x, n)
    spatial = shape_of(x)[2:]
    sizes = (output_size,) * n if np.ndim(output_size) == 0 else tuple(output_size)
    sizes = tuple(s if m is None else m for s, m in zip(spatial, sizes))
    sizes = per_axis(sizes, n, "adaptive_avg_pool", "output_size", 1)
    letters_in, letters_out = "hwd"[:n], "HWD"[:n]
    subscripts = ("bc" + letters_in + "," + ",".join(o + i for i, o in zip(letters_in,
                                                                              letters_out))
                  + "->bc" + letters_out)
    matrices = [_averaging_matrix(s, m) for s, m in zip(spatial, sizes)]
    return _unbatched(call("einsum", x, *matrices, subscripts=subscripts), added)
