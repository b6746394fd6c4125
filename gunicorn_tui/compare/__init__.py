"""Compare the effect of a change: epochs, their summaries, significance,
guided A/B runs and reports. Headless: never imports textual or rich."""
