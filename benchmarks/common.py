"""Timing and peak-memory measurement shared by the benchmark scripts."""

import os
import statistics
import time
from typing import Callable, Dict

import torch


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_extra_memory_mib(fn: Callable[[], object], device: torch.device) -> float:
    """Peak memory that one call of fn adds on top of what was in use before it (MiB).

    CUDA: the caching allocator's peak. CPU: the process's peak resident set (VmHWM), reset
    through /proc/self/clear_refs just before the call.
    """
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        out = fn()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - before
        del out
        return peak / 2**20
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status_kib("VmRSS")
    out = fn()
    peak = _status_kib("VmHWM") - before
    del out
    return peak / 2**10


def median_time_ms(fn: Callable[[], object], device: torch.device, reps: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    desc = f"{cpu}, {os.cpu_count()} logical cores, torch {torch.__version__}, {torch.get_num_threads()} threads"
    if torch.cuda.is_available():
        desc += f", GPU {torch.cuda.get_device_name()}"
    return desc


def print_table(rows: Dict[str, Dict[str, str]]) -> None:
    cols = list(next(iter(rows.values())).keys())
    widths = [max(len("impl"), *(len(k) for k in rows))] + [
        max(len(c), *(len(r[c]) for r in rows.values())) for c in cols
    ]
    print(" | ".join(h.ljust(w) for h, w in zip(["impl"] + cols, widths)))
    print("-|-".join("-" * w for w in widths))
    for name, r in rows.items():
        print(" | ".join(v.ljust(w) for v, w in zip([name] + [r[c] for c in cols], widths)))


def shape_info_path():
    """LibriSpeech train-clean-100 (T, U) rows: $FAST_RNNT_SHAPE_INFO, else ../shared/bench beside
    the checkout."""
    from pathlib import Path

    default = Path(__file__).resolve().parents[2] / "shared" / "bench" / "shape_info.pt"
    return Path(os.environ.get("FAST_RNNT_SHAPE_INFO", default))
