"""What runs inside the app, whichever verifier calls it: the extension, the
state-change endpoint, the wire formats, the registry of handlers, the
lifecycle that undoes every interaction, ``mock_db`` and the journal.

Flask only: nothing here imports :mod:`flask_pact_states.runner`, pact-python
or the server (``make lint`` checks it).
"""
