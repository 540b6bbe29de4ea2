//! The integration tests, as one binary with a module per area (one link of the crate
//! instead of one per file). Each module's own documentation says what it covers and which
//! real servers and tools it runs against.

#[path = "common/apple.rs"]
mod apple_pki;
mod common;

mod apple;
mod architecture;
mod argocd;
mod authenticode;
mod authenticode_msi;
mod cli;
mod cloudwatch;
mod fault_proxy;
mod findings;
mod flags;
mod gates;
mod keys;
mod kpi;
mod metrics;
mod notify;
mod packaging;
mod pipeline;
mod publish;
mod remote;
mod rotation;
mod runbooks;
mod runner;
mod s3;
mod secrets_aws;
mod source;
mod status;
mod team;
mod team_attack;
mod team_blobs;
mod team_builds;
mod team_segments;
mod ui;
mod verify;
mod workspace;
