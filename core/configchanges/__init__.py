"""Configuration changes under maker-checker: one staff member proposes (shown as a diff against
what is in force), a different one with the right role approves, and the change is applied as a
new version from its effective time. Fee schedules (incl. the FX margin) go through here."""
