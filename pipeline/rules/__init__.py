"""Rule deploys: versioned, audited records in Redis (:mod:`.store`), the pure records they hold
(:mod:`.records`) and the rule set a worker runs, hot-reloaded (:mod:`.live`)."""
