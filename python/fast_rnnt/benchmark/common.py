"""Timing and peak-memory measurement shared by the benchmark scripts."""

import os
import resource
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


def memory_in_use(device: torch.device) -> int:
    """Bytes in use now: the CUDA caching allocator's, else the process's resident set."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_memory(device: torch.device) -> int:
    """Peak bytes: the CUDA caching allocator's (since its last reset), else the process's peak
    resident set (its whole life: measure in a fresh process)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated()
    # VmHWM belongs to this process's address space, which exec starts afresh; ru_maxrss can
    # carry a large parent's resident set over fork + exec.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


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


# (T, U) of B consecutive utterances at a quantile of LibriSpeech train-clean-100 (with speed
# perturbation) sorted by (T, U), taken from the public transducer-loss benchmark's shape_info.pt;
# used when that file is not at hand.
_BUCKETS = {
    (0.25, 16): [(284, 88), (284, 88), (284, 89), (284, 91), (284, 91), (284, 95), (284, 100), (285, 25),
                 (285, 32), (285, 40), (285, 42), (285, 42), (285, 42), (285, 46), (285, 46), (285, 48)],
    (0.5, 16): [(343, 70)] * 7 + [(343, 71)] * 9,
    (0.85, 16): [(402, 70)] * 5 + [(402, 71)] * 11,
    (0.9, 16): [(416, 59), (416, 59), (416, 61), (416, 61), (416, 61), (416, 61), (416, 62), (416, 62),
                (416, 62), (416, 63), (416, 63), (416, 63), (416, 64), (416, 65), (416, 65), (416, 66)],
    (0.25, 8): [(284, 88), (284, 88), (284, 89), (284, 91), (284, 91), (284, 95), (284, 100), (285, 25)],
    (0.5, 8): [(343, 70)] * 7 + [(343, 71)],
    (0.85, 8): [(402, 70)] * 5 + [(402, 71)] * 3,
    (0.9, 8): [(416, 59), (416, 59), (416, 61), (416, 61), (416, 61), (416, 61), (416, 62), (416, 62)],
}


def shape_info_path():
    """LibriSpeech train-clean-100 (T, U) rows: $FAST_RNNT_SHAPE_INFO, else ../shared/bench beside
    a source checkout."""
    from pathlib import Path

    default = Path(__file__).resolve().parents[4] / "shared" / "bench" / "shape_info.pt"
    return Path(os.environ.get("FAST_RNNT_SHAPE_INFO", default))


def librispeech_bucket(batch_size: int, quantile: float = 0.5) -> torch.Tensor:
    """(B, 2) int64 rows (T, U): B consecutive utterances at `quantile` of the (T, U)-sorted list,
    what a duration-sorted sampler gives."""
    path = shape_info_path()
    if path.exists():
        info = torch.load(path, weights_only=True).long()
        info = info[torch.argsort(info[:, 0] * 100_000 + info[:, 1])]
        start = min(int(quantile * info.size(0)), info.size(0) - batch_size)
        return info[start : start + batch_size]
    if (quantile, batch_size) not in _BUCKETS:
        raise FileNotFoundError(f"{path} not found (set FAST_RNNT_SHAPE_INFO); built-in buckets: {sorted(_BUCKETS)}")
    return torch.tensor(_BUCKETS[(quantile, batch_size)], dtype=torch.int64)
