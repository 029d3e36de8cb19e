"""Uplift modelling: who changes their behaviour because of an intervention.

`data` reads an experiment file (one row per customer, a treatment column, outcomes), `learners` holds the
meta-learners (S-learner and T-learner on CatBoost, class transformation for comparison), `evaluate` selects
a learner by inner cross-validation on the training half and scores it on the held-out half.
"""
