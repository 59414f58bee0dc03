//! HTTPS without a reverse proxy: `--tls-cert` / `--tls-key` (PEM files) served with rustls (the `ring` provider).
//!
//! The TLS handshake of each connection runs in a task of its own (bounded by [`HANDSHAKE_TIMEOUT`]), so a slow or
//! silent client never holds up the next connection; finished handshakes are handed to `axum::serve` through
//! [`TlsListener`], so the same graceful shutdown and `ConnectInfo` (the TCP peer) apply as over plain HTTP.

use axum::serve::{Listener, ListenerExt};
use axum::Router;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Longest a client may take to finish its TLS handshake before its connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The `Strict-Transport-Security` value sent on every answer when TLS is on: one year, this host only (a plant's
/// domain may still have plain-HTTP machines under it, so no `includeSubDomains`).
pub const HSTS: &str = "max-age=31536000";

/// Read and check a PEM certificate chain and its private key; every failure is one sentence naming the file and
/// the setting, for a startup error.
pub fn load_server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let cert_pem = std::fs::read(cert).map_err(|e| {
        format!(
            "cannot read the TLS certificate {} (--tls-cert / NEUROHUB_TLS_CERT): {e}",
            cert.display()
        )
    })?;
    let key_pem = std::fs::read(key).map_err(|e| {
        format!(
            "cannot read the TLS key {} (--tls-key / NEUROHUB_TLS_KEY): {e}",
            key.display()
        )
    })?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            format!(
                "the TLS certificate {} is not valid PEM: {e}",
                cert.display()
            )
        })?;
    if chain.is_empty() {
        return Err(format!(
            "the TLS certificate {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            cert.display()
        ));
    }
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "the TLS key {} holds no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}",
            key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => format!(
                "the TLS key {} does not belong to the certificate {} (their public keys differ)",
                key.display(),
                cert.display()
            ),
            e => format!(
                "the TLS certificate {} and key {} cannot be used: {e}",
                cert.display(),
                key.display()
            ),
        })?;
    // the router speaks HTTP/1.1 (axum without its http2 feature)
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A listener whose connections have finished their TLS handshake.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: std::io::Result<SocketAddr>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Accept on `tcp`, handshaking each connection in its own task.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> Self {
        let local = tcp.local_addr();
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let accept_task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // out of file descriptors and the like: wait a little instead of spinning
                        tracing::warn!(error = %e, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Self {
            ready,
            local,
            accept_task,
        }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // the accept task ended (it only does when aborted): no more connections
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        match &self.local {
            Ok(a) => Ok(*a),
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        }
    }
}

/// Serve HTTPS on `listener` until `stop` resolves, then finish in-flight requests (as [`crate::serve`]).
pub async fn serve_tls(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    app: Router,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // `tap_io` only to get axum's `ConnectInfo<SocketAddr>` for a listener of our own
    let listener = TlsListener::new(listener, config).tap_io(|_| {});
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop)
    .await
}
