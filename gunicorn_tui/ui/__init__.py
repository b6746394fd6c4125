"""The Textual dashboard over the headless core: ``app.py`` reads frames through
``FrameSource`` and hands long operations to launchers that share one ``ActionSlot``.
"""
