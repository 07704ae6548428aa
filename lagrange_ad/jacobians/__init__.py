"""Jacobians of several outputs: tangent and cotangent sweeps, vertex elimination."""
