"""Language modules for entity extraction; each exposes one `LanguageSupport` object."""
