"""fashion_edge.benchmarks: latency, memory, size and accuracy benchmarks, and the report."""
