class RemoteFunction:
    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def remote(self, *args, **kwargs):
        return client.submit(self.fn, *args, pure=False, **kwargs)


def remote_function(fn):
    return RemoteFunction(fn)
