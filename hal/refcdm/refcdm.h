/*
 * Private declarations of drmkit's reference CDM (libdrmkit_refcdm.so). Nothing here is exported:
 * the library is built with -fvisibility=hidden and only the functions declared in
 * drmkit/open_cdm.h and drmkit/refcdm_control.h are visible.
 *
 * Locking rules (see docs/reference-cdm.md, "Threads"):
 *   - g_lock (registry.c) guards the system/session registries, reference counts, the callback
 *     queue and the worker thread state.
 *   - each session's `mu` guards that session's keys and state.
 *   - a session's `mu` may be held while taking g_lock, never the reverse.
 *   - no lock is ever held while a client callback runs.
 */
#ifndef DRMKIT_REFCDM_PRIVATE_H
#define DRMKIT_REFCDM_PRIVATE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "drmkit/open_cdm.h"
#include "drmkit/refcdm_control.h"

#define RC_MAX_KID 16
#define RC_KEY_LEN 16
#define RC_MAX_KEYS 256      /* keys per session */
#define RC_MAX_ID 64         /* session id characters (without NUL) */
#define RC_MAX_LICENSE 65535 /* uint16 on the OCDM wire */

typedef enum {
    KS_CLEARKEY = 0,
    KS_WIDEVINE = 1,
    KS_PLAYREADY = 2,
    KS_NETFLIX = 3
} rc_ks;

/* ---- small codecs (codec.c) ------------------------------------------------------------------ */

/* Decodes standard or URL-safe base64, padding optional (but correct when present). Returns the
 * decoded length or -1 on a bad character, bad padding or an output longer than `cap`. */
long rc_b64_decode(const char* in, size_t inlen, uint8_t* out, size_t cap);
/* Encodes; `url` selects the RFC 4648 §5 alphabet; `pad` adds '='. Returns chars written (NUL
 * added), or -1 if `cap` is too small. */
long rc_b64_encode(const uint8_t* in, size_t inlen, char* out, size_t cap, int url, int pad);
void rc_hex(const uint8_t* in, size_t n, char* out); /* out: 2n+1 chars */
long rc_unhex(const char* in, size_t inlen, uint8_t* out, size_t cap);
/* UTF-16LE to UTF-8. Returns the UTF-8 length (NUL added) or -1 on odd length, unpaired
 * surrogates, an embedded NUL or an output that does not fit. */
long rc_utf16le_to_utf8(const uint8_t* in, size_t inlen, char* out, size_t cap);
int rc_random(uint8_t* out, size_t n); /* 0 on success */

/* ---- JSON (json.c) --------------------------------------------------------------------------- */

typedef enum { JT_OBJ = 1, JT_ARR, JT_STR, JT_NUM, JT_TRUE, JT_FALSE, JT_NULL } rc_jtype;

typedef struct {
    uint8_t type;
    uint32_t start; /* first byte of the value (strings: after the quote) */
    uint32_t end;   /* one past the last byte (strings: the closing quote) */
    uint32_t size;  /* objects: members; arrays: elements */
    uint32_t next;  /* token index after this value's subtree */
} rc_jtok;

typedef struct {
    const char* src;
    size_t len;
    rc_jtok* t;
    uint32_t n;
    uint32_t cap;
} rc_json;

/* Strict RFC 8259 parse of one value (any whitespace around it). Returns 0 or -1. */
int rc_json_parse(rc_json* j, const char* src, size_t len);
void rc_json_free(rc_json* j);
/* Value token of member `key` of object `obj`: -1 when absent, -2 when present twice. */
long rc_json_get(const rc_json* j, uint32_t obj, const char* key);
/* Decoded string value. Returns the decoded length (NUL added) or -1. */
long rc_json_str(const rc_json* j, uint32_t tok, char* out, size_t cap);
int rc_json_int(const rc_json* j, uint32_t tok, int64_t* v);
/* Index of element `i` of an array / member value `i` of an object (no bounds check on i). */
uint32_t rc_json_first(const rc_json* j, uint32_t container);
int rc_json_key_is(const rc_json* j, uint32_t keytok, const char* key);

/* Minimal JSON writer into a fixed buffer; `overflow` is set instead of writing past the end. */
typedef struct {
    char* buf;
    size_t cap;
    size_t len;
    int overflow;
} rc_sb;
void rc_sb_init(rc_sb* sb, char* buf, size_t cap);
void rc_sb_raw(rc_sb* sb, const char* s);
void rc_sb_mem(rc_sb* sb, const char* s, size_t n);
void rc_sb_fmt(rc_sb* sb, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void rc_sb_jstr(rc_sb* sb, const char* s, size_t n); /* quoted, escaped JSON string */
void rc_sb_xml(rc_sb* sb, const char* s, size_t n);  /* XML-escaped text */

/* ---- init data (initdata.c) ------------------------------------------------------------------ */

typedef struct {
    uint8_t len;
    uint8_t b[RC_MAX_KID];
} rc_kid;

#define RC_MAX_INIT_KIDS 64

typedef struct {
    rc_kid kids[RC_MAX_INIT_KIDS];
    unsigned nkids;
    /* Widevine PSSH data */
    int have_widevine;
    char provider[128];
    uint8_t content_id[256];
    unsigned content_id_len;
    uint32_t protection_scheme;
    /* PlayReady header */
    int have_playready;
    char pr_version[16];
    char la_url[1024];
    /* first error, for messages */
    char error[160];
} rc_initdata;

int rc_kid_eq(const rc_kid* a, const uint8_t* kid, size_t len); /* raw or PlayReady GUID swap */
/* ClearKey: "keyids", "cenc", "webm". 0 or -1 (with `out->error`). */
int rc_parse_clearkey_initdata(const char* type, const uint8_t* d, size_t n, rc_initdata* out);
/* Widevine: "cenc" (PSSH boxes with Widevine data) or "webm". */
int rc_parse_widevine_initdata(const char* type, const uint8_t* d, size_t n, rc_initdata* out);
/* PlayReady: sniffed -- PSSH boxes, a bare PRO, or a WRMHEADER (UTF-16LE or UTF-8). */
int rc_parse_playready_initdata(const uint8_t* d, size_t n, rc_initdata* out);
/* Lower-level parsers, exposed for the fuzz harnesses. */
int rc_parse_pssh_boxes(const uint8_t* d, size_t n, rc_initdata* out, int want_common,
                        int want_widevine, int want_playready, int* found);
int rc_parse_widevine_pssh_data(const uint8_t* d, size_t n, rc_initdata* out);
int rc_parse_playready_object(const uint8_t* d, size_t n, rc_initdata* out);
int rc_parse_wrmheader_utf16(const uint8_t* d, size_t n, rc_initdata* out);
int rc_parse_wrmheader_xml(const char* xml, size_t n, rc_initdata* out);

/* ---- decrypt engine (engine.c) --------------------------------------------------------------- */

typedef struct {
    rc_kid kid;
    uint8_t key[RC_KEY_LEN];
    int has_key;    /* 0: only known from init data (pending) */
    KeyStatus status;
    void* ctr;      /* EVP_CIPHER_CTX*, created on first use */
    void* cbc;
} rc_key;

typedef struct {
    EncryptionScheme scheme;
    uint32_t crypt;
    uint32_t skip;
    uint8_t iv[16];
    const SubSampleInfo* sub;
    uint32_t nsub;
    int raw_counter_context; /* Netflix initWithLast15 */
    uint8_t byte_offset;
} rc_sample;

/* Decrypts in place. Returns ERROR_NONE, ERROR_INVALID_ARG (map/pattern) or ERROR_UNKNOWN
 * (crypto failure). */
OpenCDMError rc_decrypt(rc_key* key, uint8_t* buf, uint32_t len, const rc_sample* smp);
void rc_key_free_ctx(rc_key* key);

/* ---- sessions, systems, registry (registry.c) ------------------------------------------------ */

typedef struct rc_pending_stop {
    uint8_t id[16];
    char session_id[RC_MAX_ID + 1];
    int64_t start;
} rc_pending_stop;

struct OpenCDMSystem {
    uint32_t magic;
    struct OpenCDMSystem* next;
    rc_ks ks;
    char name[64];
    int secure_stop_enabled;
    uint8_t* server_cert;
    size_t server_cert_len;
    uint64_t sessions_created;
    rc_pending_stop stops[64]; /* PlayReady secure stops (g_lock) */
    unsigned nstops;
};

struct OpenCDMSession {
    /* Fields every call touches (handle check, reference, lock, key lookup) come first, so that a
     * call on one of thousands of sessions (not in cache) reads as few cache lines as possible. */
    uint32_t magic;
    int refs;           /* internal references (g_lock) */
    int user_refs;      /* construct + get_session AddRefs (g_lock) */
    int dead;           /* destructed: callbacks revoked (g_lock) */
    int free_on_zero;   /* destructed from the worker thread (g_lock) */
    pthread_mutex_t mu; /* guards `keys` .. `closed` and everything after `ud` */
    rc_key* keys;
    unsigned nkeys;
    unsigned capkeys;
    int closed;

    struct OpenCDMSession* next; /* registry list, newest first (g_lock) */
    struct OpenCDMSession* prev; /* (g_lock) */
    uint64_t reg_seq;            /* registration order, for rc_session_find (g_lock) */

    rc_ks ks;
    char ks_name[64];
    struct OpenCDMSystem* system; /* may dangle after destruct_system: compare, never deref */
    char id[RC_MAX_ID + 1];
    LicenseType ltype;
    OpenCDMSessionCallbacks* cbs;
    void* ud;

    int removed;
    int loadable;        /* constructed with "persistent-session-id" */
    OpenCDMError last_error;
    char buffer_id[RC_MAX_ID + 16];
    rc_initdata* init;   /* parsed init data (kids, urls) */
    uint8_t* cdm_data;
    size_t cdm_data_len;
    /* PlayReady ext */
    uint8_t* drm_header;
    size_t drm_header_len;
    uint8_t* challenge;  /* cached get_challenge_data result */
    size_t challenge_len;
    int bound;           /* index+1 of the key bound by select_key_id */
    int props_posted;
    /* metrics */
    uint64_t n_decrypts, n_decrypt_bytes, n_decrypt_errors, n_updates, n_callbacks;
};

#define RC_SYSTEM_MAGIC 0x53594d52u
#define RC_SESSION_MAGIC 0x53455352u

extern pthread_mutex_t g_lock;

/* Validates a session pointer against the registry and takes an internal reference. */
struct OpenCDMSession* rc_session_acquire(const struct OpenCDMSession* s);
void rc_session_release(struct OpenCDMSession* s);
int rc_system_valid(const struct OpenCDMSystem* sys); /* takes g_lock */
int rc_system_registered_locked(const struct OpenCDMSystem* sys);
/* Finds a live session by key system (NULL = any) and id; returns it acquired or NULL. */
struct OpenCDMSession* rc_session_find(const char* id);
/* Sets s->id (under g_lock) unless another live session of the key system has it: 0 or -1. */
int rc_session_claim_id(struct OpenCDMSession* s, const char* id);
/* Registers a new session (0), or -1 when the registry cannot grow (nothing changed). */
int rc_registry_add_session(struct OpenCDMSession* s);
void rc_registry_add_system(struct OpenCDMSystem* sys);
int rc_registry_remove_system(struct OpenCDMSystem* sys); /* 0, or -1 if not registered */
/* opencdm_destruct_session: Release; at zero revoke callbacks, wait for in-flight ones, free. */
OpenCDMError rc_session_destruct(struct OpenCDMSession* s);
/* Acquires every live session (optionally of one system) whose key `kid` is Usable; returns the
 * first such session with an extra user reference, or NULL. */
struct OpenCDMSession* rc_session_with_usable_key(const struct OpenCDMSystem* sys,
                                                  const uint8_t* kid, size_t len);
void rc_session_free(struct OpenCDMSession* s);
void rc_stats(unsigned* systems, unsigned* sessions, unsigned* pending);
void rc_registry_atfork_child(void); /* g_lock held */

/* ---- worker / callbacks (worker.c) ----------------------------------------------------------- */

/* Queue callbacks for `s` (each holds a session reference until it has run). */
void rc_post_challenge(struct OpenCDMSession* s, const char* url, const uint8_t* data, size_t len);
void rc_post_key_update(struct OpenCDMSession* s, const rc_kid* kid);
void rc_post_error(struct OpenCDMSession* s, const char* msg);
void rc_post_keys_updated(struct OpenCDMSession* s);
/* Waits until everything queued before the call has been delivered (returns at once on the
 * worker thread). */
void rc_flush(void);
int rc_on_worker(void);
/* g_lock held: drop queued callbacks of a destructed session. */
void rc_drop_jobs_locked(struct OpenCDMSession* s);
unsigned rc_pending_locked(void);
void rc_worker_stop(void);
void rc_worker_maybe_stop(void);

/* ---- configuration, fault injection (control.c) ---------------------------------------------- */

int rc_cfg_ocdm_challenge(void);
/* Quirk switches (drmkit_refcdm_configure {"quirks": [...]}); the index order is QUIRK_NAMES. */
enum {
    Q_INVERTED_LOAD = 0,
    Q_INVERTED_REMOVE = 1,
    Q_CREATE_EXT_INVALID_ARG = 2,
    Q_EMPTY_ID_ON_FAILURE = 3,
    Q_CLEARKEY_SILENT_LICENSE_ERRORS = 4,
    Q_UNKNOWN_KID_INTERNAL_ERROR = 5,
    Q_EMPTY_CHALLENGE_ON_FAILURE = 6
};
int rc_quirk(unsigned q);
/* Store directory; with `create`, created (0700) if missing. 0 or -1. Readers do not create it,
 * so temporary sessions never touch the file system. */
int rc_store_dir(char* out, size_t cap, int create);
/* Applies injected faults for an operation: sleeps, may post an error callback to `s`.
 * Returns 0 to proceed or the OpenCDMError to return. */
uint32_t rc_inject(rc_ks ks, const char* op, struct OpenCDMSession* s);
const char* rc_ks_name(rc_ks ks);
int rc_ks_from_name(const char* name, rc_ks* ks);

/* ---- key systems (keysys.c) ------------------------------------------------------------------ */

/* All take a session whose `mu` is held, unless noted. */
OpenCDMError rc_ks_construct(struct OpenCDMSession* s, const char* init_type, const uint8_t* init,
                             size_t init_len);
OpenCDMError rc_ks_update(struct OpenCDMSession* s, const uint8_t* msg, size_t len);
OpenCDMError rc_ks_load(struct OpenCDMSession* s);
OpenCDMError rc_ks_remove(struct OpenCDMSession* s);
void rc_ks_renewal(struct OpenCDMSession* s);
OpenCDMError rc_ks_store_license(struct OpenCDMSession* s, const uint8_t* lic, size_t len,
                                 uint8_t* ssid);
OpenCDMError rc_ks_build_challenge(struct OpenCDMSession* s, int ldl);
OpenCDMError rc_ks_set_drm_header(struct OpenCDMSession* s, const uint8_t* d, size_t n);
rc_key* rc_session_key(struct OpenCDMSession* s, const uint8_t* kid, size_t len);
rc_key* rc_session_add_kid(struct OpenCDMSession* s, const rc_kid* kid);
void rc_session_post_all_statuses(struct OpenCDMSession* s);
int rc_status_from_name(const char* name, KeyStatus* st);
void rc_new_session_id(struct OpenCDMSession* s);
void rc_status_changed(void); /* wakes opencdm_get_session waiters */
extern pthread_mutex_t g_status_mu;
extern pthread_cond_t g_status_cond;
extern uint64_t g_status_epoch; /* g_status_mu */
int rc_secure_stop_add(struct OpenCDMSystem* sys, const uint8_t id[16], const char* session_id);

/* ---- persistent records (store.c) ------------------------------------------------------------ */

int rc_record_save(const struct OpenCDMSession* s);
int rc_record_exists(rc_ks ks, const char* id);
/* Reads the record into the session's keys. 0, -1 (absent) or -2 (corrupt). */
int rc_record_load(struct OpenCDMSession* s);
int rc_record_delete(rc_ks ks, const char* id);
/* PlayReady "drmstore": appended on license storage; hashed by the ext hash calls. */
int rc_drmstore_append(const char* line);
int rc_drmstore_hash(uint8_t out[32]);
int rc_drmstore_delete(void);

#endif
