# %% wrong 03.first-k
# waits for everything
def first_k(refs, k):
    return ck.get(refs)[:k]
# %% wrong 03.first-k
# always the first one only (k = 1 hard-coded)
def first_k(refs, k):
    ready, _ = ck.wait(refs, num_returns=1)
    return ck.get(ready)
# %% wrong 03.first-k
# the first k positions, not the first k to finish
def first_k(refs, k):
    return ck.get(refs[:k])
# %% right 03.first-k
# as_completed, stopping after k
def first_k(refs, k):
    out = []
    for ref in ck.as_completed(refs):
        out.append(ck.get(ref))
        if len(out) == k:
            return out
# %% wrong 03.deadline
# keeps the fast values but never cancels the stragglers
def within_deadline(refs, seconds):
    ready, pending = ck.wait(refs, num_returns=len(refs), timeout=seconds)
    return ck.get(ready)
# %% wrong 03.deadline
# waits for everything
def within_deadline(refs, seconds):
    return ck.get(refs)
# %% wrong 03.deadline
# gives up at once instead of waiting until the deadline
def within_deadline(refs, seconds):
    ready, pending = ck.wait(refs, num_returns=len(refs), timeout=0)
    ck.cancel(pending)
    return ck.get(ready)
# %% right 03.deadline
# cancels one by one, fetches one by one
def within_deadline(refs, seconds):
    ready, pending = ck.wait(refs, num_returns=len(refs), timeout=seconds)
    for ref in pending:
        ck.cancel(ref)
    return [ck.get(r) for r in ready]
