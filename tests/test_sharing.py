import pytest

import gpuopt
from gpuopt import InvalidInputError, UnknownNameError
from gpuopt.estimation.sharing import Interference


@pytest.mark.parametrize("gpu", ["a100-sxm-80gb", "h100-sxm", "h100-pcie", "a100-pcie-80gb"])
def test_mig_layouts_on_80gb_parts(gpu):
    layouts = set(gpuopt.mig_layouts(gpu))
    assert ("3g.40gb", "4g.40gb") in layouts
    assert ("1g.10gb",) * 7 in layouts
    assert ("3g.40gb", "3g.40gb") in layouts
    assert ("1g.10gb", "2g.20gb", "2g.20gb", "2g.20gb") in layouts
    assert ("4g.40gb", "4g.40gb") not in layouts
    assert ("1g.10gb",) * 8 not in layouts
    assert ("4g.40gb", "7g.80gb") not in layouts


def test_mig_names_follow_the_gpu():
    assert ("3g.20gb", "4g.20gb") in gpuopt.mig_layouts("a100-40gb")
    assert ("3g.71gb", "4g.71gb") in gpuopt.mig_layouts("h200")


def test_maximal_layouts_cannot_take_another_instance():
    maximal = gpuopt.mig_layouts("a100-sxm-80gb", maximal=True)
    assert ("3g.40gb", "4g.40gb") in maximal and ("7g.80gb",) in maximal
    assert ("3g.40gb",) not in maximal
    assert set(maximal) <= set(gpuopt.mig_layouts("a100-sxm-80gb"))


def test_mig_slice_scales_compute_memory_bandwidth():
    s = gpuopt.mig_slice("a100-sxm-80gb", "3g.40gb")
    g = gpuopt.gpu("a100-sxm-80gb")
    assert s.gpu.memory_bytes == pytest.approx(g.memory_bytes / 2)
    assert s.gpu.mem_bw_gb_s == pytest.approx(g.mem_bw_gb_s / 2)
    assert s.gpu.fp16_tflops == pytest.approx(g.fp16_tflops * 3 / 7)
    assert s.share == 0.5 and s.kind == "mig" and s.request_delay_ms == 0
    # isolated: a slice estimates like a smaller GPU, never with interference
    r = gpuopt.estimate("llama-2-7b", s, input_tokens=128, output_tokens=64)
    assert r.gpu == "a100-sxm-80gb/3g.40gb"


def test_mig_errors():
    with pytest.raises(InvalidInputError, match="no MIG"):
        gpuopt.mig_layouts("l4")
    with pytest.raises(UnknownNameError, match="3g.40gb"):
        gpuopt.mig_slice("a100-sxm-80gb", "3g.20gb")


def test_time_slicing_reproduces_seed_004():
    # three pods on one A100, each busy about 24 % of the time: p50 800 ms -> 920 ms
    seed = Interference(neighbour_utilization=0.24)
    assert 800 * seed.contention(3) + seed.request_delay_ms(3) == pytest.approx(920, abs=1)
    # 60 req/min per pod either way: throughput 3x; utilization 18 % -> 72 %
    assert seed.gpu_utilization(1, 0.18, 1.0) == 0.18
    assert seed.gpu_utilization(3, 0.18, 1.0) == pytest.approx(0.72, abs=0.002)
    # planning assumes saturated neighbours: each replica gets a third of the GPU, slowed further
    f = gpuopt.fraction("a100-40gb", 3)
    g = gpuopt.gpu("a100-40gb")
    assert f.gpu.memory_bytes == pytest.approx(g.memory_bytes / 3)
    assert f.gpu.fp16_tflops == pytest.approx(g.fp16_tflops / 3 / 1.208)
    assert f.request_delay_ms == 80 and f.share == pytest.approx(1 / 3)


def test_fraction_estimates_are_slower_than_the_whole_gpu():
    whole = gpuopt.estimate("llama-3-8b", "h100-sxm", precision="int4", input_tokens=20, output_tokens=100)
    shared = gpuopt.estimate("llama-3-8b", gpuopt.fraction("h100-sxm", 3), precision="int4", input_tokens=20,
                             output_tokens=100)
    # the GPU's work takes three times as long (and more, with contention); host-side overheads do not
    assert shared.decode.memory_ms >= 3 * whole.decode.memory_ms
    assert shared.e2e_ms > 2 * whole.e2e_ms
    assert shared.ttft_ms >= whole.ttft_ms + 80


def test_slots_and_bad_fractions():
    kinds = [s.kind for s in gpuopt.slots("a100-40gb", fractions=3)]
    assert kinds.count("gpu") == 1 and kinds.count("mig") == 6 and kinds.count("fraction") == 2
    assert [s.kind for s in gpuopt.slots("l4")] == ["gpu", "fraction", "fraction", "fraction"]
    for bad in (1, 0, 9, 2.5, True):
        with pytest.raises(InvalidInputError, match="time-sliced"):
            gpuopt.fraction("l4", bad)
