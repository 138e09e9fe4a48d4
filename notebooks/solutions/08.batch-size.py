import math

def batch_size(per_item, overhead, max_share):
    # overhead / (overhead + b * per_item) <= max_share  <=>  b >= overhead * (1 - s) / (s * per_item)
    return max(1, math.ceil(overhead * (1 - max_share) / (max_share * per_item)))
