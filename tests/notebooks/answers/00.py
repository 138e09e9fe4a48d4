# Extra answers for notebook 00, run by the "answers" variant (see harness.answers).
# %% wrong 00.growth
# hard-coded: the number quoted in the text
def growth(doubling_months, months):
    return 39.2
# %% wrong 00.growth
# linear instead of exponential
def growth(doubling_months, months):
    return 2 * months / doubling_months
# %% wrong 00.growth
# exponent upside down
def growth(doubling_months, months):
    return 2 ** (doubling_months / months)
# %% right 00.growth
# exp and log instead of **
import math
def growth(doubling_months, months):
    return math.exp(math.log(2) * months / doubling_months)
# %% wrong 00.parallel-squares
# decoy: two tasks overlap on the cluster, the real work runs serially in the kernel
def parallel_squares(xs):
    ck.map(slow_square, xs[:2])
    return [slow_square(x) for x in xs]
# %% wrong 00.parallel-squares
# right values computed serially on the cluster, one task at a time
def parallel_squares(xs):
    one = ck.remote(slow_square)
    return [ck.get(one.remote(x)) for x in xs]
# %% wrong 00.parallel-squares
# hard-coded output of the demo input
def parallel_squares(xs):
    return [0, 1, 4, 9, 16, 25, 36, 49]
# %% right 00.parallel-squares
# remote tasks instead of ck.map
def parallel_squares(xs):
    f = ck.remote(slow_square)
    return ck.get([f.remote(x) for x in xs])
