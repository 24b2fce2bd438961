"""The reporting: what a run leaves for people and CI, written once, read many times.

`redact` keeps secrets out of everything written; `evidence` writes the hashed
bundle (evidence.json, matrix.html, summary.md, manifest.json); `allure_labels`
labels and attaches each cell in Allure. Reporting receives plain records; it
imports neither cells nor target, so the flow is one way: observe, record, report.
"""
