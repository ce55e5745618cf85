/*
 * The exported extension functions (open_cdm_ext.h): the Netflix/PlayReady pull model, secure
 * stops and store hashes. They work on PlayReady systems/sessions (com.microsoft.playready,
 * com.youtube.playready, com.netflix.playready); on other key systems they return
 * ERROR_METHOD_NOT_IMPLEMENTED (the real libocdm dereferences NULL there).
 */
#define _POSIX_C_SOURCE 200809L /* strict -std=c11: expose POSIX declarations */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "refcdm.h"

#define LDL_SESSION_LIMIT 100 /* PlayReady NONCE_STORE_SIZE */

static int is_playready(rc_ks ks) {
    return ks == KS_PLAYREADY || ks == KS_NETFLIX;
}

/* Locks g_lock and validates a PlayReady system. Returns ERROR_NONE with g_lock held. */
static OpenCDMError sys_begin(struct OpenCDMSystem* sys) {
    pthread_mutex_lock(&g_lock);
    if (!sys || !rc_system_registered_locked(sys)) {
        pthread_mutex_unlock(&g_lock);
        return ERROR_INVALID_ARG;
    }
    if (!is_playready(sys->ks)) {
        pthread_mutex_unlock(&g_lock);
        return ERROR_METHOD_NOT_IMPLEMENTED;
    }
    return ERROR_NONE;
}

int rc_secure_stop_add(struct OpenCDMSystem* sys, const uint8_t id[16], const char* session_id) {
    int rc = -1;
    pthread_mutex_lock(&g_lock);
    if (rc_system_registered_locked(sys) && sys->secure_stop_enabled) {
        unsigned cap = sizeof sys->stops / sizeof sys->stops[0];
        if (sys->nstops == cap) { /* oldest first out */
            memmove(sys->stops, sys->stops + 1, (cap - 1) * sizeof sys->stops[0]);
            sys->nstops--;
        }
        rc_pending_stop* p = &sys->stops[sys->nstops++];
        memcpy(p->id, id, 16);
        snprintf(p->session_id, sizeof p->session_id, "%s", session_id);
        p->start = (int64_t)time(NULL);
        rc = 0;
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

OpenCDMError opencdm_system_ext_get_ldl_session_limit(struct OpenCDMSystem* system,
                                                      uint32_t* ldlLimit) {
    if (!ldlLimit) return ERROR_INVALID_ARG;
    OpenCDMError rc = sys_begin(system);
    if (rc) return rc;
    *ldlLimit = LDL_SESSION_LIMIT;
    pthread_mutex_unlock(&g_lock);
    return ERROR_NONE;
}

uint32_t opencdm_system_ext_is_secure_stop_enabled(struct OpenCDMSystem* system) {
    if (sys_begin(system)) return 0;
    uint32_t v = system->secure_stop_enabled ? 1 : 0;
    pthread_mutex_unlock(&g_lock);
    return v;
}

OpenCDMError opencdm_system_ext_enable_secure_stop(struct OpenCDMSystem* system, uint32_t use) {
    OpenCDMError rc = sys_begin(system);
    if (rc) return rc;
    system->secure_stop_enabled = use ? 1 : 0;
    pthread_mutex_unlock(&g_lock);
    return ERROR_NONE;
}

uint32_t opencdm_system_ext_reset_secure_stop(struct OpenCDMSystem* system) {
    if (sys_begin(system)) return 0;
    uint32_t n = system->nstops;
    system->nstops = 0;
    pthread_mutex_unlock(&g_lock);
    return n;
}

OpenCDMError opencdm_system_ext_get_secure_stop_ids(struct OpenCDMSystem* system, uint8_t Ids[],
                                                    uint16_t idsLength, uint32_t* count) {
    if (!count) return ERROR_INVALID_ARG;
    OpenCDMError rc = sys_begin(system);
    if (rc) return rc;
    uint32_t n = system->nstops;
    *count = n;
    if (n && (!Ids || idsLength < n * 16u)) {
        rc = ERROR_BUFFER_TOO_SMALL;
    } else {
        for (uint32_t i = 0; i < n; i++) memcpy(Ids + 16 * i, system->stops[i].id, 16);
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

static int find_stop(struct OpenCDMSystem* sys, const uint8_t* id, uint32_t len) {
    if (!id || len != 16) return -1;
    for (unsigned i = 0; i < sys->nstops; i++)
        if (!memcmp(sys->stops[i].id, id, 16)) return (int)i;
    return -1;
}

OpenCDMError opencdm_system_ext_get_secure_stop(struct OpenCDMSystem* system,
                                                const uint8_t sessionID[],
                                                uint32_t sessionIDLength, uint8_t rawData[],
                                                uint16_t* rawSize) {
    if (!rawSize) return ERROR_INVALID_ARG;
    OpenCDMError rc = sys_begin(system);
    if (rc) return rc;
    int i = find_stop(system, sessionID, sessionIDLength);
    if (i < 0) {
        pthread_mutex_unlock(&g_lock);
        return ERROR_INVALID_ARG;
    }
    char json[256], h[33];
    rc_hex(system->stops[i].id, 16, h);
    snprintf(json, sizeof json,
             "{\"secure_stop_id\":\"%s\",\"session_id\":\"%s\",\"start\":%lld,\"stop\":%lld}", h,
             system->stops[i].session_id, (long long)system->stops[i].start,
             (long long)time(NULL));
    pthread_mutex_unlock(&g_lock);
    uint16_t need = (uint16_t)strlen(json);
    if (!rawData) {
        *rawSize = need;
        return ERROR_NONE;
    }
    if (*rawSize < need) {
        *rawSize = need;
        return ERROR_BUFFER_TOO_SMALL;
    }
    memcpy(rawData, json, need);
    *rawSize = need;
    return ERROR_NONE;
}

OpenCDMError opencdm_system_ext_commit_secure_stop(struct OpenCDMSystem* system,
                                                   const uint8_t sessionID[],
                                                   uint32_t sessionIDLength,
                                                   const uint8_t serverResponse[],
                                                   uint32_t serverResponseLength) {
    if (!serverResponse || serverResponseLength == 0) return ERROR_INVALID_ARG;
    OpenCDMError rc = sys_begin(system);
    if (rc) return rc;
    int i = find_stop(system, sessionID, sessionIDLength);
    if (i < 0) {
        rc = ERROR_INVALID_ARG;
    } else {
        memmove(&system->stops[i], &system->stops[i + 1],
                (system->nstops - (unsigned)i - 1) * sizeof system->stops[0]);
        system->nstops--;
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

static OpenCDMError store_hash(struct OpenCDMSystem* system, uint8_t* out, uint32_t len) {
    if (!out) return ERROR_INVALID_ARG;
    OpenCDMError rc = sys_begin(system);
    if (rc) return rc;
    pthread_mutex_unlock(&g_lock);
    if (len < 64) return ERROR_BUFFER_TOO_SMALL;
    uint8_t h[32];
    if (rc_drmstore_hash(h)) return ERROR_FAIL;
    memset(out, 0, 64);
    memcpy(out, h, 32);
    return ERROR_NONE;
}

/* On a device the OpenCDMi server forwards GetKeyStoreHash to GetSecureStoreHash: same value. */
OpenCDMError opencdm_get_key_store_hash_ext(struct OpenCDMSystem* system, uint8_t keyStoreHash[],
                                            uint32_t keyStoreHashLength) {
    return store_hash(system, keyStoreHash, keyStoreHashLength);
}

OpenCDMError opencdm_get_secure_store_hash_ext(struct OpenCDMSystem* system,
                                               uint8_t secureStoreHash[],
                                               uint32_t secureStoreHashLength) {
    return store_hash(system, secureStoreHash, secureStoreHashLength);
}

OpenCDMError opencdm_delete_key_store(struct OpenCDMSystem* system) {
    OpenCDMError rc = sys_begin(system);
    if (rc) return rc;
    pthread_mutex_unlock(&g_lock);
    return ERROR_NONE; /* PlayReady: no-op */
}

OpenCDMError opencdm_delete_secure_store(struct OpenCDMSystem* system) {
    OpenCDMError rc = sys_begin(system);
    if (rc) return rc;
    pthread_mutex_unlock(&g_lock);
    return rc_drmstore_delete() ? ERROR_FAIL : ERROR_NONE;
}

OpenCDMError opencdm_system_teardown(struct OpenCDMSystem* system) {
    return rc_system_valid(system) ? ERROR_NONE : ERROR_INVALID_ARG;
}

/* ---- session extension ----------------------------------------------------------------------- */

static OpenCDMError ext_begin(struct OpenCDMSession* session, const char* op,
                              struct OpenCDMSession** out) {
    struct OpenCDMSession* s = rc_session_acquire(session);
    if (!s) return ERROR_INVALID_SESSION;
    if (!is_playready(s->ks)) {
        rc_session_release(s);
        return ERROR_METHOD_NOT_IMPLEMENTED;
    }
    uint32_t inj = rc_inject(s->ks, op, s);
    if (inj) {
        rc_session_release(s);
        return inj;
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

static OpenCDMError ext_end(struct OpenCDMSession* s, OpenCDMError rc, int flush) {
    if (rc != ERROR_NONE && rc != ERROR_BUFFER_TOO_SMALL) s->last_error = rc;
    pthread_mutex_unlock(&s->mu);
    if (flush) {
        rc_flush();
        rc_status_changed();
    }
    rc_session_release(s);
    return rc;
}

OpenCDMError opencdm_session_set_drm_header(struct OpenCDMSession* opencdmSession,
                                            const uint8_t drmHeader[], uint32_t drmHeaderSize) {
    struct OpenCDMSession* s;
    OpenCDMError rc = ext_begin(opencdmSession, "set_drm_header", &s);
    if (rc) return rc;
    if (!drmHeader || drmHeaderSize == 0 || drmHeaderSize > 0xFFFF)
        return ext_end(s, ERROR_INVALID_ARG, 0);
    return ext_end(s, rc_ks_set_drm_header(s, drmHeader, drmHeaderSize), 0);
}

OpenCDMError opencdm_session_get_challenge_data(struct OpenCDMSession* mOpenCDMSession,
                                                uint8_t* challenge, uint32_t* challengeSize,
                                                uint32_t isLDL) {
    if (!challengeSize) {
        struct OpenCDMSession* s = rc_session_acquire(mOpenCDMSession);
        if (!s) return ERROR_INVALID_SESSION;
        rc_session_release(s);
        return ERROR_INVALID_ARG;
    }
    struct OpenCDMSession* s;
    OpenCDMError rc = ext_begin(mOpenCDMSession, "get_challenge_data", &s);
    if (rc) return rc;
    rc = rc_ks_build_challenge(s, isLDL != 0);
    if (rc) return ext_end(s, rc, 0);
    uint32_t need = (uint32_t)s->challenge_len;
    if (!challenge || *challengeSize == 0) {
        *challengeSize = need; /* first pass: the size */
    } else if (*challengeSize < need) {
        *challengeSize = need;
        rc = ERROR_BUFFER_TOO_SMALL;
    } else {
        memcpy(challenge, s->challenge, need);
        *challengeSize = need;
    }
    return ext_end(s, rc, 0);
}

OpenCDMError opencdm_session_cancel_challenge_data(struct OpenCDMSession* mOpenCDMSession) {
    struct OpenCDMSession* s;
    OpenCDMError rc = ext_begin(mOpenCDMSession, "cancel_challenge_data", &s);
    if (rc) return rc;
    free(s->challenge);
    s->challenge = NULL;
    s->challenge_len = 0;
    return ext_end(s, ERROR_NONE, 0);
}

OpenCDMError opencdm_session_store_license_data(struct OpenCDMSession* mOpenCDMSession,
                                                const uint8_t licenseData[],
                                                uint32_t licenseDataSize, uint8_t* secureStopId) {
    struct OpenCDMSession* s;
    OpenCDMError rc = ext_begin(mOpenCDMSession, "store_license_data", &s);
    if (rc) return rc;
    if (!licenseData || !secureStopId || licenseDataSize == 0 || licenseDataSize > RC_MAX_LICENSE)
        return ext_end(s, ERROR_INVALID_ARG, 0);
    s->n_updates++;
    return ext_end(s, rc_ks_store_license(s, licenseData, licenseDataSize, secureStopId), 1);
}

OpenCDMError opencdm_session_select_key_id(struct OpenCDMSession* mOpenCDMSession,
                                           uint8_t keyLenght, const uint8_t keyId[]) {
    struct OpenCDMSession* s;
    OpenCDMError rc = ext_begin(mOpenCDMSession, "select_key_id", &s);
    if (rc) return rc;
    if (!keyId || keyLenght == 0 || keyLenght > RC_MAX_KID) return ext_end(s, ERROR_INVALID_ARG, 0);
    rc_key* k = rc_session_key(s, keyId, keyLenght);
    if (!k || !k->has_key) return ext_end(s, ERROR_UNKNOWN, 0); /* no license for that key */
    s->bound = (int)(k - s->keys) + 1;
    int post = !s->props_posted;
    if (post) {
        /* Like OCDM-Playready's output-level callback: once, url "properties", NUL included. */
        static const char props[] =
            "{\"compressed-video\": 400,\"uncompressed-video\": 300,\"analog-video\": 150,"
            "\"compressed-audio\": 250,\"uncompressed-audio\": 250}";
        rc_post_challenge(s, "properties", (const uint8_t*)props, sizeof props);
        s->props_posted = 1;
    }
    return ext_end(s, ERROR_NONE, post);
}

OpenCDMError opencdm_session_clean_decrypt_context(struct OpenCDMSession* mOpenCDMSession) {
    struct OpenCDMSession* s;
    OpenCDMError rc = ext_begin(mOpenCDMSession, "clean_decrypt_context", &s);
    if (rc) return rc;
    s->bound = 0;
    return ext_end(s, ERROR_NONE, 0);
}

OpenCDMError opencdm_system_ext_get_properties(struct PlayLevels* system,
                                               const char* propertiesJSONText) {
    if (!system || !propertiesJSONText) return ERROR_INVALID_ARG;
    rc_json j;
    if (rc_json_parse(&j, propertiesJSONText, strlen(propertiesJSONText))) return ERROR_INVALID_ARG;
    if (j.t[0].type != JT_OBJ) {
        rc_json_free(&j);
        return ERROR_INVALID_ARG;
    }
    static const char* const names[] = {"compressed-video", "uncompressed-video", "analog-video",
                                        "compressed-audio", "uncompressed-audio",
                                        "max-decode-width", "max-decode-height"};
    int64_t v[7] = {0};
    OpenCDMError rc = ERROR_NONE;
    for (int i = 0; i < 7; i++) {
        long t = rc_json_get(&j, 0, names[i]);
        if (t == -1) continue;
        int64_t lim = i < 5 ? 0xFFFF : 0xFFFFFFFFLL;
        if (t < 0 || rc_json_int(&j, (uint32_t)t, &v[i]) || v[i] < 0 || v[i] > lim)
            rc = ERROR_INVALID_ARG;
    }
    rc_json_free(&j);
    if (rc) return rc;
    system->_compressedDigitalVideoLevel = (uint16_t)v[0];
    system->_uncompressedDigitalVideoLevel = (uint16_t)v[1];
    system->_analogVideoLevel = (uint16_t)v[2];
    system->_compressedDigitalAudioLevel = (uint16_t)v[3];
    system->_uncompressedDigitalAudioLevel = (uint16_t)v[4];
    system->_maxResDecodeWidth = (uint32_t)v[5];
    system->_maxResDecodeHeight = (uint32_t)v[6];
    return ERROR_NONE;
}
