@ck.remote
def sum_squares_batch(batch):
    return sum(x * x for x in batch)


def sum_of_squares(xs):
    xs = list(xs)
    size = 1000
    partials = [sum_squares_batch.remote(xs[i:i + size]) for i in range(0, len(xs), size)]
    return sum(ck.get(partials))
