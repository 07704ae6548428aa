"""Tracing: recording a Python function's operations as graph nodes."""
