"""Uplift modelling: who changes their behaviour because of an intervention.

`data` reads an experiment file (one row per customer, a treatment column, outcomes), `learners` holds the
meta-learners on CatBoost (S-learner as the primary model, T-learner for comparison),
`evaluate` fits them on a training half and scores them on the held-out half, `outcomes` trains the same
learner on the stored outcomes of past campaigns.
"""
