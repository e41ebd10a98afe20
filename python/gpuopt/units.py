"""Unit conversions. Bytes internally; GB means 10^9 bytes, GiB 2^30."""

GB = 1e9
GiB = float(2**30)
MiB = float(2**20)


def gb(n_bytes: float) -> float:
    return n_bytes / GB
