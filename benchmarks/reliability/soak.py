"""Volume: a long ck.imap in bounded memory (14) and many concurrent clients (15)."""

from __future__ import annotations

import threading
import time

import psutil

from benchmarks.reliability import work
from benchmarks.reliability._core import Result, rounded, scenario, start_local

#: Memory the kernel may grow by while streaming; all 10^7 ints at once would take > 350 MiB.
SOAK_LIMIT_MIB = 250


@scenario(14, "Memory soak through ck.imap")
def memory_soak(full: bool) -> Result:
    import clusterkit as ck

    n = 10_000_000 if full else 1_000_000
    process = psutil.Process()
    session = start_local()
    peak = baseline = process.memory_info().rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample, name="soak-sampler", daemon=True)
    try:
        sampler.start()
        started = time.monotonic()
        total = sum(ck.imap(work.identity, (i for i in range(n)), progress=False))
        seconds = time.monotonic() - started
    finally:
        done.set()
        sampler.join()
        session.stop()
    growth = (peak - baseline) / 2**20
    correct = total == n * (n - 1) // 2
    return Result(
        14, "Memory soak through ck.imap",
        {"items": n, "correct": correct, "peak RSS growth MiB": round(growth, 1),
         "peak RSS MiB": round(peak / 2**20, 1), "seconds": rounded(seconds),
         "items per second": int(n / seconds)},
        target=f"correct; RSS growth under {SOAK_LIMIT_MIB} MiB",
        passed=correct and growth < SOAK_LIMIT_MIB,
    )


@scenario(15, "Load: 20 concurrent clients")
def load(full: bool) -> Result:
    """20 threads submit one small task at a time for 60 s (10 s in CI): half through their
    own ``distributed.Client``, half through ``@ck.remote`` on the session's client."""
    from distributed import Client

    import clusterkit as ck

    clients_count, duration = 20, (60.0 if full else 10.0)
    session = start_local()
    square = ck.remote(work.square)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start_line = threading.Barrier(clients_count + 1)

    def run(index: int) -> None:
        # each "other" client is the same user: it reaches the TLS cluster with the session's credentials
        own = (
            Client(session.address, security=session.client.security, set_as_default=False, timeout=60)
            if index % 2 == 0
            else None
        )
        mine: list[float] = []
        try:
            start_line.wait(timeout=120)
            stop_at = time.monotonic() + duration
            i = 0
            while time.monotonic() < stop_at:
                sent = time.monotonic()
                try:
                    if own is not None:
                        value = own.submit(work.square, i, pure=False).result(timeout=60)
                    else:
                        value = ck.get(square.remote(i), timeout=60)
                    if value != i * i:
                        raise ValueError(f"wrong result {value!r} for {i}")
                except Exception as exc:
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                mine.append(time.monotonic() - sent)
                i += 1
        finally:
            if own is not None:
                own.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(i,), name=f"load-{i}") for i in range(clients_count)]
    try:
        for thread in threads:
            thread.start()
        start_line.wait(timeout=120)
        for thread in threads:
            thread.join()
    finally:
        session.stop()
    latencies.sort()
    count = len(latencies)
    p99 = latencies[min(count - 1, int(count * 0.99))] if count else float("nan")
    p50 = latencies[count // 2] if count else float("nan")
    return Result(
        15, "Load: 20 concurrent clients",
        {"clients": clients_count, "seconds": duration, "tasks": count,
         "tasks per second": round(count / duration, 1), "errors": len(errors),
         "p50 latency ms": round(p50 * 1000, 1), "p99 latency ms": round(p99 * 1000, 1)},
        target="0 errors",
        passed=not errors and count > 0,
        note="; ".join(sorted(set(errors))[:2]),
    )
