"""What the tests and the benchmarks (bench/) share to run Callwise for real.

- ``process``: :class:`ServerProcess`, the one way a server is run in a child process (its own process
  group, killed with this process, its output in files, ready when ``/api/v1/health`` answers).
- ``callwise``: :class:`CallwiseServer`, ``python -m server serve`` on tests/branch.toml with accounts
  made by the CLI, and HTTP helpers.
- ``cli``: ``python -m server ...`` run in this process (the commands that end by themselves).
- ``listener``: a real Socket.IO client that records what a page would hear.
- ``pg``: a throw-away PostgreSQL cluster.
"""
