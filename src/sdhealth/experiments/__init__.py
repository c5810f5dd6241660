"""Policy experiments: timed policies (:mod:`~sdhealth.experiments.policies`)."""
