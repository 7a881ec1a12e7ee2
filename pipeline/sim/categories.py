"""Job categories: what benign clients post, and the budgets they offer. Data only.

The order of :data:`CATEGORIES` and of every tuple in it is part of the seeded output; two
scenarios pick categories by index (data entry for scam jobs; web, mobile and data for the
large-budget posts).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    titles: tuple[str, ...]
    intros: tuple[str, ...]
    details: tuple[str, ...]
    skills: tuple[str, ...]
    fixed: tuple[int, int]
    hourly: tuple[int, int]
    #: Whether verified clients sometimes post five-figure projects in this category.
    large_ok: bool = False


CATEGORIES: tuple[Category, ...] = (
    Category(
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
    Category(
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
    Category(
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
    Category(
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
    Category(
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
    Category(
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
    Category(
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
    Category(
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
    Category(
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
    Category(
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
JOB_CLOSINGS = (
    "Thanks for reading, we look forward to your proposal.",
    "Please mention your availability in your proposal.",
    "Long-term work is possible for the right person.",
    "Tell us briefly how you would approach this.",
    "We reply to every proposal within two days.",
    "Start date is flexible.",
    "Questions are welcome before you apply.",
    "",
)
GENAI_NOTE = (
    "Please do not use generative AI tools for any part of this work; we need fully original, "
    "human-made deliverables."
)
