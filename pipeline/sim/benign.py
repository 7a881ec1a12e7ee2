"""Benign marketplace behaviour: sign up (answering the AI-features choice), build and edit a
profile, post jobs, propose, talk, hire, change consent, report.

:meth:`BenignTraffic.next` picks one activity per tick of the driver. Its limits (proposals per
freelancer per ten minutes, new threads per client per hour, big budgets only from verified
clients) keep benign traffic clear of what the fraud scenarios do, so rules have a clean
negative class.
"""

from __future__ import annotations

import random
from typing import Any

from pipeline.sim.categories import CATEGORIES, GENAI_NOTE, JOB_CLOSINGS
from pipeline.sim.clock import Agenda, Clock
from pipeline.sim.consent import LATER_FROM_UNDECIDED, later_choice
from pipeline.sim.envelopes import Envelopes
from pipeline.sim.ids import Ids
from pipeline.sim.market import Job, Market, Thread, User, recent, trim
from pipeline.sim.profiles import CREATE_SHARE, Profiles
from pipeline.sim.signups import Signups
from pipeline.sim.words import (
    CL_APPROACH,
    CL_CLOSINGS,
    CL_EXPERIENCE,
    CL_GREETINGS,
    CL_OPENERS,
    CL_SIGNOFFS,
    MSG_CLIENT_CONTRACT,
    MSG_CLIENT_INVITE,
    MSG_CLIENT_PRE,
    MSG_FREELANCER_CONTRACT,
    MSG_FREELANCER_PRE,
    MSG_HIRE,
    REPORT_BENIGN_DETAILS,
)


class BenignTraffic:
    """The benign population's next event, and the benign texts scenarios reuse."""

    def __init__(
        self, rng: random.Random, *, clock: Clock, agenda: Agenda, ids: Ids,
        envelopes: Envelopes, signups: Signups, profiles: Profiles, market: Market,
    ) -> None:
        self.rng = rng
        self.clock = clock
        self.agenda = agenda
        self.ids = ids
        self.envelopes = envelopes
        self.signups = signups
        self.profiles = profiles
        self.market = market

    def next(self, now: float) -> dict[str, Any]:
        """One benign event at ``now`` (an activity that cannot happen yet falls back to one
        that can, down to a signup)."""
        rng, market = self.rng, self.market
        n = len(market.users)
        # Warm-up: a young marketplace is mostly signups, so early users are not hyperactive.
        p_signup = max(0.06, 1.0 - n / 200.0)
        r = rng.random()
        if r < p_signup or not market.clients or not market.freelancers:
            return self.signup(now)
        r = rng.random()
        if r < 0.10:
            return self.job(now) or self.signup(now)
        if r < 0.46:
            return self.proposal(now) or self.job(now) or self.signup(now)
        if r < 0.963:
            return (self.message(now) or self.proposal(now) or self.job(now)
                    or self.signup(now))
        if r < 0.978:
            return self.profile_edit(now) or self.message(now) or self.signup(now)
        if r < 0.994:
            return self.consent(now)
        return self.report(now) or self.consent(now)

    def signup(self, now: float) -> dict[str, Any]:
        rng, market = self.rng, self.market
        kind = "client" if rng.random() < 0.4 else "freelancer"
        device_id = ip = None
        if market.users and rng.random() < 0.02:
            # A household or shared office: a second account on one device, never a third.
            other = rng.choice(market.users)
            if market.device_users.get(other.device_id, 0) == 1:
                device_id, ip = other.device_id, other.ip
        user, env = self.signups.new_user(now, kind, device_id=device_id, ip=ip)
        market.device_users[user.device_id] = market.device_users.get(user.device_id, 0) + 1
        market.users.append(user)
        (market.clients if kind == "client" else market.freelancers).append(user)
        if rng.random() < CREATE_SHARE[kind]:
            t = now + self.clock.later(120, 3600)
            self.agenda.push(t, self.profiles.first(t, user), None)
            market.profiled.append(user)
            trim(market.profiled, 400)
        consent = self.signups.onboarding_consent(now, user)
        if consent is None:
            market.undecided.append(user)
            return env
        # The choice travels with the signup form: its consent event goes first (same instant),
        # so the signup is scored; the signup follows straight after, on the next tick.
        self.agenda.push(now, env, None)
        return consent

    def profile_edit(self, now: float) -> dict[str, Any] | None:
        market = self.market
        if not market.profiled:
            return None
        user = self.rng.choice(market.profiled)
        if user.profile is None:  # its first profile is still scheduled
            return None
        return self.profiles.edit(now, user)

    def job(self, now: float) -> dict[str, Any] | None:
        rng, market = self.rng, self.market
        if not market.clients:
            return None
        client = rng.choice(market.clients)
        cat = rng.choice(CATEGORIES)
        title = rng.choice(cat.titles)
        parts = [rng.choice(cat.intros), *rng.sample(cat.details, rng.randint(2, 3))]
        closing = rng.choice(JOB_CLOSINGS)
        if closing:
            parts.append(closing)
        restricted = rng.random() < 0.15
        if restricted:
            parts.append(GENAI_NOTE)
        if rng.random() < 0.35:
            budget_type, amount = "hourly", float(rng.randint(*cat.hourly))
        else:
            budget_type = "fixed"
            amount = float(round(rng.randint(*cat.fixed), -1) or 10)
            # Big projects come from verified clients only; an unverified newcomer with a big
            # budget is the new_client_large_budget scenario.
            if client.phone_verified and cat.large_ok and rng.random() < 0.04:
                amount = float(round(rng.randint(5_000, 25_000), -2))
        job = Job(
            job_id=self.ids.new("job"), client=client, title=title, category=cat,
            budget_type=budget_type, budget_amount=amount,
            skills=rng.sample(cat.skills, rng.randint(2, min(5, len(cat.skills)))),
            restricted=restricted,
        )
        market.jobs.append(job)
        client.jobs_posted += 1
        trim(market.jobs, 400)
        if restricted:
            market.restricted_jobs.append(job)
            trim(market.restricted_jobs, 100)
        return self.envelopes.job_post(now, job, " ".join(parts))

    def cover_letter(self, job: Job, freelancer: User) -> str:
        # Assembled from parts so two benign letters rarely share more than a line.
        rng = self.rng
        skills = job.skills or ["this kind of work", "related projects"]
        skill, skill2 = rng.sample(skills, 2) if len(skills) > 1 else (skills[0], "similar work")
        fill = {
            "title": job.title, "skill": skill, "skill2": skill2,
            "years": rng.randint(2, 12), "n": rng.randint(5, 80), "days": rng.randint(2, 10),
            "skill_slug": skill.lower().replace(" ", "-"),
        }
        lines = [
            rng.choice(CL_GREETINGS),
            " ".join(s.format(**fill) for s in (
                rng.choice(CL_OPENERS), rng.choice(CL_EXPERIENCE), rng.choice(CL_APPROACH),
                rng.choice(CL_CLOSINGS))),
            f"{rng.choice(CL_SIGNOFFS)} {freelancer.first}",
        ]
        return "\n\n".join(lines)

    def bid(self, job: Job) -> float:
        low, high = (0.8, 1.2) if job.budget_type == "hourly" else (0.7, 1.1)
        return round(job.budget_amount * self.rng.uniform(low, high), 2)

    def proposal(self, now: float) -> dict[str, Any] | None:
        rng, market = self.rng, self.market
        if not market.jobs or not market.freelancers:
            return None
        for _ in range(3):
            freelancer = rng.choice(market.freelancers)
            # Real freelancers send a handful of proposals an hour at most; capping keeps
            # benign traffic clear of the proposal_spam burst (8+ in ~10 minutes).
            if recent(market.recent_proposals, freelancer.user_id, now,
                      600.0 * self.clock.tempo) < 3:
                break
        else:
            return None
        job = rng.choice(market.jobs)
        if any(f is freelancer for _, f in job.proposals):
            return None
        ai = (not job.restricted) and rng.random() < 0.2
        connects = rng.choice((1, 2, 2, 4, 4, 4, 6, 6, 8)) if rng.random() > 0.03 else \
            rng.randint(10, 16)  # the occasional boosted proposal
        pid, env = self.envelopes.proposal(now, job, freelancer,
                                           self.cover_letter(job, freelancer), self.bid(job),
                                           connects, ai)
        job.proposals.append((pid, freelancer))
        market.proposals.append((pid, job, freelancer))
        trim(market.proposals, 400)
        market.recent_proposals.setdefault(freelancer.user_id, []).append(now)
        return env

    def message(self, now: float) -> dict[str, Any] | None:
        # Interviews before a contract, delivery talk after it (see words.MSG_*).
        rng, market = self.rng, self.market
        if market.threads and rng.random() < 0.75:
            thread = rng.choice(market.threads)
        else:
            thread = self._open_thread(now)
            if thread is None:
                if not market.threads:
                    return None
                thread = rng.choice(market.threads)
        client, freelancer = thread.client, thread.freelancer
        if thread.messages == 0:
            sender, text = client, rng.choice(MSG_CLIENT_INVITE).format(
                name=freelancer.first, title=thread.job.title)
        else:
            from_client = (thread.last_sender != client.user_id) == (rng.random() < 0.85)
            sender = client if from_client else freelancer
            if thread.contract:
                text = rng.choice(MSG_CLIENT_CONTRACT if from_client
                                  else MSG_FREELANCER_CONTRACT)
            elif from_client and thread.messages >= 2 and rng.random() < 0.3:
                text, thread.contract = rng.choice(MSG_HIRE), True
                client.hires += 1
            else:
                text = rng.choice(MSG_CLIENT_PRE if from_client else MSG_FREELANCER_PRE)
        recipient = freelancer if sender is client else client
        attachments = rng.choice((0, 0, 1, 2, 3)) if (
            sender is freelancer and ("attached" in text or "files" in text)) else 0
        mid, env = self.envelopes.message(now, thread.thread_id, sender, recipient, text,
                                          thread.contract, attachments)
        thread.messages += 1
        thread.last_sender = sender.user_id
        market.messages.append((mid, sender))
        trim(market.messages, 400)
        return env

    def _open_thread(self, now: float) -> Thread | None:
        rng, market = self.rng, self.market
        if not market.proposals:
            return None
        _, job, freelancer = rng.choice(market.proposals)
        # Clients interview a few candidates an hour; ten or more strangers an hour is the
        # stranger_messaging scenario.
        if recent(market.recent_threads, job.client.user_id, now,
                  3600.0 * self.clock.tempo) >= 4:
            return None
        thread = Thread(self.ids.new("thr"), job.client, freelancer, job)
        market.threads.append(thread)
        trim(market.threads, 400)
        market.recent_threads.setdefault(job.client.user_id, []).append(now)
        return thread

    def consent(self, now: float) -> dict[str, Any]:
        """A later consent change: mostly a user who skipped the choice at signup deciding,
        now and then someone changing their mind (see :mod:`pipeline.sim.consent`)."""
        rng, market = self.rng, self.market
        if market.undecided and rng.random() < LATER_FROM_UNDECIDED:
            user = market.undecided.pop(rng.randrange(len(market.undecided)))
        else:
            user = rng.choice(market.users)
        return self.envelopes.consent(now, user, later_choice(rng, user.consent))

    def report(self, now: float) -> dict[str, Any] | None:
        rng, market = self.rng, self.market
        reporter = rng.choice(market.users)
        kind = rng.choice(("user", "job_post", "message", "proposal"))
        if kind == "user":
            target = rng.choice(market.users)
            target_id, owner = target.user_id, target
        elif kind == "job_post" and market.jobs:
            job = rng.choice(market.jobs)
            target_id, owner = job.job_id, job.client
        elif kind == "message" and market.messages:
            target_id, owner = rng.choice(market.messages)
        elif kind == "proposal" and market.proposals:
            target_id, _, owner = rng.choice(market.proposals)
        else:
            return None
        if owner is reporter:
            return None
        return self.envelopes.report(now, reporter, kind, target_id,
                                     rng.choice(("other", "other", "spam")),
                                     rng.choice(REPORT_BENIGN_DETAILS))
