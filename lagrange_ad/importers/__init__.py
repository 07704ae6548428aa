"""Programs imported from other frameworks as lagrange_ad graphs.

Each importer reads the framework's own graph form (``torch.export``'s ATen graph, JAX's
jaxpr), maps every operation to registered primitives and returns a `Graph`. The frameworks are
optional: each importer imports its framework when it is called and names the extra to install
when it is missing.
"""
