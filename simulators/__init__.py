"""The fake outside world for the embedded default (`make run`) and tests: the Daraja simulator, the
Africa's Talking fake, the simulated chains and the Telegram Bot API double. Each speaks the real wire
protocol and says it is a simulator. Only webapp.bootstrap's embedded/test wiring (and tests) import
this package; production processes never do (import-linter and tests/unit/ops check)."""
