"""A corpus that lives outside the package (tests only, not shipped), defined in its own
files plus one registry line ($CORPUSFORGE_CORPORA="probe=tests.probe_corpus.corpus"): it
scores multiple-choice options and reads hidden states on the default engine, and writes
an explanation on a second role, so one run exercises every engine operation and two
roles through the generated command and flow."""
