"""Test tooling: the headless-JupyterLab check (:mod:`tools.labcheck`, its page-side JS in
``js/``) and its command line (:mod:`tools.lab`). It lives with the tests, not in the
``browserml`` package: a learner's install never needs it."""
