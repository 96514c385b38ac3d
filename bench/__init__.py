"""`make bench`: the measured speed of q2c (issue 6); run `python -m bench.run`."""
