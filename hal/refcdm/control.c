/*
 * drmkit_refcdm_configure (production configuration) and drmkit_refcdm_test_control (fault
 * injection, unsolicited events, leak statistics). The commands are documented in
 * docs/reference-cdm.md.
 */
#define _POSIX_C_SOURCE 200809L /* strict -std=c11: expose POSIX declarations */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "refcdm.h"

/* ---- key system names ------------------------------------------------------------------------ */

static const struct {
    const char* name;
    rc_ks ks;
} KS_NAMES[] = {
    {"org.w3.clearkey", KS_CLEARKEY},
    {"org.chromium.externalclearkey", KS_CLEARKEY},
    {"com.widevine.alpha", KS_WIDEVINE},
    {"com.microsoft.playready", KS_PLAYREADY},
    {"com.youtube.playready", KS_PLAYREADY},
    {"com.netflix.playready", KS_NETFLIX},
};

int rc_ks_from_name(const char* name, rc_ks* ks) {
    for (size_t i = 0; i < sizeof KS_NAMES / sizeof KS_NAMES[0]; i++) {
        if (!strcmp(name, KS_NAMES[i].name)) {
            *ks = KS_NAMES[i].ks;
            return 0;
        }
    }
    return -1;
}

const char* rc_ks_name(rc_ks ks) {
    switch (ks) {
        case KS_CLEARKEY: return "org.w3.clearkey";
        case KS_WIDEVINE: return "com.widevine.alpha";
        case KS_PLAYREADY: return "com.microsoft.playready";
        case KS_NETFLIX: return "com.netflix.playready";
    }
    return "";
}

/* ---- configuration --------------------------------------------------------------------------- */

static pthread_mutex_t g_cfg_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_store_dir[1024];
static atomic_int g_ocdm_challenge;

int rc_cfg_ocdm_challenge(void) {
    return atomic_load(&g_ocdm_challenge);
}

/* "Faithful" mode: individually switchable reproductions of real-stack return-code quirks, so
 * that a HAL can be tested against them with the real product (see docs/reference-cdm.md). */
static const char* const QUIRK_NAMES[] = {
    "inverted_load", "inverted_remove", "create_system_extended_invalid_arg",
    "empty_session_id_on_failure", "clearkey_silent_license_errors", "unknown_kid_internal_error",
    "empty_challenge_on_failure", NULL};
static atomic_uint g_quirks;

int rc_quirk(unsigned q) {
    return (atomic_load_explicit(&g_quirks, memory_order_relaxed) >> q) & 1u;
}

/* Parses a "quirks" array into a bit mask; -1 on an unknown name or a non-string. */
static long parse_quirks(const rc_json* j, long arr) {
    if (j->t[arr].type != JT_ARR) return -1;
    unsigned mask = 0;
    uint32_t e = rc_json_first(j, (uint32_t)arr);
    for (uint32_t i = 0; i < j->t[arr].size; i++, e = j->t[e].next) {
        char name[64];
        if (rc_json_str(j, e, name, sizeof name) < 0) return -1;
        int found = -1;
        for (int q = 0; QUIRK_NAMES[q]; q++)
            if (!strcmp(name, QUIRK_NAMES[q])) found = q;
        if (found < 0) return -1;
        mask |= 1u << found;
    }
    return (long)mask;
}

static int mkdirs(const char* path) {
    char tmp[1024];
    size_t l = strlen(path);
    if (l == 0 || l >= sizeof tmp) return -1;
    memcpy(tmp, path, l + 1);
    for (size_t i = 1; i <= l; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
            tmp[i] = c;
        }
    }
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

static void default_store_dir(char* out, size_t cap) {
    const char* env = getenv("DRMKIT_REFCDM_STORE_DIR");
    const char* xdg = getenv("XDG_DATA_HOME");
    const char* home = getenv("HOME");
    if (env && *env) snprintf(out, cap, "%s", env);
    else if (xdg && *xdg) snprintf(out, cap, "%s/drmkit/refcdm", xdg);
    else if (home && *home) snprintf(out, cap, "%s/.local/share/drmkit/refcdm", home);
    else snprintf(out, cap, "/tmp/drmkit-refcdm-%lu", (unsigned long)getuid());
}

static void effective_store_dir(char* out, size_t cap) {
    pthread_mutex_lock(&g_cfg_mu);
    if (g_store_dir[0]) snprintf(out, cap, "%s", g_store_dir);
    else default_store_dir(out, cap);
    pthread_mutex_unlock(&g_cfg_mu);
}

int rc_store_dir(char* out, size_t cap, int create) {
    effective_store_dir(out, cap);
    return create ? mkdirs(out) : 0;
}

/* ---- fork safety: the leaf locks of this file are held across fork() ---------------------- */

static pthread_mutex_t g_inj_mu = PTHREAD_MUTEX_INITIALIZER;

static void control_prepare(void) {
    pthread_mutex_lock(&g_cfg_mu);
    pthread_mutex_lock(&g_inj_mu);
}

static void control_after(void) {
    pthread_mutex_unlock(&g_inj_mu);
    pthread_mutex_unlock(&g_cfg_mu);
}

__attribute__((constructor)) static void control_load(void) {
    pthread_atfork(control_prepare, control_after, control_after);
}

/* ---- replies --------------------------------------------------------------------------------- */

static uint32_t reply(char* out, uint32_t* size, const char* json, uint32_t rc) {
    size_t need = strlen(json) + 1;
    if (!size) return rc;
    int fits = out && *size >= need;
    if (fits) memcpy(out, json, need);
    *size = (uint32_t)need;
    if (!fits && rc == 0) return ERROR_BUFFER_TOO_SMALL;
    return rc;
}

static uint32_t reply_error(char* out, uint32_t* size, uint32_t rc, const char* msg) {
    char buf[512];
    rc_sb sb;
    rc_sb_init(&sb, buf, sizeof buf);
    rc_sb_raw(&sb, "{\"error\":");
    rc_sb_jstr(&sb, msg, strlen(msg));
    rc_sb_raw(&sb, "}");
    return reply(out, size, sb.overflow ? "{\"error\":\"error\"}" : buf, rc);
}

static int get_string(const rc_json* j, const char* key, char* out, size_t cap, int* present) {
    long t = rc_json_get(j, 0, key);
    *present = t >= 0;
    if (t == -2) return -1;
    if (t < 0) return 0;
    long l = rc_json_str(j, (uint32_t)t, out, cap);
    if (l < 0 || strlen(out) != (size_t)l) return -1; /* no embedded NULs in control strings */
    return 0;
}

static int get_int(const rc_json* j, const char* key, int64_t* v, int* present) {
    long t = rc_json_get(j, 0, key);
    *present = t >= 0;
    if (t == -2) return -1;
    if (t < 0) return 0;
    return rc_json_int(j, (uint32_t)t, v);
}

/* Rejects members other than `allowed` (NULL-terminated). */
static const char* unknown_member(const rc_json* j, const char* const* allowed) {
    static _Thread_local char name[64];
    uint32_t k = 1;
    for (uint32_t i = 0; i < j->t[0].size; i++) {
        int ok = 0;
        for (const char* const* a = allowed; *a; a++)
            if (rc_json_key_is(j, k, *a)) ok = 1;
        if (!ok) {
            if (rc_json_str(j, k, name, sizeof name) < 0) snprintf(name, sizeof name, "?");
            return name;
        }
        k = j->t[k + 1].next;
    }
    return NULL;
}

uint32_t drmkit_refcdm_configure(const char* json, char* out, uint32_t* size) {
    if (!json) return reply_error(out, size, ERROR_INVALID_ARG, "NULL command");
    rc_json j;
    if (rc_json_parse(&j, json, strlen(json)) || j.t[0].type != JT_OBJ) {
        if (j.t) rc_json_free(&j);
        return reply_error(out, size, ERROR_INVALID_ARG, "configuration must be a JSON object");
    }
    static const char* const allowed[] = {"store_dir", "clearkey_challenge", "quirks", NULL};
    const char* bad = unknown_member(&j, allowed);
    char msg[160];
    if (bad) {
        snprintf(msg, sizeof msg, "unknown configuration key \"%s\"", bad);
        rc_json_free(&j);
        return reply_error(out, size, ERROR_INVALID_ARG, msg);
    }
    char dir[1024], mode[16];
    int has_dir, has_mode;
    if (get_string(&j, "store_dir", dir, sizeof dir, &has_dir) ||
        get_string(&j, "clearkey_challenge", mode, sizeof mode, &has_mode)) {
        rc_json_free(&j);
        return reply_error(out, size, ERROR_INVALID_ARG, "bad configuration value");
    }
    long qt = rc_json_get(&j, 0, "quirks");
    long quirks = qt >= 0 ? parse_quirks(&j, qt) : 0;
    rc_json_free(&j);
    if (qt == -2 || quirks < 0)
        return reply_error(out, size, ERROR_INVALID_ARG,
                           "quirks must be an array of known quirk names");
    if (has_mode && strcmp(mode, "w3c") && strcmp(mode, "ocdm"))
        return reply_error(out, size, ERROR_INVALID_ARG,
                           "clearkey_challenge must be \"w3c\" or \"ocdm\"");
    if (has_dir && dir[0] && dir[0] != '/')
        return reply_error(out, size, ERROR_INVALID_ARG, "store_dir must be an absolute path");
    if (has_mode) atomic_store(&g_ocdm_challenge, !strcmp(mode, "ocdm"));
    if (qt >= 0) atomic_store(&g_quirks, (unsigned)quirks);
    if (has_dir) {
        pthread_mutex_lock(&g_cfg_mu);
        snprintf(g_store_dir, sizeof g_store_dir, "%s", dir); /* "" restores the default */
        pthread_mutex_unlock(&g_cfg_mu);
    }
    char eff[1024], buf[1400];
    effective_store_dir(eff, sizeof eff);
    rc_sb sb;
    rc_sb_init(&sb, buf, sizeof buf);
    rc_sb_raw(&sb, "{\"store_dir\":");
    rc_sb_jstr(&sb, eff, strlen(eff));
    rc_sb_fmt(&sb, ",\"clearkey_challenge\":\"%s\",\"quirks\":[",
              rc_cfg_ocdm_challenge() ? "ocdm" : "w3c");
    int nq = 0;
    for (unsigned q = 0; QUIRK_NAMES[q]; q++)
        if (rc_quirk(q)) rc_sb_fmt(&sb, "%s\"%s\"", nq++ ? "," : "", QUIRK_NAMES[q]);
    rc_sb_raw(&sb, "]}");
    return reply(out, size, buf, ERROR_NONE);
}

/* ---- fault injection ------------------------------------------------------------------------- */

#define MAX_INJECT 64

typedef struct {
    int any_ks;
    rc_ks ks;
    char op[32];
    uint32_t delay_ms;
    uint32_t fail_code;
    char msg[256];
    int64_t count; /* -1 forever */
} rc_injection;

static rc_injection g_inj[MAX_INJECT];
static int g_ninj;
static atomic_int g_inj_active;

static const char* const OPERATIONS[] = {
    "construct", "update", "load", "remove", "close", "decrypt", "get_challenge_data",
    "store_license_data", "cancel_challenge_data", "clean_decrypt_context", "select_key_id",
    "set_server_certificate", "set_drm_header", NULL};

uint32_t rc_inject(rc_ks ks, const char* op, struct OpenCDMSession* s) {
    if (!atomic_load_explicit(&g_inj_active, memory_order_relaxed)) return 0;
    rc_injection hit;
    int found = 0;
    pthread_mutex_lock(&g_inj_mu);
    for (int i = 0; i < g_ninj; i++) {
        rc_injection* e = &g_inj[i];
        if ((e->any_ks || e->ks == ks) && !strcmp(e->op, op)) {
            hit = *e;
            found = 1;
            if (e->count > 0 && --e->count == 0) {
                memmove(e, e + 1, (size_t)(g_ninj - i - 1) * sizeof *e);
                g_ninj--;
                atomic_store(&g_inj_active, g_ninj);
            }
            break;
        }
    }
    pthread_mutex_unlock(&g_inj_mu);
    if (!found) return 0;
    if (hit.delay_ms) {
        struct timespec ts = {(time_t)(hit.delay_ms / 1000), (long)(hit.delay_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
        }
    }
    if (hit.msg[0]) {
        if (s) {
            rc_post_error(s, hit.msg);
            rc_flush();
        }
        return hit.fail_code ? hit.fail_code : ERROR_FAIL;
    }
    return hit.fail_code;
}

static uint32_t cmd_inject(const rc_json* j, char* out, uint32_t* size) {
    static const char* const allowed[] = {"op", "key_system", "operation", "delay_ms",
                                          "fail_code", "error_message", "count", NULL};
    const char* bad = unknown_member(j, allowed);
    if (bad) return reply_error(out, size, ERROR_INVALID_ARG, "unknown inject member");
    rc_injection e;
    memset(&e, 0, sizeof e);
    char ks[64] = "*";
    int p;
    int64_t delay = 0, fail = 0, count = 1;
    if (get_string(j, "key_system", ks, sizeof ks, &p) ||
        get_string(j, "operation", e.op, sizeof e.op, &p) || !p ||
        get_string(j, "error_message", e.msg, sizeof e.msg, &p) ||
        get_int(j, "delay_ms", &delay, &p) || get_int(j, "fail_code", &fail, &p) ||
        get_int(j, "count", &count, &p))
        return reply_error(out, size, ERROR_INVALID_ARG,
                           "inject needs \"operation\" and well-typed members");
    int known = 0;
    for (const char* const* o = OPERATIONS; *o; o++)
        if (!strcmp(*o, e.op)) known = 1;
    if (!known) return reply_error(out, size, ERROR_INVALID_ARG, "unknown operation");
    if (!strcmp(ks, "*")) e.any_ks = 1;
    else if (rc_ks_from_name(ks, &e.ks))
        return reply_error(out, size, ERROR_INVALID_ARG, "unknown key_system");
    if (delay < 0 || delay > 600000 || fail < 0 || fail > 0xFFFFFFFFLL || count == 0 ||
        count < -1)
        return reply_error(out, size, ERROR_INVALID_ARG, "inject value out of range");
    e.delay_ms = (uint32_t)delay;
    e.fail_code = (uint32_t)fail;
    e.count = count;
    pthread_mutex_lock(&g_inj_mu);
    if (g_ninj == MAX_INJECT) {
        pthread_mutex_unlock(&g_inj_mu);
        return reply_error(out, size, ERROR_OUT_OF_MEMORY, "too many injections");
    }
    g_inj[g_ninj++] = e;
    atomic_store(&g_inj_active, g_ninj);
    int n = g_ninj;
    pthread_mutex_unlock(&g_inj_mu);
    char buf[64];
    snprintf(buf, sizeof buf, "{\"injections\":%d}", n);
    return reply(out, size, buf, ERROR_NONE);
}

static struct OpenCDMSession* session_arg(const rc_json* j) {
    char id[RC_MAX_ID + 1];
    int p;
    if (get_string(j, "session_id", id, sizeof id, &p) || !p) return NULL;
    return rc_session_find(id);
}

static uint32_t cmd_renewal(const rc_json* j, char* out, uint32_t* size) {
    struct OpenCDMSession* s = session_arg(j);
    if (!s) return reply_error(out, size, ERROR_INVALID_SESSION, "no live session with that id");
    pthread_mutex_lock(&s->mu);
    int closed = s->closed;
    if (!closed) rc_ks_renewal(s);
    pthread_mutex_unlock(&s->mu);
    rc_flush();
    rc_session_release(s);
    if (closed) return reply_error(out, size, ERROR_INVALID_SESSION, "session is closed");
    return reply(out, size, "{}", ERROR_NONE);
}

static uint32_t cmd_error(const rc_json* j, char* out, uint32_t* size) {
    char msg[256];
    int p;
    int64_t code = ERROR_FAIL;
    if (get_string(j, "message", msg, sizeof msg, &p) || !p || get_int(j, "code", &code, &p) ||
        code < 0 || code > 0xFFFFFFFFLL)
        return reply_error(out, size, ERROR_INVALID_ARG, "error needs a string \"message\"");
    struct OpenCDMSession* s = session_arg(j);
    if (!s) return reply_error(out, size, ERROR_INVALID_SESSION, "no live session with that id");
    pthread_mutex_lock(&s->mu);
    s->last_error = (OpenCDMError)code;
    rc_post_error(s, msg);
    pthread_mutex_unlock(&s->mu);
    rc_flush();
    rc_session_release(s);
    return reply(out, size, "{}", ERROR_NONE);
}

static uint32_t cmd_key_status(const rc_json* j, char* out, uint32_t* size) {
    char hex[2 * RC_MAX_KID + 2], st[40];
    uint8_t kid[RC_MAX_KID];
    int p1, p2;
    if (get_string(j, "key_id", hex, sizeof hex, &p1) || !p1 ||
        get_string(j, "status", st, sizeof st, &p2) || !p2)
        return reply_error(out, size, ERROR_INVALID_ARG, "key_status needs key_id and status");
    long kl = rc_unhex(hex, strlen(hex), kid, sizeof kid);
    KeyStatus status;
    if (kl <= 0) return reply_error(out, size, ERROR_INVALID_ARG, "key_id must be 1..16 bytes hex");
    if (rc_status_from_name(st, &status))
        return reply_error(out, size, ERROR_INVALID_ARG, "unknown status");
    struct OpenCDMSession* s = session_arg(j);
    if (!s) return reply_error(out, size, ERROR_INVALID_SESSION, "no live session with that id");
    pthread_mutex_lock(&s->mu);
    rc_key* k = rc_session_key(s, kid, (size_t)kl);
    if (k) {
        k->status = status;
        rc_post_key_update(s, &k->kid);
        rc_post_keys_updated(s);
    }
    pthread_mutex_unlock(&s->mu);
    rc_flush();
    rc_session_release(s);
    rc_status_changed();
    if (!k) return reply_error(out, size, ERROR_INVALID_ARG, "the session has no such key id");
    return reply(out, size, "{}", ERROR_NONE);
}

uint32_t drmkit_refcdm_test_control(const char* json, char* out, uint32_t* size) {
    if (!json) return reply_error(out, size, ERROR_INVALID_ARG, "NULL command");
    rc_json j;
    if (rc_json_parse(&j, json, strlen(json)) || j.t[0].type != JT_OBJ) {
        if (j.t) rc_json_free(&j);
        return reply_error(out, size, ERROR_INVALID_ARG, "command must be a JSON object");
    }
    char op[32];
    int p;
    uint32_t rc;
    if (get_string(&j, "op", op, sizeof op, &p) || !p) {
        rc = reply_error(out, size, ERROR_INVALID_ARG, "command needs a string \"op\"");
    } else if (!strcmp(op, "reset")) {
        pthread_mutex_lock(&g_inj_mu);
        g_ninj = 0;
        atomic_store(&g_inj_active, 0);
        pthread_mutex_unlock(&g_inj_mu);
        atomic_store(&g_quirks, 0u); /* back to "fixed" behaviour and the W3C challenge */
        atomic_store(&g_ocdm_challenge, 0);
        rc = reply(out, size, "{}", ERROR_NONE);
    } else if (!strcmp(op, "inject")) {
        rc = cmd_inject(&j, out, size);
    } else if (!strcmp(op, "renewal")) {
        rc = cmd_renewal(&j, out, size);
    } else if (!strcmp(op, "error")) {
        rc = cmd_error(&j, out, size);
    } else if (!strcmp(op, "key_status")) {
        rc = cmd_key_status(&j, out, size);
    } else if (!strcmp(op, "stats")) {
        unsigned sy, se, pe;
        rc_stats(&sy, &se, &pe);
        char buf[128];
        snprintf(buf, sizeof buf, "{\"systems\":%u,\"sessions\":%u,\"pending_callbacks\":%u}", sy,
                 se, pe);
        rc = reply(out, size, buf, ERROR_NONE);
    } else {
        rc = reply_error(out, size, ERROR_INVALID_ARG, "unknown op");
    }
    rc_json_free(&j);
    return rc;
}
