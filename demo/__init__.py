"""``make demo``: the whole system end to end on the embedded AWS emulator, nothing lost.

Run ``python -m demo --help`` for the options; :func:`demo.pipeline.run_demo` is the
same pipeline as a function (the tests use it).
"""
