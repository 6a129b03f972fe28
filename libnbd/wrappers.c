/* See wrappers.h. */
#include <string.h>

#include "wrappers.h"
#include "_cgo_export.h"

static void
save_error (struct wc_error *err)
{
  const char *msg = nbd_get_error ();

  err->msg = strdup (msg ? msg : "unknown libnbd error");
  err->errnum = nbd_get_errno ();
}

/* CHECK evaluates a libnbd call once and saves the error if it returned
 * the failure value FAIL.
 */
#define CHECK(type, fail, call)                 \
  do {                                          \
    type r_ = (call);                           \
    if (r_ == (fail))                           \
      save_error (err);                         \
    return r_;                                  \
  } while (0)

/* Trampolines from libnbd's callback shapes to the exported Go functions. */
static int
completion_tramp (void *ud, int *error)
{
  return wcacheCompletion ((uintptr_t) ud, error);
}

static int
extent_tramp (void *ud, const char *metacontext, uint64_t offset,
              uint32_t *entries, size_t nr_entries, int *error)
{
  return wcacheExtent ((uintptr_t) ud, (char *) metacontext, offset,
                       entries, nr_entries, error);
}

static void
free_tramp (void *ud)
{
  wcacheFree ((uintptr_t) ud);
}

static nbd_completion_callback
completion (uintptr_t ud)
{
  nbd_completion_callback cb = NBD_NULL_COMPLETION;

  if (ud != 0) {
    cb.callback = completion_tramp;
    cb.user_data = (void *) ud;
    cb.free = free_tramp;
  }
  return cb;
}

struct nbd_handle *
wc_create (struct wc_error *err)
{
  CHECK (struct nbd_handle *, NULL, nbd_create ());
}

int
wc_set_handle_name (struct wc_error *err, struct nbd_handle *h, const char *name)
{
  CHECK (int, -1, nbd_set_handle_name (h, name));
}

int
wc_add_meta_context (struct wc_error *err, struct nbd_handle *h, const char *name)
{
  CHECK (int, -1, nbd_add_meta_context (h, name));
}

int
wc_connect_uri (struct wc_error *err, struct nbd_handle *h, const char *uri)
{
  CHECK (int, -1, nbd_connect_uri (h, uri));
}

int
wc_connect_unix (struct wc_error *err, struct nbd_handle *h, const char *path)
{
  CHECK (int, -1, nbd_connect_unix (h, path));
}

int
wc_connect_tcp (struct wc_error *err, struct nbd_handle *h, const char *host,
                const char *port)
{
  CHECK (int, -1, nbd_connect_tcp (h, host, port));
}

int
wc_shutdown (struct wc_error *err, struct nbd_handle *h, uint32_t flags)
{
  CHECK (int, -1, nbd_shutdown (h, flags));
}

static int
query (struct nbd_handle *h, enum wc_query which)
{
  switch (which) {
  case WC_IS_READ_ONLY: return nbd_is_read_only (h);
  case WC_CAN_FLUSH: return nbd_can_flush (h);
  case WC_CAN_FUA: return nbd_can_fua (h);
  case WC_CAN_TRIM: return nbd_can_trim (h);
  case WC_CAN_ZERO: return nbd_can_zero (h);
  case WC_CAN_FAST_ZERO: return nbd_can_fast_zero (h);
  case WC_CAN_DF: return nbd_can_df (h);
  case WC_CAN_MULTI_CONN: return nbd_can_multi_conn (h);
  case WC_CAN_CACHE: return nbd_can_cache (h);
  case WC_IS_ROTATIONAL: return nbd_is_rotational (h);
  case WC_AIO_IN_FLIGHT: return nbd_aio_in_flight (h);
  case WC_AIO_IS_DEAD: return nbd_aio_is_dead (h);
  case WC_AIO_IS_READY: return nbd_aio_is_ready (h);
  case WC_AIO_IS_CLOSED: return nbd_aio_is_closed (h);
  }
  abort ();
}

int
wc_query (struct wc_error *err, struct nbd_handle *h, enum wc_query which)
{
  CHECK (int, -1, query (h, which));
}

int
wc_can_meta_context (struct wc_error *err, struct nbd_handle *h, const char *name)
{
  CHECK (int, -1, nbd_can_meta_context (h, name));
}

const char *
wc_get_protocol (struct wc_error *err, struct nbd_handle *h)
{
  CHECK (const char *, NULL, nbd_get_protocol (h));
}

int64_t
wc_get_size (struct wc_error *err, struct nbd_handle *h)
{
  CHECK (int64_t, -1, nbd_get_size (h));
}

int64_t
wc_get_block_size (struct wc_error *err, struct nbd_handle *h, int size_type)
{
  CHECK (int64_t, -1, nbd_get_block_size (h, size_type));
}

int
wc_pread (struct wc_error *err, struct nbd_handle *h, void *buf, size_t count,
          uint64_t offset, uint32_t flags)
{
  CHECK (int, -1, nbd_pread (h, buf, count, offset, flags));
}

int
wc_pwrite (struct wc_error *err, struct nbd_handle *h, const void *buf,
           size_t count, uint64_t offset, uint32_t flags)
{
  CHECK (int, -1, nbd_pwrite (h, buf, count, offset, flags));
}

int
wc_flush (struct wc_error *err, struct nbd_handle *h, uint32_t flags)
{
  CHECK (int, -1, nbd_flush (h, flags));
}

int
wc_trim (struct wc_error *err, struct nbd_handle *h, uint64_t count,
         uint64_t offset, uint32_t flags)
{
  CHECK (int, -1, nbd_trim (h, count, offset, flags));
}

int
wc_zero (struct wc_error *err, struct nbd_handle *h, uint64_t count,
         uint64_t offset, uint32_t flags)
{
  CHECK (int, -1, nbd_zero (h, count, offset, flags));
}

int
wc_block_status (struct wc_error *err, struct nbd_handle *h, uint64_t count,
                 uint64_t offset, uintptr_t extent_ud, uint32_t flags)
{
  nbd_extent_callback cb = {
    .callback = extent_tramp,
    .user_data = (void *) extent_ud,
    .free = free_tramp,
  };

  CHECK (int, -1, nbd_block_status (h, count, offset, cb, flags));
}

int
wc_poll (struct wc_error *err, struct nbd_handle *h, int timeout)
{
  CHECK (int, -1, nbd_poll (h, timeout));
}

int64_t
wc_aio_pread (struct wc_error *err, struct nbd_handle *h, void *buf,
              size_t count, uint64_t offset, uintptr_t completion_ud,
              uint32_t flags)
{
  CHECK (int64_t, -1,
         nbd_aio_pread (h, buf, count, offset, completion (completion_ud),
                        flags));
}

int64_t
wc_aio_pwrite (struct wc_error *err, struct nbd_handle *h, const void *buf,
               size_t count, uint64_t offset, uintptr_t completion_ud,
               uint32_t flags)
{
  CHECK (int64_t, -1,
         nbd_aio_pwrite (h, buf, count, offset, completion (completion_ud),
                         flags));
}

int64_t
wc_aio_flush (struct wc_error *err, struct nbd_handle *h,
              uintptr_t completion_ud, uint32_t flags)
{
  CHECK (int64_t, -1, nbd_aio_flush (h, completion (completion_ud), flags));
}

int64_t
wc_aio_trim (struct wc_error *err, struct nbd_handle *h, uint64_t count,
             uint64_t offset, uintptr_t completion_ud, uint32_t flags)
{
  CHECK (int64_t, -1,
         nbd_aio_trim (h, count, offset, completion (completion_ud), flags));
}

int64_t
wc_aio_zero (struct wc_error *err, struct nbd_handle *h, uint64_t count,
             uint64_t offset, uintptr_t completion_ud, uint32_t flags)
{
  CHECK (int64_t, -1,
         nbd_aio_zero (h, count, offset, completion (completion_ud), flags));
}

int
wc_aio_command_completed (struct wc_error *err, struct nbd_handle *h,
                          uint64_t cookie)
{
  CHECK (int, -1, nbd_aio_command_completed (h, cookie));
}

int64_t
wc_aio_peek_command_completed (struct wc_error *err, struct nbd_handle *h)
{
  CHECK (int64_t, -1, nbd_aio_peek_command_completed (h));
}
