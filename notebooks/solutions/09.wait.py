def wait(refs, num_returns=1, timeout=None):
    refs = list(refs)
    deadline = None if timeout is None else time.monotonic() + timeout
    while sum(r.done() for r in refs) < num_returns:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            break
        try:
            distributed.wait([r for r in refs if not r.done()], timeout=left, return_when="FIRST_COMPLETED")
        except TimeoutError:
            break
    ready = [r for r in refs if r.done()][:num_returns]
    chosen = {id(r) for r in ready}
    return ready, [r for r in refs if id(r) not in chosen]
