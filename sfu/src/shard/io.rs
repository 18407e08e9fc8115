//! The shard's socket loop: binding the UDP socket, the thread and its
//! runtime, and the loop that waits for a command, a datagram or the earliest
//! peer timeout and hands each to the shard (busy time counted here).

use std::cmp::Reverse;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::os::fd::AsRawFd;

use tokio::io::Interest;
use tokio::sync::mpsc;

use super::ingress::Ingress;

use super::{Queues, Shard, ShardMetrics};
use crate::SfuConfig;

const HOUSEKEEPING: Duration = Duration::from_millis(250);
const SOCKET_BUFFER: usize = 4 << 20;
/// Relayed packets taken after the first before the burst is settled.
const RELAY_BURST: usize = 63;

pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, None)?;
    // Bursts of one frame to many subscribers must not overflow the kernel
    // buffers; the kernel caps these at its own maximum.
    let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = s.set_send_buffer_size(SOCKET_BUFFER);
    s.bind(&addr.into())?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

pub fn run(
    idx: usize,
    socket: std::net::UdpSocket,
    advertised: SocketAddr,
    cfg: SfuConfig,
    queues: Queues,
    metrics: Arc<ShardMetrics>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(shard = idx, error = %e, "sfu shard could not start");
            return;
        }
    };
    rt.block_on(async move {
        let socket = match tokio::net::UdpSocket::from_std(socket) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                tracing::error!(shard = idx, error = %e, "sfu shard socket");
                return;
            }
        };
        let mut shard = Shard::new(idx, socket.clone(), advertised, cfg, metrics);
        shard.siblings = queues.siblings;
        shard.run(socket, queues.commands, queues.relayed).await;
    });
}

impl Shard {
    pub(super) async fn run(
        mut self,
        socket: Arc<tokio::net::UdpSocket>,
        mut rx: mpsc::Receiver<crate::ShardCmd>,
        mut relayed: mpsc::Receiver<super::Relayed>,
    ) {
        let mut ingress = Ingress::default();
        // The loop reads the clock; the handlers get the time it read (a
        // datagram's arrival, a command's, a timer's), so their logic is a
        // function of it and testable without sleeping.
        let mut housekeeping = Instant::now() + HOUSEKEEPING;
        loop {
            let wake = self
                .timers
                .peek()
                .map(|Reverse((t, _))| *t)
                .unwrap_or(housekeeping)
                .min(housekeeping);
            tokio::select! {
                biased;
                cmd = rx.recv() => {
                    let Some(cmd) = cmd else { break };
                    let t = Instant::now();
                    self.command(cmd, t);
                    self.process_work(t);
                    self.metrics.busy_ns.fetch_add(t.elapsed().as_nanos() as u64, Relaxed);
                }
                r = relayed.recv() => {
                    // Media from a room's home shard; what else is queued
                    // goes with it, then the subscribers are drained once.
                    let t = Instant::now();
                    if let Some(r) = r {
                        self.relayed(r);
                        for _ in 0..RELAY_BURST {
                            match relayed.try_recv() {
                                Ok(r) => self.relayed(r),
                                Err(_) => break,
                            }
                        }
                        self.process_work(t);
                    }
                    self.metrics.busy_ns.fetch_add(t.elapsed().as_nanos() as u64, Relaxed);
                }
                r = socket.readable() => {
                    // What is waiting, in one recvmmsg (a burst: a keyframe's
                    // packets), handed in before the subscribers are drained
                    // and sent to: each subscriber is drained once a burst.
                    let t = Instant::now();
                    if r.is_ok() {
                        let fd = socket.as_raw_fd();
                        if let Ok(n) = socket.try_io(Interest::READABLE, || ingress.read(fd)) {
                            for (d, src) in ingress.datagrams() {
                                self.datagram_in_burst(d, src, t);
                            }
                            if n > 0 {
                                self.process_work(t);
                            }
                        }
                    }
                    self.metrics.busy_ns.fetch_add(t.elapsed().as_nanos() as u64, Relaxed);
                }
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
            let now = Instant::now();
            let t = now;
            self.timers(now);
            if now >= housekeeping {
                self.housekeeping(now);
                housekeeping = now + HOUSEKEEPING;
            }
            self.flush();
            self.metrics.busy_ns.fetch_add(t.elapsed().as_nanos() as u64, Relaxed);
        }
        tracing::info!(shard = self.idx, "sfu shard stopped");
    }
}
