"""sim: the home of `sim.esim`, so code written for QuecPython's `from sim import esim` runs here."""
