# %% wrong 07.retries
# no retries at all
def make_reliable(fn):
    return ck.remote(fn)
# %% wrong 07.retries
# retries, but of system failures only
def make_reliable(fn):
    return ck.remote(max_retries=3)(fn)
# %% wrong 07.retries
# one retry is not enough
def make_reliable(fn):
    return ck.remote(max_retries=1, retry_exceptions=True)(fn)
# %% wrong 07.retries
# retrying here in the kernel
class _KernelRetry:
    def __init__(self, fn):
        self.fn = fn
    def remote(self, *args):
        for _ in range(4):
            try:
                value = self.fn(*args)
                break
            except ConnectionError:
                pass
        return client.scatter(value)
def make_reliable(fn):
    return _KernelRetry(fn)
# %% right 07.retries
# retry any exception
def make_reliable(fn):
    return ck.remote(max_retries=3, retry_exceptions=True)(fn)
# %% wrong 07.checkpoint
# no checkpoint: restarts from zero
@ck.remote(max_restarts=1)
class Accumulator:
    def __init__(self):
        self.total = 0
    def add(self, x):
        self.total += x
        return self.total
# %% wrong 07.checkpoint
# not restartable
@ck.remote
class Accumulator:
    def __init__(self):
        self.total = 0
    def add(self, x):
        self.total += x
        return self.total
    def __checkpoint__(self):
        return self.total
    def __restore__(self, state):
        self.total = state
# %% wrong 07.checkpoint
# a checkpoint of the wrong thing (the last amount, not the total)
@ck.remote(max_restarts=1)
class Accumulator:
    def __init__(self):
        self.total = 0
        self.last = 0
    def add(self, x):
        self.total += x
        self.last = x
        return self.total
    def __checkpoint__(self):
        return self.last
    def __restore__(self, state):
        self.total = state
# %% right 07.checkpoint
# a checkpoint holding a dict
@ck.remote(max_restarts=2)
class Accumulator:
    def __init__(self):
        self.total = 0
    def add(self, x):
        self.total += x
        return self.total
    def __checkpoint__(self):
        return {"total": self.total}
    def __restore__(self, state):
        self.total = state["total"]
