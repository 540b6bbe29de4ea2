//! `bench --only publish`: one 1 GiB installer to a local `SeaweedFS` with the console's S3
//! store, against boto3's `upload_file` (default multipart settings) in the same run, and the
//! console's memory growth during the upload.

use std::process::{Command, Stdio};
use std::time::Instant;

use super::weed::{ACCESS, SECRET, Weed, start_weed, weed_binary};
use super::{BenchArgs, Cli, MIB, peak_above, warm, write_fixture};
use crate::deploy::s3::{S3Config, S3Store};
use crate::deploy::store::{Holds, Meta, ObjectStore as _};

const BUCKET: &str = "bench";

const BOTO3: &str = r#"
import sys, time, boto3
from botocore.config import Config
endpoint, access, secret, bucket, what = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access,
                  aws_secret_access_key=secret, region_name="us-east-1")
if what == "bucket":
    for attempt in range(50):
        try:
            s3.create_bucket(Bucket=bucket)
            break
        except Exception:
            if attempt == 49:
                raise
            time.sleep(0.2)
else:
    path, key = sys.argv[6:8]
    t = time.perf_counter()
    s3.upload_file(path, bucket, key)
    print(time.perf_counter() - t)
"#;

fn boto3(w: &Weed, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(BOTO3)
        .args([w.endpoint.as_str(), ACCESS, SECRET, BUCKET])
        .args(args)
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run python3: {e}"))?;
    anyhow::ensure!(
        out.status.success(),
        "boto3 failed (pip install boto3): {}",
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or_default()
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub(super) fn publish_bench(cli: &Cli, args: &BenchArgs) -> anyhow::Result<serde_json::Value> {
    let scratch = super::scratch_dir(args)?;
    let big = scratch.join("one-1GiB.bin");
    let size = 1024 * MIB;
    write_fixture(&big, size)?;
    warm(std::slice::from_ref(&big))?;
    let sha = crate::digest::Sha256::from(crate::verify::hash::hash_file(
        &big,
        &std::sync::atomic::AtomicU64::new(0),
        &tokio_util::sync::CancellationToken::new(),
    )?);
    let server_dir = tempfile::tempdir_in(&scratch)?;
    let weed = start_weed(&weed_binary(args), server_dir.path())?;
    boto3(&weed, &["bucket"])?;

    let defaults = crate::workspace::config::PublishConfig::default();
    let part_size = defaults.part_size_mib * MIB;
    let parallel = crate::deploy::default_parallel_parts(part_size);
    let store = S3Store::new(S3Config {
        endpoint: weed.endpoint.clone(),
        bucket: BUCKET.into(),
        region: "us-east-1".into(),
        path_style: true,
        credentials: crate::net::sigv4::Credentials::new(ACCESS.into(), SECRET.into(), None),
        part_size,
        multipart_threshold: defaults.multipart_threshold_mib * MIB,
        parallel_parts: parallel,
        uploads_state: server_dir.path().join("uploads.json"),
        workspace: None,
        key_vars: ("AWS_ACCESS_KEY_ID".into(), "AWS_SECRET_ACCESS_KEY".into()),
    })?;
    let meta = Meta {
        content_type: "application/octet-stream".into(),
        cache_control: crate::deploy::IMMUTABLE.into(),
    };
    let (mut ours, mut theirs, mut peak) = (f64::MAX, f64::MAX, 0u64);
    // Alternating, so neither always runs on a warmer server.
    let file = crate::deploy::store::LocalFile {
        path: &big,
        sha256: &sha,
        size,
    };
    for run in 0..2 {
        let key = format!("ours/{run}/installer.bin");
        let (secs, grew) = peak_above(|| {
            let t = Instant::now();
            cli.handle.block_on(store.put_file(
                &key,
                crate::deploy::store::Put {
                    file,
                    meta: &meta,
                    progress: &|_| {},
                },
            ))?;
            Ok(t.elapsed().as_secs_f64())
        })?;
        anyhow::ensure!(
            cli.handle.block_on(store.holds(&key, file))? == Holds::Same,
            "the uploaded object's checksum is not the file's"
        );
        ours = ours.min(secs);
        peak = peak.max(grew);
        let secs: f64 = boto3(
            &weed,
            &[
                "upload",
                big.to_str().unwrap_or_default(),
                &format!("boto3/{run}/installer.bin"),
            ],
        )?
        .parse()
        .map_err(|e| anyhow::anyhow!("boto3's time: {e}"))?;
        theirs = theirs.min(secs);
    }
    let mb_s = |secs: f64| size as f64 / secs / 1e6;
    let ratio = theirs / ours;
    let result = serde_json::json!({
        "bytes": size,
        "part_size_mib": part_size / MIB,
        "parallel_parts": parallel,
        "console_secs": ours,
        "console_mb_per_s": mb_s(ours),
        "boto3_secs": theirs,
        "boto3_mb_per_s": mb_s(theirs),
        "throughput_vs_boto3": ratio,
        "memory_growth_mib": peak as f64 / MIB as f64,
        "meets_0_9x": ratio >= 0.9,
        "meets_64_mib": peak <= 64 * MIB,
    });
    if !cli.json {
        println!(
            "publish 1 GiB to SeaweedFS: console {:.2} s ({:.0} MB/s, {} MiB parts, {parallel} at \
             once), boto3 upload_file {:.2} s ({:.0} MB/s): {ratio:.2}x boto3 (target 0.9x)",
            ours,
            mb_s(ours),
            part_size / MIB,
            theirs,
            mb_s(theirs)
        );
        println!(
            "memory growth during the upload: {:.1} MiB (limit 64 MiB)",
            peak as f64 / MIB as f64
        );
    }
    Ok(result)
}
