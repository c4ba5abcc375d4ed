"""What the tests and the benchmarks share, and the shipped package never needs.

Real servers on loopback, Debian's Chromium and how we start it, the answers
that walk every tree, the files a page references, synthetic observatory
events. Importable from the repository's root: pytest adds it
(``pythonpath`` in pyproject.toml) and each bench script puts it on its path.
"""
