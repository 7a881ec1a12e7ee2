"""The proposal spam model weighs the cover letter and the freelancer's behaviour."""

from __future__ import annotations

from detectors.models import ProposalSpamModel
from tests.support.models import KEY, SUBJECT, event, fine_example, fraud_example, train


def test_behaviour_features_come_from_the_feature_catalogue() -> None:
    model = ProposalSpamModel(KEY)
    ev = event("proposal.submitted", {"ai_assisted": True})
    x = model.featurize(ev, {"freelancer_proposals_10m": 30, "similar_cover_letter_jobs_24h": 30,
                             "freelancer_connects_24h": 500, "job_genai_restricted": True})
    assert x["freelancer_proposals_10m"] == x["similar_cover_letter_jobs_24h"] == 1.0
    assert x["freelancer_connects_24h"] == 1.0
    assert x["ai_assisted&job_genai_restricted"] == 1.0


def test_answering_ones_own_job_is_derived_without_keeping_the_ids() -> None:
    model = ProposalSpamModel(KEY)
    ev = event("proposal.submitted", {"freelancer_id": SUBJECT})
    own = model.featurize(ev, {"job_client_id": SUBJECT})
    other = model.featurize(ev, {"job_client_id": "someone_else"})
    assert own["own_job"] == 1.0 and other["own_job"] == 0.0
    assert SUBJECT not in str(own) and "someone_else" not in str(other)


def test_the_same_letter_scores_higher_from_a_spraying_freelancer() -> None:
    model = ProposalSpamModel(KEY)
    train(model)
    ev = event("proposal.submitted", {"cover_letter": "Hello, I can do this job well."})
    calm = model.detect(ev, {"freelancer_proposals_10m": 1, "similar_cover_letter_jobs_24h": 0})
    spraying = model.detect(ev, {"freelancer_proposals_10m": 18, "similar_cover_letter_jobs_24h": 12})
    assert spraying.score > calm.score
    assert model.detect(*fraud_example(model)).fired
    assert not model.detect(*fine_example(model)).fired
