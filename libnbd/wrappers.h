/* C side of the cgo binding: one wrapper per libnbd call used.
 *
 * libnbd keeps its last error in thread-local storage, and a goroutine
 * may move to another OS thread between two cgo calls, so every wrapper
 * copies the error (message and errno) into *err in the same C call that
 * failed.  The Go side frees err->msg.
 *
 * Callbacks: Go registers its closure as a runtime/cgo.Handle and passes
 * the handle (an integer, never a Go pointer) as "ud"; a zero ud means "no
 * callback".  libnbd hands ud back to the trampolines in wrappers.c, which
 * call the exported Go functions, and calls the free trampoline exactly
 * once when it will not use the callback again, even when the call fails.
 */
#ifndef WCACHE_LIBNBD_WRAPPERS_H
#define WCACHE_LIBNBD_WRAPPERS_H

#include <stdint.h>
#include <stdlib.h>
#include <libnbd.h>

struct wc_error {
  char *msg;
  int errnum;
};

struct nbd_handle *wc_create (struct wc_error *err);

int wc_set_handle_name (struct wc_error *err, struct nbd_handle *h, const char *name);
int wc_add_meta_context (struct wc_error *err, struct nbd_handle *h, const char *name);
int wc_connect_uri (struct wc_error *err, struct nbd_handle *h, const char *uri);
int wc_connect_unix (struct wc_error *err, struct nbd_handle *h, const char *path);
int wc_connect_tcp (struct wc_error *err, struct nbd_handle *h, const char *host, const char *port);
int wc_shutdown (struct wc_error *err, struct nbd_handle *h, uint32_t flags);

/* The capability questions and the aio state checks share one shape:
 * int f(struct nbd_handle *), -1 on error.  which selects the call.
 */
enum wc_query {
  WC_IS_READ_ONLY, WC_CAN_FLUSH, WC_CAN_FUA, WC_CAN_TRIM, WC_CAN_ZERO,
  WC_CAN_FAST_ZERO, WC_CAN_DF, WC_CAN_MULTI_CONN, WC_CAN_CACHE,
  WC_IS_ROTATIONAL, WC_AIO_IN_FLIGHT, WC_AIO_IS_DEAD, WC_AIO_IS_READY,
  WC_AIO_IS_CLOSED,
};
int wc_query (struct wc_error *err, struct nbd_handle *h, enum wc_query which);
int wc_can_meta_context (struct wc_error *err, struct nbd_handle *h, const char *name);
const char *wc_get_protocol (struct wc_error *err, struct nbd_handle *h);

int64_t wc_get_size (struct wc_error *err, struct nbd_handle *h);
int64_t wc_get_block_size (struct wc_error *err, struct nbd_handle *h, int size_type);

int wc_pread (struct wc_error *err, struct nbd_handle *h, void *buf, size_t count, uint64_t offset, uint32_t flags);
int wc_pwrite (struct wc_error *err, struct nbd_handle *h, const void *buf, size_t count, uint64_t offset, uint32_t flags);
int wc_flush (struct wc_error *err, struct nbd_handle *h, uint32_t flags);
int wc_trim (struct wc_error *err, struct nbd_handle *h, uint64_t count, uint64_t offset, uint32_t flags);
int wc_zero (struct wc_error *err, struct nbd_handle *h, uint64_t count, uint64_t offset, uint32_t flags);
int wc_block_status (struct wc_error *err, struct nbd_handle *h, uint64_t count, uint64_t offset, uintptr_t extent_ud, uint32_t flags);

int wc_poll (struct wc_error *err, struct nbd_handle *h, int timeout);
int64_t wc_aio_pread (struct wc_error *err, struct nbd_handle *h, void *buf, size_t count, uint64_t offset, uintptr_t completion_ud, uint32_t flags);
int64_t wc_aio_pwrite (struct wc_error *err, struct nbd_handle *h, const void *buf, size_t count, uint64_t offset, uintptr_t completion_ud, uint32_t flags);
int64_t wc_aio_flush (struct wc_error *err, struct nbd_handle *h, uintptr_t completion_ud, uint32_t flags);
int64_t wc_aio_trim (struct wc_error *err, struct nbd_handle *h, uint64_t count, uint64_t offset, uintptr_t completion_ud, uint32_t flags);
int64_t wc_aio_zero (struct wc_error *err, struct nbd_handle *h, uint64_t count, uint64_t offset, uintptr_t completion_ud, uint32_t flags);
int wc_aio_command_completed (struct wc_error *err, struct nbd_handle *h, uint64_t cookie);
int64_t wc_aio_peek_command_completed (struct wc_error *err, struct nbd_handle *h);

#endif /* WCACHE_LIBNBD_WRAPPERS_H */
