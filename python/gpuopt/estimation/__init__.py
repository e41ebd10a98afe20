"""What one configuration can do, computed by the Rust engine: memory fit (fit), latency and
throughput (estimate, calibrated by calibration), MIG slices and time-shared fractions (sharing),
the request rate one replica sustains under an SLO (capacity), enumeration of every configuration
and GPU mix (sweep), and the discrete-event simulator that checks a plan (simulate). The columns
module is the one way arguments become the arrays the engine reads.

Names are exported from `gpuopt` itself; this package re-exports nothing, so each module stays
reachable by its own name."""
