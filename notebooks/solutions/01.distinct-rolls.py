rolls = [client.submit(noisy_measurement, pure=False) for _ in range(5)]
