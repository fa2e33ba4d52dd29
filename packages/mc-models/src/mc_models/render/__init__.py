"""Renderers of a model's declaration, each a pure function of the model.

:mod:`.genn` (GeNN 5 keyword arguments, plain data), :mod:`.numpy` (vectorised steps, bound
to a population's parameters) and :mod:`.numba` (loop bodies for the compiled backend's
kernels), :mod:`.latex` (the update as LaTeX, for the documentation). ``_lower`` is what
the NumPy and numba renderings share.
"""
