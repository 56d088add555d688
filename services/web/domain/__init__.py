"""Pure helpers of the web app (no I/O, no Litestar): words in two languages, times, charts."""
