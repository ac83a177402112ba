//! The expression languages (placeholder; see the module's files).
