"""Hyperparameter-conditioned training: distributions over hyperparameters and the tuner."""
