"""The stack model: what a stack is and what the spec says each user should get.

`scenario` reads and validates the YAML a team writes (stack, users, roles,
expectations, each with its source); `oracle` turns that model into expected
outcomes by SPEC rule. Nothing here talks to AWS or to the embedded target, so
an expectation can be checked, and a bad file refused, before anything exists.
"""
