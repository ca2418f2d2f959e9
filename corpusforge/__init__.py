"""corpusforge: research methods for LLM training data as scheduled, validated pipelines."""

__version__ = "0.1.0"
