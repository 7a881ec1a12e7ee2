"""Kafka topic names: where each event type is published, and Vigil's own outputs."""

from __future__ import annotations

from typing import Final


class Topics:
    SIGNUPS: Final = "marketplace.signups"
    JOB_POSTS: Final = "marketplace.job_posts"
    MESSAGES: Final = "marketplace.messages"
    PROPOSALS: Final = "marketplace.proposals"
    CONSENT: Final = "marketplace.consent"
    PROFILES: Final = "marketplace.profiles"
    REPORTS: Final = "tns.reports"
    DECISIONS: Final = "tns.decisions"
    ACTION_RESULTS: Final = "tns.action_results"
    APPEALS: Final = "tns.appeals"
    FLAGS: Final = "tns.flags"
    ACTIONS: Final = "tns.actions"
    DEAD_LETTERS: Final = "tns.dead_letters"
    PRIVACY: Final = "tns.privacy"


#: The topic each event type must be published to; an event on another topic is a dead letter.
TOPIC_BY_TYPE: Final[dict[str, str]] = {
    "user.signed_up": Topics.SIGNUPS,
    "job_post.created": Topics.JOB_POSTS,
    "message.sent": Topics.MESSAGES,
    "proposal.submitted": Topics.PROPOSALS,
    "consent.changed": Topics.CONSENT,
    "profile.updated": Topics.PROFILES,
    "user_report.filed": Topics.REPORTS,
    "review.decided": Topics.DECISIONS,
    "action.applied": Topics.ACTION_RESULTS,
    "action.failed": Topics.ACTION_RESULTS,
    "appeal.filed": Topics.APPEALS,
    "erasure.requested": Topics.PRIVACY,
}

#: Every topic the worker consumes.
INPUT_TOPICS: Final[tuple[str, ...]] = tuple(dict.fromkeys(TOPIC_BY_TYPE.values()))

#: Topics Vigil writes to.
OUTPUT_TOPICS: Final[tuple[str, ...]] = (Topics.FLAGS, Topics.DEAD_LETTERS, Topics.ACTIONS)


#: The platform's answers (acknowledgements of actions, appeals) and privacy requests: a few a
#: minute, not a stream.
PLATFORM_TOPICS: Final[tuple[str, ...]] = (Topics.ACTION_RESULTS, Topics.APPEALS, Topics.PRIVACY)


def topic_plan(partitions: int) -> dict[str, int]:
    """Partitions per topic: ``partitions`` everywhere but ``tns.decisions``, which has one so
    that exactly one worker (the learner) consumes the analysts' labels, in order, and the
    platform's answers, one each: they come at the rate analysts decide, and every partition a
    worker is assigned is one more to fetch from on every round.

    >>> topic_plan(4)[Topics.DECISIONS], topic_plan(4)[Topics.MESSAGES], topic_plan(4)[Topics.APPEALS]
    (1, 4, 1)
    """
    plan = {topic: partitions for topic in (*INPUT_TOPICS, *OUTPUT_TOPICS)}
    plan[Topics.DECISIONS] = 1
    for topic in PLATFORM_TOPICS:
        plan[topic] = 1
    return plan


DAY_MS: Final = 24 * 3600 * 1000

#: How long the broker keeps each topic's records (``retention.ms``), set where topics are
#: created (``vigil`` and the local stack, compose's ``kafka-init``, Kubernetes' topics job).
#: Topics with people's raw content (what they wrote, their profiles, appeals) keep a week:
#: enough to replay the backlog of an outage, after which the content lives only in the stores
#: the data inventory lists (and erasure reaches). Dead letters keep their raw bytes a fortnight,
#: on-call's time to repair and replay them. The rest hold identifiers and decisions: 30 days.
RETENTION_MS: Final[dict[str, int]] = {
    **{topic: 7 * DAY_MS for topic in INPUT_TOPICS},
    Topics.DECISIONS: 30 * DAY_MS,
    Topics.ACTION_RESULTS: 30 * DAY_MS,
    Topics.FLAGS: 30 * DAY_MS,
    Topics.ACTIONS: 30 * DAY_MS,
    Topics.DEAD_LETTERS: 14 * DAY_MS,
}


def retention_days(topic: str) -> float:
    """``RETENTION_MS`` of ``topic`` in days.

    >>> retention_days(Topics.MESSAGES), retention_days(Topics.DEAD_LETTERS)
    (7.0, 14.0)
    """
    return RETENTION_MS[topic] / DAY_MS
