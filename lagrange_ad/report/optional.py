"""Optional packages: imported when needed, or a one-line error naming what to install."""

from __future__ import annotations

import importlib

from ..errors import LagrangeADError

# the package extra that provides each optional module
EXTRAS = {"matplotlib": "plot", "networkx": "plot", "pandas": "notebooks", "torch": "torch",
          "jax": "jax"}


def require_module(name: str, purpose: str, package: str | None = None):
    """Import ``name``, or raise `LagrangeADError` naming the package and the extra to install.

    Examples
    --------
    >>> require_module("json", "reading JSON").__name__
    'json'
    """
    package = package or name.split(".")[0]
    try:
        return importlib.import_module(name)
    except ImportError:
        extra = EXTRAS.get(package)
        hint = f"pip install {package}"
        if extra is not None:
            hint += f' (or pip install "lagrange_ad[{extra}]")'
        raise LagrangeADError(f"{purpose} needs the optional package {package!r}, which is not "
                              f"installed; install it with: {hint}") from None
