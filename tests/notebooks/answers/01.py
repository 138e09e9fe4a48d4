# %% wrong 01.launch-then-get
# waits inside the loop
def launch_then_get(xs):
    return [ck.get(slow_inc.remote(x)) for x in xs]
# %% wrong 01.launch-then-get
# decoy tasks overlap, the answer is computed in the kernel
def launch_then_get(xs):
    ck.get([slow_inc.remote(0), slow_inc.remote(1)])
    return [x + 1 for x in xs]
# %% wrong 01.launch-then-get
# hard-coded answer for range(6)
def launch_then_get(xs):
    return [1, 2, 3, 4, 5, 6]
# %% right 01.launch-then-get
# ck.map, the tool notebook 00 teaches (its batch keys are named map-...)
def launch_then_get(xs):
    return ck.map(slow_inc.__wrapped__, xs)
# %% right 01.launch-then-get
# futures fetched one by one after all were launched
def launch_then_get(xs):
    return [f.result() for f in [slow_inc.remote(x) for x in xs]]
# %% wrong 01.distinct-rolls
# pure=True (the default) merges the five calls
rolls = [client.submit(noisy_measurement) for _ in range(5)]
# %% wrong 01.distinct-rolls
# values made in the kernel and scattered: no measurement ran on the cluster
rolls = client.scatter([random.random() for _ in range(5)])
# %% wrong 01.distinct-rolls
# distinct keys, but hard-coded values
rolls = [client.submit(lambda v: v, v) for v in (0.1, 0.2, 0.3, 0.4, 0.5)]
# %% right 01.distinct-rolls
# explicit unique keys instead of pure=False
rolls = [client.submit(noisy_measurement, key=f"noisy_measurement-{i}-{random.random()}") for i in range(5)]
