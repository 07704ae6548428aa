"""``python -m lagrange_ad``: the command line."""

from .cli import main

raise SystemExit(main())
