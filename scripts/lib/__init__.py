"""What scripts/bench, scripts/bench-overhead and scripts/demo share: the
runner (runner.py), the matrix's cases (matrix.py), the seed's workload
(seed.py), the callgrind count (callgrind.py) and the workloads the children
run (workloads/, programs of their own, not modules of this package)."""
