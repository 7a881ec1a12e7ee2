"""Fraud vocabulary: the texts and values only scenarios use. Data only.

Kept apart from :mod:`pipeline.sim.words` so that no benign text contains what a rule keys on
(payment apps, contact details, fees, disposable domains). The order of every pool is part of
the seeded output.
"""

from __future__ import annotations

# fake_account_ring and disposable_email
DISPOSABLE_DOMAINS = (
    "mailinator.com", "guerrillamail.com", "10minutemail.com", "tempmail.dev", "yopmail.com",
    "trashmail.com",
)
RING_WORDS = (
    "sunny", "pixel", "star", "quick", "bright", "happy", "lucky", "smart", "cool", "best",
    "top", "pro", "expert", "golden", "royal", "super",
)

# new_client_large_budget
LARGE_TITLES = (
    "Build a full marketplace platform (web and mobile)",
    "Senior team needed for an e-commerce rebuild",
    "Develop iOS and Android apps for a delivery startup",
    "Custom CRM with reporting and integrations",
    "Complete rebrand and website for a hotel group",
    "Lead engineer for a fintech MVP",
)
LARGE_INTROS = (
    "We are a funded startup building our first product.",
    "Our company is replacing several old systems at once.",
    "We are planning a major launch this quarter and need to scale up quickly.",
    "I have a big idea and the budget to make it happen.",
)
LARGE_DETAILS = (
    "We have funding in place and want to move fast.",
    "The scope includes design, development and launch support.",
    "Please send your best team and a rough timeline.",
    "Budget is flexible for the right people.",
    "We need the first version live within two months.",
)

# off_platform_payment, scam_job_fee, proposal_spam, stranger_messaging
OFF_PLATFORM_HOOKS = (
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
OFF_PLATFORM_LEADS = (
    "Thanks for getting back to me!", "Great, I'm very interested in this project.",
    "Hello!", "Thanks for the invite.", "", "",
)
OFF_PLATFORM_FOLLOWUPS = (
    "Did you see my last message? ", "Just following up. ", "Any update? ", "",
)
SCAM_TITLES = (
    "Data Entry Clerk - Work From Home, ${rate}/hr, No Experience Needed",
    "Remote Product Tester - Immediate Start",
    "Personal Assistant (Remote) - Paid Weekly",
    "Online Chat Support Agent - Flexible Hours, ${rate}/hr",
    "Package Reshipping Coordinator - Work From Home",
    "Mystery Shopper Needed - Earn ${rate}/hr",
)
SCAM_INTROS = (
    "We are a fast-growing international company hiring remote staff immediately.",
    "No experience is needed, full training provided. Earn up to ${weekly} per week!",
    "Work from home with flexible hours and weekly pay.",
)
SCAM_FEE_ASKS = (
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
SCAM_URGENCY = (
    "Only 5 positions left, apply now!", "Start today, spots are limited.",
    "Reply quickly to secure your place.", "",
)
SPAM_LETTERS = (
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
SPAM_GREETINGS = ("Hello dear,", "Hi,", "Dear Sir/Madam,", "Hello,")
STRANGER_TEXTS = (
    "Hi {name}, I came across your profile and I think you'd be perfect for a project I'm "
    "running. Interested? Reply here and I'll share the details.",
    "Hello {name}! I have a great opportunity that could double your income this month. "
    "Reply if you want to hear more.",
    "Hi {name}, quick question: are you open to new work? I have several urgent tasks, good "
    "pay, no interview needed.",
)
