def growth(doubling_months, months):
    """How many times larger after `months`, doubling every `doubling_months`."""
    return 2 ** (months / doubling_months)
