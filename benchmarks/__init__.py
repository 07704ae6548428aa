"""Side-by-side timings of lagrange_ad against other differentiation systems.

Run ``python -m benchmarks --size smoke|small|full``; every workload prints one markdown table
whose rows are systems and whose columns are the median and minimum time per node and the
ratio to lagrange_ad. ``harness`` times and formats, ``peers`` holds the other systems (each
imported only when its benchmark runs) and a plain Python tape, ``models`` the tensor networks
with a hand-written numpy backprop, ``context`` what the workloads share, ``workloads`` and
``tensors`` the workloads themselves.
"""
