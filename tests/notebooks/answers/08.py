# %% wrong 08.batched
# decoy: one token task, the sum done in the kernel
def sum_of_squares(xs):
    ck.get(sum_squares_batch.remote([0]))
    return sum(x * x for x in xs)
# %% wrong 08.batched
# far too many tasks: one per 100 items
def sum_of_squares(xs):
    xs = list(xs)
    return sum(ck.get([sum_squares_batch.remote(xs[i:i + 100]) for i in range(0, len(xs), 100)]))
# %% wrong 08.batched
# squares in the kernel, batches only add them up
def sum_of_squares(xs):
    squares = [x * x for x in xs]
    return sum(ck.get([ck.remote(sum).remote(squares[i:i + 1000]) for i in range(0, len(squares), 1000)]))
# %% right 08.batched
# ck.map batches by itself
def sum_of_squares(xs):
    return sum(ck.map(tiny, xs))
# %% right 08.batched
# numpy on the workers; returns a numpy integer
import numpy as np
@ck.remote
def np_batch(batch):
    a = np.asarray(batch, dtype=np.int64)
    return (a * a).sum()
def sum_of_squares(xs):
    xs = list(xs)
    return np.sum(ck.get([np_batch.remote(xs[i:i + 2000]) for i in range(0, len(xs), 2000)]))
# %% wrong 08.batch-size
# rounds to the nearest instead of up
def batch_size(per_item, overhead, max_share):
    return max(1, round(overhead * (1 - max_share) / (max_share * per_item)))
# %% wrong 08.batch-size
# rounds down
def batch_size(per_item, overhead, max_share):
    return max(1, int(overhead * (1 - max_share) / (max_share * per_item)))
# %% wrong 08.batch-size
# off by one
import math
def batch_size(per_item, overhead, max_share):
    return max(1, math.ceil(overhead * (1 - max_share) / (max_share * per_item)) + 1)
# %% right 08.batch-size
# numpy float result of np.ceil
import numpy as np
def batch_size(per_item, overhead, max_share):
    return max(1.0, np.ceil(overhead * (1 - max_share) / (max_share * per_item)))
# %% right 08.batch-size
# numpy integer
import numpy as np
def batch_size(per_item, overhead, max_share):
    return np.int64(max(1, np.ceil(overhead * (1 - max_share) / (max_share * per_item))))
