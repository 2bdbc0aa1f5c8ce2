"""aiohttp adapters: thin layers that own I/O and hand work to the cores."""
