# %% wrong 09.remote
# the library primitive instead of building it
import clusterkit as ck
def remote_function(fn):
    return ck.remote(fn)
# %% wrong 09.remote
# pure by default: identical calls merge
class RemoteFunction:
    def __init__(self, fn):
        self.fn = fn
    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)
    def remote(self, *args, **kwargs):
        return client.submit(self.fn, *args, **kwargs)
def remote_function(fn):
    return RemoteFunction(fn)
# %% wrong 09.remote
# fetches future arguments in the kernel before submitting
class RemoteFunction:
    def __init__(self, fn):
        self.fn = fn
    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)
    def remote(self, *args, **kwargs):
        args = [a.result() if isinstance(a, Future) else a for a in args]
        return client.submit(self.fn, *args, pure=False, **kwargs)
def remote_function(fn):
    return RemoteFunction(fn)
# %% wrong 09.wait
# the library primitive
import clusterkit as ck
def wait(refs, num_returns=1, timeout=None):
    return ck.wait(refs, num_returns=num_returns, timeout=timeout)
# %% wrong 09.wait
# waits for everything, then slices
def wait(refs, num_returns=1, timeout=None):
    refs = list(refs)
    distributed.wait(refs)
    return refs[:num_returns], refs[num_returns:]
# %% wrong 09.wait
# ignores timeout and input order: completion order
def wait(refs, num_returns=1, timeout=None):
    done = []
    for f in distributed.as_completed(list(refs)):
        done.append(f)
        if len(done) == num_returns:
            break
    return done, [r for r in refs if r not in done]
# %% wrong 09.actor
# the library primitive
import clusterkit as ck
def actor_class(cls):
    return ck.remote(cls)
# %% wrong 09.actor
# the object stays here in the kernel
class _Local:
    def __init__(self, value):
        self.value = value
    def result(self):
        return self.value
class _LocalMethod:
    def __init__(self, obj, name):
        self.obj, self.name = obj, name
    def remote(self, *args):
        return _Local(getattr(self.obj, self.name)(*args))
class _LocalHandle:
    def __init__(self, obj):
        self.obj = obj
    def __getattr__(self, name):
        return _LocalMethod(self.obj, name)
def actor_class(cls):
    class ActorClass:
        @staticmethod
        def remote(*args):
            return _LocalHandle(cls(*args))
    return ActorClass
# %% wrong 09.actor
# a new object on a worker for every call: state is lost
class _Fresh:
    def __init__(self, cls, args):
        self.cls, self.args = cls, args
    def __getattr__(self, name):
        cls, args = self.cls, self.args
        class M:
            @staticmethod
            def remote(*a):
                return client.submit(lambda: getattr(cls(*args), name)(*a), pure=False)
        return M
def actor_class(cls):
    class ActorClass:
        @staticmethod
        def remote(*args):
            return _Fresh(cls, args)
    return ActorClass
# %% right 09.wait
# polling done() with a short sleep instead of distributed.wait
def wait(refs, num_returns=1, timeout=None):
    refs = list(refs)
    start = time.monotonic()
    while sum(r.done() for r in refs) < num_returns:
        if timeout is not None and time.monotonic() - start >= timeout:
            break
        time.sleep(0.01)
    ready = [r for r in refs if r.done()][:num_returns]
    return ready, [r for r in refs if all(r is not x for x in ready)]
# %% right 09.actor
# methods forwarded with functools.partial
import functools
class _Method:
    def __init__(self, proxy, name):
        self.remote = functools.partial(lambda proxy, name, *a: getattr(proxy, name)(*a), proxy, name)
class _Handle:
    def __init__(self, proxy):
        self._proxy = proxy
    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return _Method(self._proxy, name)
def actor_class(cls):
    class ActorClass:
        @staticmethod
        def remote(*args):
            return _Handle(client.submit(cls, *args, actor=True, pure=False).result())
    return ActorClass
