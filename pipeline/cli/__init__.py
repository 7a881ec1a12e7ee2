"""``vigil``, the command line (:mod:`pipeline.cli.main`). Nothing else imports these modules."""
