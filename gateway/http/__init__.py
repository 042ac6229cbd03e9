"""The aiohttp adapter: middlewares, handlers and the route table."""
