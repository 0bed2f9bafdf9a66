"""The offline learning loop: request log -> labels -> retrain -> gate -> champion; cost simulation.

Library code behind ``tierroute logs``, ``retrain``, ``models`` and ``simulate`` (``cli_loop``):
pure functions where possible, file and database access at the edges.
"""
