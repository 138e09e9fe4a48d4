def within_deadline(refs, seconds):
    ready, pending = ck.wait(refs, num_returns=len(refs), timeout=seconds)
    ck.cancel(pending)
    return ck.get(ready)
