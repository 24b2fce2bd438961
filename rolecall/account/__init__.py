"""The target: the AWS endpoint a run talks to, and everything that talks to it.

`clients` builds boto3 clients for the embedded endpoint or a real account (one
code path, differing in endpoint and credentials); `provision` builds a
scenario's stack; `flows` exchanges ID tokens for credentials (enhanced,
classic, guest); `probes` calls DynamoDB with them; `tokens` breaks tokens the
way attackers and mistakes do; `run` holds one run's stacks and flows across
pytest-xdist workers. It reads the model and may report; it knows no cells.
"""
