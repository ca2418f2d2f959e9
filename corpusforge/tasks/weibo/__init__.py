"""Weibo target-guided conversations (DKRN, AAAI 2020): spec shared/specs/weibo.md.

Reading order: ingest (three input layouts) -> corpus (the streaming corpus stage: chunks
on the executor, see chunks, segment, keywords, pools) -> build (embeddings, graph,
retrieval, synthesis; rows for the platform) -> recipe (what the generic flow runs) ->
tables, report, card (what is published). bench is the scale benchmark's core.
"""
