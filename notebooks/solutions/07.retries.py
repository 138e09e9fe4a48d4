def make_reliable(fn):
    return ck.remote(max_retries=3, retry_exceptions=[ConnectionError])(fn)
