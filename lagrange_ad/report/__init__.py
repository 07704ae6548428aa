"""How results are shown: tables of a `Comparison`, plots, and drawings of graphs.

``formatting`` (numbers as short text), ``tables`` (text, markdown, JSON), ``style`` (one
look per schedule), ``plots`` (residual plots and legend helpers), ``layout`` (a layered
layout of a graph with routed edges), ``clearance`` (the check that no edge crosses a node)
and ``drawing`` (graphs drawn with matplotlib). Modules
that need matplotlib import it when called.
"""
