"""Import the package before collection, so that doctest collection of a module named like a
function (trace, grad, verify, ...) cannot shadow the function on the package."""

import importlib.util

import lagrange_ad  # noqa: F401

# the importers' modules import their framework, and their examples run it: without the
# framework (an install without the extra) their doctests are not collected
collect_ignore = [] if importlib.util.find_spec("torch") else [
    "lagrange_ad/importers/torch_export.py", "lagrange_ad/importers/torch_interpreter.py"]
