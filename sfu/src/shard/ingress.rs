//! Batched ingress: the datagrams waiting on the shard's socket are read in
//! one `recvmmsg` (up to [`BURST`]) instead of one `recvfrom` each, and the
//! shard settles them together (each subscriber media was written to gets
//! one timeout round per burst; see `drive::process_work`).

use std::io::IoSliceMut;
use std::net::SocketAddr;
use std::os::fd::RawFd;

use nix::sys::socket::{recvmmsg, MsgFlags, MultiHeaders, SockaddrStorage};

/// Datagrams read in one call at most.
pub(super) const BURST: usize = 16;
/// The largest datagram taken whole (a longer one is cut, as `recvfrom`
/// with this buffer would; nothing a WebRTC peer sends is this long).
const DATAGRAM: usize = 2048;

pub(super) struct Ingress {
    bufs: Vec<Vec<u8>>,
    /// Of the last read: (buffer, length, source) per datagram.
    got: Vec<(usize, usize, SocketAddr)>,
}

impl Default for Ingress {
    fn default() -> Ingress {
        Ingress {
            bufs: (0..BURST).map(|_| vec![0u8; DATAGRAM]).collect(),
            got: Vec::with_capacity(BURST),
        }
    }
}

impl Ingress {
    /// Reads what is waiting, up to `BURST` datagrams, without blocking:
    /// `WouldBlock` when nothing is (so tokio's readiness is cleared).
    pub fn read(&mut self, fd: RawFd) -> std::io::Result<usize> {
        self.got.clear();
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(self.bufs.len(), None);
        let mut iovs: Vec<[IoSliceMut<'_>; 1]> = self.bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
        let got = &mut self.got;
        let msgs =
            recvmmsg(fd, &mut headers, iovs.iter_mut(), MsgFlags::MSG_DONTWAIT, None).map_err(std::io::Error::from)?;
        for (i, m) in msgs.enumerate() {
            if let Some(src) = m.address.as_ref().and_then(socket_addr) {
                got.push((i, m.bytes.min(DATAGRAM), src));
            }
        }
        Ok(got.len())
    }

    /// The datagrams of the last read, in arrival order.
    pub fn datagrams(&self) -> impl Iterator<Item = (&[u8], SocketAddr)> + '_ {
        self.got.iter().map(|(i, n, src)| (&self.bufs[*i][..*n], *src))
    }
}

fn socket_addr(s: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    if let Some(v6) = s.as_sockaddr_in6() {
        return Some(SocketAddr::V6((*v6).into()));
    }
    None
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    #[test]
    fn a_burst_is_read_in_one_call_in_order_with_its_sources() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        rx.set_nonblocking(true).expect("nonblocking");
        let to = rx.local_addr().expect("addr");
        let mut ing = Ingress::default();
        let none = ing.read(rx.as_raw_fd()).expect_err("nothing waiting");
        assert_eq!(none.kind(), std::io::ErrorKind::WouldBlock);
        let (a, b) = (
            std::net::UdpSocket::bind("127.0.0.1:0").expect("bind"),
            std::net::UdpSocket::bind("127.0.0.1:0").expect("bind"),
        );
        for i in 0..(BURST + 2) as u8 {
            let s = if i % 2 == 0 { &a } else { &b };
            s.send_to(&vec![i; usize::from(i) + 1], to).expect("send");
        }
        assert_eq!(ing.read(rx.as_raw_fd()).expect("read"), BURST);
        for (i, (d, src)) in ing.datagrams().enumerate() {
            let from = if i % 2 == 0 { &a } else { &b };
            assert_eq!(src, from.local_addr().expect("addr"));
            assert_eq!(d, vec![i as u8; i + 1].as_slice());
        }
        // The rest come with the next read.
        assert_eq!(ing.read(rx.as_raw_fd()).expect("read"), 2);
        let rest: Vec<usize> = ing.datagrams().map(|(d, _)| d.len()).collect();
        assert_eq!(rest, vec![BURST + 1, BURST + 2]);
    }
}
