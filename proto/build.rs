//! Compiles `meridian/v1/*.proto` and the benchmark's `meridian/bench/v1/echo.proto` with the
//! pure-Rust `protox` (no system `protoc` needed) and generates tonic + prost code from the
//! descriptor set, which (less the benchmark's file) is also kept for reflection.

use std::{env, fs, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] = &[
    "meridian/v1/common.proto",
    "meridian/v1/kv.proto",
    "meridian/v1/replication.proto",
    "meridian/v1/admin.proto",
    "meridian/bench/v1/echo.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let fds = protox::compile(PROTOS, ["."])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    // Reflection describes the node's API only: the benchmark's echo service is not served by
    // nodes, so its file stays out of the encoded set.
    let mut public = fds.clone();
    public
        .file
        .retain(|f| !f.name().starts_with("meridian/bench/"));
    fs::write(out.join("meridian_descriptor.bin"), public.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
