// Package nbdserve is an NBD (Network Block Device) server: the protocol
// of doc/proto.md in the NetworkBlockDevice/nbd repository, served over
// any net.Listener, in front of a storage Backend.
//
// # Protocol
//
// Fixed newstyle handshake with NO_ZEROES; the options EXPORT_NAME, ABORT,
// LIST, STARTTLS, INFO and GO (INFO_EXPORT, INFO_NAME, INFO_DESCRIPTION,
// INFO_BLOCK_SIZE), STRUCTURED_REPLY, LIST_META_CONTEXT and
// SET_META_CONTEXT (base:allocation only). Any other option is answered
// with NBD_REP_ERR_UNSUP. Option data is capped at 64 KiB: a larger option
// gets NBD_REP_ERR_TOO_BIG and the connection is closed.
//
// Commands READ, WRITE (FUA), DISC, FLUSH, TRIM, CACHE, WRITE_ZEROES
// (NO_HOLE, FAST_ZERO) and BLOCK_STATUS (REQ_ONE). Once structured replies
// are negotiated a READ is answered with one NBD_REPLY_TYPE_OFFSET_DATA
// chunk (so DF is honoured trivially), and errors travel as
// NBD_REPLY_TYPE_ERROR chunks with a message. The wire constants are in
// proto.go under the spec's names.
//
// # Pipeline
//
// Each connection has one receiving goroutine, Config.Workers worker
// goroutines and one transmitting goroutine. The receiver decodes and
// checks a request, reads a WRITE's payload, and queues it; a worker makes
// the storage call; the transmitter writes the reply, matched to the
// request by its cookie, only after the storage call has returned. Replies
// go out in completion order. The payload bytes held at once are bounded
// per connection (Config.MaxInFlight) and for the whole server
// (Config.MaxPayloadMemory): the receiver stops reading while either
// bound is reached, so a client that does not read its replies is slowed
// down rather than the server's memory blown up. Payload buffers are
// mapped outside the Go heap and unmapped about a second after the last
// payload in flight is freed, so the memory goes back to the kernel soon
// after a load ends (payload.go). A WRITE whose length exceeds the advertised
// maximum is answered with NBD_EINVAL; its payload is read into a small
// buffer and dropped if it is at most 32 MiB (what the spec says must not
// be taken for an attack), otherwise the connection is closed without
// reading (or allocating) it. NBD_CMD_DISC and a vanished client
// both end the receiver; requests in flight still finish, their buffers
// return to the pools, and the Session is closed.
//
// # TLS
//
// With Config.TLS the server offers TLS through NBD_OPT_STARTTLS
// (LoadTLSConfig reads nbdkit's certificate directory, and can require
// client certificates); with Config.RequireTLS it refuses every option
// but STARTTLS and ABORT before TLS (the spec's FORCEDTLS mode). Options
// negotiated before STARTTLS are forgotten once TLS runs, and plaintext
// sent behind STARTTLS ends the connection (tls.go). TLS-PSK is not
// available: Go's crypto/tls has none.
//
// # Storage
//
// The server knows storage only through Backend: capability answers that
// decide the advertised transmission flags, and the I/O calls. Connect is
// the per-connection hook. Errors map onto NBD error values by errno
// (ErrnoOf), never all to EIO.
//
// File (OpenFile) is the Backend for files, the equivalent of nbdkit's
// file plugin; with FileOptions.Policy, an evict.Policy keeps its writes
// and reads out of the page cache (nbdkit's cache=none), one evict.Stream
// per connection, and Close drains what the policy still holds.
//
// # Caveats
//
// No extended headers (answered NBD_REP_ERR_UNSUP). One
// export per server. Shutdown stops reading requests at once: requests a
// client has sent but the server has not read yet are not answered.
//
// The server budget is shared first come, first served: enough clients
// that never read their replies (MaxPayloadMemory / MaxInFlight of them,
// 16 with the defaults on a large machine) hold all of it, and other
// clients' READs and WRITEs wait until those connections end. That is
// the price of a bound; without one the same clients exhaust memory.
//
// Accept errors that pass (EMFILE, ENFILE, ENOBUFS, ENOMEM,
// ECONNABORTED) are logged once per burst and retried with a backoff of
// up to a second. Beyond Config.MaxConnections a connection is accepted
// and closed at once: its client reads end of file instead of the
// greeting.
package nbdserve
