"""Helpers the tests share (plain functions and classes; fixtures are in the conftest.py files):

- landing: landing-folder writers and the loader tests' small valid landing folder
- tiny_landing: the hand-built `tiny` landing folder whose numbers the tests check by hand
- pipeline: the whole nightly job on a landing folder, where real data sets are kept
- shared: a folder built once for the whole run, whichever xdist worker asks first
- warehouse: reading a warehouse, holding it from another process, a metric_series row
- metric_frames: hand-built metric_series frames and their metric_catalog
- findings: a divergence finding with everyday values, the queue tests' nights
- people: a person's queue verb as the fault-injection harness enters it
- notify: local webhook and SMTP servers, their credentials, a queue item to announce
- injection: injection attempts the security tests feed the pipeline
- durations: the per-file durations table (`pytest --durations-md PATH`)
"""
