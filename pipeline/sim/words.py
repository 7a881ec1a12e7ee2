"""Benign vocabulary: names, devices and profiles, cover letters, messages, report texts.

Data only. Pools are large enough that benign texts vary; fraud texts live apart, in
:mod:`pipeline.sim.fraud_words`, so the phrases a rule keys on never appear in benign traffic
(``tests/test_simulate.py`` checks this). The order of every pool is part of the seeded output:
reordering, adding or removing an entry changes every stream.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Maria", "James", "Aisha", "Wei", "Carlos", "Olga", "Priya", "Tom", "Fatima", "Lucas",
    "Emma", "Ivan", "Chloe", "Kenji", "Nadia", "Omar", "Sofia", "Daniel", "Amara", "Mateo",
    "Hannah", "Ravi", "Elena", "Jonas", "Grace", "Ahmed", "Lena", "Diego", "Yuki", "Samuel",
    "Zara", "Pedro", "Ines", "Kwame", "Mila", "Arjun", "Sara", "Leo", "Noor", "Felix",
)
LAST_NAMES = (
    "Garcia", "Smith", "Khan", "Chen", "Silva", "Petrova", "Sharma", "Novak", "Okafor",
    "Martin", "Rossi", "Kowalski", "Nguyen", "Tanaka", "Haddad", "Mensah", "Lopez", "Weber",
    "Ali", "Costa", "Fischer", "Reyes", "Ivanova", "Patel", "Dubois", "Santos", "Kim", "Berg",
    "Moreno", "Osei", "Larsen", "Mehta", "Popescu", "Brown", "Hughes", "Ortiz", "Yilmaz",
    "Andersen", "Mwangi", "Sato",
)
BENIGN_DOMAINS = ("example.com", "example.org", "example.net", "mail.test", "inbox.test")
COUNTRIES = (
    "US", "US", "US", "GB", "IN", "IN", "PH", "PK", "UA", "NG", "BR", "DE", "CA", "AU", "FR",
    "PL", "ES", "KE", "EG", "BD", "MX", "AR", "RO", "VN",
)
USER_AGENTS = (
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
FREELANCER_BIOS = (
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
CLIENT_BIOS = (
    "Small agency owner looking for reliable long-term collaborators.",
    "Founder of an early-stage startup.",
    "Marketing manager at a mid-sized retail company.",
    "Independent author working on my next book.",
    "",
    "",
)

# Cover letters are assembled from parts so two benign letters rarely share more than a line.
CL_GREETINGS = ("Hi,", "Hello,", "Hi there,", "Good day,", "Dear hiring manager,", "Hey,")
CL_OPENERS = (
    "I read your post about \"{title}\" and it matches my background well.",
    "Your project \"{title}\" caught my eye because I finished something very similar last "
    "month.",
    "I'd love to help with \"{title}\".",
    "I'm applying for \"{title}\" because this is exactly the kind of work I enjoy.",
    "I think I'm a strong fit for \"{title}\".",
)
CL_EXPERIENCE = (
    "I have {years} years of experience with {skill} and {skill2}.",
    "Over the past {years} years I've completed {n} projects involving {skill}.",
    "Most of my recent clients hired me for {skill}, and several came back for {skill2}.",
    "{skill} has been my main focus for {years} years.",
    "I have a solid track record with {skill}; my profile has reviews from similar projects.",
)
CL_APPROACH = (
    "I'd start by confirming the requirements with you, then share a first draft within "
    "{days} days.",
    "My plan would be a short kickoff, a first version in {days} days, and revisions after "
    "your feedback.",
    "I work in small steps and send progress updates every couple of days.",
    "I can start right away and expect to finish in about {days} days.",
    "I'll keep you updated here on the platform throughout the project.",
)
CL_CLOSINGS = (
    "Looking forward to hearing from you.",
    "Happy to answer any questions.",
    "Thanks for considering my proposal.",
    "Let me know if you'd like to see more samples.",
    "I'd be glad to discuss the details.",
    # Benign links too, so a link alone is no sign of a scam.
    "Samples of similar work are in my portfolio: https://portfolio.example.com/{skill_slug}",
)
CL_SIGNOFFS = ("Best,", "Thanks,", "Regards,", "Kind regards,", "Cheers,")

# Benign messages: interviews before a contract, delivery talk after it. No payment apps,
# contact details or "off platform" talk: those belong to the off_platform_payment scenario.
MSG_CLIENT_INVITE = (
    "Hi {name}, thanks for your proposal on \"{title}\". Could you share a couple of similar "
    "projects you've done?",
    "Hello {name}, I liked your proposal. What timeline would you need for this?",
    "Hi {name}, your profile looks great. Are you available to start this week?",
    "Thanks for applying, {name}. Do you have any questions about the scope?",
    "Hi {name}, could you tell me a bit more about how you'd approach \"{title}\"?",
)
MSG_CLIENT_PRE = (
    "That sounds good. How many revisions are included?",
    "Could you do a quick video call here on the platform tomorrow afternoon?",
    "Great, and would you be able to work in our time zone for a few hours a day?",
    "Thanks! I'm comparing a few proposals and will get back to you soon.",
    "Can you clarify what you'd need from us to get started?",
    "Your samples look good. Would a milestone-based contract work for you?",
)
MSG_FREELANCER_PRE = (
    "Thanks for getting back to me! I've attached two samples from similar projects.",
    "I could deliver a first version within a week, then iterate on your feedback.",
    "Yes, I can start on Monday.",
    "Happy to do a call through the platform, any time after 2pm UTC works for me.",
    "Two rounds of revisions are included, more are fine if the changes are small.",
    "I'd need access to your existing files and a short list of priorities.",
    "Milestones work well for me.",
    "Here are two recent examples: https://portfolio.example.com/work",
)
MSG_HIRE = (
    "I've sent you the offer, welcome aboard!",
    "Offer sent. Looking forward to working together.",
    "Let's do it, I just sent the contract.",
)
MSG_CLIENT_CONTRACT = (
    "The first draft looks great, just a few small tweaks on the header.",
    "Could you send a short progress update by end of day?",
    "I approved the milestone, thanks for the quick turnaround!",
    "We'd like to change the color of the buttons to match our brand.",
    "Can we move the deadline to next Wednesday? Our team needs more time to review.",
    "Everything looks good, I'll leave feedback when we close the contract.",
    "Please use the updated brief I uploaded to the project files.",
    "I put the brand guidelines here: https://files.example.com/brand-guide",
)
MSG_FREELANCER_CONTRACT = (
    "Uploaded the revised version, let me know what you think.",
    "Quick question: should the footer links open in a new tab?",
    "I'll have the next deliverable ready by Thursday.",
    "Done! I've attached the final files.",
    "Thanks for the feedback, working on the changes now.",
    "I submitted the milestone for review.",
    "Small delay on my side, the update will be ready tomorrow morning.",
)
REPORT_BENIGN_DETAILS = (
    "Not sure this is legit, please take a look.",
    "The profile seems incomplete.",
    "This post looks like a duplicate of another one.",
    "The proposal did not seem related to my job.",
    "Received an irrelevant message.",
    "",
)
