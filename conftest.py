"""Where the pytest machinery lives, and why not here.

The design card puts the conformance suite's conftest at the repository root. It
lives in `suites/conftest.py` instead: a conftest here would load for every
pytest run, so the project's own tests (`tests/`, what a bare `pytest` runs,
see `testpaths` in pyproject.toml) would start an emulator, load every scenario
and write an evidence bundle they never asked for. `pytest suites` loads the
conformance options (--target, --scenario, --stack ...) and fixtures; the
project's own tests keep theirs in tests/*/conftest.py.
"""
