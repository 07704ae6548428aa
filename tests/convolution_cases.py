"""Sample operands of the convolution and pooling rows for the registry-wide checks in
test_primitives.py and test_curvature.py: one and two spatial axes (three once), strides,
paddings (symmetric and not), dilations, groups, and windows with tied maxima (kinks).
"""

import numpy as np

RNG = np.random.default_rng(20261205)


def rand(*shape):
    return RNG.standard_normal(shape)


def conv_params(stride, padding, dilation, groups=1):
    return {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


def pool_params(kernel, stride, padding, **more):
    return {"kernel_size": kernel, "stride": stride, "padding": padding, **more}


# windows of two with equal entries: the first in C order over the kernel takes the cotangent
TIES = np.array([[[[1.0, 1.0, 0.5, 2.0], [0.3, 1.0, 2.0, 2.0], [0.0, 0.0, 0.0, 0.0]]]])

CONVOLUTION_CASES = {
    "conv": [
        ((rand(2, 3, 6), rand(4, 3, 3)), conv_params((1,), ((0, 0),), (1,))),
        ((rand(2, 2, 7), rand(2, 1, 2)), conv_params((2,), ((1, 2),), (2,), groups=2)),
        ((rand(1, 2, 5, 4), rand(3, 2, 3, 2)), conv_params((1, 1), ((1, 1), (0, 0)), (1, 1))),
        ((rand(2, 4, 6, 5), rand(4, 2, 2, 2)), conv_params((2, 1), ((1, 1), (1, 0)), (2, 1),
                                                          groups=2)),
        ((rand(1, 1, 4, 3, 3), rand(2, 1, 2, 2, 2)),
         conv_params((1, 2, 1), ((0, 0), (1, 1), (0, 0)), (1, 1, 2))),
    ],
    "max_pool": [
        ((rand(2, 3, 7),), pool_params((3,), (2,), ((1, 1),), dilation=(1,))),
        ((rand(1, 2, 6, 5),), pool_params((2, 2), (2, 2), ((0, 0), (0, 0)), dilation=(1, 1))),
        ((rand(2, 1, 5, 6),), pool_params((3, 2), (1, 2), ((1, 1), (1, 0)), dilation=(1, 2))),
    ],
    "avg_pool": [
        ((rand(2, 3, 7),), pool_params((3,), (2,), ((1, 1),))),
        ((rand(1, 2, 6, 5),), pool_params((2, 3), (2, 1), ((1, 1), (0, 1)),
                                          count_include_pad=False)),
        ((rand(2, 1, 5, 4),), pool_params((2, 2), (1, 2), ((1, 1), (1, 1)),
                                          divisor_override=3)),
    ],
}

# points of non-differentiability: test_primitives checks the rules' agreement there but not
# finite differences
CONVOLUTION_KINKS = {
    "max_pool": [((TIES,), pool_params((2, 2), (1, 2), ((0, 0), (0, 0)), dilation=(1, 1))),
                 ((TIES[:, :, 1],), pool_params((2,), (1,), ((1, 1),), dilation=(1,)))],
}
