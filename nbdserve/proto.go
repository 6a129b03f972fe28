package nbdserve

// Wire constants of the NBD protocol, named exactly as in doc/proto.md of
// the NetworkBlockDevice/nbd repository so that each one can be grepped
// against the specification. All integers on the wire are big-endian.

// Magic numbers.
const (
	NBDMAGIC                   uint64 = 0x4e42444d41474943 // "NBDMAGIC", INIT_PASSWD
	IHAVEOPT                   uint64 = 0x49484156454F5054 // "IHAVEOPT"
	NBD_REP_MAGIC              uint64 = 0x3e889045565a9    // option reply magic
	NBD_REQUEST_MAGIC          uint32 = 0x25609513
	NBD_SIMPLE_REPLY_MAGIC     uint32 = 0x67446698
	NBD_STRUCTURED_REPLY_MAGIC uint32 = 0x668e33ef
)

// Handshake flags (server, 16 bits).
const (
	NBD_FLAG_FIXED_NEWSTYLE uint16 = 1 << 0
	NBD_FLAG_NO_ZEROES      uint16 = 1 << 1
)

// Client flags (32 bits).
const (
	NBD_FLAG_C_FIXED_NEWSTYLE uint32 = 1 << 0
	NBD_FLAG_C_NO_ZEROES      uint32 = 1 << 1
)

// Transmission flags (16 bits).
const (
	NBD_FLAG_HAS_FLAGS         uint16 = 1 << 0
	NBD_FLAG_READ_ONLY         uint16 = 1 << 1
	NBD_FLAG_SEND_FLUSH        uint16 = 1 << 2
	NBD_FLAG_SEND_FUA          uint16 = 1 << 3
	NBD_FLAG_ROTATIONAL        uint16 = 1 << 4
	NBD_FLAG_SEND_TRIM         uint16 = 1 << 5
	NBD_FLAG_SEND_WRITE_ZEROES uint16 = 1 << 6
	NBD_FLAG_SEND_DF           uint16 = 1 << 7
	NBD_FLAG_CAN_MULTI_CONN    uint16 = 1 << 8
	NBD_FLAG_SEND_RESIZE       uint16 = 1 << 9
	NBD_FLAG_SEND_CACHE        uint16 = 1 << 10
	NBD_FLAG_SEND_FAST_ZERO    uint16 = 1 << 11
)

// Option types.
const (
	NBD_OPT_EXPORT_NAME       uint32 = 1
	NBD_OPT_ABORT             uint32 = 2
	NBD_OPT_LIST              uint32 = 3
	NBD_OPT_PEEK_EXPORT       uint32 = 4
	NBD_OPT_STARTTLS          uint32 = 5
	NBD_OPT_INFO              uint32 = 6
	NBD_OPT_GO                uint32 = 7
	NBD_OPT_STRUCTURED_REPLY  uint32 = 8
	NBD_OPT_LIST_META_CONTEXT uint32 = 9
	NBD_OPT_SET_META_CONTEXT  uint32 = 10
	NBD_OPT_EXTENDED_HEADERS  uint32 = 11
)

// Option reply types. Errors have bit 31 set.
const (
	NBD_REP_ACK          uint32 = 1
	NBD_REP_SERVER       uint32 = 2
	NBD_REP_INFO         uint32 = 3
	NBD_REP_META_CONTEXT uint32 = 4

	NBD_REP_FLAG_ERROR          uint32 = 1 << 31
	NBD_REP_ERR_UNSUP           uint32 = NBD_REP_FLAG_ERROR + 1
	NBD_REP_ERR_POLICY          uint32 = NBD_REP_FLAG_ERROR + 2
	NBD_REP_ERR_INVALID         uint32 = NBD_REP_FLAG_ERROR + 3
	NBD_REP_ERR_PLATFORM        uint32 = NBD_REP_FLAG_ERROR + 4
	NBD_REP_ERR_TLS_REQD        uint32 = NBD_REP_FLAG_ERROR + 5
	NBD_REP_ERR_UNKNOWN         uint32 = NBD_REP_FLAG_ERROR + 6
	NBD_REP_ERR_SHUTDOWN        uint32 = NBD_REP_FLAG_ERROR + 7
	NBD_REP_ERR_BLOCK_SIZE_REQD uint32 = NBD_REP_FLAG_ERROR + 8
	NBD_REP_ERR_TOO_BIG         uint32 = NBD_REP_FLAG_ERROR + 9
)

// Information types of NBD_REP_INFO (NBD_OPT_INFO and NBD_OPT_GO).
const (
	NBD_INFO_EXPORT      uint16 = 0
	NBD_INFO_NAME        uint16 = 1
	NBD_INFO_DESCRIPTION uint16 = 2
	NBD_INFO_BLOCK_SIZE  uint16 = 3
)

// Request types.
const (
	NBD_CMD_READ         uint16 = 0
	NBD_CMD_WRITE        uint16 = 1
	NBD_CMD_DISC         uint16 = 2
	NBD_CMD_FLUSH        uint16 = 3
	NBD_CMD_TRIM         uint16 = 4
	NBD_CMD_CACHE        uint16 = 5
	NBD_CMD_WRITE_ZEROES uint16 = 6
	NBD_CMD_BLOCK_STATUS uint16 = 7
)

// Command flags.
const (
	NBD_CMD_FLAG_FUA       uint16 = 1 << 0
	NBD_CMD_FLAG_NO_HOLE   uint16 = 1 << 1
	NBD_CMD_FLAG_DF        uint16 = 1 << 2
	NBD_CMD_FLAG_REQ_ONE   uint16 = 1 << 3
	NBD_CMD_FLAG_FAST_ZERO uint16 = 1 << 4
)

// Structured reply flags and types.
const (
	NBD_REPLY_FLAG_DONE uint16 = 1 << 0

	NBD_REPLY_TYPE_NONE         uint16 = 0
	NBD_REPLY_TYPE_OFFSET_DATA  uint16 = 1
	NBD_REPLY_TYPE_OFFSET_HOLE  uint16 = 2
	NBD_REPLY_TYPE_BLOCK_STATUS uint16 = 5
	NBD_REPLY_TYPE_ERROR        uint16 = 1<<15 + 1
	NBD_REPLY_TYPE_ERROR_OFFSET uint16 = 1<<15 + 2
)

// Flags of the base:allocation metadata context.
const (
	NBD_STATE_HOLE uint32 = 1 << 0
	NBD_STATE_ZERO uint32 = 1 << 1
)

// Error values of the reply error field.
const (
	NBD_EPERM     uint32 = 1
	NBD_EIO       uint32 = 5
	NBD_ENOMEM    uint32 = 12
	NBD_EINVAL    uint32 = 22
	NBD_ENOSPC    uint32 = 28
	NBD_EOVERFLOW uint32 = 75
	NBD_ENOTSUP   uint32 = 95
	NBD_ESHUTDOWN uint32 = 108
)

// Sizes of fixed wire structures, in bytes.
const (
	requestSize         = 28 // magic, flags, type, cookie, offset, length
	simpleReplySize     = 16 // magic, error, cookie
	structuredReplySize = 20 // magic, flags, type, cookie, length
	optionHeaderSize    = 16 // IHAVEOPT, option, length
	optionReplySize     = 20 // magic, option, type, length
)

// Names of metadata contexts this server knows.
const (
	metaBaseAllocation = "base:allocation"
	// metaIDBaseAllocation is the context id handed out for base:allocation.
	metaIDBaseAllocation uint32 = 1
)

// Block size constraints advertised with NBD_INFO_BLOCK_SIZE.
const (
	minimumBlockSize   = 1
	preferredBlockSize = 4096
	// DefaultMaxPayload is the largest READ or WRITE this server accepts
	// unless configured otherwise: 32 MiB, what clients assume anyway.
	DefaultMaxPayload = 32 << 20
	// maxOptionData caps the data of one option during the handshake.
	maxOptionData = 64 << 10
	// maxStringLen is the longest string (export name, query) the spec allows.
	maxStringLen = 4096
)
