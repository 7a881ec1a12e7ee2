"""Benign marketplace profiles: headlines and overviews, one set per job category. Data only.

Indexed like :data:`pipeline.sim.categories.CATEGORIES` (a freelancer's profile is about one
category). The order of every pool is part of the seeded output.
"""

from __future__ import annotations

#: The freelancer's role in each category, for headlines and overviews.
ROLES = (
    "Web developer", "Brand designer", "Copywriter", "Virtual assistant", "Translator",
    "Mobile developer", "Video editor", "Bookkeeper", "Data analyst", "Illustrator",
)
HEADLINES = (
    "{role} | {skill} & {skill2}",
    "{role} specialising in {skill}",
    "Experienced {role_lower} ({skill}, {skill2})",
    "{skill} and {skill2} for small businesses",
    "{role}: {skill}, {skill2} and more",
)
OVERVIEW_OPENERS = (
    "I'm a {role_lower} with {years} years of experience, mostly with small businesses and "
    "startups.",
    "Hi! I help teams with {skill} and {skill2}.",
    "For the past {years} years I have worked as a {role_lower}, first in an agency and now "
    "independently.",
    "I'm a detail-oriented {role_lower} who likes clear briefs and honest feedback.",
)
OVERVIEW_MIDDLES = (
    "Most of my projects involve {skill}; I also enjoy {skill2} work.",
    "Recent work includes projects for a bakery chain, a language school and two SaaS "
    "startups.",
    "I communicate daily, share progress early and keep every file organised.",
    "I work in small milestones so you can review as we go.",
    "",
)
OVERVIEW_CLOSINGS = (
    "Send me a message here with your project and I'll reply within a day.",
    "Happy to start with a small test task.",
    "Looking forward to working with you.",
    "",
)
CLIENT_HEADLINES = (
    "Founder, early-stage startup", "Marketing manager at a retail brand", "Small agency owner",
    "Independent author", "Operations lead at an online shop", "",
)
CLIENT_OVERVIEWS = (
    "We hire freelancers for design, writing and development on an ongoing basis.",
    "I post a few projects a year and like long-term collaborations.",
    "Small team, clear briefs, quick feedback.",
    "",
    "",
)
