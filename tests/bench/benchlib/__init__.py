"""The esimd performance benchmark (tests/bench/README.md): instruments around the real esimd
(a QMI tap, an HTTPS recorder, /proc readers, a D-Bus timeline) and the scenarios that use them."""
