def tree_sum(refs, add):
    refs = list(refs)
    while len(refs) > 1:
        paired = [add.remote(refs[i], refs[i + 1]) for i in range(0, len(refs) - 1, 2)]
        if len(refs) % 2:
            paired.append(refs[-1])
        refs = paired
    return refs[0]
