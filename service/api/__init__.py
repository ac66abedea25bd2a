"""The HTTP layer: the app, its routes, handlers, middleware and serialisation; no maths."""
