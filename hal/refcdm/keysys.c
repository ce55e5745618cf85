/*
 * Key-system behaviour: org.w3.clearkey (real) and the com.widevine.alpha,
 * com.microsoft.playready and com.netflix.playready simulations (real init data, drmkit's test
 * license format). Every function here runs with the session's `mu` held and only queues
 * callbacks; the exported caller flushes the queue after unlocking.
 */
#define _POSIX_C_SOURCE 200809L /* strict -std=c11: expose POSIX declarations */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "refcdm.h"

#define CLEARKEY_URL "http://no-valid-license-server"
#define WIDEVINE_URL "http://widevine-proxy.appspot.com/proxy"
#define PERSISTENT_ID_TYPE "persistent-session-id"

pthread_mutex_t g_status_mu = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t g_status_cond = PTHREAD_COND_INITIALIZER;
uint64_t g_status_epoch;

void rc_status_changed(void) {
    pthread_mutex_lock(&g_status_mu);
    g_status_epoch++;
    pthread_cond_broadcast(&g_status_cond);
    pthread_mutex_unlock(&g_status_mu);
}

static const struct {
    const char* name;
    KeyStatus st;
} STATUS_NAMES[] = {
    {"usable", Usable},
    {"expired", Expired},
    {"released", Released},
    {"output-restricted", OutputRestricted},
    {"output-restricted-hdcp22", OutputRestrictedHDCP22},
    {"output-downscaled", OutputDownscaled},
    {"status-pending", StatusPending},
    {"internal-error", InternalError},
    {"hw-error", HWError},
};

int rc_status_from_name(const char* name, KeyStatus* st) {
    for (size_t i = 0; i < sizeof STATUS_NAMES / sizeof STATUS_NAMES[0]; i++) {
        if (!strcmp(name, STATUS_NAMES[i].name)) {
            *st = STATUS_NAMES[i].st;
            return 0;
        }
    }
    return -1;
}

/* ---- keys ------------------------------------------------------------------------------------ */

rc_key* rc_session_key(struct OpenCDMSession* s, const uint8_t* kid, size_t len) {
    for (unsigned i = 0; i < s->nkeys; i++)
        if (rc_kid_eq(&s->keys[i].kid, kid, len)) return &s->keys[i];
    return NULL;
}

rc_key* rc_session_add_kid(struct OpenCDMSession* s, const rc_kid* kid) {
    rc_key* k = rc_session_key(s, kid->b, kid->len);
    if (k) return k;
    if (s->nkeys == s->capkeys) {
        if (s->capkeys >= RC_MAX_KEYS) return NULL;
        unsigned ncap = s->capkeys ? s->capkeys * 2 : 8;
        rc_key* nk = realloc(s->keys, ncap * sizeof *nk);
        if (!nk) return NULL;
        s->keys = nk;
        s->capkeys = ncap;
    }
    k = &s->keys[s->nkeys++];
    memset(k, 0, sizeof *k);
    k->kid = *kid;
    k->status = StatusPending;
    return k;
}

/* Installs key material (all-or-nothing checks happen before). */
static int set_key(struct OpenCDMSession* s, const rc_kid* kid, const uint8_t key[16],
                   KeyStatus st) {
    rc_key* k = rc_session_add_kid(s, kid);
    if (!k) return -1;
    if (!k->has_key || memcmp(k->key, key, 16) != 0) {
        rc_key_free_ctx(k); /* new key material: cached contexts hold the old schedule */
        memcpy(k->key, key, 16);
    }
    k->has_key = 1;
    k->status = st;
    return 0;
}

void rc_session_post_all_statuses(struct OpenCDMSession* s) {
    for (unsigned i = 0; i < s->nkeys; i++)
        if (s->keys[i].has_key) rc_post_key_update(s, &s->keys[i].kid);
    rc_post_keys_updated(s);
}

/* ---- session ids ----------------------------------------------------------------------------- */

static pthread_mutex_t g_id_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t g_clearkey_next = 10;

/* fork(): hold the leaf locks across it; waiters on g_status_cond do not exist in the child. */
static void keysys_prepare(void) {
    pthread_mutex_lock(&g_id_mu);
    pthread_mutex_lock(&g_status_mu);
}

static void keysys_parent(void) {
    pthread_mutex_unlock(&g_status_mu);
    pthread_mutex_unlock(&g_id_mu);
}

static void keysys_child(void) {
    pthread_cond_init(&g_status_cond, NULL);
    keysys_parent();
}

__attribute__((constructor)) static void keysys_load(void) {
    pthread_atfork(keysys_prepare, keysys_parent, keysys_child);
}

void rc_new_session_id(struct OpenCDMSession* s) {
    uint8_t r[16];
    char id[RC_MAX_ID + 1];
    for (int tries = 0; tries < 100000; tries++) {
        switch (s->ks) {
            case KS_CLEARKEY: {
                /* Process-wide decimal counter from "10" like OCDM-Clearkey; ids held by a live
                 * session or a persisted record (an earlier process) are skipped, never reused. */
                pthread_mutex_lock(&g_id_mu);
                uint64_t v = g_clearkey_next++;
                pthread_mutex_unlock(&g_id_mu);
                snprintf(id, sizeof id, "%llu", (unsigned long long)v);
                if (rc_record_exists(s->ks, id)) continue;
                break;
            }
            case KS_WIDEVINE:
                rc_random(r, sizeof r);
                rc_hex(r, sizeof r, id);
                break;
            default:
                rc_random(r, sizeof r);
                rc_b64_encode(r, sizeof r, id, sizeof id, 0, 1);
                break;
        }
        if (rc_session_claim_id(s, id) == 0) return;
    }
}

/* ---- challenges ------------------------------------------------------------------------------ */

static char* sb_alloc(rc_sb* sb, size_t cap) {
    char* b = malloc(cap);
    if (b) rc_sb_init(sb, b, cap);
    return b;
}

static void post_sb(struct OpenCDMSession* s, const char* url, rc_sb* sb, int include_nul) {
    if (!sb->overflow) rc_post_challenge(s, url, (const uint8_t*)sb->buf, sb->len + !!include_nul);
}

static const rc_kid* init_kid(const struct OpenCDMSession* s, unsigned i) {
    return &s->init->kids[i];
}

static void clearkey_request(struct OpenCDMSession* s, const char* type, int release) {
    rc_sb sb;
    size_t cap = 128 + (size_t)s->nkeys * 40 + (size_t)s->init->nkids * 40;
    char* b = sb_alloc(&sb, cap);
    if (!b) return;
    int ocdm = rc_cfg_ocdm_challenge();
    rc_sb_raw(&sb, ocdm ? "{\"kids\" : [" : "{\"kids\":[");
    unsigned n = 0;
    if (release) {
        for (unsigned i = 0; i < s->nkeys; i++) {
            if (!s->keys[i].has_key) continue;
            char e[48];
            rc_b64_encode(s->keys[i].kid.b, s->keys[i].kid.len, e, sizeof e, !ocdm, 0);
            rc_sb_raw(&sb, n++ ? ",\"" : "\"");
            rc_sb_raw(&sb, e);
            rc_sb_raw(&sb, "\"");
        }
    } else if (s->init->nkids) {
        for (unsigned i = 0; i < s->init->nkids; i++) {
            char e[48];
            rc_b64_encode(init_kid(s, i)->b, init_kid(s, i)->len, e, sizeof e, !ocdm, 0);
            rc_sb_raw(&sb, n++ ? ",\"" : "\"");
            rc_sb_raw(&sb, e);
            rc_sb_raw(&sb, "\"");
        }
    } else { /* a loaded session (no init data): the kids it holds */
        for (unsigned i = 0; i < s->nkeys; i++) {
            char e[48];
            rc_b64_encode(s->keys[i].kid.b, s->keys[i].kid.len, e, sizeof e, !ocdm, 0);
            rc_sb_raw(&sb, n++ ? ",\"" : "\"");
            rc_sb_raw(&sb, e);
            rc_sb_raw(&sb, "\"");
        }
    }
    if (ocdm && !release) type = "temporary"; /* the real OCDM ClearKey always says temporary */
    rc_sb_fmt(&sb, "],\"type\":\"%s\"}", type);
    post_sb(s, CLEARKEY_URL, &sb, 0);
    free(b);
}

static const char* ltype_name(LicenseType t) {
    return t == PersistentLicense       ? "persistent-license"
           : t == PersistentUsageRecord ? "persistent-usage-record"
                                        : "temporary";
}

/* Widevine: "<n>:Type:" + a JSON body naming the session and key ids (drmkit's test format). */
static void widevine_message(struct OpenCDMSession* s, int msg_type, const char* type) {
    rc_sb sb;
    size_t cap = 1024 + (size_t)(s->init->nkids + s->nkeys) * 40 + s->init->content_id_len * 2;
    char* b = sb_alloc(&sb, cap);
    if (!b) return;
    rc_sb_fmt(&sb, "%d:Type:", msg_type);
    rc_sb_raw(&sb, "{\"drmkit_test_challenge\":1,\"key_system\":\"com.widevine.alpha\",\"type\":");
    rc_sb_jstr(&sb, type, strlen(type));
    rc_sb_raw(&sb, ",\"session_id\":");
    rc_sb_jstr(&sb, s->id, strlen(s->id));
    rc_sb_fmt(&sb, ",\"license_type\":\"%s\",\"kids\":[", ltype_name(s->ltype));
    unsigned n = 0;
    for (unsigned i = 0; i < s->nkeys; i++) {
        char h[2 * RC_MAX_KID + 1];
        rc_hex(s->keys[i].kid.b, s->keys[i].kid.len, h);
        rc_sb_fmt(&sb, "%s\"%s\"", n++ ? "," : "", h);
    }
    rc_sb_raw(&sb, "],\"provider\":");
    rc_sb_jstr(&sb, s->init->provider, strlen(s->init->provider));
    char cid[400];
    rc_b64_encode(s->init->content_id, s->init->content_id_len, cid, sizeof cid, 0, 1);
    rc_sb_raw(&sb, ",\"content_id\":");
    rc_sb_jstr(&sb, cid, strlen(cid));
    uint32_t ps = s->init->protection_scheme;
    char fourcc[5] = {(char)(ps >> 24), (char)(ps >> 16), (char)(ps >> 8), (char)ps, 0};
    int printable = ps != 0;
    for (int i = 0; i < 4; i++)
        if (fourcc[i] < 0x20 || fourcc[i] > 0x7e) printable = 0;
    rc_sb_raw(&sb, ",\"protection_scheme\":");
    rc_sb_jstr(&sb, printable ? fourcc : "", printable ? 4 : 0);
    rc_sb_raw(&sb, "}");
    post_sb(s, WIDEVINE_URL, &sb, 0);
    free(b);
}

/* PlayReady: a SOAP AcquireLicense challenge; DrmkitTestRequest carries what drmkit's test
 * license server needs (session id, key ids in CENC byte order as hex). */
static char* playready_challenge(struct OpenCDMSession* s, const char* type, int ldl,
                                 size_t* len) {
    rc_sb sb;
    size_t cap = 2048 + (size_t)s->nkeys * 120 + s->cdm_data_len * 6;
    char* b = sb_alloc(&sb, cap);
    if (!b) return NULL;
    uint8_t nonce[16];
    char nonce64[32];
    rc_random(nonce, sizeof nonce);
    rc_b64_encode(nonce, sizeof nonce, nonce64, sizeof nonce64, 0, 1);
    rc_sb_raw(&sb,
              "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
              "<soap:Envelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
              "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" "
              "xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>"
              "<AcquireLicense xmlns=\"http://schemas.microsoft.com/DRM/2007/03/protocols\">"
              "<challenge><Challenge "
              "xmlns=\"http://schemas.microsoft.com/DRM/2007/03/protocols/messages\">"
              "<LA xmlns=\"http://schemas.microsoft.com/DRM/2007/03/protocols\" Id=\"SignedData\">"
              "<Version>1</Version><ContentHeader><WRMHEADER "
              "xmlns=\"http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader\" "
              "version=\"4.2.0.0\"><DATA><PROTECTINFO><KIDS>");
    for (unsigned i = 0; i < s->nkeys; i++) {
        if (s->keys[i].kid.len != 16) continue;
        static const uint8_t swap[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
        uint8_t le[16];
        char v[32];
        for (int k = 0; k < 16; k++) le[k] = s->keys[i].kid.b[swap[k]];
        rc_b64_encode(le, 16, v, sizeof v, 0, 1);
        rc_sb_fmt(&sb, "<KID ALGID=\"AESCTR\" VALUE=\"%s\"></KID>", v);
    }
    rc_sb_raw(&sb, "</KIDS></PROTECTINFO>");
    if (s->init->la_url[0]) {
        rc_sb_raw(&sb, "<LA_URL>");
        rc_sb_xml(&sb, s->init->la_url, strlen(s->init->la_url));
        rc_sb_raw(&sb, "</LA_URL>");
    }
    rc_sb_raw(&sb, "</DATA></WRMHEADER></ContentHeader>");
    if (s->cdm_data_len) {
        /* Text custom data is embedded escaped; anything with control bytes as base64. */
        int text = 1;
        for (size_t i = 0; i < s->cdm_data_len; i++) {
            uint8_t ch = s->cdm_data[i];
            if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7f) text = 0;
        }
        if (text) {
            rc_sb_raw(&sb, "<CustomData>");
            rc_sb_xml(&sb, (const char*)s->cdm_data, s->cdm_data_len);
        } else {
            char* enc = malloc(s->cdm_data_len / 3 * 4 + 8);
            if (!enc) {
                free(b);
                return NULL;
            }
            rc_b64_encode(s->cdm_data, s->cdm_data_len, enc, s->cdm_data_len / 3 * 4 + 8, 0, 1);
            rc_sb_raw(&sb, "<CustomData Encoding=\"base64\">");
            rc_sb_raw(&sb, enc);
            free(enc);
        }
        rc_sb_raw(&sb, "</CustomData>");
    }
    rc_sb_fmt(&sb, "<LicenseNonce>%s</LicenseNonce>", nonce64);
    rc_sb_fmt(&sb, "<DrmkitTestRequest KeySystem=\"%s\" Type=\"%s\" LDL=\"%d\" SessionId=\"",
              s->ks_name, type, ldl ? 1 : 0);
    rc_sb_xml(&sb, s->id, strlen(s->id));
    rc_sb_raw(&sb, "\">");
    for (unsigned i = 0; i < s->nkeys; i++) {
        char h[2 * RC_MAX_KID + 1];
        rc_hex(s->keys[i].kid.b, s->keys[i].kid.len, h);
        rc_sb_fmt(&sb, "<KID>%s</KID>", h);
    }
    rc_sb_raw(&sb, "</DrmkitTestRequest></LA></Challenge></challenge></AcquireLicense>"
                   "</soap:Body></soap:Envelope>");
    if (sb.overflow) {
        free(b);
        return NULL;
    }
    *len = sb.len;
    return b;
}

static void playready_post(struct OpenCDMSession* s, const char* type) {
    size_t len;
    char* c = playready_challenge(s, type, 0, &len);
    if (!c) return;
    rc_post_challenge(s, s->init->la_url, (const uint8_t*)c, len);
    free(c);
}

/* ---- construct ------------------------------------------------------------------------------- */

/* Session ids drmkit hands out use only these characters (decimal, hex, base64). */
#define PERSISTED_ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-."
static int valid_persisted_id(const uint8_t* d, size_t n) {
    if (n == 0 || n > RC_MAX_ID) return 0;
    for (size_t i = 0; i < n; i++)
        if (d[i] == 0 || !strchr(PERSISTED_ID_CHARS, d[i])) return 0;
    return 1;
}

static void add_init_kids(struct OpenCDMSession* s) {
    for (unsigned i = 0; i < s->init->nkids; i++) rc_session_add_kid(s, init_kid(s, i));
}

static int set_header(struct OpenCDMSession* s, const uint8_t* d, size_t n) {
    rc_initdata* fresh = calloc(1, sizeof *fresh);
    uint8_t* copy = malloc(n);
    if (!fresh || !copy || rc_parse_playready_initdata(d, n, fresh)) {
        free(fresh);
        free(copy);
        return -1;
    }
    memcpy(copy, d, n);
    free(s->init);
    s->init = fresh;
    free(s->drm_header);
    s->drm_header = copy;
    s->drm_header_len = n;
    free(s->challenge);
    s->challenge = NULL;
    s->challenge_len = 0;
    add_init_kids(s);
    return 0;
}

/* Unusable init data for Widevine/PlayReady. Fixed: construct fails. Faithful
 * ("empty_challenge_on_failure"): the real backends' Run() reports generateRequest failure as
 * process_challenge_callback(url "", zero-length challenge) and construct succeeds. */
static OpenCDMError generate_request_failed(struct OpenCDMSession* s) {
    if (!rc_quirk(Q_EMPTY_CHALLENGE_ON_FAILURE)) return ERROR_INVALID_ARG;
    memset(s->init, 0, sizeof *s->init);
    rc_new_session_id(s);
    rc_post_challenge(s, "", NULL, 0);
    return ERROR_NONE;
}

OpenCDMError rc_ks_construct(struct OpenCDMSession* s, const char* type, const uint8_t* init,
                             size_t init_len) {
    s->init = calloc(1, sizeof *s->init);
    if (!s->init) return ERROR_OUT_OF_MEMORY;
    if (!strcmp(type, PERSISTENT_ID_TYPE) && (s->ks == KS_CLEARKEY || s->ks == KS_WIDEVINE)) {
        if (s->ltype != PersistentLicense || !valid_persisted_id(init, init_len))
            return ERROR_INVALID_ARG;
        char id[RC_MAX_ID + 1];
        memcpy(id, init, init_len);
        id[init_len] = '\0';
        if (rc_session_claim_id(s, id)) return ERROR_INVALID_ARG; /* already loaded */
        s->loadable = 1;
        return ERROR_NONE;
    }
    switch (s->ks) {
        case KS_CLEARKEY:
            if (s->ltype != Temporary && s->ltype != PersistentLicense) return ERROR_INVALID_ARG;
            if (rc_parse_clearkey_initdata(type, init, init_len, s->init)) return ERROR_INVALID_ARG;
            add_init_kids(s);
            rc_new_session_id(s);
            clearkey_request(s, ltype_name(s->ltype), 0);
            return ERROR_NONE;
        case KS_WIDEVINE:
            if (rc_parse_widevine_initdata(type, init, init_len, s->init))
                return generate_request_failed(s);
            add_init_kids(s);
            rc_new_session_id(s);
            widevine_message(s, 0, "license-request");
            return ERROR_NONE;
        case KS_PLAYREADY:
            if (rc_parse_playready_initdata(init, init_len, s->init))
                return generate_request_failed(s);
            add_init_kids(s);
            rc_new_session_id(s);
            playready_post(s, "license-request");
            return ERROR_NONE;
        case KS_NETFLIX: {
            /* The Netflix flow passes the DRM header as init data (OCDM-Playready swaps init data
             * and CDM data internally); an empty one may be set later with set_drm_header. */
            const uint8_t* hdr = init_len ? init : s->cdm_data;
            size_t hl = init_len ? init_len : s->cdm_data_len;
            if (hl && set_header(s, hdr, hl)) return ERROR_INVALID_ARG;
            rc_new_session_id(s);
            return ERROR_NONE;
        }
    }
    return ERROR_INVALID_ARG;
}

/* ---- licenses -------------------------------------------------------------------------------- */

typedef struct {
    rc_kid kid;
    uint8_t key[16];
    KeyStatus st;
} lic_key;

/* W3C Clear Key JWK set. Returns the number of keys or -1 with `err` set. */
static int parse_jwk_set(const uint8_t* msg, size_t len, lic_key* out, int cap, char* err,
                         size_t errcap) {
    rc_json j;
    if (rc_json_parse(&j, (const char*)msg, len)) {
        snprintf(err, errcap, "license is not valid JSON");
        return -1;
    }
    int n = -1;
    long keys = rc_json_get(&j, 0, "keys");
    if (j.t[0].type != JT_OBJ || keys < 0 || j.t[keys].type != JT_ARR) {
        snprintf(err, errcap, "license is not a JWK set (no \"keys\" array)");
        goto done;
    }
    if (j.t[keys].size == 0) {
        snprintf(err, errcap, "license has no keys");
        goto done;
    }
    if (j.t[keys].size > (uint32_t)cap) {
        snprintf(err, errcap, "license has too many keys");
        goto done;
    }
    uint32_t e = rc_json_first(&j, (uint32_t)keys);
    for (uint32_t i = 0; i < j.t[keys].size; i++, e = j.t[e].next) {
        if (j.t[e].type != JT_OBJ) {
            snprintf(err, errcap, "license key %u is not an object", i);
            goto done;
        }
        long kty = rc_json_get(&j, e, "kty"), k = rc_json_get(&j, e, "k"),
             kid = rc_json_get(&j, e, "kid");
        char s[128];
        if (kty < 0 || !rc_json_key_is(&j, (uint32_t)kty, "oct")) {
            snprintf(err, errcap, "license key %u: kty must be \"oct\"", i);
            goto done;
        }
        uint8_t kb[64];
        long kl = kid < 0 ? -1 : rc_json_str(&j, (uint32_t)kid, s, sizeof s);
        kl = kl < 0 ? -1 : rc_b64_decode(s, (size_t)kl, kb, sizeof kb);
        if (kl <= 0 || kl > RC_MAX_KID) {
            snprintf(err, errcap, "license key %u: kid must be base64url of 1..16 bytes", i);
            goto done;
        }
        out[i].kid.len = (uint8_t)kl;
        memcpy(out[i].kid.b, kb, (size_t)kl);
        long vl = k < 0 ? -1 : rc_json_str(&j, (uint32_t)k, s, sizeof s);
        vl = vl < 0 ? -1 : rc_b64_decode(s, (size_t)vl, kb, sizeof kb);
        if (vl != RC_KEY_LEN) {
            snprintf(err, errcap, "license key %u: k must be base64url of a 16-byte key", i);
            goto done;
        }
        memcpy(out[i].key, kb, 16);
        out[i].st = Usable;
    }
    n = (int)j.t[keys].size;
done:
    rc_json_free(&j);
    return n;
}

/* drmkit's test license for the simulations:
 * {"drmkit_test_license":1,"key_system":"<ks>","session_id":"<id>",
 *  "keys":[{"kid":"<hex>","key":"<hex 16 bytes>","status":"usable"}]} */
static int parse_test_license(const struct OpenCDMSession* s, const uint8_t* msg, size_t len,
                              lic_key* out, int cap, char* err, size_t errcap) {
    rc_json j;
    if (rc_json_parse(&j, (const char*)msg, len)) {
        snprintf(err, errcap, "license is not valid JSON");
        return -1;
    }
    int n = -1;
    int64_t ver = 0;
    char buf[128];
    long t;
    rc_ks lks;
    if (j.t[0].type != JT_OBJ || (t = rc_json_get(&j, 0, "drmkit_test_license")) < 0 ||
        rc_json_int(&j, (uint32_t)t, &ver) || ver != 1) {
        snprintf(err, errcap, "not a drmkit test license (drmkit_test_license must be 1)");
        goto done;
    }
    if ((t = rc_json_get(&j, 0, "key_system")) < 0 ||
        rc_json_str(&j, (uint32_t)t, buf, sizeof buf) < 0 || rc_ks_from_name(buf, &lks) ||
        lks != s->ks) {
        snprintf(err, errcap, "license is for another key system");
        goto done;
    }
    if ((t = rc_json_get(&j, 0, "session_id")) < 0 ||
        rc_json_str(&j, (uint32_t)t, buf, sizeof buf) < 0 || strcmp(buf, s->id) != 0) {
        snprintf(err, errcap, "license is for another session");
        goto done;
    }
    long keys = rc_json_get(&j, 0, "keys");
    if (keys < 0 || j.t[keys].type != JT_ARR || j.t[keys].size == 0 ||
        j.t[keys].size > (uint32_t)cap) {
        snprintf(err, errcap, "license needs a non-empty \"keys\" array");
        goto done;
    }
    uint32_t e = rc_json_first(&j, (uint32_t)keys);
    for (uint32_t i = 0; i < j.t[keys].size; i++, e = j.t[e].next) {
        long kid = rc_json_get(&j, e, "kid"), key = rc_json_get(&j, e, "key"),
             st = rc_json_get(&j, e, "status");
        long l;
        if (j.t[e].type != JT_OBJ || kid < 0 ||
            (l = rc_json_str(&j, (uint32_t)kid, buf, sizeof buf)) < 0 ||
            (l = rc_unhex(buf, (size_t)l, out[i].kid.b, RC_MAX_KID)) <= 0) {
            snprintf(err, errcap, "license key %u: kid must be hex of 1..16 bytes", i);
            goto done;
        }
        out[i].kid.len = (uint8_t)l;
        if (key < 0 || (l = rc_json_str(&j, (uint32_t)key, buf, sizeof buf)) < 0 ||
            rc_unhex(buf, (size_t)l, out[i].key, 16) != 16) {
            snprintf(err, errcap, "license key %u: key must be hex of 16 bytes", i);
            goto done;
        }
        out[i].st = Usable;
        if (st >= 0 && (rc_json_str(&j, (uint32_t)st, buf, sizeof buf) < 0 ||
                        rc_status_from_name(buf, &out[i].st))) {
            snprintf(err, errcap, "license key %u: unknown status", i);
            goto done;
        }
    }
    n = (int)j.t[keys].size;
done:
    rc_json_free(&j);
    return n;
}

/* A ClearKey license-release acknowledgement: {"kids":[...]} after remove(). */
static int is_release_ack(const uint8_t* msg, size_t len) {
    rc_json j;
    if (rc_json_parse(&j, (const char*)msg, len)) return 0;
    int ok = j.t[0].type == JT_OBJ && rc_json_get(&j, 0, "keys") == -1 &&
             rc_json_get(&j, 0, "kids") >= 0 && j.t[rc_json_get(&j, 0, "kids")].type == JT_ARR;
    rc_json_free(&j);
    return ok;
}

static OpenCDMError reject(struct OpenCDMSession* s, const char* err) {
    s->last_error = ERROR_INVALID_ARG;
    /* Widevine reports the CE CDM status name, as OCDM-Widevine does. */
    rc_post_error(s, s->ks == KS_WIDEVINE ? "TypeError" : err);
    return ERROR_INVALID_ARG;
}

static OpenCDMError install_license(struct OpenCDMSession* s, const uint8_t* msg, size_t len) {
    lic_key* keys = malloc(sizeof(lic_key) * RC_MAX_KEYS);
    if (!keys) return ERROR_OUT_OF_MEMORY;
    char err[160] = "";
    int n = s->ks == KS_CLEARKEY ? parse_jwk_set(msg, len, keys, RC_MAX_KEYS, err, sizeof err)
                                 : parse_test_license(s, msg, len, keys, RC_MAX_KEYS, err,
                                                      sizeof err);
    if (n < 0) {
        free(keys);
        if (s->ks == KS_CLEARKEY && rc_quirk(Q_CLEARKEY_SILENT_LICENSE_ERRORS)) {
            /* faithful OCDM-Clearkey: no error, no new key, keys_updated still fires */
            rc_session_post_all_statuses(s);
            return ERROR_NONE;
        }
        return reject(s, err);
    }
    for (int i = 0; i < n; i++) {
        if (!rc_session_key(s, keys[i].kid.b, keys[i].kid.len) && s->nkeys >= RC_MAX_KEYS) {
            free(keys);
            return reject(s, "too many keys in the session");
        }
    }
    for (int i = 0; i < n; i++) set_key(s, &keys[i].kid, keys[i].key, keys[i].st);
    memset(keys, 0, sizeof(lic_key) * (size_t)n);
    free(keys);
    s->removed = 0;
    if (s->ltype == PersistentLicense && (s->ks == KS_CLEARKEY || s->ks == KS_WIDEVINE) &&
        rc_record_save(s)) {
        rc_post_error(s, "could not save the persistent license");
        rc_session_post_all_statuses(s);
        s->last_error = ERROR_FAIL;
        return ERROR_FAIL;
    }
    rc_session_post_all_statuses(s);
    return ERROR_NONE;
}

OpenCDMError rc_ks_update(struct OpenCDMSession* s, const uint8_t* msg, size_t len) {
    s->n_updates++;
    if (s->ks == KS_CLEARKEY && s->removed && is_release_ack(msg, len)) return ERROR_NONE;
    return install_license(s, msg, len);
}

OpenCDMError rc_ks_store_license(struct OpenCDMSession* s, const uint8_t* lic, size_t len,
                                 uint8_t* ssid) {
    OpenCDMError rc = install_license(s, lic, len);
    if (rc) return rc;
    uint8_t id[16];
    do {
        if (rc_random(id, sizeof id)) return ERROR_FAIL;
    } while (!memcmp(id, (const uint8_t[16]){0}, 16));
    memcpy(ssid, id, 16);
    rc_secure_stop_add(s->system, id, s->id);
    char line[256], h[33];
    rc_hex(id, 16, h);
    snprintf(line, sizeof line, "{\"secure_stop_id\":\"%s\",\"session_id\":\"%s\"}\n", h, s->id);
    rc_drmstore_append(line);
    return ERROR_NONE;
}

/* ---- load / remove / renewal ----------------------------------------------------------------- */

OpenCDMError rc_ks_load(struct OpenCDMSession* s) {
    if (!s->loadable) return ERROR_INVALID_ARG;
    int rc = rc_record_load(s);
    if (rc == -1) return ERROR_UNKNOWN; /* no such persisted session */
    if (rc < 0) {
        rc_post_error(s, "persistent session record is corrupt");
        s->last_error = ERROR_FAIL;
        return ERROR_FAIL;
    }
    s->loadable = 0;
    rc_session_post_all_statuses(s);
    return ERROR_NONE;
}

OpenCDMError rc_ks_remove(struct OpenCDMSession* s) {
    int any = 0;
    for (unsigned i = 0; i < s->nkeys; i++) {
        if (!s->keys[i].has_key) continue;
        s->keys[i].status = Released;
        rc_key_free_ctx(&s->keys[i]);
        any = 1;
    }
    if (any) rc_session_post_all_statuses(s);
    int persistent = s->ltype == PersistentLicense && (s->ks == KS_CLEARKEY || s->ks == KS_WIDEVINE);
    if (persistent) rc_record_delete(s->ks, s->id);
    if (s->ks == KS_CLEARKEY && persistent) clearkey_request(s, "persistent-license", 1);
    else if (s->ks == KS_WIDEVINE) widevine_message(s, 2, "license-release");
    s->removed = 1;
    s->bound = 0;
    return ERROR_NONE;
}

void rc_ks_renewal(struct OpenCDMSession* s) {
    switch (s->ks) {
        case KS_CLEARKEY: clearkey_request(s, ltype_name(s->ltype), 0); break;
        case KS_WIDEVINE: widevine_message(s, 1, "license-renewal"); break;
        default: playready_post(s, "license-renewal"); break;
    }
}

/* ---- PlayReady extension --------------------------------------------------------------------- */

OpenCDMError rc_ks_set_drm_header(struct OpenCDMSession* s, const uint8_t* d, size_t n) {
    return set_header(s, d, n) ? ERROR_INVALID_ARG : ERROR_NONE;
}

OpenCDMError rc_ks_build_challenge(struct OpenCDMSession* s, int ldl) {
    if (s->challenge) return ERROR_NONE; /* stable between the two passes */
    if (!s->drm_header && !s->init->have_playready) return ERROR_INVALID_ARG;
    size_t len;
    char* c = playready_challenge(s, "license-request", ldl, &len);
    if (!c) return ERROR_OUT_OF_MEMORY;
    s->challenge = (uint8_t*)c;
    s->challenge_len = len;
    return ERROR_NONE;
}
