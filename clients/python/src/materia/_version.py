# The version of the HTTP API this client speaks (openapi.yaml info.version); pyproject.toml carries the same.
__version__ = "0.1.0"
