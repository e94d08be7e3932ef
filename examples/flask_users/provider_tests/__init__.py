"""Provider-side Pact tests of the users service: its states and test app."""
