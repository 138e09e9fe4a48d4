def launch_then_get(xs):
    futures = [slow_inc.remote(x) for x in xs]
    return ck.get(futures)
