@ck.remote(max_restarts=1)
class Accumulator:
    def __init__(self):
        self.total = 0

    def add(self, x):
        self.total += x
        return self.total

    def __checkpoint__(self):
        return self.total

    def __restore__(self, state):
        self.total = state
