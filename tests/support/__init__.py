"""What the tests share, one topic a module: the embedded stack (:mod:`.stack`), waiting
(:mod:`.waiting`), reading topics (:mod:`.kafka`), traffic through a running stack
(:mod:`.traffic`), scraping /metrics (:mod:`.metrics`), event streams and examples
(:mod:`.streams`, :mod:`.events`, :mod:`.models`), review flags and users (:mod:`.flags`,
:mod:`.review`), deployment files (:mod:`.deploy`) and a faust test app (:mod:`.fetch_app`).

Test modules import from here, never from each other; fixtures are registered once, by the
plugins :mod:`.fixtures` and :mod:`.integration` that ``tests/conftest.py`` loads."""
