"""Training, evaluation and export: the multi-branch model, the summarizer adapter, the tagger model,
and the texts they train on."""
