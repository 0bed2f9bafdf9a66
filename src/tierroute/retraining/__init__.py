"""Retraining: request log -> labels -> candidate -> gate -> champion.

Library code behind ``tierroute logs``, ``retrain`` and ``models``: export the log, import
corrected labels, merge them with the base data, train a candidate, gate it against the champion
and the heuristic, record champion changes. Pure functions where possible, files and database at
the edges.
"""
