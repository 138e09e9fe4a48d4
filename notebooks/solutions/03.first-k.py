def first_k(refs, k):
    ready, _ = ck.wait(refs, num_returns=k)
    return ck.get(ready)
