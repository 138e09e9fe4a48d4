def score_all(model, chunks):
    model_ref = client.scatter(model, broadcast=True)
    return ck.get([score.remote(model_ref, chunk) for chunk in chunks])
