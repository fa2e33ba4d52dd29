"""Renderers of a model's declaration, each a pure function of the model.

:mod:`.genn` (GeNN 5 keyword arguments, plain data), :mod:`.numpy` (vectorised steps, bound
to a population's parameters) and :mod:`.numba` (loop bodies for the compiled backend's
kernels), :mod:`.latex` (the update as LaTeX, for the documentation). Each prints
expressions with a subclass of the one walker of the notation's tree,
:class:`mc_models.render.nodes.NodeRenderer`, that says only how its target prints names,
numbers, operators, functions and the built-ins. ``_lower`` is what the NumPy and numba
renderings share.
"""
