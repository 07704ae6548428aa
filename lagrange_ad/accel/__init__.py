"""Accelerators: compiled kernels and fast paths beside the reference loops."""
