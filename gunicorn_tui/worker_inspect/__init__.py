"""A look inside a worker: its Python stack and a flame graph, with py-spy."""
