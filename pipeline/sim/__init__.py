"""Seeded marketplace traffic with injected fraud scenarios and their ground truth.

:func:`generate` yields :class:`SimulatedEvent` objects: a JSON-ready envelope (it passes
:func:`schemas.decode_event_obj`) plus the fraud scenario it belongs to, or ``None`` for
benign traffic. The same arguments always give the same stream, event ids included, so a
file written today can be replayed and scored against :func:`truth_record` rows tomorrow.

The benign world is a growing population of clients and freelancers: each signs up before
doing anything else, clients post jobs, freelancers send proposals, clients interview and
hire in message threads, users change AI-feature consent and now and then file a report.
Fraud scenarios (see :data:`SCENARIOS`) are scheduled into the same clock, so bursts
interleave with benign traffic the way they would in production.

>>> from schemas import decode_event_obj
>>> events = list(generate(seed=7, count=2_000, fraud_rate=0.1))
>>> len(events), events[0].envelope["type"]
(2000, 'user.signed_up')
>>> all(decode_event_obj(e.envelope).event_id for e in events)
True
>>> [e.envelope["event_id"] for e in events[:3]] == [
...     e.envelope["event_id"] for e in list(generate(seed=7, count=3, fraud_rate=0.1))]
True
>>> labelled = [e for e in events if e.scenario is not None]
>>> 0.06 < len(labelled) / len(events) < 0.14
True
>>> sorted(truth_record(labelled[0]))
['event_id', 'scenario', 'subject_id', 'type']
"""

from __future__ import annotations

import heapq
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

__all__ = ["SCENARIOS", "SimulatedEvent", "generate", "truth_record"]

#: Injected fraud scenarios. Timings are those of the default 2 s mean gap (see ``generate``).
SCENARIOS: tuple[str, ...] = (
    # 3-8 signups, one device_id, consecutive IPs in one 100.64.0.0/10 /24, 45-240 s apart,
    # unverified, no photo, empty bio, signup_duration_ms 1200-3900, username word+3-5 digits.
    "fake_account_ring",
    # One signup at a disposable domain (_DISPOSABLE_DOMAINS), unverified.
    "disposable_email",
    # A job post asking for a training/registration fee, starter kit, check deposit, gift
    # cards or crypto, 1-60 min after its client signed up (80% unverified).
    "scam_job_fee",
    # 1-3 pre-contract messages naming a payment app, a chat app, an email or a phone number.
    "off_platform_payment",
    # 8-20 near-identical proposals to distinct jobs, 5-30 s apart, connects_spent 12-20.
    "proposal_spam",
    # 1-3 ai_assisted proposals on a genai_restricted job (by ordinary freelancers).
    "genai_restricted_violation",
    # Unverified client, 2-30 min after signup, budget fixed 5000-45000 or hourly 150-350.
    "new_client_large_budget",
    # A fresh account messages 10-25 distinct users in new threads, 20-140 s apart.
    "stranger_messaging",
)

#: Files written without an explicit start are reproducible byte for byte.
DEFAULT_START = datetime(2026, 1, 5, 9, 0, 0, tzinfo=timezone.utc)

POLICY_VERSION = "2026-01"


@dataclass(frozen=True)
class SimulatedEvent:
    """One generated event and its ground truth."""

    envelope: dict[str, Any]
    scenario: str | None


def truth_record(sim: SimulatedEvent) -> dict[str, Any]:
    """The ground-truth row for a labelled event (the scorer joins flags on ``event_id``).

    >>> sim = SimulatedEvent({"event_id": "e1", "type": "message.sent", "subject_id": "u1"},
    ...                      "off_platform_payment")
    >>> truth_record(sim)["scenario"]
    'off_platform_payment'
    """
    env = sim.envelope
    return {
        "event_id": env["event_id"],
        "type": env["type"],
        "subject_id": env["subject_id"],
        "scenario": sim.scenario,
    }


def generate(
    *,
    seed: int,
    count: int,
    fraud_rate: float = 0.05,
    start: datetime | None = None,
    mean_gap_seconds: float = 2.0,
) -> Iterator[SimulatedEvent]:
    """Yield exactly ``count`` events in non-decreasing ``occurred_at`` order.

    ``fraud_rate`` is the target share of scenario-labelled events (reached within a point or
    so; scenario events still scheduled after the last yielded event are dropped). Benign
    events arrive with exponential gaps of mean ``mean_gap_seconds``; scenario bursts use
    their own short gaps, which shrink in proportion when ``mean_gap_seconds`` is below 2 so
    that a load-test stream still contains whole scenarios. ``start`` defaults to
    :data:`DEFAULT_START`; a naive datetime is taken as UTC. The stream for a smaller
    ``count`` is a prefix of the stream for a larger one.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if not 0.0 <= fraud_rate < 1.0:
        raise ValueError(f"fraud_rate must be in [0, 1), got {fraud_rate}")
    if mean_gap_seconds <= 0:
        raise ValueError(f"mean_gap_seconds must be > 0, got {mean_gap_seconds}")
    if start is None:
        start = DEFAULT_START
    elif start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    world = _World(random.Random(seed), start.astimezone(timezone.utc), mean_gap_seconds)
    return world.run(count, fraud_rate, mean_gap_seconds)


# ---- vocabulary -----------------------------------------------------------------------------
# Pools are large enough that benign texts vary; fraud texts come from separate pools so the
# phrases a rule keys on never appear in benign traffic (tests check this).

_FIRST = (
    "Maria", "James", "Aisha", "Wei", "Carlos", "Olga", "Priya", "Tom", "Fatima", "Lucas",
    "Emma", "Ivan", "Chloe", "Kenji", "Nadia", "Omar", "Sofia", "Daniel", "Amara", "Mateo",
    "Hannah", "Ravi", "Elena", "Jonas", "Grace", "Ahmed", "Lena", "Diego", "Yuki", "Samuel",
    "Zara", "Pedro", "Ines", "Kwame", "Mila", "Arjun", "Sara", "Leo", "Noor", "Felix",
)
_LAST = (
    "Garcia", "Smith", "Khan", "Chen", "Silva", "Petrova", "Sharma", "Novak", "Okafor",
    "Martin", "Rossi", "Kowalski", "Nguyen", "Tanaka", "Haddad", "Mensah", "Lopez", "Weber",
    "Ali", "Costa", "Fischer", "Reyes", "Ivanova", "Patel", "Dubois", "Santos", "Kim", "Berg",
    "Moreno", "Osei", "Larsen", "Mehta", "Popescu", "Brown", "Hughes", "Ortiz", "Yilmaz",
    "Andersen", "Mwangi", "Sato",
)
_BENIGN_DOMAINS = ("example.com", "example.org", "example.net", "mail.test", "inbox.test")
_DISPOSABLE_DOMAINS = (
    "mailinator.com", "guerrillamail.com", "10minutemail.com", "tempmail.dev", "yopmail.com",
    "trashmail.com",
)
_RING_WORDS = (
    "sunny", "pixel", "star", "quick", "bright", "happy", "lucky", "smart", "cool", "best",
    "top", "pro", "expert", "golden", "royal", "super",
)
_COUNTRIES = (
    "US", "US", "US", "GB", "IN", "IN", "PH", "PK", "UA", "NG", "BR", "DE", "CA", "AU", "FR",
    "PL", "ES", "KE", "EG", "BD", "MX", "AR", "RO", "VN",
)
_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36 Edg/131.0",
    "Marketplace/5.12.0 (iOS 18.1; iPhone15,3)",
    "Marketplace/5.12.1 (Android 14; SM-S918B)",
)
_FREELANCER_BIOS = (
    "Full-stack developer who enjoys turning messy requirements into clean, tested code.",
    "Brand designer focused on simple, memorable logos and visual identities.",
    "Copywriter for SaaS and e-commerce brands; clear words that convert.",
    "Detail-oriented virtual assistant with experience in research and data cleanup.",
    "Translator (EN/ES/PT) with a background in legal and marketing texts.",
    "Mobile developer building Flutter and native apps since 2017.",
    "Video editor for YouTube creators, ads and corporate explainers.",
    "Bookkeeper helping small businesses keep tidy books and stress-free tax seasons.",
    "Data analyst: dashboards, spreadsheets and the stories behind the numbers.",
    "Illustrator for children's books, games and editorial pieces.",
    "SEO specialist focused on technical audits and content strategy.",
    "",
)
_CLIENT_BIOS = (
    "Small agency owner looking for reliable long-term collaborators.",
    "Founder of an early-stage startup.",
    "Marketing manager at a mid-sized retail company.",
    "Independent author working on my next book.",
    "",
    "",
)


@dataclass(frozen=True)
class _Category:
    titles: tuple[str, ...]
    intros: tuple[str, ...]
    details: tuple[str, ...]
    skills: tuple[str, ...]
    fixed: tuple[int, int]
    hourly: tuple[int, int]
    #: Whether verified clients sometimes post five-figure projects in this category.
    large_ok: bool = False


_CATEGORIES: tuple[_Category, ...] = (
    _Category(
        titles=("WordPress site redesign for a local bakery", "Fix responsive layout issues on "
                "our React app", "Build a landing page for a product launch", "Shopify store "
                "setup and theme customization", "Django developer for small API features",
                "Speed up a slow WooCommerce site"),
        intros=("We need help with our website and are looking for an experienced developer.",
                "Our current site looks dated and does not work well on phones.",
                "We are a small team launching a new product next month.",
                "I run an online shop and need some development work done."),
        details=("The site should be fully responsive and load quickly on mobile.",
                 "You will work from existing Figma designs.",
                 "Please include links to two or three sites you have built.",
                 "Code should be clean, commented and pushed to our repository.",
                 "Basic SEO setup (titles, meta descriptions, sitemap) is a plus.",
                 "We would like the work done in small, reviewable steps."),
        skills=("HTML", "CSS", "JavaScript", "React", "WordPress", "PHP", "Shopify", "Django",
                "Python", "Web Design"),
        fixed=(250, 3500), hourly=(25, 90), large_ok=True),
    _Category(
        titles=("Logo design for a coffee roastery", "Modern logo and brand colors for a "
                "fitness studio", "Refresh our company logo", "Logo for a children's "
                "bookstore", "Minimal logo for a tech consultancy"),
        intros=("We are opening soon and need a logo that feels warm and friendly.",
                "Our brand has grown and the old logo no longer fits.",
                "I am looking for a designer with a clean, minimal style."),
        details=("Please provide three initial concepts and two rounds of revisions.",
                 "Final files should include SVG, PNG and a simple style sheet.",
                 "We like earthy tones but are open to suggestions.",
                 "Share your portfolio so we can see your style.",
                 "The logo must work well in black and white too."),
        skills=("Logo Design", "Adobe Illustrator", "Brand Identity", "Graphic Design",
                "Typography"),
        fixed=(100, 900), hourly=(20, 70)),
    _Category(
        titles=("Blog posts about home gardening", "Product descriptions for an online "
                "furniture store", "Website copy for a dental clinic", "Newsletter writer for "
                "a travel brand", "Case studies for a B2B software company"),
        intros=("We publish weekly and need a writer who can keep a friendly tone.",
                "We are relaunching our website and need all new copy.",
                "Looking for a writer who can explain technical topics simply."),
        details=("Each piece is roughly 800 to 1200 words.",
                 "Please follow our style guide, which we will share.",
                 "Research and original writing are required.",
                 "We would like to start with a paid sample piece.",
                 "Experience with SEO-friendly writing is a plus."),
        skills=("Copywriting", "Content Writing", "Blog Writing", "SEO Writing",
                "Editing", "English"),
        fixed=(80, 1200), hourly=(20, 65)),
    _Category(
        titles=("Data entry from scanned invoices into a spreadsheet", "Clean up and "
                "deduplicate a customer list", "Product catalog entry for an online shop",
                "Transcribe survey responses into Google Sheets"),
        intros=("We have a backlog of records that need to be entered accurately.",
                "Our customer list has grown messy over the years.",
                "Looking for a careful, detail-oriented assistant."),
        details=("There are roughly 2000 rows in total.",
                 "Accuracy matters more than speed.",
                 "We will provide a template and short instructions.",
                 "Please tell us your typical turnaround for 500 rows.",
                 "Basic Excel or Google Sheets skills are required."),
        skills=("Data Entry", "Microsoft Excel", "Google Sheets", "Attention to Detail",
                "Typing"),
        fixed=(40, 400), hourly=(8, 25)),
    _Category(
        titles=("Translate a user manual from English to Spanish", "German to English "
                "translation of marketing brochures", "Portuguese subtitles for training "
                "videos", "French translation of an app interface"),
        intros=("We are expanding into new markets and need a native speaker.",
                "Our documentation needs to be available in several languages."),
        details=("The source text is about 8000 words.",
                 "Native-level fluency in the target language is required.",
                 "Please keep our product terminology consistent.",
                 "We prefer translators with experience in technical texts.",
                 "Deliver the translation in the original file format."),
        skills=("Translation", "Spanish", "German", "Portuguese", "French", "Proofreading"),
        fixed=(120, 1500), hourly=(18, 55)),
    _Category(
        titles=("Flutter app for booking fitness classes", "Fix crashes in our Android app",
                "iOS developer to add in-app notifications", "React Native app MVP for a "
                "local delivery service"),
        intros=("We have an app in the stores and need help with new features.",
                "We are building an MVP and need an experienced mobile developer.",
                "Our users report crashes on some Android devices."),
        details=("The backend API is already in place and documented.",
                 "Please describe apps you have shipped and link to them.",
                 "We expect weekly builds we can test on our phones.",
                 "Experience with push notifications is required.",
                 "Unit tests for new code are expected."),
        skills=("Flutter", "Dart", "Android", "iOS", "Swift", "Kotlin", "React Native",
                "Mobile App Development"),
        fixed=(800, 4500), hourly=(30, 110), large_ok=True),
    _Category(
        titles=("Edit weekly YouTube videos for a cooking channel", "Short promo video for a "
                "product launch", "Video editor for podcast clips", "Explainer video for a "
                "software product"),
        intros=("We record every week and need a reliable editor.",
                "We have raw footage and need a polished final cut."),
        details=("Videos are 10 to 15 minutes long.",
                 "Please include color correction and simple motion graphics.",
                 "Turnaround within three days is ideal.",
                 "We will provide music and brand assets.",
                 "Share examples of edits you are proud of."),
        skills=("Video Editing", "Adobe Premiere Pro", "After Effects", "DaVinci Resolve",
                "Motion Graphics"),
        fixed=(60, 1500), hourly=(15, 60)),
    _Category(
        titles=("Monthly bookkeeping for a small consultancy", "Reconcile last year's "
                "accounts in QuickBooks", "Set up Xero for a new business"),
        intros=("We are a small business and need help keeping our books in order.",
                "Our accounts are behind and we would like them tidied up."),
        details=("About 150 transactions per month.",
                 "Experience with QuickBooks or Xero is required.",
                 "Please tell us about similar clients you support.",
                 "A short monthly summary report would be helpful."),
        skills=("Bookkeeping", "QuickBooks", "Xero", "Accounting", "Financial Reporting"),
        fixed=(150, 1200), hourly=(20, 60)),
    _Category(
        titles=("Sales dashboard in Power BI", "Analyze customer churn from our CRM export",
                "Python script to clean and merge CSV reports", "Google Analytics audit and "
                "report"),
        intros=("We collect a lot of data but do not use it well yet.",
                "We need someone to turn our exports into clear insights."),
        details=("Data is in a few CSV files and a Postgres database.",
                 "We would like a short written summary of findings.",
                 "Experience with pandas or SQL is required.",
                 "The dashboard should refresh automatically each day."),
        skills=("Data Analysis", "Python", "SQL", "Power BI", "Tableau", "pandas",
                "Google Analytics"),
        fixed=(200, 3000), hourly=(25, 95), large_ok=True),
    _Category(
        titles=("Illustrations for a children's picture book", "Character designs for an "
                "indie game", "Editorial illustration for a magazine article"),
        intros=("We are looking for an illustrator with a playful, colorful style.",
                "Our project needs a consistent set of original illustrations."),
        details=("Around twelve full-page illustrations are needed.",
                 "Please share a portfolio with similar work.",
                 "Sketches first, then final colored versions.",
                 "We need full rights to the final artwork."),
        skills=("Illustration", "Digital Painting", "Procreate", "Character Design",
                "Adobe Photoshop"),
        fixed=(300, 4000), hourly=(20, 75)),
)
_JOB_CLOSINGS = (
    "Thanks for reading, we look forward to your proposal.",
    "Please mention your availability in your proposal.",
    "Long-term work is possible for the right person.",
    "Tell us briefly how you would approach this.",
    "We reply to every proposal within two days.",
    "Start date is flexible.",
    "Questions are welcome before you apply.",
    "",
)
_GENAI_NOTE = (
    "Please do not use generative AI tools for any part of this work; we need fully original, "
    "human-made deliverables."
)
_LARGE_TITLES = (
    "Build a full marketplace platform (web and mobile)",
    "Senior team needed for an e-commerce rebuild",
    "Develop iOS and Android apps for a delivery startup",
    "Custom CRM with reporting and integrations",
    "Complete rebrand and website for a hotel group",
    "Lead engineer for a fintech MVP",
)
_LARGE_INTROS = (
    "We are a funded startup building our first product.",
    "Our company is replacing several old systems at once.",
    "We are planning a major launch this quarter and need to scale up quickly.",
    "I have a big idea and the budget to make it happen.",
)
_LARGE_DETAILS = (
    "We have funding in place and want to move fast.",
    "The scope includes design, development and launch support.",
    "Please send your best team and a rough timeline.",
    "Budget is flexible for the right people.",
    "We need the first version live within two months.",
)

# Cover letters are assembled from parts so two benign letters rarely share more than a line.
_CL_GREETINGS = ("Hi,", "Hello,", "Hi there,", "Good day,", "Dear hiring manager,", "Hey,")
_CL_OPENERS = (
    "I read your post about \"{title}\" and it matches my background well.",
    "Your project \"{title}\" caught my eye because I finished something very similar last "
    "month.",
    "I'd love to help with \"{title}\".",
    "I'm applying for \"{title}\" because this is exactly the kind of work I enjoy.",
    "I think I'm a strong fit for \"{title}\".",
)
_CL_EXPERIENCE = (
    "I have {years} years of experience with {skill} and {skill2}.",
    "Over the past {years} years I've completed {n} projects involving {skill}.",
    "Most of my recent clients hired me for {skill}, and several came back for {skill2}.",
    "{skill} has been my main focus for {years} years.",
    "I have a solid track record with {skill}; my profile has reviews from similar projects.",
)
_CL_APPROACH = (
    "I'd start by confirming the requirements with you, then share a first draft within "
    "{days} days.",
    "My plan would be a short kickoff, a first version in {days} days, and revisions after "
    "your feedback.",
    "I work in small steps and send progress updates every couple of days.",
    "I can start right away and expect to finish in about {days} days.",
    "I'll keep you updated here on the platform throughout the project.",
)
_CL_CLOSINGS = (
    "Looking forward to hearing from you.",
    "Happy to answer any questions.",
    "Thanks for considering my proposal.",
    "Let me know if you'd like to see more samples.",
    "I'd be glad to discuss the details.",
)
_CL_SIGNOFFS = ("Best,", "Thanks,", "Regards,", "Kind regards,", "Cheers,")

# Benign messages: interviews before a contract, delivery talk after it. No payment apps,
# contact details or "off platform" talk: those belong to the off_platform_payment scenario.
_MSG_CLIENT_INVITE = (
    "Hi {name}, thanks for your proposal on \"{title}\". Could you share a couple of similar "
    "projects you've done?",
    "Hello {name}, I liked your proposal. What timeline would you need for this?",
    "Hi {name}, your profile looks great. Are you available to start this week?",
    "Thanks for applying, {name}. Do you have any questions about the scope?",
    "Hi {name}, could you tell me a bit more about how you'd approach \"{title}\"?",
)
_MSG_CLIENT_PRE = (
    "That sounds good. How many revisions are included?",
    "Could you do a quick video call here on the platform tomorrow afternoon?",
    "Great, and would you be able to work in our time zone for a few hours a day?",
    "Thanks! I'm comparing a few proposals and will get back to you soon.",
    "Can you clarify what you'd need from us to get started?",
    "Your samples look good. Would a milestone-based contract work for you?",
)
_MSG_FREELANCER_PRE = (
    "Thanks for getting back to me! I've attached two samples from similar projects.",
    "I could deliver a first version within a week, then iterate on your feedback.",
    "Yes, I can start on Monday.",
    "Happy to do a call through the platform, any time after 2pm UTC works for me.",
    "Two rounds of revisions are included, more are fine if the changes are small.",
    "I'd need access to your existing files and a short list of priorities.",
    "Milestones work well for me.",
)
_MSG_HIRE = (
    "I've sent you the offer, welcome aboard!",
    "Offer sent. Looking forward to working together.",
    "Let's do it, I just sent the contract.",
)
_MSG_CLIENT_CONTRACT = (
    "The first draft looks great, just a few small tweaks on the header.",
    "Could you send a short progress update by end of day?",
    "I approved the milestone, thanks for the quick turnaround!",
    "We'd like to change the color of the buttons to match our brand.",
    "Can we move the deadline to next Wednesday? Our team needs more time to review.",
    "Everything looks good, I'll leave feedback when we close the contract.",
    "Please use the updated brief I uploaded to the project files.",
)
_MSG_FREELANCER_CONTRACT = (
    "Uploaded the revised version, let me know what you think.",
    "Quick question: should the footer links open in a new tab?",
    "I'll have the next deliverable ready by Thursday.",
    "Done! I've attached the final files.",
    "Thanks for the feedback, working on the changes now.",
    "I submitted the milestone for review.",
    "Small delay on my side, the update will be ready tomorrow morning.",
)
_REPORT_BENIGN_DETAILS = (
    "Not sure this is legit, please take a look.",
    "The profile seems incomplete.",
    "This post looks like a duplicate of another one.",
    "The proposal did not seem related to my job.",
    "Received an irrelevant message.",
    "",
)

# ---- fraud vocabulary -----------------------------------------------------------------------

_OFF_PLATFORM_HOOKS = (
    "To save us both the platform fees, can you pay me via PayPal instead? My PayPal is "
    "{email}.",
    "I'd prefer to work outside the platform. Just pay me via Venmo (@{handle}) and I'll "
    "start right away.",
    "Let's skip the fees: send the payment through Zelle to {email} and I'll deliver today.",
    "I can give you a 20% discount if you pay me on Cash App: ${handle}.",
    "For projects like this I only accept wire transfer or crypto (USDT). Can we arrange "
    "that directly?",
    "Add me on WhatsApp so we can discuss faster: {phone}",
    "Message me on Telegram @{handle}, I reply much faster there.",
    "Can you add me on Skype? My ID is live:{handle}. We can finalize everything there.",
    "Please email me directly at {email} so we can continue outside the platform.",
    "Call or text me at {phone} and we can sort out payment directly.",
    "Let's move this conversation off the platform. Text me on WhatsApp at {phone} and I'll "
    "send my bank details for a direct transfer.",
    "Pay half upfront in Bitcoin and the rest when done; it's cheaper than going through the "
    "site.",
)
_OFF_PLATFORM_LEADS = (
    "Thanks for getting back to me!", "Great, I'm very interested in this project.",
    "Hello!", "Thanks for the invite.", "", "",
)
_OFF_PLATFORM_FOLLOWUPS = (
    "Did you see my last message? ", "Just following up. ", "Any update? ", "",
)
_SCAM_TITLES = (
    "Data Entry Clerk - Work From Home, ${rate}/hr, No Experience Needed",
    "Remote Product Tester - Immediate Start",
    "Personal Assistant (Remote) - Paid Weekly",
    "Online Chat Support Agent - Flexible Hours, ${rate}/hr",
    "Package Reshipping Coordinator - Work From Home",
    "Mystery Shopper Needed - Earn ${rate}/hr",
)
_SCAM_INTROS = (
    "We are a fast-growing international company hiring remote staff immediately.",
    "No experience is needed, full training provided. Earn up to ${weekly} per week!",
    "Work from home with flexible hours and weekly pay.",
)
_SCAM_FEE_ASKS = (
    "Before you start there is a one-time training fee of ${fee}, refunded with your first "
    "paycheck.",
    "All new hires must purchase a starter kit (${fee}) from our approved supplier.",
    "We will mail you a check. Deposit the check in your bank account, keep your first "
    "week's pay and send the rest to our equipment vendor.",
    "To activate your account, send a refundable registration fee of ${fee} in Bitcoin or "
    "USDT.",
    "You will need to buy ${fee} in gift cards (Google Play or Apple) for the onboarding "
    "test; you will be reimbursed.",
    "A security deposit of ${fee} is required for your work laptop; pay it by crypto transfer "
    "to our HR wallet.",
)
_SCAM_URGENCY = (
    "Only 5 positions left, apply now!", "Start today, spots are limited.",
    "Reply quickly to secure your place.", "",
)
_SPAM_LETTERS = (
    "I am expert in all kinds of work and I can do your job perfectly with high quality and "
    "fast delivery. I have 10+ years of experience and 500+ satisfied clients. Please hire me, "
    "I am available now and will start immediately. Thank you.",
    "I have read your job and I am 100% sure I can complete it perfectly. I am a top rated "
    "professional with many years experience in this field. Give me a chance and you will "
    "not regret. Waiting for your positive response.",
    "I can do this job for you with best quality and lowest price. I have done many similar "
    "projects and all clients are happy. Please send me a message so we can start right now. "
    "Thanks and regards.",
)
_SPAM_GREETINGS = ("Hello dear,", "Hi,", "Dear Sir/Madam,", "Hello,")
_STRANGER_TEXTS = (
    "Hi {name}, I came across your profile and I think you'd be perfect for a project I'm "
    "running. Interested? Reply here and I'll share the details.",
    "Hello {name}! I have a great opportunity that could double your income this month. "
    "Reply if you want to hear more.",
    "Hi {name}, quick question: are you open to new work? I have several urgent tasks, good "
    "pay, no interview needed.",
)

# Scenario sizes and tempo (the rule writer's thresholds follow from these).
_RING_SIZE = (3, 8)
_SPAM_BURST = (8, 20)
_STRANGER_RECIPIENTS = (10, 25)
_LARGE_FIXED = (5_000, 45_000)
_LARGE_HOURLY = (150, 350)

# The labelled share is steered on yielded events plus a fraction of queued ones. Counting
# the queue in full would leave every prefix of the stream short by the events still in
# flight; ignoring it would start scenario after scenario while the first is still queued.
_PENDING_WEIGHT = 0.3

# Relative chance of each scenario when one starts: chattier scenarios start less often so
# each scenario contributes a comparable number of instances.
_SCENARIO_WEIGHTS = {
    "fake_account_ring": 1.0,
    "disposable_email": 1.2,
    "scam_job_fee": 1.2,
    "off_platform_payment": 1.4,
    "proposal_spam": 0.7,
    "genai_restricted_violation": 1.2,
    "new_client_large_budget": 1.0,
    "stranger_messaging": 0.6,
}


# ---- world state ----------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class _User:
    user_id: str
    kind: str
    first: str
    display_name: str
    username: str
    device_id: str
    ip: str
    country: str
    user_agent: str
    signed_up_at: float
    phone_verified: bool
    id_verified: bool
    consent: str | None = None


@dataclass(slots=True, eq=False)
class _Job:
    job_id: str
    client: _User
    title: str
    category: _Category
    budget_type: str
    budget_amount: float
    skills: list[str]
    restricted: bool
    #: Benign proposals only: (proposal_id, freelancer).
    proposals: list[tuple[str, _User]] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class _Thread:
    thread_id: str
    client: _User
    freelancer: _User
    job: _Job
    contract: bool = False
    messages: int = 0
    last_sender: str = ""


def _trim(items: list[Any], cap: int) -> None:
    # Drop the oldest quarter once a pool is full: activity concentrates on recent jobs and
    # threads, and bounded pools keep memory flat on long runs.
    if len(items) > cap:
        del items[: cap // 4]


class _World:
    """The population, its open jobs and threads, and a clock with a queue of future events."""

    def __init__(self, rng: random.Random, start: datetime, mean_gap: float) -> None:
        self.rng = rng
        self.start = start
        # Scenario delays and rate-limit windows are tuned for the default 2 s gap. A faster
        # stream (a load test) compresses them proportionally, so scenarios still finish
        # inside it and the labelled share holds; a slower stream keeps real-world timings.
        self.tempo = min(1.0, mean_gap / 2.0)
        self.users: list[_User] = []
        self.clients: list[_User] = []
        self.freelancers: list[_User] = []
        self.jobs: list[_Job] = []
        self.restricted_jobs: list[_Job] = []
        self.threads: list[_Thread] = []
        self.messages: list[tuple[str, _User]] = []  # (message_id, sender) for benign reports
        self.proposals: list[tuple[str, _Job, _User]] = []
        self.device_users: dict[str, int] = {}
        self.recent_proposals: dict[str, list[float]] = {}
        self.recent_threads: dict[str, list[float]] = {}
        self.spammers: set[str] = set()
        # Future events: (time, sequence, event). The sequence keeps ties in scheduling order,
        # so a scenario's signup stays ahead of its first action.
        self.queue: list[tuple[float, int, SimulatedEvent]] = []
        self.seq = 0
        self.labelled_out = 0  # labelled events yielded so far
        self.labelled_pending = 0  # labelled events waiting in the queue

    # -- driver ---------------------------------------------------------------------------

    def run(self, count: int, fraud_rate: float, mean_gap: float) -> Iterator[SimulatedEvent]:
        rng, queue = self.rng, self.queue
        now = 0.0
        emitted = 0
        rate = 1.0 / mean_gap
        while emitted < count:
            # Start a scenario while the labelled share (see _PENDING_WEIGHT) is below target;
            # the coin flip spreads starts irregularly instead of on a fixed beat.
            if fraud_rate > 0.0:
                deficit = fraud_rate * (emitted + _PENDING_WEIGHT * len(queue) + 1) - (
                    self.labelled_out + _PENDING_WEIGHT * self.labelled_pending)
                if deficit > 0 and (deficit > 30 or rng.random() < 0.3):
                    self._start_scenario(now)
            now += rng.expovariate(rate)
            while queue and queue[0][0] <= now and emitted < count:
                sim = heapq.heappop(queue)[2]
                if sim.scenario is not None:
                    self.labelled_pending -= 1
                    self.labelled_out += 1
                yield sim
                emitted += 1
            if emitted >= count:
                break
            yield SimulatedEvent(self._benign(now), None)
            emitted += 1

    def _schedule(self, t: float, envelope: dict[str, Any], scenario: str | None) -> None:
        self.seq += 1
        if scenario is not None:
            self.labelled_pending += 1
        heapq.heappush(self.queue, (t, self.seq, SimulatedEvent(envelope, scenario)))

    # -- primitives -----------------------------------------------------------------------

    def _later(self, low: float, high: float) -> float:
        """A delay in seconds, compressed when the stream runs faster than real time."""
        return self.rng.uniform(low, high) * self.tempo

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{self.rng.getrandbits(48):012x}"

    def _ts(self, t: float) -> str:
        dt = self.start + timedelta(seconds=t)
        return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"

    def _envelope(
        self, t: float, etype: str, producer: str, subject: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "event_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "type": etype,
            "schema_version": "1.0",
            "occurred_at": self._ts(t),
            "producer": producer,
            "subject_id": subject,
            "payload": payload,
        }

    def _benign_ip(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.6:
            return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        if r < 0.97:  # carrier-grade NAT space 100.64.0.0/10
            return f"100.{rng.randrange(64, 128)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        # A busy shared range: benign users do share this /24, so rules should key on devices.
        return f"203.0.113.{rng.randrange(1, 255)}"

    def _device(self) -> str:
        return f"dev_{self.rng.getrandbits(64):016x}"

    def _recent(self, book: dict[str, list[float]], key: str, now: float, window: float) -> int:
        times = book.get(key)
        if not times:
            return 0
        while times and times[0] < now - window:
            times.pop(0)
        return len(times)

    # -- users ----------------------------------------------------------------------------

    def _new_user(
        self,
        t: float,
        kind: str,
        *,
        email_domain: str | None = None,
        username: str | None = None,
        device_id: str | None = None,
        ip: str | None = None,
        country: str | None = None,
        user_agent: str | None = None,
        duration_ms: int | None = None,
        has_photo: bool | None = None,
        phone_verified: bool | None = None,
        id_verified: bool | None = None,
        bio: str | None = None,
    ) -> tuple[_User, dict[str, Any]]:
        """A user and their signup envelope; any field not given is drawn as for a benign user."""
        rng = self.rng
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        if username is None:
            # Benign usernames are name-based; a digit suffix, when present, is two digits,
            # unlike the word+3-5 digits of ring accounts.
            style = rng.randrange(5)
            base = (f"{first}{last}", f"{first}.{last}", f"{first}_{last[0]}",
                    f"{first[0]}{last}", f"{last}.{first}")[style].lower()
            username = base + (f"{rng.randrange(10, 100)}" if rng.random() < 0.15 else "")
        if email_domain is None:
            email_domain = rng.choice(_BENIGN_DOMAINS)
        if device_id is None:
            device_id = self._device()
        if ip is None:
            ip = self._benign_ip()
        if duration_ms is None:
            # Humans take a while: lognormal around ~50 s, never faster than 6 s.
            duration_ms = max(6_000, int(rng.lognormvariate(10.8, 0.5)))
        if phone_verified is None:
            phone_verified = rng.random() < (0.75 if kind == "client" else 0.7)
        if id_verified is None:
            id_verified = rng.random() < (0.35 if kind == "client" else 0.5)
        if bio is None:
            bio = rng.choice(_FREELANCER_BIOS if kind == "freelancer" else _CLIENT_BIOS)
        user = _User(
            user_id=self._id("usr"), kind=kind, first=first, display_name=f"{first} {last}",
            username=username, device_id=device_id, ip=ip,
            country=country or rng.choice(_COUNTRIES),
            user_agent=user_agent or rng.choice(_USER_AGENTS), signed_up_at=t,
            phone_verified=phone_verified, id_verified=id_verified,
        )
        payload = {
            "user_id": user.user_id, "account_type": kind,
            "email": f"{username.replace('_', '.')}@{email_domain}",
            "ip": ip, "device_id": device_id, "country": user.country,
            "user_agent": user.user_agent, "signup_duration_ms": duration_ms,
            "username": username, "display_name": user.display_name, "bio": bio,
            "has_photo": rng.random() < 0.8 if has_photo is None else has_photo,
            "phone_verified": phone_verified, "id_verified": id_verified,
        }
        return user, self._envelope(t, "user.signed_up", "accounts-service", user.user_id,
                                    payload)

    def _consent(self, t: float, user: _User, choice: str) -> dict[str, Any]:
        user.consent = choice
        stamp = self._ts(t)
        payload = {"user_id": user.user_id, "ai_features": choice,
                   "policy_version": POLICY_VERSION, "changed_at": stamp}
        return self._envelope(t, "consent.changed", "privacy-service", user.user_id, payload)

    # -- benign traffic -------------------------------------------------------------------

    def _benign(self, now: float) -> dict[str, Any]:
        rng = self.rng
        n = len(self.users)
        # Warm-up: a young marketplace is mostly signups, so early users are not hyperactive.
        p_signup = max(0.06, 1.0 - n / 200.0)
        r = rng.random()
        if r < p_signup or not self.clients or not self.freelancers:
            return self._benign_signup(now)
        r = rng.random()
        if r < 0.10:
            return self._benign_job(now) or self._benign_signup(now)
        if r < 0.46:
            return (self._benign_proposal(now) or self._benign_job(now)
                    or self._benign_signup(now))
        if r < 0.978:
            return (self._benign_message(now) or self._benign_proposal(now)
                    or self._benign_job(now) or self._benign_signup(now))
        if r < 0.994:
            return self._benign_consent(now)
        return self._benign_report(now) or self._benign_consent(now)

    def _benign_signup(self, now: float) -> dict[str, Any]:
        rng = self.rng
        kind = "client" if rng.random() < 0.4 else "freelancer"
        device_id = ip = None
        if self.users and rng.random() < 0.02:
            # A household or shared office: a second account on one device, never a third.
            other = rng.choice(self.users)
            if self.device_users.get(other.device_id, 0) == 1:
                device_id, ip = other.device_id, other.ip
        user, env = self._new_user(now, kind, device_id=device_id, ip=ip)
        self.device_users[user.device_id] = self.device_users.get(user.device_id, 0) + 1
        self.users.append(user)
        (self.clients if kind == "client" else self.freelancers).append(user)
        # Most users accept the AI-features prompt during onboarding; a few decline it.
        r = rng.random()
        if r < 0.9:
            t = now + self._later(5, 180)
            self._schedule(t, self._consent(t, user, "opted_in" if r < 0.85 else "opted_out"),
                           None)
        return env

    def _job_payload(self, job: _Job, description: str) -> dict[str, Any]:
        return {
            "job_id": job.job_id, "client_id": job.client.user_id, "title": job.title,
            "description": description, "budget_type": job.budget_type,
            "budget_amount": job.budget_amount, "currency": "USD", "skills": job.skills,
            "genai_restricted": job.restricted,
        }

    def _benign_job(self, now: float) -> dict[str, Any] | None:
        rng = self.rng
        if not self.clients:
            return None
        client = rng.choice(self.clients)
        cat = rng.choice(_CATEGORIES)
        title = rng.choice(cat.titles)
        parts = [rng.choice(cat.intros), *rng.sample(cat.details, rng.randint(2, 3))]
        closing = rng.choice(_JOB_CLOSINGS)
        if closing:
            parts.append(closing)
        restricted = rng.random() < 0.15
        if restricted:
            parts.append(_GENAI_NOTE)
        if rng.random() < 0.35:
            budget_type, amount = "hourly", float(rng.randint(*cat.hourly))
        else:
            budget_type = "fixed"
            amount = float(round(rng.randint(*cat.fixed), -1) or 10)
            # Big projects come from verified clients only; an unverified newcomer with a big
            # budget is the new_client_large_budget scenario.
            if client.phone_verified and cat.large_ok and rng.random() < 0.04:
                amount = float(round(rng.randint(5_000, 25_000), -2))
        job = _Job(
            job_id=self._id("job"), client=client, title=title, category=cat,
            budget_type=budget_type, budget_amount=amount,
            skills=rng.sample(cat.skills, rng.randint(2, min(5, len(cat.skills)))),
            restricted=restricted,
        )
        self.jobs.append(job)
        _trim(self.jobs, 400)
        if restricted:
            self.restricted_jobs.append(job)
            _trim(self.restricted_jobs, 100)
        return self._envelope(now, "job_post.created", "jobs-service", client.user_id,
                              self._job_payload(job, " ".join(parts)))

    def _cover_letter(self, job: _Job, freelancer: _User) -> str:
        rng = self.rng
        skills = job.skills or ["this kind of work", "related projects"]
        skill, skill2 = rng.sample(skills, 2) if len(skills) > 1 else (skills[0], "similar work")
        fill = {
            "title": job.title, "skill": skill, "skill2": skill2,
            "years": rng.randint(2, 12), "n": rng.randint(5, 80), "days": rng.randint(2, 10),
        }
        lines = [
            rng.choice(_CL_GREETINGS),
            " ".join(s.format(**fill) for s in (
                rng.choice(_CL_OPENERS), rng.choice(_CL_EXPERIENCE), rng.choice(_CL_APPROACH),
                rng.choice(_CL_CLOSINGS))),
            f"{rng.choice(_CL_SIGNOFFS)} {freelancer.first}",
        ]
        return "\n\n".join(lines)

    def _bid(self, job: _Job) -> float:
        low, high = (0.8, 1.2) if job.budget_type == "hourly" else (0.7, 1.1)
        return round(job.budget_amount * self.rng.uniform(low, high), 2)

    def _proposal_env(
        self, t: float, job: _Job, freelancer: _User, letter: str, bid: float, connects: int,
        ai: bool,
    ) -> tuple[str, dict[str, Any]]:
        pid = self._id("prp")
        payload = {"proposal_id": pid, "job_id": job.job_id,
                   "freelancer_id": freelancer.user_id, "cover_letter": letter,
                   "bid_amount": bid, "connects_spent": connects, "ai_assisted": ai}
        return pid, self._envelope(t, "proposal.submitted", "proposals-service",
                                   freelancer.user_id, payload)

    def _benign_proposal(self, now: float) -> dict[str, Any] | None:
        rng = self.rng
        if not self.jobs or not self.freelancers:
            return None
        for _ in range(3):
            freelancer = rng.choice(self.freelancers)
            # Real freelancers send a handful of proposals an hour at most; capping keeps
            # benign traffic clear of the proposal_spam burst (8+ in ~10 minutes).
            if self._recent(self.recent_proposals, freelancer.user_id, now,
                            600.0 * self.tempo) < 3:
                break
        else:
            return None
        job = rng.choice(self.jobs)
        if any(f is freelancer for _, f in job.proposals):
            return None
        ai = (not job.restricted) and rng.random() < 0.2
        connects = rng.choice((1, 2, 2, 4, 4, 4, 6, 6, 8)) if rng.random() > 0.03 else \
            rng.randint(10, 16)  # the occasional boosted proposal
        pid, env = self._proposal_env(now, job, freelancer, self._cover_letter(job, freelancer),
                                      self._bid(job), connects, ai)
        job.proposals.append((pid, freelancer))
        self.proposals.append((pid, job, freelancer))
        _trim(self.proposals, 400)
        self.recent_proposals.setdefault(freelancer.user_id, []).append(now)
        return env

    def _message_env(
        self, t: float, thread_id: str, sender: _User, recipient: _User, text: str,
        contract: bool, attachments: int = 0,
    ) -> tuple[str, dict[str, Any]]:
        mid = self._id("msg")
        payload = {"message_id": mid, "thread_id": thread_id, "sender_id": sender.user_id,
                   "recipient_id": recipient.user_id, "text": text,
                   "has_active_contract": contract, "attachment_count": attachments}
        return mid, self._envelope(t, "message.sent", "messaging-service", sender.user_id,
                                   payload)

    def _benign_message(self, now: float) -> dict[str, Any] | None:
        rng = self.rng
        if self.threads and rng.random() < 0.75:
            thread = rng.choice(self.threads)
        else:
            thread = self._open_thread(now)
            if thread is None:
                if not self.threads:
                    return None
                thread = rng.choice(self.threads)
        client, freelancer = thread.client, thread.freelancer
        if thread.messages == 0:
            sender, text = client, rng.choice(_MSG_CLIENT_INVITE).format(
                name=freelancer.first, title=thread.job.title)
        else:
            from_client = (thread.last_sender != client.user_id) == (rng.random() < 0.85)
            sender = client if from_client else freelancer
            if thread.contract:
                text = rng.choice(_MSG_CLIENT_CONTRACT if from_client
                                  else _MSG_FREELANCER_CONTRACT)
            elif from_client and thread.messages >= 2 and rng.random() < 0.3:
                text, thread.contract = rng.choice(_MSG_HIRE), True
            else:
                text = rng.choice(_MSG_CLIENT_PRE if from_client else _MSG_FREELANCER_PRE)
        recipient = freelancer if sender is client else client
        attachments = rng.choice((0, 0, 1, 2, 3)) if (
            sender is freelancer and ("attached" in text or "files" in text)) else 0
        mid, env = self._message_env(now, thread.thread_id, sender, recipient, text,
                                     thread.contract, attachments)
        thread.messages += 1
        thread.last_sender = sender.user_id
        self.messages.append((mid, sender))
        _trim(self.messages, 400)
        return env

    def _open_thread(self, now: float) -> _Thread | None:
        rng = self.rng
        if not self.proposals:
            return None
        _, job, freelancer = rng.choice(self.proposals)
        # Clients interview a few candidates an hour; ten or more strangers an hour is the
        # stranger_messaging scenario.
        if self._recent(self.recent_threads, job.client.user_id, now,
                        3600.0 * self.tempo) >= 4:
            return None
        thread = _Thread(self._id("thr"), job.client, freelancer, job)
        self.threads.append(thread)
        _trim(self.threads, 400)
        self.recent_threads.setdefault(job.client.user_id, []).append(now)
        return thread

    def _benign_consent(self, now: float) -> dict[str, Any]:
        rng = self.rng
        user = rng.choice(self.users)
        # Changing one's mind later: opted-in users mostly opt out (a few re-confirm after a
        # policy notice), opted-out users opt back in, undecided users go either way.
        if user.consent == "opted_in":
            choice = "opted_in" if rng.random() < 0.1 else "opted_out"
        elif user.consent == "opted_out":
            choice = "opted_in"
        else:
            choice = rng.choice(("opted_in", "opted_out"))
        return self._consent(now, user, choice)

    def _benign_report(self, now: float) -> dict[str, Any] | None:
        rng = self.rng
        reporter = rng.choice(self.users)
        kind = rng.choice(("user", "job_post", "message", "proposal"))
        if kind == "user":
            target = rng.choice(self.users)
            target_id, owner = target.user_id, target
        elif kind == "job_post" and self.jobs:
            job = rng.choice(self.jobs)
            target_id, owner = job.job_id, job.client
        elif kind == "message" and self.messages:
            target_id, owner = rng.choice(self.messages)
        elif kind == "proposal" and self.proposals:
            target_id, _, owner = rng.choice(self.proposals)
        else:
            return None
        if owner is reporter:
            return None
        payload = {"reporter_id": reporter.user_id, "target_type": kind, "target_id": target_id,
                   "reason": rng.choice(("other", "other", "spam")),
                   "details": rng.choice(_REPORT_BENIGN_DETAILS)}
        return self._envelope(now, "user_report.filed", "trust-service", reporter.user_id,
                              payload)

    # -- fraud scenarios ------------------------------------------------------------------

    def _start_scenario(self, now: float) -> None:
        rng = self.rng
        feasible = {
            "fake_account_ring": True,
            "disposable_email": True,
            "scam_job_fee": True,
            "off_platform_payment": bool(self.proposals or (self.freelancers and self.jobs)),
            "proposal_spam": len(self.jobs) >= _SPAM_BURST[0],
            "genai_restricted_violation": bool(self.restricted_jobs and self.freelancers),
            "new_client_large_budget": True,
            "stranger_messaging": len(self.users) >= _STRANGER_RECIPIENTS[1] * 2,
        }
        names = [s for s in SCENARIOS if feasible[s]]
        name = rng.choices(names, weights=[_SCENARIO_WEIGHTS[s] for s in names])[0]
        self._SCENARIO_BUILDERS[name](self, now)

    def _report(
        self, t: float, scenario: str, reporter: _User, target_type: str, target_id: str,
        reason: str, details: str,
    ) -> None:
        payload = {"reporter_id": reporter.user_id, "target_type": target_type,
                   "target_id": target_id, "reason": reason, "details": details}
        self._schedule(t, self._envelope(t, "user_report.filed", "trust-service",
                                         reporter.user_id, payload), scenario)

    def _bystander(self, *exclude: _User) -> _User | None:
        for _ in range(3):
            if not self.users:
                return None
            user = self.rng.choice(self.users)
            if user not in exclude:
                return user
        return None

    def _ring(self, now: float) -> None:
        rng = self.rng
        scenario = "fake_account_ring"
        device = self._device()
        a, b, c = rng.randrange(64, 128), rng.randrange(256), rng.randrange(1, 200)
        country, agent = rng.choice(_COUNTRIES), rng.choice(_USER_AGENTS)
        domain = rng.choice(_BENIGN_DOMAINS)
        kind = "freelancer" if rng.random() < 0.8 else "client"
        t = now
        members = []
        for i in range(rng.randint(*_RING_SIZE)):
            t += self._later(45, 240) if i else self._later(1, 30)  # minutes apart
            username = f"{rng.choice(_RING_WORDS)}{rng.randrange(100, 100_000)}"
            user, env = self._new_user(
                t, kind, email_domain=domain, username=username, device_id=device,
                ip=f"100.{a}.{b}.{c + i}", country=country, user_agent=agent,
                duration_ms=rng.randint(1_200, 3_900), has_photo=False, phone_verified=False,
                id_verified=False, bio="",
            )
            members.append(user)
            self._schedule(t, env, scenario)
        if rng.random() < 0.3 and (reporter := self._bystander()):
            target = rng.choice(members)
            self._report(t + self._later(600, 7200), scenario, reporter, "user",
                         target.user_id, "fake_account",
                         "Several near-identical new profiles, looks like one person.")

    def _disposable(self, now: float) -> None:
        rng = self.rng
        scenario = "disposable_email"
        t = now + self._later(1, 20)
        kind = "client" if rng.random() < 0.5 else "freelancer"
        user, env = self._new_user(
            t, kind, email_domain=rng.choice(_DISPOSABLE_DOMAINS),
            duration_ms=rng.randint(2_500, 30_000), has_photo=rng.random() < 0.2,
            phone_verified=False, id_verified=False,
        )
        self._schedule(t, env, scenario)
        if rng.random() < 0.1 and (reporter := self._bystander()):
            self._report(t + self._later(600, 7200), scenario, reporter, "user",
                         user.user_id, "fake_account", "Throwaway-looking account.")

    def _fresh(self, t: float, kind: str, **overrides: Any) -> _User:
        """A fraudster's own account: its signup is supporting context, labelled benign."""
        user, env = self._new_user(t, kind, **overrides)
        self._schedule(t, env, None)
        return user

    def _scam_job(self, now: float) -> None:
        rng = self.rng
        scenario = "scam_job_fee"
        t = now + self._later(1, 20)
        client = self._fresh(t, "client", phone_verified=rng.random() < 0.2, id_verified=False,
                             has_photo=rng.random() < 0.3, bio="")
        t += self._later(60, 3600)
        rate = rng.randint(35, 60)
        fee = rng.choice((49, 75, 99, 150, 199, 250, 300))
        parts = [rng.choice(_SCAM_INTROS).format(weekly=rate * 40),
                 rng.choice(_SCAM_FEE_ASKS).format(fee=fee), rng.choice(_SCAM_URGENCY)]
        hourly = rng.random() < 0.7
        job = _Job(
            job_id=self._id("job"), client=client,
            title=rng.choice(_SCAM_TITLES).format(rate=rate), category=_CATEGORIES[3],
            budget_type="hourly" if hourly else "fixed",
            budget_amount=float(rate if hourly else rng.randint(8, 30) * 100),
            skills=rng.sample(("Data Entry", "Customer Service", "Virtual Assistant",
                               "Typing", "Microsoft Excel"), 2),
            restricted=False,
        )
        payload = self._job_payload(job, " ".join(p for p in parts if p))
        self._schedule(t, self._envelope(t, "job_post.created", "jobs-service",
                                         client.user_id, payload), scenario)
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            if reporter := self._bystander(client):
                self._report(t + self._later(300, 7200), scenario, reporter, "job_post",
                             job.job_id, "scam", "They want me to pay before starting work.")

    def _large_budget(self, now: float) -> None:
        rng = self.rng
        scenario = "new_client_large_budget"
        t = now + self._later(1, 20)
        client = self._fresh(t, "client", phone_verified=False, id_verified=False,
                             has_photo=rng.random() < 0.4)
        t += self._later(120, 1800)  # posts within half an hour of signing up
        cat = rng.choice((_CATEGORIES[0], _CATEGORIES[5], _CATEGORIES[8]))
        if rng.random() < 0.6:
            budget_type, amount = "fixed", float(round(rng.randint(*_LARGE_FIXED), -2))
        else:
            budget_type, amount = "hourly", float(rng.randint(*_LARGE_HOURLY))
        job = _Job(job_id=self._id("job"), client=client, title=rng.choice(_LARGE_TITLES),
                   category=cat, budget_type=budget_type, budget_amount=amount,
                   skills=rng.sample(cat.skills, 3), restricted=False)
        description = " ".join([rng.choice(_LARGE_INTROS), *rng.sample(_LARGE_DETAILS, 2)])
        self._schedule(t, self._envelope(t, "job_post.created", "jobs-service", client.user_id,
                                         self._job_payload(job, description)), scenario)
        if rng.random() < 0.15 and (reporter := self._bystander(client)):
            self._report(t + self._later(600, 7200), scenario, reporter, "job_post", job.job_id,
                         "scam", "Huge budget from a brand-new profile, seems suspicious.")

    def _off_platform(self, now: float) -> None:
        rng = self.rng
        scenario = "off_platform_payment"
        t = now + self._later(1, 20)
        if self.proposals and rng.random() < 0.4:
            # An established freelancer tries to take a client off the platform.
            _, job, freelancer = rng.choice(self.proposals)
            fraudster, victim = freelancer, job.client
            invite_title = job.title
        elif self.jobs and rng.random() < 0.8:
            # A fresh account applies to a job only to pull the client away.
            job = rng.choice(self.jobs)
            fraudster, victim = self._fresh(t, "freelancer"), job.client
            t += self._later(60, 900)
            _, env = self._proposal_env(t, job, fraudster, self._cover_letter(job, fraudster),
                                        self._bid(job), rng.choice((2, 4, 6)), False)
            self._schedule(t, env, None)
            invite_title = job.title
        else:
            # A fake "client" contacts a freelancer directly.
            if not self.freelancers:
                return
            fraudster, victim, invite_title = self._fresh(t, "client"), None, ""
            for _ in range(3):
                candidate = rng.choice(self.freelancers)
                if candidate is not fraudster:
                    victim = candidate
                    break
            if victim is None:
                return
        thread_id = self._id("thr")
        if invite_title:
            # The victim (a client) opens the conversation, as the platform requires.
            t += self._later(300, 3600)
            _, env = self._message_env(t, thread_id, victim, fraudster,
                                       rng.choice(_MSG_CLIENT_INVITE).format(
                                           name=fraudster.first, title=invite_title), False)
            self._schedule(t, env, None)
        handle = f"{fraudster.first.lower()}{rng.randrange(10, 1000)}"
        fill = {"email": f"{handle}@{rng.choice(('mail.test', 'inbox.test', 'example.net'))}",
                "handle": handle,
                "phone": rng.choice((f"+1 202 555 01{rng.randrange(100):02d}",
                                     f"+44 7700 900{rng.randrange(1000):03d}"))}
        first_mid = ""
        for i in range(rng.choice((1, 1, 2, 3))):
            t += self._later(30, 900)
            hook = rng.choice(_OFF_PLATFORM_HOOKS).format(**fill)
            lead = rng.choice(_OFF_PLATFORM_LEADS) if i == 0 else rng.choice(
                _OFF_PLATFORM_FOLLOWUPS).strip()
            mid, env = self._message_env(t, thread_id, fraudster, victim,
                                         f"{lead} {hook}".strip(), False)
            first_mid = first_mid or mid
            self._schedule(t, env, scenario)
        if rng.random() < 0.4:
            self._report(t + self._later(120, 3600), scenario, victim, "message", first_mid,
                         "off_platform_payment", "Asked me to pay outside the platform.")

    def _spam(self, now: float) -> None:
        rng = self.rng
        scenario = "proposal_spam"
        t = now + self._later(1, 20)
        spammer = rng.choice(self.freelancers) if self.freelancers else None
        if rng.random() < 0.7 or spammer is None or spammer.user_id in self.spammers:
            spammer = self._fresh(t, "freelancer", has_photo=rng.random() < 0.5)
            t += self._later(120, 3600)
        # One burst per account keeps bursts separable by freelancer in the ground truth.
        self.spammers.add(spammer.user_id)
        size = min(rng.randint(*_SPAM_BURST), len(self.jobs))
        letter = rng.choice(_SPAM_LETTERS)
        sign = f"\n\n{spammer.first}"
        connects = rng.randint(12, 20)
        victims = []
        for i, job in enumerate(rng.sample(self.jobs, size)):
            t += self._later(5, 30) if i else 0.0  # 8-20 proposals inside ~10 minutes
            text = f"{rng.choice(_SPAM_GREETINGS)}\n\n{letter}{sign}"
            bid = round(job.budget_amount * rng.uniform(0.5, 0.8), 2)
            pid, env = self._proposal_env(t, job, spammer, text, bid, connects, False)
            self._schedule(t, env, scenario)
            victims.append((pid, job.client))
        if rng.random() < 0.2:
            pid, client = rng.choice(victims)
            if client is not spammer:
                self._report(t + self._later(300, 3600), scenario, client, "proposal", pid,
                             "spam", "Generic copy-paste proposal, clearly not read the post.")

    def _genai(self, now: float) -> None:
        rng = self.rng
        scenario = "genai_restricted_violation"
        job = rng.choice(self.restricted_jobs)
        t = now
        last_pid = ""
        for _ in range(rng.randint(1, 3)):
            freelancer = rng.choice(self.freelancers)
            if freelancer is job.client or any(f is freelancer for _, f in job.proposals):
                continue
            t += self._later(10, 600)
            last_pid, env = self._proposal_env(
                t, job, freelancer, self._cover_letter(job, freelancer), self._bid(job),
                rng.choice((2, 4, 6)), True)
            self._schedule(t, env, scenario)
        if last_pid and rng.random() < 0.3:
            self._report(t + self._later(600, 7200), scenario, job.client, "proposal", last_pid,
                         "ai_policy_violation", "This proposal says it was written with AI "
                         "tools, but my job does not allow that.")

    def _stranger(self, now: float) -> None:
        rng = self.rng
        scenario = "stranger_messaging"
        t = now + self._later(1, 20)
        sender = self._fresh(t, rng.choice(("client", "freelancer")), has_photo=False,
                             phone_verified=False, id_verified=rng.random() < 0.1)
        t += self._later(60, 600)
        template = rng.choice(_STRANGER_TEXTS)
        recipients = []
        seen = {sender.user_id}
        wanted = rng.randint(*_STRANGER_RECIPIENTS)
        while len(recipients) < wanted:
            user = rng.choice(self.users)
            if user.user_id not in seen:
                seen.add(user.user_id)
                recipients.append(user)
        first_mid: dict[str, str] = {}
        for i, recipient in enumerate(recipients):
            t += self._later(20, 140) if i else 0.0  # 10-25 strangers inside an hour
            mid, env = self._message_env(t, self._id("thr"), sender, recipient,
                                         template.format(name=recipient.first), False)
            first_mid[recipient.user_id] = mid
            self._schedule(t, env, scenario)
        for recipient in rng.sample(recipients, rng.choice((0, 0, 1, 2))):
            self._report(t + self._later(120, 3600), scenario, recipient, "message",
                         first_mid[recipient.user_id], rng.choice(("spam", "harassment")),
                         "Unsolicited message from someone I never worked with.")

    _SCENARIO_BUILDERS: dict[str, Callable[[_World, float], None]] = {
        "fake_account_ring": _ring,
        "disposable_email": _disposable,
        "scam_job_fee": _scam_job,
        "off_platform_payment": _off_platform,
        "proposal_spam": _spam,
        "genai_restricted_violation": _genai,
        "new_client_large_budget": _large_budget,
        "stranger_messaging": _stranger,
    }
