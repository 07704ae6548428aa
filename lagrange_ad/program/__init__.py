"""The program at a point: forward values, constraints, the Lagrangian, J and A = I - J."""
