"""Which candidates the planner may drop (gpuopt.planning.candidates.prune_dominated): only those
another one of the same service and GPU beats on every count, so every plan that can be optimal
stays in the model."""

from gpuopt.estimation.sharing import mig_slice, whole
from gpuopt.planning.candidates import Candidate, prune_dominated

GPU = "a100-sxm-80gb"


def _c(slot, capacity: float, tp: int = 1, precision: str = "fp16", gpu: str = GPU) -> Candidate:
    return Candidate(service=0, gpu=gpu, slot=slot, precision=precision, capacity_rps=capacity, tp=tp,
                     ttft_p95_ms=100.0, tpot_p95_ms=20.0, e2e_p95_ms=1000.0)


def _kept(*cands: Candidate) -> list[tuple]:
    return [(c.slot.id, c.tp, c.capacity_rps) for c in prune_dominated(list(cands))]


def test_a_wider_tensor_parallel_replica_loses_to_narrower_ones_serving_as_much():
    one = _c(whole(GPU), 5.0)
    assert _kept(one, _c(whole(GPU), 9.0, tp=2)) == [(GPU, 1, 5.0)]      # 2 x 5 >= 9
    assert _kept(one, _c(whole(GPU), 10.0, tp=2)) == [(GPU, 1, 5.0)]     # 2 x 5 >= 10: a tie drops it too
    assert _kept(one, _c(whole(GPU), 10.5, tp=2)) == [(GPU, 1, 5.0), (GPU, 2, 10.5)]
    assert _kept(_c(whole(GPU), 12.0, tp=2), _c(whole(GPU), 30.0, tp=4)) == [(GPU, 2, 12.0), (GPU, 4, 30.0)]
    # only a tp that divides: 3 GPUs are not one and a half replicas of tp 2
    assert _kept(_c(whole(GPU), 20.0, tp=2), _c(whole(GPU), 20.0, tp=3)) == [(GPU, 2, 20.0), (GPU, 3, 20.0)]
    # never the narrower one, never the same width
    assert _kept(_c(whole(GPU), 5.0, tp=2), _c(whole(GPU), 100.0, tp=4)) == [(GPU, 2, 5.0), (GPU, 4, 100.0)]
    assert _kept(_c(whole(GPU), 5.0, precision="fp8"), one) == [(GPU, 1, 5.0), (GPU, 1, 5.0)]


def test_only_the_same_gpu_type_competes_whatever_the_order():
    other = _c(whole("h100-sxm"), 100.0, gpu="h100-sxm")
    assert _kept(other, _c(whole(GPU), 5.0), _c(whole(GPU), 9.0, tp=2)) == [("h100-sxm", 1, 100.0), (GPU, 1, 5.0)]
    assert len(_kept(_c(whole("h100-sxm"), 1.0, tp=2, gpu="h100-sxm"), _c(whole(GPU), 100.0))) == 2


def test_a_mig_profile_loses_to_a_smaller_one_serving_as_much():
    big, small = mig_slice(GPU, "4g.40gb"), mig_slice(GPU, "3g.40gb")     # 3g: fewer compute, same memory slices
    assert _kept(_c(big, 5.0), _c(small, 5.0)) == [(small.id, 1, 5.0)]
    assert _kept(_c(big, 5.0), _c(small, 4.9)) == [(big.id, 1, 5.0), (small.id, 1, 4.9)]
    wide, narrow = mig_slice(GPU, "1g.20gb"), mig_slice(GPU, "1g.10gb")  # same compute, fewer memory slices
    assert _kept(_c(wide, 2.0), _c(narrow, 2.0)) == [(narrow.id, 1, 2.0)]
    # a profile that is not a subset (2g.20gb has more compute than 1g.20gb... and 3g.40gb more memory)
    assert len(_kept(_c(mig_slice(GPU, "2g.20gb"), 1.0), _c(mig_slice(GPU, "3g.40gb"), 9.0))) == 2
    # the same profile at two precisions: neither drops the other
    assert len(_kept(_c(small, 5.0), _c(small, 5.0, precision="int8"))) == 2
    # a whole GPU and a MIG instance are not compared
    assert len(_kept(_c(whole(GPU), 1.0), _c(small, 100.0))) == 2
