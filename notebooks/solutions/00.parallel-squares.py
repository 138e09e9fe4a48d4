def parallel_squares(xs):
    return ck.map(slow_square, xs)
