"""The cells: the matrix of (scenario, variant, flow, user, action) checks and their kinds.

`matrix` expands the model into claims, credential, access and token-negative
cells, each with its expectation and readable id; `escalation` compares what
every credential path actually allows with the declared entitlements; `audit`
is the static and live configuration check. Cells use the target to observe and
the model to expect; reporting never reaches back into them.
"""
