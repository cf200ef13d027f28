"""The simulated eUICC and its fake-modem front-ends (see tests/sim/README.md)."""
