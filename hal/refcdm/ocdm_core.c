/*
 * The exported core OCDM functions (open_cdm.h, "core" part). Handles are validated against the
 * registries; NULL or stale pointers give ERROR_INVALID_ARG / ERROR_INVALID_SESSION.
 */
#define _POSIX_C_SOURCE 200809L /* strict -std=c11: expose POSIX declarations */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "refcdm.h"

#define REFCDM_VERSION "drmkit-refcdm 1.0"

/* ---- systems --------------------------------------------------------------------------------- */

OpenCDMError opencdm_create_system_extended(const char keySystem[], struct OpenCDMSystem** system) {
    if (!system) return ERROR_INVALID_ARG;
    *system = NULL;
    if (!keySystem) return ERROR_INVALID_ARG;
    rc_ks ks;
    if (strlen(keySystem) >= 64 || rc_ks_from_name(keySystem, &ks))
        return ERROR_KEYSYSTEM_NOT_SUPPORTED;
    struct OpenCDMSystem* sys = calloc(1, sizeof *sys);
    if (!sys) return ERROR_OUT_OF_MEMORY;
    sys->magic = RC_SYSTEM_MAGIC;
    sys->ks = ks;
    snprintf(sys->name, sizeof sys->name, "%s", keySystem);
    sys->secure_stop_enabled = 1;
    rc_registry_add_system(sys);
    *system = sys;
    /* faithful R5/master: a shadowed local makes it return ERROR_INVALID_ARG even on success */
    return rc_quirk(Q_CREATE_EXT_INVALID_ARG) ? ERROR_INVALID_ARG : ERROR_NONE;
}

struct OpenCDMSystem* opencdm_create_system(const char keySystem[]) {
    struct OpenCDMSystem* sys = NULL;
    opencdm_create_system_extended(keySystem, &sys);
    return sys;
}

OpenCDMError opencdm_destruct_system(struct OpenCDMSystem* system) {
    if (!system || rc_registry_remove_system(system)) return ERROR_INVALID_ARG;
    free(system->server_cert);
    system->magic = 0;
    free(system);
    rc_worker_maybe_stop();
    return ERROR_NONE;
}

OpenCDMError opencdm_is_type_supported(const char keySystem[], const char mimeType[]) {
    if (!keySystem || !mimeType) return ERROR_INVALID_ARG;
    rc_ks ks;
    return rc_ks_from_name(keySystem, &ks) ? ERROR_KEYSYSTEM_NOT_SUPPORTED : ERROR_NONE;
}

/* Two-pass string: NULL buffer -> MORE_DATA with the size; too small -> truncated, MORE_DATA. */
static OpenCDMError two_pass(const char* value, char* out, uint16_t* size) {
    size_t need = strlen(value) + 1;
    if (need > 0xFFFF) need = 0xFFFF;
    if (!out || *size < need) {
        if (out && *size) {
            memcpy(out, value, *size - 1u);
            out[*size - 1u] = '\0';
        }
        *size = (uint16_t)need;
        return ERROR_MORE_DATA_AVAILABLE;
    }
    memcpy(out, value, need - 1);
    out[need - 1] = '\0';
    *size = (uint16_t)need;
    return ERROR_NONE;
}

/* Snapshot of a system's immutable fields, taken under g_lock. */
static int system_snapshot(const struct OpenCDMSystem* sys, rc_ks* ks, char* name, size_t cap) {
    int ok = 0;
    pthread_mutex_lock(&g_lock);
    if (sys && rc_system_registered_locked(sys)) {
        ok = 1;
        if (ks) *ks = sys->ks;
        if (name) snprintf(name, cap, "%s", sys->name);
    }
    pthread_mutex_unlock(&g_lock);
    return ok;
}

OpenCDMError opencdm_system_get_metadata(struct OpenCDMSystem* system, char metadata[],
                                         uint16_t* metadataSize) {
    char name[64], buf[160];
    if (!metadataSize || !system_snapshot(system, NULL, name, sizeof name))
        return ERROR_INVALID_ARG;
    snprintf(buf, sizeof buf, "{\"key_system\":\"%s\",\"implementation\":\"%s\"}", name,
             REFCDM_VERSION);
    return two_pass(buf, metadata, metadataSize);
}

OpenCDMError opencdm_system_get_version(struct OpenCDMSystem* system, char versionStr[]) {
    if (!versionStr || !system_snapshot(system, NULL, NULL, 0)) return ERROR_INVALID_ARG;
    snprintf(versionStr, 64, "%s", REFCDM_VERSION);
    return ERROR_NONE;
}

OpenCDMError opencdm_system_get_drm_time(struct OpenCDMSystem* system, uint64_t* t) {
    if (!t || !system_snapshot(system, NULL, NULL, 0)) return ERROR_INVALID_ARG;
    *t = (uint64_t)time(NULL);
    return ERROR_NONE;
}

struct OpenCDMSession* opencdm_get_system_session(struct OpenCDMSystem* system,
                                                  const uint8_t keyId[], const uint8_t length,
                                                  const uint32_t waitTime) {
    if (!keyId || length == 0 || length > RC_MAX_KID) return NULL;
    if (system && !rc_system_valid(system)) return NULL;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += waitTime / 1000;
    deadline.tv_nsec += (long)(waitTime % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    for (;;) {
        pthread_mutex_lock(&g_status_mu);
        uint64_t epoch = g_status_epoch;
        pthread_mutex_unlock(&g_status_mu);
        struct OpenCDMSession* s = rc_session_with_usable_key(system, keyId, length);
        if (s) return s;
        /* Unlike Thunder (which never wakes its waiter), re-check whenever a status changes. */
        pthread_mutex_lock(&g_status_mu);
        int timed_out = 0;
        while (g_status_epoch == epoch && !timed_out)
            timed_out = pthread_cond_timedwait(&g_status_cond, &g_status_mu, &deadline) == ETIMEDOUT;
        pthread_mutex_unlock(&g_status_mu);
        if (timed_out) return rc_session_with_usable_key(system, keyId, length);
    }
}

struct OpenCDMSession* opencdm_get_session(const uint8_t keyId[], const uint8_t length,
                                           const uint32_t waitTime) {
    return opencdm_get_system_session(NULL, keyId, length, waitTime);
}

OpenCDMBool opencdm_system_supports_server_certificate(struct OpenCDMSystem* system) {
    rc_ks ks;
    if (!system_snapshot(system, &ks, NULL, 0)) return OPENCDM_BOOL_FALSE;
    return ks == KS_WIDEVINE ? OPENCDM_BOOL_TRUE : OPENCDM_BOOL_FALSE;
}

OpenCDMError opencdm_system_set_server_certificate(struct OpenCDMSystem* system,
                                                   const uint8_t serverCertificate[],
                                                   const uint16_t serverCertificateLength) {
    rc_ks ks;
    if (!system_snapshot(system, &ks, NULL, 0)) return ERROR_INVALID_ARG;
    uint32_t inj = rc_inject(ks, "set_server_certificate", NULL);
    if (inj) return inj;
    if (ks != KS_WIDEVINE) return ERROR_METHOD_NOT_IMPLEMENTED;
    if (!serverCertificate || serverCertificateLength == 0) return ERROR_INVALID_ARG;
    uint8_t* copy = malloc(serverCertificateLength);
    if (!copy) return ERROR_OUT_OF_MEMORY;
    memcpy(copy, serverCertificate, serverCertificateLength);
    pthread_mutex_lock(&g_lock);
    if (!rc_system_registered_locked(system)) {
        pthread_mutex_unlock(&g_lock);
        free(copy);
        return ERROR_INVALID_ARG;
    }
    free(system->server_cert);
    system->server_cert = copy;
    system->server_cert_len = serverCertificateLength;
    pthread_mutex_unlock(&g_lock);
    return ERROR_NONE;
}

/* Two-pass binary metrics: too small (or NULL) -> ERROR_BUFFER_TOO_SMALL with the size. */
static OpenCDMError metrics_out(const char* json, uint32_t* len, uint8_t* buf) {
    uint32_t need = (uint32_t)strlen(json);
    if (!buf || *len < need) {
        *len = need;
        return ERROR_BUFFER_TOO_SMALL;
    }
    memcpy(buf, json, need);
    *len = need;
    return ERROR_NONE;
}

OpenCDMError opencdm_get_metric_system_data(struct OpenCDMSystem* system, uint32_t* bufferLength,
                                            uint8_t* buffer) {
    if (!bufferLength) return ERROR_INVALID_ARG;
    char json[256];
    pthread_mutex_lock(&g_lock);
    if (!system || !rc_system_registered_locked(system)) {
        pthread_mutex_unlock(&g_lock);
        return ERROR_INVALID_ARG;
    }
    snprintf(json, sizeof json, "{\"key_system\":\"%s\",\"sessions_created\":%llu}", system->name,
             (unsigned long long)system->sessions_created);
    pthread_mutex_unlock(&g_lock);
    return metrics_out(json, bufferLength, buffer);
}

/* ---- sessions -------------------------------------------------------------------------------- */

OpenCDMError opencdm_construct_session(struct OpenCDMSystem* system, const LicenseType licenseType,
                                       const char initDataType[], const uint8_t initData[],
                                       const uint16_t initDataLength, const uint8_t CDMData[],
                                       const uint16_t CDMDataLength,
                                       OpenCDMSessionCallbacks* callbacks, void* userData,
                                       struct OpenCDMSession** session) {
    if (!session) return ERROR_INVALID_ARG;
    *session = NULL;
    rc_ks ks;
    char name[64];
    if (!system_snapshot(system, &ks, name, sizeof name)) return ERROR_INVALID_ARG;
    if ((unsigned)licenseType > PersistentLicense) return ERROR_INVALID_ARG;
    if ((initDataLength && !initData) || (CDMDataLength && !CDMData)) return ERROR_INVALID_ARG;
    uint32_t inj = rc_inject(ks, "construct", NULL);
    if (inj) return inj;

    struct OpenCDMSession* s = calloc(1, sizeof *s);
    if (!s) return ERROR_OUT_OF_MEMORY;
    s->magic = RC_SESSION_MAGIC;
    s->user_refs = 1;
    s->refs = 1; /* held by this call until it returns */
    s->ks = ks;
    snprintf(s->ks_name, sizeof s->ks_name, "%s", name);
    s->system = system;
    s->ltype = licenseType;
    s->cbs = callbacks;
    s->ud = userData;
    pthread_mutex_init(&s->mu, NULL);
    if (CDMDataLength) {
        s->cdm_data = malloc(CDMDataLength);
        if (!s->cdm_data) {
            rc_session_free(s);
            return ERROR_OUT_OF_MEMORY;
        }
        memcpy(s->cdm_data, CDMData, CDMDataLength);
        s->cdm_data_len = CDMDataLength;
    }
    /* Registered (and locked) before anything is queued: a callback that arrives while construct
     * is still running must find a valid session. */
    pthread_mutex_lock(&s->mu);
    if (rc_registry_add_session(s)) {
        pthread_mutex_unlock(&s->mu);
        rc_session_free(s);
        return ERROR_OUT_OF_MEMORY;
    }
    OpenCDMError rc =
        rc_ks_construct(s, initDataType ? initDataType : "", initData, initDataLength);
    pthread_mutex_unlock(&s->mu);
    if (rc != ERROR_NONE && rc_quirk(Q_EMPTY_ID_ON_FAILURE)) {
        /* faithful master/R5: "success" with a dead session whose id is "" */
        pthread_mutex_lock(&s->mu);
        s->closed = 1;
        pthread_mutex_unlock(&s->mu);
        rc_session_claim_id(s, "");
        *session = s;
        rc_session_release(s);
        return ERROR_NONE;
    }
    if (rc != ERROR_NONE) {
        /* Nothing was queued on failure: unregister and free. */
        rc_session_release(s);
        rc_session_destruct(s);
        return rc;
    }
    pthread_mutex_lock(&g_lock);
    if (rc_system_registered_locked(system)) system->sessions_created++;
    pthread_mutex_unlock(&g_lock);
    /* Widevine and PlayReady deliver their challenge before construct returns (as the real
     * backends do from Run()); ClearKey's is queued and may arrive before or after. */
    if (ks != KS_CLEARKEY) rc_flush();
    *session = s;
    rc_session_release(s);
    return ERROR_NONE;
}

OpenCDMError opencdm_destruct_session(struct OpenCDMSession* session) {
    return rc_session_destruct(session);
}

/* Common prologue: validate, inject, lock. On success the session is acquired and locked. */
static OpenCDMError begin(struct OpenCDMSession* session, const char* op,
                          struct OpenCDMSession** out) {
    struct OpenCDMSession* s = rc_session_acquire(session);
    if (!s) return ERROR_INVALID_SESSION;
    if (op) {
        uint32_t inj = rc_inject(s->ks, op, s);
        if (inj) {
            rc_session_release(s);
            return inj;
        }
    }
    pthread_mutex_lock(&s->mu);
    if (s->closed) {
        pthread_mutex_unlock(&s->mu);
        rc_session_release(s);
        return ERROR_INVALID_SESSION;
    }
    *out = s;
    return ERROR_NONE;
}

/* Epilogue: unlock, deliver what was queued, release. */
static OpenCDMError finish(struct OpenCDMSession* s, OpenCDMError rc, int flush) {
    if (rc != ERROR_NONE && rc != ERROR_MORE_DATA_AVAILABLE && rc != ERROR_BUFFER_TOO_SMALL)
        s->last_error = rc;
    pthread_mutex_unlock(&s->mu);
    if (flush) rc_flush();
    rc_status_changed();
    rc_session_release(s);
    return rc;
}

OpenCDMError opencdm_session_load(struct OpenCDMSession* session) {
    struct OpenCDMSession* s;
    OpenCDMError rc = begin(session, "load", &s);
    if (rc) return rc;
    rc = finish(s, rc_ks_load(s), 1);
    if (rc_quirk(Q_INVERTED_LOAD)) return rc == ERROR_NONE ? 1 : 0; /* Thunder: Load() == 0 */
    return rc;
}

OpenCDMError opencdm_session_update(struct OpenCDMSession* session, const uint8_t keyMessage[],
                                    const uint16_t keyLength) {
    struct OpenCDMSession* s;
    OpenCDMError rc = begin(session, "update", &s);
    if (rc) return rc;
    if (!keyMessage || keyLength == 0) return finish(s, ERROR_INVALID_ARG, 0);
    return finish(s, rc_ks_update(s, keyMessage, keyLength), 1);
}

OpenCDMError opencdm_session_remove(struct OpenCDMSession* session) {
    struct OpenCDMSession* s;
    OpenCDMError rc = begin(session, "remove", &s);
    if (rc) return rc;
    rc = s->ks == KS_NETFLIX ? finish(s, ERROR_METHOD_NOT_IMPLEMENTED, 0)
                             : finish(s, rc_ks_remove(s), 1);
    if (rc_quirk(Q_INVERTED_REMOVE)) return rc == ERROR_NONE ? 1 : 0; /* Thunder up to R5.3 */
    return rc;
}

OpenCDMError opencdm_session_close(struct OpenCDMSession* session) {
    struct OpenCDMSession* s = rc_session_acquire(session);
    if (!s) return ERROR_INVALID_SESSION;
    uint32_t inj = rc_inject(s->ks, "close", s);
    if (inj) {
        rc_session_release(s);
        return inj;
    }
    pthread_mutex_lock(&s->mu);
    if (!s->closed) { /* EME close: the session's keys are gone; closing twice is fine */
        s->closed = 1;
        for (unsigned i = 0; i < s->nkeys; i++) {
            rc_key_free_ctx(&s->keys[i]);
            memset(s->keys[i].key, 0, sizeof s->keys[i].key);
        }
        s->nkeys = 0;
        s->bound = 0;
    }
    pthread_mutex_unlock(&s->mu);
    rc_status_changed();
    rc_session_release(s);
    return ERROR_NONE;
}

OpenCDMError opencdm_session_metadata(const struct OpenCDMSession* session, char metadata[],
                                      uint16_t* metadataSize) {
    struct OpenCDMSession* s = rc_session_acquire(session);
    if (!s) return ERROR_INVALID_SESSION;
    if (!metadataSize) {
        rc_session_release(s);
        return ERROR_INVALID_ARG;
    }
    char buf[256];
    rc_sb sb;
    rc_sb_init(&sb, buf, sizeof buf);
    rc_sb_fmt(&sb, "{\"key_system\":\"%s\",\"session_id\":", s->ks_name);
    rc_sb_jstr(&sb, s->id, strlen(s->id));
    rc_sb_fmt(&sb, ",\"license_type\":%d}", (int)s->ltype);
    OpenCDMError rc = two_pass(buf, metadata, metadataSize);
    rc_session_release(s);
    return rc;
}

OpenCDMError opencdm_session_resetoutputprotection(struct OpenCDMSession* session) {
    struct OpenCDMSession* s = rc_session_acquire(session);
    if (!s) return ERROR_INVALID_SESSION;
    rc_session_release(s);
    return ERROR_NONE;
}

const char* opencdm_session_id(const struct OpenCDMSession* session) {
    struct OpenCDMSession* s = rc_session_acquire(session);
    if (!s) return "";
    const char* id = s->id; /* immutable after construct; valid until destruct */
    rc_session_release(s);
    return id;
}

uint32_t opencdm_session_has_key_id(struct OpenCDMSession* session, const uint8_t length,
                                    const uint8_t keyId[]) {
    if (!keyId || length == 0) return 0;
    struct OpenCDMSession* s = rc_session_acquire(session);
    if (!s) return 0;
    pthread_mutex_lock(&s->mu);
    uint32_t has = rc_session_key(s, keyId, length) != NULL;
    pthread_mutex_unlock(&s->mu);
    rc_session_release(s);
    return has;
}

KeyStatus opencdm_session_status(const struct OpenCDMSession* session, const uint8_t keyId[],
                                 const uint8_t length) {
    struct OpenCDMSession* s = rc_session_acquire(session);
    if (!s) return InternalError;
    /* unknown kid: StatusPending, as the Thunder client (rialto-ocdm: InternalError) */
    KeyStatus st = rc_quirk(Q_UNKNOWN_KID_INTERNAL_ERROR) ? InternalError : StatusPending;
    if (keyId && length) {
        pthread_mutex_lock(&s->mu);
        rc_key* k = rc_session_key(s, keyId, length);
        if (k) st = k->status;
        pthread_mutex_unlock(&s->mu);
    }
    rc_session_release(s);
    return st;
}

uint32_t opencdm_session_error(const struct OpenCDMSession* session, const uint8_t keyId[],
                               const uint8_t length) {
    struct OpenCDMSession* s = rc_session_acquire(session);
    if (!s) return ERROR_INVALID_SESSION;
    pthread_mutex_lock(&s->mu);
    uint32_t e = s->last_error;
    if (keyId && length) {
        rc_key* k = rc_session_key(s, keyId, length);
        e = 0;
        if (k && k->status != Usable && k->status != StatusPending) e = (uint32_t)k->status;
    }
    pthread_mutex_unlock(&s->mu);
    rc_session_release(s);
    return e;
}

OpenCDMError opencdm_session_system_error(const struct OpenCDMSession* session) {
    struct OpenCDMSession* s = rc_session_acquire(session);
    if (!s) return ERROR_INVALID_SESSION;
    pthread_mutex_lock(&s->mu);
    OpenCDMError e = s->last_error;
    pthread_mutex_unlock(&s->mu);
    rc_session_release(s);
    return e;
}

const char* opencdm_session_buffer_id(const struct OpenCDMSession* session) {
    struct OpenCDMSession* s = rc_session_acquire(session);
    if (!s) return "";
    const char* id = s->buffer_id; /* "" until the first decrypt, then fixed */
    rc_session_release(s);
    return id;
}

OpenCDMError opencdm_get_metric_session_data(struct OpenCDMSession* session,
                                             uint32_t* bufferLength, uint8_t* buffer) {
    struct OpenCDMSession* s = rc_session_acquire(session);
    if (!s) return ERROR_INVALID_SESSION;
    if (!bufferLength) {
        rc_session_release(s);
        return ERROR_INVALID_ARG;
    }
    char json[320];
    pthread_mutex_lock(&s->mu);
    snprintf(json, sizeof json,
             "{\"session_id\":\"%s\",\"decrypts\":%llu,\"decrypted_bytes\":%llu,"
             "\"decrypt_errors\":%llu,\"updates\":%llu,\"keys\":%u}",
             s->id, (unsigned long long)s->n_decrypts, (unsigned long long)s->n_decrypt_bytes,
             (unsigned long long)s->n_decrypt_errors, (unsigned long long)s->n_updates, s->nkeys);
    pthread_mutex_unlock(&s->mu);
    rc_session_release(s);
    return metrics_out(json, bufferLength, buffer);
}

void opencdm_dispose(void) {
    rc_worker_stop();
}

/* ---- decrypt --------------------------------------------------------------------------------- */

static int key_allows_decrypt(const rc_key* k) {
    return k && k->has_key && (k->status == Usable || k->status == OutputDownscaled);
}

static rc_key* pick_key(struct OpenCDMSession* s, const uint8_t* kid, size_t kidlen) {
    switch (s->ks) {
        case KS_NETFLIX: /* the decrypt context bound by select_key_id; the kid is ignored */
            return s->bound ? &s->keys[s->bound - 1] : NULL;
        case KS_PLAYREADY:
            if (kid && kidlen) return rc_session_key(s, kid, kidlen);
            if (s->bound) return &s->keys[s->bound - 1];
            /* fall through: first usable key */
            __attribute__((fallthrough));
        case KS_WIDEVINE:
            if (kid && kidlen) return rc_session_key(s, kid, kidlen);
            for (unsigned i = 0; i < s->nkeys; i++)
                if (key_allows_decrypt(&s->keys[i])) return &s->keys[i];
            return NULL;
        case KS_CLEARKEY:
        default:
            return kid && kidlen ? rc_session_key(s, kid, kidlen) : NULL;
    }
}

static void put_be64(uint8_t* p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_le64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static OpenCDMError do_decrypt(struct OpenCDMSession* session, uint8_t* buf, uint32_t len,
                               EncryptionScheme scheme, EncryptionPattern pattern,
                               const uint8_t* iv, uint32_t ivlen, const uint8_t* kid,
                               uint32_t kidlen, const SubSampleInfo* sub, uint32_t nsub,
                               uint32_t init_with_last15) {
    struct OpenCDMSession* s = rc_session_acquire(session);
    if (!s) return ERROR_INVALID_SESSION;
    OpenCDMError rc = ERROR_NONE;
    rc_sample smp;
    memset(&smp, 0, sizeof smp);
    smp.scheme = scheme;
    smp.crypt = pattern.encrypted_blocks;
    smp.skip = pattern.clear_blocks;
    smp.sub = sub;
    smp.nsub = nsub;
    if (len == 0) goto out; /* like libocdm: nothing to do */
    if (!buf || (nsub && !sub) || kidlen > RC_MAX_KID || (kidlen && !kid) ||
        (unsigned)scheme > AesCbc_Cbcs) {
        rc = ERROR_INVALID_ARG;
        goto out;
    }
    if (init_with_last15 && s->ks == KS_NETFLIX) {
        /* Netflix: the IV is a DRM_AES_COUNTER_MODE_CONTEXT {u64 iv, u64 block offset, u8 byte
         * offset} in native (little-endian) order, not a CENC IV. */
        if (!iv || ivlen < 16 || ivlen > 24 || (scheme != AesCtr_Cenc && scheme != AesCtr_Cens)) {
            rc = ERROR_INVALID_ARG;
            goto out;
        }
        put_be64(smp.iv, get_le64(iv));
        put_be64(smp.iv + 8, get_le64(iv + 8));
        smp.byte_offset = ivlen > 16 ? iv[16] : 0;
        smp.raw_counter_context = 1;
    } else if (iv && ivlen) {
        if (ivlen != 8 && ivlen != 16) {
            rc = ERROR_INVALID_ARG;
            goto out;
        }
        memcpy(smp.iv, iv, ivlen); /* 8 bytes: zero-padded counter block */
    } else if (ivlen && ivlen != 8 && ivlen != 16) {
        rc = ERROR_INVALID_ARG;
        goto out;
    }
    uint32_t inj = rc_inject(s->ks, "decrypt", s);
    if (inj) {
        rc = inj;
        goto out;
    }
    pthread_mutex_lock(&s->mu);
    if (s->closed) {
        rc = ERROR_INVALID_SESSION;
    } else {
        rc_key* k = scheme == Clear ? NULL : pick_key(s, kid, kidlen);
        if (scheme == Clear) rc = rc_decrypt(NULL, buf, len, &smp); /* checks the map only */
        else rc = key_allows_decrypt(k) ? rc_decrypt(k, buf, len, &smp) : ERROR_UNKNOWN;
    }
    if (rc == ERROR_NONE) {
        s->n_decrypts++;
        s->n_decrypt_bytes += len;
        if (!s->buffer_id[0]) snprintf(s->buffer_id, sizeof s->buffer_id, "refcdm-%s", s->id);
    } else {
        s->n_decrypt_errors++;
    }
    pthread_mutex_unlock(&s->mu);
out:
    rc_session_release(s);
    return rc;
}

OpenCDMError opencdm_session_decrypt(struct OpenCDMSession* session, uint8_t encrypted[],
                                     const uint32_t encryptedLength,
                                     const EncryptionScheme encScheme,
                                     const EncryptionPattern pattern, const uint8_t* IV,
                                     uint16_t IVLength, const uint8_t* keyId,
                                     const uint16_t keyIdLength, uint32_t initWithLast15) {
    return do_decrypt(session, encrypted, encryptedLength, encScheme, pattern, IV, IVLength, keyId,
                      keyIdLength, NULL, 0, initWithLast15);
}

OpenCDMError opencdm_session_decrypt_v2(struct OpenCDMSession* session, uint8_t encrypted[],
                                        const uint32_t encryptedLength,
                                        const SampleInfo* sampleInfo,
                                        const MediaProperties* streamProperties) {
    (void)streamProperties; /* software decrypt: no secure video path to configure */
    if (!sampleInfo) {
        struct OpenCDMSession* s = rc_session_acquire(session);
        if (!s) return ERROR_INVALID_SESSION;
        rc_session_release(s);
        return ERROR_INVALID_ARG;
    }
    return do_decrypt(session, encrypted, encryptedLength, sampleInfo->scheme, sampleInfo->pattern,
                      sampleInfo->iv, sampleInfo->ivLength, sampleInfo->keyId,
                      sampleInfo->keyIdLength, sampleInfo->subSample, sampleInfo->subSampleCount,
                      0);
}

uint32_t drmkit_refcdm_session_decrypt_legacy(struct OpenCDMSession* session,
                                                  uint8_t encrypted[], uint32_t encryptedLength,
                                                  const uint8_t* IV, uint16_t IVLength,
                                                  const uint8_t* keyId, uint16_t keyIdLength,
                                                  uint32_t initWithLast15) {
    EncryptionPattern none = {0, 0};
    return do_decrypt(session, encrypted, encryptedLength, AesCtr_Cenc, none, IV, IVLength, keyId,
                      keyIdLength, NULL, 0, initWithLast15);
}
