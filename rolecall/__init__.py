"""rolecall: a conformance suite for Cognito identity pools, with its own embedded AWS target."""

__version__ = "0.1.0"
