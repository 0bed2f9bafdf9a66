"""Cost simulation: price a traffic scenario (``simulate``), or replay logged traffic under other
routing policies (``replay``) to weigh cost against under-routing.
"""
