"""Sanctions screening (issue 16): list entries, name normalisation across scripts, the
matcher with its explanations, the candidate index, and the readers of the published list
formats. Pure: values in, values out; the service (services/screening.py) does the I/O."""
