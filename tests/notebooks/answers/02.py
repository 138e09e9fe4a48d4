# %% wrong 02.tree-sum
# a chain
def tree_sum(refs, add):
    total = refs[0]
    for ref in refs[1:]:
        total = add.remote(total, ref)
    return total
# %% wrong 02.tree-sum
# sum in the kernel, one add to make a future
def tree_sum(refs, add):
    return add.remote(sum(ck.get(list(refs))), 0)
# %% wrong 02.tree-sum
# decoy: a real tree is built, but the returned future holds a kernel-side sum
def tree_sum(refs, add):
    refs = list(refs)
    values = ck.get(refs)
    while len(refs) > 1:
        paired = [add.remote(refs[i], refs[i + 1]) for i in range(0, len(refs) - 1, 2)]
        refs = paired + ([refs[-1]] if len(refs) % 2 else [])
    return add.remote(sum(values) - 0.0, 0.0)
# %% right 02.tree-sum
# level by level, the odd one carried within the loop
def tree_sum(refs, add):
    level = list(refs)
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level), 2):
            nxt.append(add.remote(level[i], level[i + 1]) if i + 1 < len(level) else level[i])
        level = nxt
    return level[0]
# %% wrong 02.pass-by-reference
# the model travels with every task
def score_all(model, chunks):
    return ck.get([score.remote(model, chunk) for chunk in chunks])
# %% wrong 02.pass-by-reference
# decoy: scatter and one task, the scores computed in the kernel
def score_all(model, chunks):
    ref = client.scatter(model, broadcast=True)
    ck.get(score.remote(ref, chunks[0]))
    return [float(model @ c) for c in chunks]
# %% wrong 02.pass-by-reference
# scattered once per task: still sent every time
def score_all(model, chunks):
    return ck.get([score.remote(client.scatter(model), chunk) for chunk in chunks])
# %% right 02.pass-by-reference
# scatter without broadcast: each worker fetches it at most once
def score_all(model, chunks):
    [ref] = client.scatter([model])
    return ck.get([score.remote(ref, chunk) for chunk in chunks])
