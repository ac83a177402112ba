//! Strong-consistency protocol tests.
