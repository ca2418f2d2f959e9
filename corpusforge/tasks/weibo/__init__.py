"""Weibo target-guided conversations (DKRN, AAAI 2020): spec shared/specs/weibo.md.

Reading order: ingest (three input layouts) -> recipe (the stages in order) -> passes
(the stages: tagging, chunks, segment, keywords, pools) -> build (embeddings, graph,
retrieval, synthesis) -> tables, report, card (what is published). bench is the scale
benchmark's harness (scripts/bench_weibo.py runs the product command).
"""
