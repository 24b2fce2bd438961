"""The tools: the `rolecall` command and the runs built on the suite.

`cli` is the entry point (emulator, audit, sweep, verify, diff, report,
mutation); `mutation` runs the suite against every emulator fault; `evidence_cli`
verifies, diffs and renders bundles; `nodetools` installs the pinned npm tools
(Allure CLI, Chromium) the report and browser checks need.
"""
