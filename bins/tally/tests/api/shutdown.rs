//! A stop signal with live streams open: the process ends every stream at once with a final
//! `shutdown` frame and exits within a few seconds (it used to wait ~20 s per open stream's
//! connection, the graceful-stop timeout).

use std::time::{Duration, Instant};

use awc::Client;
use futures_util::StreamExt;

use crate::process::start;

const STREAMS: usize = 100;

#[actix_web::test]
async fn sigterm_with_100_open_streams_ends_them_and_exits_in_under_5_s() {
    let mut server = start(&[("TALLY_HTTP__WORKERS", "2")]);
    let client = Client::builder().timeout(Duration::from_secs(30)).finish();
    let mut readers = Vec::new();
    for i in 0..STREAMS {
        let url = format!("{}/viewer/room-{}", server.api, i % 10);
        let mut res = client.get(url).send().await.expect("a viewer stream");
        assert_eq!(res.status().as_u16(), 200);
        readers.push(actix_web::rt::spawn(async move {
            let mut text = String::new();
            while let Some(chunk) = res.next().await {
                match chunk {
                    Ok(bytes) => text.push_str(&String::from_utf8_lossy(&bytes)),
                    Err(_) => break,
                }
            }
            text
        }));
    }
    // Every stream is open (its `connected` frame is out) before the signal.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;

    let signalled = Instant::now();
    let pid = server.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        status.success(),
        "a stop signal is a clean exit: {status:?}"
    );

    for reader in readers {
        let text = reader.await.expect("reader");
        assert!(text.contains("event: connected"), "{text:?}");
        assert!(
            text.trim_end().ends_with("event: shutdown\ndata: {}"),
            "each stream ends with the shutdown frame: {text:?}"
        );
    }
}
