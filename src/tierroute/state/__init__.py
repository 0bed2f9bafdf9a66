"""Serving state shared by processes: rate limits, circuit breakers, canary ramp and rollback.

``backends.open_backend`` picks the backend named by ``[state] url`` (``settings``): ``memory``
(one process, the default) or ``redis`` (every worker and replica on one Redis). The interface
is in ``base``. Nothing is imported here: ``config`` reads ``settings`` alone.
"""
