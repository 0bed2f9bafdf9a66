"""``tierroute report``: one window of the request log as the write-up's results, and drift.

``queries`` is the one module that reads the log (aggregated in SQL, nothing loaded row by row);
``usage`` and ``drift`` turn its aggregates into figures; ``markdown`` and ``plots`` render them;
``build`` ties them together and writes the folder.
"""
