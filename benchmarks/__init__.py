"""hyperens: a reproducible benchmark suite for hyperparameter ensembles."""

__version__ = "0.1.0"
