"""Import the package before collection, so that doctest collection of a module named like a
function (trace, grad, verify, ...) cannot shadow the function on the package."""

import lagrange_ad  # noqa: F401
