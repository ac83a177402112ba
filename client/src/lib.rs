//! Meridian client.
