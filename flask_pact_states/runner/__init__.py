"""Verifying an app against pacts: pact-python's verifier driven against the
app served in-process, the plan of runs, worker processes, and the result,
report, JUnit and JSON.
"""
