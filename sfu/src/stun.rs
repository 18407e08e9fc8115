//! Just enough STUN to route a datagram from an address we have not seen yet:
//! the USERNAME attribute of a binding request is `<our ufrag>:<their ufrag>`,
//! and our ufrag names the peer. Anything else from an unknown address is
//! dropped without touching an `Rtc`.

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const ATTR_USERNAME: u16 = 0x0006;

/// Our ufrag from a STUN message's USERNAME, if this is one.
pub fn local_ufrag(buf: &[u8]) -> Option<&str> {
    // Header: type (2, top two bits 0), length (2), cookie (4), txid (12).
    if buf.len() < 20 || buf[0] & 0xC0 != 0 || buf[4..8] != MAGIC_COOKIE {
        return None;
    }
    let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    let body = buf.get(20..20 + len)?;
    let mut i = 0;
    while i + 4 <= body.len() {
        let t = u16::from_be_bytes([body[i], body[i + 1]]);
        let l = u16::from_be_bytes([body[i + 2], body[i + 3]]) as usize;
        let v = body.get(i + 4..i + 4 + l)?;
        if t == ATTR_USERNAME {
            let s = std::str::from_utf8(v).ok()?;
            return s.split(':').next();
        }
        i += 4 + l.div_ceil(4) * 4;
    }
    None
}

/// The `a=ice-ufrag` of an SDP we produced.
pub fn sdp_ufrag(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=ice-ufrag:"))
        .map(|s| s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(username: &str) -> Vec<u8> {
        let mut attrs = vec![];
        attrs.extend_from_slice(&0x0024u16.to_be_bytes()); // PRIORITY first
        attrs.extend_from_slice(&4u16.to_be_bytes());
        attrs.extend_from_slice(&[0, 0, 0, 1]);
        attrs.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attrs.extend_from_slice(username.as_bytes());
        while attrs.len() % 4 != 0 {
            attrs.push(0);
        }
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(&[7; 12]);
        m.extend_from_slice(&attrs);
        m
    }

    #[test]
    fn finds_our_ufrag() {
        assert_eq!(local_ufrag(&binding("srvA:cliB")), Some("srvA"));
        assert_eq!(local_ufrag(&binding("abcde:f")), Some("abcde"));
    }

    #[test]
    fn ignores_everything_else() {
        assert_eq!(local_ufrag(&[0x80, 0x60, 0, 1]), None); // RTP
        assert_eq!(
            local_ufrag(&[22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            None
        ); // DTLS
        let mut m = binding("x:y");
        m[2] = 0xFF; // length beyond the datagram
        assert_eq!(local_ufrag(&m), None);
        assert_eq!(local_ufrag(&[]), None);
    }

    #[test]
    fn reads_ufrag_from_sdp() {
        assert_eq!(
            sdp_ufrag("v=0\r\na=ice-ufrag:Ab12\r\na=ice-pwd:x\r\n").as_deref(),
            Some("Ab12")
        );
    }
}
