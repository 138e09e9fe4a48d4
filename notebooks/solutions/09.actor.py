class ActorMethod:
    def __init__(self, proxy, name):
        self.proxy, self.name = proxy, name

    def remote(self, *args, **kwargs):
        return getattr(self.proxy, self.name)(*args, **kwargs)  # an ActorFuture


class ActorHandle:
    def __init__(self, cls, *args, **kwargs):
        self._proxy = client.submit(cls, *args, actor=True, pure=False, **kwargs).result()

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return ActorMethod(self._proxy, name)


def actor_class(cls):
    class ActorClass:
        @staticmethod
        def remote(*args, **kwargs):
            return ActorHandle(cls, *args, **kwargs)
    return ActorClass
