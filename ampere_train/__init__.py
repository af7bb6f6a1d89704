"""Training, evaluation and export: the multi-branch model, the summarizer adapter, the tagger model,
and the texts they train on."""

# the texts a dataset's videos and live windows can be embedded with (ampere_train.data): here, so the CLI can list
# them without importing numpy or torch. asr_names: ASR, catalogue names corrected; summary_screen: the summary
# and, for live windows, the overlays read on their frames, as the live path embeds them (embed.screen_text)
TEXT_MODES = ("script", "raw_asr", "asr_names", "summary", "summary_screen", "none")
