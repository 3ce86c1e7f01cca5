"""Accelerator peaks: dense bf16 tensor-core FLOP/s from the vendors' data sheets (no sparsity)."""
from __future__ import annotations

PEAK_BF16_FLOPS: dict[str, float] = {
    "a100": 312e12,
    "h100-pcie": 756e12,
    "h100": 989e12,
    "h200": 989e12,
}

# Substrings of `torch.cuda.get_device_name()`, most specific first.
_DEVICE_NAMES = (("H100 PCIe", "h100-pcie"), ("A100", "a100"), ("H100", "h100"), ("H200", "h200"))


def gpu_peak(name: str) -> float:
    """The peak of a GPU type by its short name ("a100", "h100", "h100-pcie", "h200")."""
    key = name.lower()
    if key not in PEAK_BF16_FLOPS:
        raise ValueError(f"unknown GPU type {name!r} (known: {', '.join(PEAK_BF16_FLOPS)})")
    return PEAK_BF16_FLOPS[key]


def device_peak(device_name: str) -> float | None:
    """The peak of the GPU that torch calls `device_name` (e.g. "NVIDIA H100 80GB HBM3"), if known."""
    for needle, key in _DEVICE_NAMES:
        if needle in device_name:
            return PEAK_BF16_FLOPS[key]
    return None
