//! Meridian benchmark (scenario runner comes with issue 5).
