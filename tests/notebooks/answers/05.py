# %% wrong 05.counter
# a plain class: lives in the kernel
class Counter:
    def __init__(self):
        self.total = 0
    def add(self, n):
        self.total += n
        return self.total
    def value(self):
        return self.total
# %% wrong 05.counter
# stateless: returns what it was given
@ck.remote
class Counter:
    def __init__(self):
        self.total = 0
    def add(self, n):
        return n
    def value(self):
        return self.total
# %% wrong 05.counter
# hard-coded totals of 1..10
@ck.remote
class Counter:
    def __init__(self):
        self.calls = 0
    def add(self, n):
        self.calls += 1
        return self.calls * (self.calls + 1) // 2
    def value(self):
        return 55
# %% wrong 05.parameter-server
# decoy: two gradient tasks overlap once, the rest run one at a time
def run_training(ps, gradient, steps):
    w = ck.get(ps.pull.remote())
    ck.get([gradient.remote(w, 0), gradient.remote(w, 1)])
    for step in range(steps):
        w = ck.get(ps.pull.remote())
        for i in range(2):
            ck.get(ps.push.remote(ck.get(gradient.remote(w, 2 * step + i))))
# %% wrong 05.parameter-server
# gradients computed here in the kernel
def run_training(ps, gradient, steps):
    for step in range(steps):
        w = ck.get(ps.pull.remote())
        for i in range(2):
            ck.get(ps.push.remote(gradient.__wrapped__(w, 2 * step + i)))
# %% wrong 05.parameter-server
# pulls and computes but never pushes
def run_training(ps, gradient, steps):
    for step in range(steps):
        w = ck.get(ps.pull.remote())
        ck.get([gradient.remote(w, 2 * step + i) for i in range(2)])
# %% right 05.parameter-server
# synchronous SGD: average the two gradients, push once per step
def run_training(ps, gradient, steps):
    for step in range(steps):
        w = ck.get(ps.pull.remote())
        g1, g2 = ck.get([gradient.remote(w, 2 * step), gradient.remote(w, 2 * step + 1)])
        ck.get(ps.push.remote((g1 + g2) / 2))
# %% right 05.counter
# an actor with more state than asked for, and value() as a property-like method
@ck.remote
class Counter:
    def __init__(self):
        self.history = []
    def add(self, n):
        self.history.append(n)
        return sum(self.history)
    def value(self):
        return sum(self.history)
