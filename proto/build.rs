//! Compiles `meridian/v1/*.proto` with the pure-Rust `protox` (no system `protoc` needed) and
//! generates tonic + prost code from the descriptor set, which is also kept for reflection.

use std::{env, fs, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] = &[
    "meridian/v1/common.proto",
    "meridian/v1/kv.proto",
    "meridian/v1/replication.proto",
    "meridian/v1/admin.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let fds = protox::compile(PROTOS, ["."])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("meridian_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
