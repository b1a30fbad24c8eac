"""The names of the ensemble-selection rules `benchmarks.ensembles.select` applies to a pool of
stored trials (their definitions are in that module's docstring); no TensorFlow."""

SELECTIONS = ("greedy", "caruana", "topk", "random")
