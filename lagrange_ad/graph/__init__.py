"""The graph layer: the immutable labeled hypergraph, its builder and its drawings."""
