//! Store outages on demand: a *private* moto server (the S3-compatible server
//! `tests/setup/s3.sh` installs) on a free port, so killing it never disturbs the
//! shared one on :9310; and [`Link`], a TCP forwarder in front of it that can be cut
//! and restored while moto keeps its (in-memory) objects, so a test can look at what
//! an interrupted run left behind.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use driftwatch::store::{CloudService, CloudStore, StoreLocation};

pub const BUCKET: &str = "driftwatch-outage";
pub const KEY_ID: &str = "driftwatch";
pub const SECRET: &str = "driftwatch-s3-secret";

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "{what} not ready after {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A moto server of this test alone, killed when dropped.
pub struct PrivateMoto {
    pub port: u16,
    child: Option<Child>,
}

impl PrivateMoto {
    /// Starts moto on a free port and creates [`BUCKET`].
    #[track_caller]
    pub fn start() -> PrivateMoto {
        let mut moto = PrivateMoto { port: free_port(), child: None };
        moto.restart();
        moto
    }

    /// Kills the server: every object is gone with it (moto keeps them in memory).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (empty) and recreates the bucket.
    #[track_caller]
    pub fn restart(&mut self) {
        let moto = super::moto_server();
        assert!(
            moto.exists(),
            "moto is not installed at {}: run `bash tests/setup/s3.sh` (or \
             `bash tests/setup/services.sh`)",
            moto.display()
        );
        self.kill();
        let child = Command::new(&moto)
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        self.child = Some(child);
        let port = self.port;
        wait_until("private moto", Duration::from_secs(30), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT"])
            .arg(format!("http://127.0.0.1:{port}/{BUCKET}"))
            .output()
            .expect("run curl");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "200", "create bucket on moto");
    }

    /// The store at `prefix`, reached directly (not through a [`Link`]), with no retries.
    pub fn location(&self, prefix: &str) -> StoreLocation {
        location(self.port, prefix)
    }
}

impl Drop for PrivateMoto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The S3 store on `127.0.0.1:port` under `prefix`.
pub fn location(port: u16, prefix: &str) -> StoreLocation {
    let options: BTreeMap<String, String> = [
        ("aws_endpoint", format!("http://127.0.0.1:{port}")),
        ("aws_allow_http", "true".to_owned()),
        ("aws_region", "us-east-1".to_owned()),
        ("aws_access_key_id", KEY_ID.to_owned()),
        ("aws_secret_access_key", SECRET.to_owned()),
        ("aws_virtual_hosted_style_request", "false".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    StoreLocation::Cloud(CloudStore {
        service: CloudService::S3,
        url: format!("s3://{BUCKET}/{prefix}"),
        options,
    })
}

/// The `[store]` section of a config whose store is reached on `port`.
pub fn store_section(port: u16, prefix: &str, retries: usize, retry_timeout: &str) -> String {
    format!(
        "[store]\nurl = \"s3://{BUCKET}/{prefix}\"\nendpoint = \"http://127.0.0.1:{port}\"\n\
         region = \"us-east-1\"\nallow_http = true\npath_style = true\n\
         retries = {retries}\nretry_timeout = \"{retry_timeout}\"\n\n"
    )
}

/// A TCP forwarder `127.0.0.1:<port>` → `127.0.0.1:<to>` that can be cut (listener
/// closed, open connections shut: clients see refused and reset connections) and
/// restored on the same port.
pub struct Link {
    pub port: u16,
    to: u16,
    up: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl Link {
    pub fn new(to: u16) -> Link {
        let link = Link {
            port: free_port(),
            to,
            up: Arc::new(AtomicBool::new(false)),
            streams: Arc::new(Mutex::new(Vec::new())),
        };
        link.restore();
        link
    }

    /// Starts forwarding again, on the same port.
    pub fn restore(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("bind link port");
        listener.set_nonblocking(true).unwrap();
        self.up.store(true, Ordering::SeqCst);
        let (up, streams, to) = (self.up.clone(), self.streams.clone(), self.to);
        std::thread::spawn(move || {
            while up.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => forward(client, to, &streams),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            // Dropping the listener here: new connections are refused.
        });
    }

    /// Cuts the link: no new connections, and every open one is shut down.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        // Wait until the accept loop has let go of the port.
        let port = self.port;
        wait_until("link cut", Duration::from_secs(5), || {
            TcpStream::connect(("127.0.0.1", port)).is_err()
        });
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.cut();
    }
}

fn forward(client: TcpStream, to: u16, streams: &Arc<Mutex<Vec<TcpStream>>>) {
    client.set_nonblocking(false).unwrap();
    let Ok(server) = TcpStream::connect(("127.0.0.1", to)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    {
        let mut all = streams.lock().unwrap();
        all.push(client.try_clone().unwrap());
        all.push(server.try_clone().unwrap());
    }
    for (mut from, mut into) in
        [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
    {
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if into.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = into.shutdown(Shutdown::Both);
        });
    }
}
