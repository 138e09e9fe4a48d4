@ck.remote
class Counter:
    def __init__(self):
        self.total = 0

    def add(self, n):
        self.total += n
        return self.total

    def value(self):
        return self.total
