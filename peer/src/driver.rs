//! Drives one str0m `Rtc` in a tokio task: poll its output until a timeout,
//! then wait for a datagram, a command, the handler's next media tick or the
//! timeout, whichever comes first, and feed it back.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::error::PeerError;

/// The state of one peer connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// ICE/DTLS in progress.
    Connecting,
    /// ICE and DTLS are up; media flows.
    Connected,
    /// ICE lost the server (it may come back).
    Disconnected,
    /// The connection is over (closed by us, by an error, or the server).
    Closed,
}

/// What a publisher or subscriber adds to the loop.
pub(crate) trait Handler: Send + 'static {
    type Cmd: Send + 'static;
    fn on_event(&mut self, rtc: &mut Rtc, ev: Event);
    /// When `on_tick` next has something to do (media to write).
    fn next_wakeup(&self) -> Option<Instant>;
    /// True when it wrote media.
    fn on_tick(&mut self, rtc: &mut Rtc, now: Instant) -> bool;
    /// False ends the loop.
    fn on_cmd(&mut self, rtc: &mut Rtc, cmd: Self::Cmd) -> bool;
    fn on_state(&mut self, _state: ConnState) {}
    /// A datagram arrived (before str0m reads it).
    fn on_datagram(&mut self) {}
    /// Whether to drop a received datagram as if the network had lost it
    /// (tests of loss recovery); none by default.
    fn lose(&mut self, _datagram: &[u8]) -> bool {
        false
    }
}

/// A UDP socket on `ip:0` and an `Rtc` (full ICE) with that host candidate.
pub(crate) async fn bind(ip: IpAddr, stats: bool) -> Result<(Rtc, UdpSocket, SocketAddr), PeerError> {
    crate::init_crypto();
    let socket = UdpSocket::bind((ip, 0)).await?;
    let addr = socket.local_addr()?;
    let mut cfg = Rtc::builder()
        .set_ice_lite(false)
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp8(true);
    if stats {
        cfg = cfg.set_stats_interval(Some(Duration::from_secs(1)));
    }
    let mut rtc = cfg.build(Instant::now());
    let cand = Candidate::host(addr, "udp").map_err(|e| PeerError::Rtc(e.to_string()))?;
    rtc.add_local_candidate(cand);
    Ok((rtc, socket, addr))
}

pub(crate) async fn drive<H: Handler>(
    mut rtc: Rtc,
    socket: UdpSocket,
    mut h: H,
    mut cmds: mpsc::UnboundedReceiver<H::Cmd>,
    state: watch::Sender<ConnState>,
) {
    let local = match socket.local_addr() {
        Ok(a) => a,
        Err(_) => return,
    };
    let mut buf = vec![0u8; 2048];
    let set_state = |h: &mut H, s: ConnState| {
        if *state.borrow() != s && *state.borrow() != ConnState::Closed {
            state.send_replace(s);
            h.on_state(s);
        }
    };
    'run: loop {
        // Everything str0m has to say until it wants time to pass.
        let timeout = loop {
            if !rtc.is_alive() {
                break 'run;
            }
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    if let Err(e) = socket.send_to(&t.contents, t.destination).await {
                        tracing::debug!("lyceum-peer: udp send to {}: {e}", t.destination);
                    }
                }
                Ok(Output::Event(ev)) => {
                    match &ev {
                        Event::Connected => set_state(&mut h, ConnState::Connected),
                        Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                            set_state(&mut h, ConnState::Disconnected)
                        }
                        Event::IceConnectionStateChange(
                            IceConnectionState::Connected | IceConnectionState::Completed,
                        ) if *state.borrow() == ConnState::Disconnected => set_state(&mut h, ConnState::Connected),
                        Event::Closed => {
                            break 'run;
                        }
                        _ => {}
                    }
                    h.on_event(&mut rtc, ev);
                }
                Err(e) => {
                    tracing::warn!("lyceum-peer: rtc poll_output: {e}");
                    break 'run;
                }
            }
        };
        let wake = h.next_wakeup().map_or(timeout, |w| w.min(timeout));
        let mut expired = false;
        tokio::select! {
            biased;
            cmd = cmds.recv() => match cmd {
                Some(c) => {
                    if !h.on_cmd(&mut rtc, c) {
                        break 'run;
                    }
                }
                None => break 'run,
            },
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, source)) => {
                    h.on_datagram();
                    if h.lose(&buf[..n]) {
                        continue 'run;
                    }
                    if let Ok(contents) = buf[..n].try_into() {
                        let input = Input::Receive(Instant::now(), Receive { proto: Protocol::Udp, source, destination: local, contents });
                        if let Err(e) = rtc.handle_input(input) {
                            tracing::debug!("lyceum-peer: rtc input from {source}: {e}");
                        }
                    }
                }
                Err(e) => tracing::debug!("lyceum-peer: udp recv: {e}"),
            },
            _ = tokio::time::sleep_until(wake.into()) => expired = true,
        }
        // A received datagram advances str0m's clock by itself; time only
        // needs feeding when a timer expired or media was written.
        let now = Instant::now();
        if h.on_tick(&mut rtc, now) || expired || now >= timeout {
            if let Err(e) = rtc.handle_input(Input::Timeout(now)) {
                tracing::warn!("lyceum-peer: rtc timeout: {e}");
                break;
            }
        }
    }
    // Tell the server (RTCP BYE, DTLS close_notify) before going away.
    if rtc.is_alive() && rtc.close().is_ok() {
        'drain: for _ in 0..4 {
            loop {
                match rtc.poll_output() {
                    Ok(Output::Transmit(t)) => {
                        let _ = socket.try_send_to(&t.contents, t.destination);
                    }
                    Ok(Output::Event(_)) => {}
                    Ok(Output::Timeout(_)) => break,
                    Err(_) => break 'drain,
                }
                if !rtc.is_alive() {
                    break 'drain;
                }
            }
            if rtc.handle_input(Input::Timeout(Instant::now())).is_err() {
                break;
            }
        }
    }
    rtc.disconnect();
    state.send_replace(ConnState::Closed);
    h.on_state(ConnState::Closed);
}

/// Waits until the state is `Connected` (or fails when it is `Closed`).
pub(crate) async fn wait_connected(mut rx: watch::Receiver<ConnState>, timeout: Duration) -> Result<(), PeerError> {
    let r = tokio::time::timeout(
        timeout,
        rx.wait_for(|s| matches!(s, ConnState::Connected | ConnState::Closed)),
    )
    .await;
    match r {
        Err(_) => Err(PeerError::Timeout("ICE/DTLS to connect".into())),
        Ok(Err(_)) => Err(PeerError::Closed),
        Ok(Ok(s)) if *s == ConnState::Connected => Ok(()),
        Ok(Ok(_)) => Err(PeerError::Rtc("the peer connection closed before connecting".into())),
    }
}
