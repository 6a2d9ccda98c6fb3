"""nngrader: grade CS231n-family numpy deep-learning submissions against a trusted reference."""

__version__ = "0.1.0"
