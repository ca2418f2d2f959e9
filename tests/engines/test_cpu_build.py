"""The llama.cpp build flags come from the CPU's own feature list: AMX never, AVX-512 only
where the CPU has it, and a different feature set gives a different wheel-cache key.
Built nothing: the inputs are the flag lines of /proc/cpuinfo of the two CPU kinds seen
on this project's machines (an AMD EPYC with AVX2 only; an Intel with AVX-512 and AMX)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from corpusforge.tasks.engines import cpu_build

AMD_AVX2 = ("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n"
            "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat "
            "pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm "
            "constant_tsc rep_good nopl cpuid pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 "
            "x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm cmp_legacy abm "
            "sse4a misalignsse 3dnowprefetch bmi1 avx2 smep bmi2 erms rdseed adx smap "
            "clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves arat umip rdpid\n")
INTEL_AMX = ("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) "
             "Platinum 8481C\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge "
             "mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht syscall nx pdpe1gb rdtscp lm "
             "constant_tsc rep_good nopl xtopology nonstop_tsc cpuid tsc_known_freq pni "
             "pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx "
             "f16c rdrand hypervisor lahf_lm abm 3dnowprefetch invpcid_single ssbd ibrs ibpb "
             "stibp ibrs_enhanced fsgsbase tsc_adjust bmi1 hle avx2 smep bmi2 erms invpcid "
             "rtm avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb avx512cd sha_ni "
             "avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves avx_vnni avx512_bf16 arat "
             "avx512vbmi umip pku ospke waitpkg avx512_vbmi2 gfni vaes vpclmulqdq "
             "avx512_vnni avx512_bitalg avx512_vpopcntdq rdpid cldemote movdiri movdir64b "
             "fsrm md_clear serialize tsxldtrk amx_bf16 avx512_fp16 amx_tile amx_int8 "
             "arch_capabilities\n")
AMX = ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")
AVX512 = ("GGML_AVX512", "GGML_AVX512_VBMI", "GGML_AVX512_VNNI", "GGML_AVX512_BF16")


def options(cpuinfo: str) -> dict[str, bool]:
    return cpu_build.isa_options(cpu_build.cpu_flags(cpuinfo))


def test_amx_and_native_are_off_on_both_kinds() -> None:
    for cpuinfo in (AMD_AVX2, INTEL_AMX):
        chosen = options(cpuinfo)
        assert not any(chosen[name] for name in (*AMX, "GGML_NATIVE"))


def test_avx512_only_where_the_cpu_has_it() -> None:
    amd, intel = options(AMD_AVX2), options(INTEL_AMX)
    assert not any(amd[name] for name in AVX512)
    assert all(intel[name] for name in AVX512)
    assert not amd["GGML_AVX_VNNI"] and intel["GGML_AVX_VNNI"]
    for chosen in (amd, intel):
        assert all(chosen[n] for n in ("GGML_AVX", "GGML_AVX2", "GGML_FMA", "GGML_F16C",
                                       "GGML_BMI2", "GGML_SSE42"))


def test_every_option_is_explicit_so_ggml_defaults_cannot_add_one() -> None:
    # With GGML_NATIVE=OFF ggml defaults BMI2 & co. to ON: an AVX-only CPU must get OFF.
    avx_only = "flags\t\t: fpu sse sse2 sse4_1 sse4_2 avx\n"
    args = cpu_build.cmake_args(options(avx_only)).split()
    assert "-DGGML_BMI2=OFF" in args and "-DGGML_AVX2=OFF" in args and "-DGGML_AVX=ON" in args
    assert {a.split("=")[0] for a in args} == {f"-D{n}" for n in cpu_build.ISA_OPTIONS} | {
        f"-D{n}" for n in cpu_build.ALWAYS_OFF}


def test_an_avx512_part_without_avx512f_is_not_enabled() -> None:
    odd = "flags\t\t: sse4_2 avx avx2 fma f16c bmi2 avx512_vnni avx512_bf16\n"
    chosen = options(odd)
    assert not chosen["GGML_AVX512"] and not chosen["GGML_AVX512_VNNI"]


def test_the_cache_key_differs_between_kinds_and_is_stable() -> None:
    amd, intel = options(AMD_AVX2), options(INTEL_AMX)
    assert cpu_build.build_key(amd) != cpu_build.build_key(intel)
    # Feature flags the build does not use (sha_ni, rdpid...) do not change the key.
    extra = AMD_AVX2.replace("rdpid", "rdpid sha512 some_new_flag")
    assert cpu_build.build_key(options(extra)) == cpu_build.build_key(amd)


def test_missing_features_names_what_a_build_needs_and_this_cpu_lacks() -> None:
    intel_build = options(INTEL_AMX)
    assert "avx512f" in cpu_build.missing_features(intel_build, cpu_build.cpu_flags(AMD_AVX2))
    assert cpu_build.missing_features(options(AMD_AVX2), cpu_build.cpu_flags(INTEL_AMX)) == []


def test_a_text_without_flags_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no 'flags' line"):
        cpu_build.cpu_flags("processor\t: 0\n")


def test_the_install_script_entry_point_prints_what_install_sh_reads(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(AMD_AVX2)
    script = cpu_build.__file__

    def call(what: str) -> str:
        return subprocess.run([sys.executable, script, what, str(info)], check=True,
                              capture_output=True, text=True).stdout.strip()

    assert call("key") == cpu_build.build_key(options(AMD_AVX2))
    assert "-DGGML_AVX512=OFF" in call("cmake-args").split()
    assert "AVX512" not in call("describe").split() and "AVX2" in call("describe").split()
