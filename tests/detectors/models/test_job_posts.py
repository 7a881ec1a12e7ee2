"""The fraudulent job post model reads title, description and budget."""

from __future__ import annotations

from detectors.models import FraudJobPostModel
from tests.support.models import KEY, event, fine_example, fraud_example, train


def test_title_words_are_kept_apart_from_description_words() -> None:
    model = FraudJobPostModel(KEY)
    x = model.featurize(event("job_post.created", {"title": "Crypto wallet", "description": "crypto"}), {})
    assert {"title:w:crypto", "title:w:wallet", "w:crypto"} <= set(x)
    assert not any(k.startswith("title:b:") for k in x), "titles are short: words only"


def test_budget_skills_and_currency_are_features() -> None:
    model = FraudJobPostModel(KEY)
    x = model.featurize(event("job_post.created", {"budget_type": "hourly", "budget_amount": 100000.0,
                                                  "skills": [], "currency": "EUR"}), {})
    assert x["budget_fixed"] == 0.0 and x["budget_amount"] == 1.0
    assert x["no_skills"] == 1.0 and x["currency=EUR"] == 1.0


def test_learns_to_flag_fee_scams_and_says_why() -> None:
    model = FraudJobPostModel(KEY)
    train(model)
    result = model.detect(*fraud_example(model))
    assert result.fired and "fraudulent job post score" in result.reason
    assert result.evidence["top_features"][0]["contribution"] > 0
    assert not model.detect(*fine_example(model)).fired
