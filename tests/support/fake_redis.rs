//! A fake Redis server for tests: a small tokio TCP server on 127.0.0.1 (port 0) that
//! speaks just enough RESP2 for the collector — `PING`, `INFO <section>`, `ROLE`,
//! `CONFIG GET *` — and answers with what a test wants a hostile server to say: any
//! path as `INFO server` `config_file`, or a `CONFIG GET *` reply of any size, streamed
//! so the fake itself holds none of it. Runs on its own thread and runtime until
//! dropped.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What `CONFIG GET *` answers.
#[derive(Debug, Clone, Copy)]
pub enum ConfigReply {
    /// A handful of real settings.
    Normal,
    /// `pairs` settings of `value_len`-byte values, streamed.
    Huge { pairs: usize, value_len: usize },
}

pub struct FakeRedis {
    pub port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeRedis {
    /// Starts a server whose `INFO server` names `config_file`.
    pub fn start(config_file: &str, reply: ConfigReply) -> FakeRedis {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config_file = config_file.to_owned();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                let accept = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else { continue };
                        let config_file = config_file.clone();
                        tokio::spawn(async move {
                            let _ = serve(stream, &config_file, reply).await;
                        });
                    }
                };
                tokio::select! {
                    () = accept => {}
                    _ = stopped => {}
                }
            });
            // Connections still being served are dropped with the runtime.
            rt.shutdown_timeout(Duration::from_secs(1));
        });
        FakeRedis { port, stop: Some(stop), thread: Some(thread) }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for FakeRedis {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(stream: TcpStream, config_file: &str, reply: ConfigReply) -> std::io::Result<()> {
    let mut stream = BufReader::new(stream);
    loop {
        let Some(args) = command(&mut stream).await? else { return Ok(()) };
        let words: Vec<String> = args.iter().map(|a| a.to_ascii_uppercase()).collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let out = stream.get_mut();
        match words.as_slice() {
            ["PING", ..] => out.write_all(b"+PONG\r\n").await?,
            ["INFO", section, ..] => {
                let text = info(section, config_file);
                out.write_all(format!("${}\r\n{text}\r\n", text.len()).as_bytes()).await?;
            }
            ["ROLE"] => out.write_all(b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n").await?,
            ["CONFIG", "GET", ..] => config_get(out, reply).await?,
            _ => out.write_all(b"+OK\r\n").await?,
        }
        out.flush().await?;
    }
}

/// One client command (a RESP array of bulk strings); `None` at end of stream.
async fn command(stream: &mut BufReader<TcpStream>) -> std::io::Result<Option<Vec<String>>> {
    let mut line = String::new();
    if stream.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let n: usize = line.trim().trim_start_matches('*').parse().unwrap_or(0);
    let mut args = Vec::with_capacity(n);
    for _ in 0..n {
        line.clear();
        stream.read_line(&mut line).await?;
        let len: usize = line.trim().trim_start_matches('$').parse().unwrap_or(0);
        let mut arg = vec![0; len + 2];
        stream.read_exact(&mut arg).await?;
        arg.truncate(len);
        args.push(String::from_utf8_lossy(&arg).into_owned());
    }
    Ok(Some(args))
}

fn info(section: &str, config_file: &str) -> String {
    match section {
        "SERVER" => format!(
            "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n\
             config_file:{config_file}\r\nuptime_in_seconds:100\r\n"
        ),
        "REPLICATION" => {
            "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:0\r\n".into()
        }
        "PERSISTENCE" => "# Persistence\r\nloading:0\r\naof_enabled:0\r\n".into(),
        "MEMORY" => "# Memory\r\nused_memory:1000000\r\nused_memory_rss:2000000\r\n".into(),
        _ => String::new(),
    }
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

async fn config_get(out: &mut TcpStream, reply: ConfigReply) -> std::io::Result<()> {
    match reply {
        ConfigReply::Normal => {
            let pairs = [
                ("maxmemory", "104857600"),
                ("maxmemory-policy", "allkeys-lru"),
                ("port", "6379"),
                ("bind", "127.0.0.1"),
                ("protected-mode", "yes"),
                ("appendonly", "no"),
                ("save", "3600 1 300 100 60 10000"),
                ("requirepass", ""),
            ];
            let mut text = format!("*{}\r\n", pairs.len() * 2);
            for (k, v) in pairs {
                text += &bulk(k);
                text += &bulk(v);
            }
            out.write_all(text.as_bytes()).await
        }
        ConfigReply::Huge { pairs, value_len } => {
            out.write_all(format!("*{}\r\n", pairs * 2).as_bytes()).await?;
            let value = "v".repeat(value_len);
            let mut chunk = String::new();
            for i in 0..pairs {
                chunk += &bulk(&format!("setting-{i:07}"));
                chunk += &bulk(&value);
                if chunk.len() > 64 * 1024 {
                    // The client hangs up once it has had enough: stop there.
                    out.write_all(chunk.as_bytes()).await?;
                    chunk.clear();
                }
            }
            out.write_all(chunk.as_bytes()).await
        }
    }
}
