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

# scam_message, scam_proposal: scams without the words the rules key on (no payment app, chat
# app, email address, phone number, "off the platform" or fee dodging in messages; proposals
# sent one at a time with letters of their own). What gives them away is what an analyst
# reads: a job nobody applied for, a link to "release" a payment, guaranteed returns.
SCAM_DOMAINS = (
    "secure-release-center.com", "marketplace-verify.net", "client-docs-share.com",
    "escrow-guard.net", "talent-assess.org", "profit-circle.io", "token-growth.net",
    "project-mockups.site",
)
#: (pitch, texts): the first message of a conversation, then follow-ups.
SCAM_MESSAGE_OPENERS = {
    "fake_job": (
        "Hello {name}, congratulations! After reviewing your profile our hiring team selected "
        "you for a remote assistant position at $35 an hour, no interview needed. Reply YES "
        "and I will send the onboarding steps.",
        "Hi {name}, we are expanding our content team and your profile stood out. The role "
        "pays $900 a week for about ten hours. Are you available to start immediately?",
        "Dear {name}, our company is hiring remote product reviewers. You were recommended "
        "to us. The position is full time, fully remote and paid weekly. Interested?",
    ),
    "phishing": (
        "Hi {name}, I am ready to fund the milestone but the payment system flagged your "
        "account. Please confirm your details here so the funds can be released: "
        "https://{domain}/release",
        "Hello {name}, I shared the project brief and the NDA in a secure folder: "
        "https://{domain}/brief. You will need to sign in with your marketplace login to "
        "open it.",
        "Your proposal was shortlisted, {name}. Complete the client's skills assessment "
        "within 24 hours to keep your place: https://{domain}/assessment",
    ),
    "crypto": (
        "Hi {name}, before we talk about the project, may I share something? I have been "
        "making 30% a month with an automated trading bot on a new exchange. Happy to show "
        "you how to start with $250, the returns are guaranteed.",
        "Hello {name}, my mentor runs a private investment group in digital tokens. Members "
        "doubled their money in six weeks and spots are limited. Shall I add you? "
        "https://{domain}/join",
        "Hi {name}, quick question before the interview: have you heard of the new token "
        "presale? Early members get ten times their stake back at launch. I can reserve a "
        "place for you today.",
    ),
}
SCAM_MESSAGE_FOLLOWUPS = {
    "fake_job": (
        "Great! Our accounts office will mail you a cheque to buy your home office equipment "
        "from our certified vendor. Once it clears, forward what is left to them and keep $300 "
        "for your first week.",
        "Welcome aboard. New team members complete a short certification with our partner "
        "academy before the first task; the cost is reimbursed with your first salary.",
        "To finish onboarding we need a scan of your ID and your banking information for "
        "the weekly salary. Please reply today so payroll can set you up.",
    ),
    "phishing": (
        "Just checking, did you manage to open the link? The funds are on hold until you "
        "confirm.",
        "The release page expires tonight, please log in again: https://{domain}/confirm",
        "Support says your account must be verified before I can hire you: "
        "https://{domain}/verify",
    ),
    "crypto": (
        "I can guide you step by step, the first withdrawal usually comes within three days.",
        "Spots close on Friday. The minimum to join is $500 and you can withdraw anytime.",
        "My cousin joined last month and already paid off his car. Let me know if you want "
        "the sign-up page: https://{domain}/start",
    ),
}
#: How a victim answers before seeing the catch (unlabelled: the victim's own messages).
SCAM_VICTIM_REPLIES = (
    "Thanks, what would the next steps be?", "Sounds interesting, can you tell me more?",
    "Hi, yes I am available.", "Is this for the job I applied to?",
)
SCAM_PROPOSAL_LETTERS = (
    "Hi, I have done exactly this kind of project before. I made a free mockup for \"{title}\", "
    "you can view it here: https://{domain}/view (log in with your marketplace account to "
    "open it). I can start right away.",
    "Hello, my agency can deliver \"{title}\" in 48 hours for half your budget. To reserve "
    "our team, new clients pay a small refundable booking charge through our secure "
    "checkout: https://{domain}/book",
    "I can do \"{title}\" for free. I only ask you to try the investment platform I work "
    "with; you will earn more than the project costs in a week: https://{domain}",
    "Happy to start today on \"{title}\". For projects like this I work through an "
    "independent escrow service that protects both sides better than the platform does: "
    "https://{domain}/escrow",
    "Dear client, I read \"{title}\" carefully. Before I begin, please confirm your identity "
    "on my client portal so I can send the contract: https://{domain}/portal",
)
SCAM_PROPOSAL_GREETINGS = ("Hi,", "Hello,", "Dear client,", "Good day,")

# fake_profile: the statistical signature of a fake account's profile (the cresci-2015 fakes
# map onto the same: follows many, followed by few, no history, thin or generic text).
FAKE_HEADLINES = (
    "Expert in all kind of work", "Professional | Fast | Cheap | 24/7",
    "Top freelancer - any task, any time", "Web, design, writing, data entry, everything",
    "Hardworking expert", "",
)
FAKE_OVERVIEWS = (
    "I am expert in all kind of work and I deliver the best quality in short time. Hire me "
    "now and you will not regret.",
    "Hello, I have 10+ years of experience and 500+ happy clients. I do all work with best "
    "quality and fast delivery.",
    "Professional freelancer. Available 24/7. Any task.",
    "I can do anything you need, cheap price, fast work, 100% satisfaction guaranteed.",
    "", "",
)
