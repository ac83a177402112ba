//! Multi-process tests: real `meridian` node processes on loopback ports chosen at run time,
//! driven through the real CLI. One test binary (fewer links on a 2-core machine).

mod support;

mod aurora;
mod campaign;
mod cluster;
mod ctl;
mod dashboard;
mod dashboard_browser;
mod demo;
mod durability;
mod dynamodb;
mod ecosystem;
mod global_tables;
mod hostile;
mod load;
mod strong;
mod strong_load;
mod tombstones;
mod truncation;
mod webdriver;
