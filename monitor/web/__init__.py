"""The web side: the aiohttp app (routes, auth), the status page and the server config."""
