"""CPU model and ISA features from /proc/cpuinfo text, as doctor reports them."""
from __future__ import annotations

from fashion_edge.runtime.cpu import cpu_info

PI4 = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

Hardware\t: BCM2835
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""
PI5 = PI4.replace("0xd08", "0xd0b").replace("fp asimd evtstrm crc32 cpuid",
                                             "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid "
                                             "asimdrdm lrcpc dcpop asimddp").replace("Pi 4 Model B Rev 1.4", "Pi 5 Model B Rev 1.0")
X86 = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse4_2 avx fma f16c avx2 avx512f avx512bw avx512vl avx512_vnni avx512_bf16 amx_tile amx_int8 amx_bf16
"""


def test_raspberry_pi_4_has_no_dot_product():
    cpu = cpu_info(PI4, "aarch64")
    assert "Raspberry Pi 4" in cpu.model and "Cortex-A72" in cpu.model
    assert cpu.features["asimd"] and not cpu.features["asimddp"] and not cpu.features["i8mm"]


def test_raspberry_pi_5_has_dot_product_but_no_i8mm_or_sve():
    cpu = cpu_info(PI5, "aarch64")
    assert "Cortex-A76" in cpu.model
    assert cpu.features["asimddp"] and cpu.features["asimdhp"]
    assert not (cpu.features["i8mm"] or cpu.features["sve"] or cpu.features["sme"])


def test_x86_vnni_and_amx_are_read_from_flags():
    cpu = cpu_info(X86, "x86_64")
    assert cpu.model.startswith("Intel") and {"avx2", "avx512_vnni", "amx_int8"} <= set(cpu.present())
    assert not cpu.features["avx_vnni"]


def test_this_machine_reports_something_without_failing():
    cpu = cpu_info()
    assert cpu.cores >= 1 and cpu.model and set(cpu.to_json()) >= {"arch", "model", "cores", "features", "present"}
