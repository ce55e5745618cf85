/*
 * Standalone smoke test of libdrmkit_refcdm.so (make -C hal/refcdm check / asan / valgrind).
 * The HAL's pytest suite is the real test suite; this one lets the C library be iterated on, and
 * run under sanitizers and valgrind, without the Python binding.
 */
#define _POSIX_C_SOURCE 200809L
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drmkit/open_cdm.h"
#include "drmkit/refcdm_control.h"

static int failures;
#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            failures++;                                                        \
        }                                                                      \
    } while (0)

/* ---- callback recorder ----------------------------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int challenges, key_updates, keys_updated, errors;
    char url[256];
    char challenge[8192];
    unsigned challenge_len;
    char error[256];
    pthread_t main_thread;
    int on_caller_thread;
    struct OpenCDMSession* session;
} rec_t;

static void rec_init(rec_t* r) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->main_thread = pthread_self();
}

static void rec_free(rec_t* r) {
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

static void note_thread(rec_t* r) {
    if (pthread_equal(pthread_self(), r->main_thread)) r->on_caller_thread = 1;
}

static void cb_challenge(struct OpenCDMSession* s, void* ud, const char url[], const uint8_t c[],
                         const uint16_t len) {
    rec_t* r = ud;
    /* Calling back into the CDM from a callback must not deadlock. */
    (void)opencdm_session_has_key_id(s, 16, (const uint8_t*)"0123456789abcdef");
    pthread_mutex_lock(&r->mu);
    note_thread(r);
    r->challenges++;
    snprintf(r->url, sizeof r->url, "%s", url);
    r->challenge_len = len < sizeof r->challenge - 1 ? len : sizeof r->challenge - 1;
    memcpy(r->challenge, c, r->challenge_len);
    r->challenge[r->challenge_len] = 0;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void cb_key(struct OpenCDMSession* s, void* ud, const uint8_t kid[], const uint8_t len) {
    rec_t* r = ud;
    (void)s;
    (void)kid;
    (void)len;
    pthread_mutex_lock(&r->mu);
    note_thread(r);
    r->key_updates++;
    pthread_mutex_unlock(&r->mu);
}

static void cb_error(struct OpenCDMSession* s, void* ud, const char msg[]) {
    rec_t* r = ud;
    (void)s;
    pthread_mutex_lock(&r->mu);
    note_thread(r);
    r->errors++;
    snprintf(r->error, sizeof r->error, "%s", msg);
    pthread_mutex_unlock(&r->mu);
}

static void cb_keys_updated(const struct OpenCDMSession* s, void* ud) {
    rec_t* r = ud;
    (void)s;
    pthread_mutex_lock(&r->mu);
    note_thread(r);
    r->keys_updated++;
    pthread_mutex_unlock(&r->mu);
}

static OpenCDMSessionCallbacks CBS = {cb_challenge, cb_key, cb_error, cb_keys_updated};

static void wait_challenges(rec_t* r, int n) {
    pthread_mutex_lock(&r->mu);
    while (r->challenges < n) pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

/* ---- helpers --------------------------------------------------------------------------------- */

static void unhex(const char* h, uint8_t* out) {
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) sscanf(h + 2 * i, "%2hhx", &out[i]);
}

static void b64url(const uint8_t* in, size_t n, char* out) {
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = a[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = a[v & 63];
    }
    out[o] = 0;
}

static uint32_t control(const char* json, char* reply, size_t cap) {
    uint32_t size = (uint32_t)cap;
    return drmkit_refcdm_test_control(json, reply, &size);
}

static void expect_stats_zero(void) {
    char reply[256];
    CHECK(control("{\"op\":\"stats\"}", reply, sizeof reply) == 0);
    CHECK(strcmp(reply, "{\"systems\":0,\"sessions\":0,\"pending_callbacks\":0}") == 0);
    if (strcmp(reply, "{\"systems\":0,\"sessions\":0,\"pending_callbacks\":0}"))
        fprintf(stderr, "stats: %s\n", reply);
}

/* Reference encryptors (independent of the library's engine) built on AES-ECB. */
static void aes_ecb(const uint8_t key[16], const uint8_t in[16], uint8_t out[16]) {
    EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
    int l;
    EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, key, NULL);
    EVP_CIPHER_CTX_set_padding(c, 0);
    EVP_EncryptUpdate(c, out, &l, in, 16);
    EVP_CIPHER_CTX_free(c);
}

static void ctr_inc(uint8_t ctr[16]) {
    for (int i = 15; i >= 0; i--)
        if (++ctr[i]) break;
}

/* cenc: CTR keystream over the concatenated protected ranges. */
static void ref_cenc(const uint8_t key[16], const uint8_t iv[16], uint8_t* buf,
                     const SubSampleInfo* sub, int nsub) {
    uint8_t ctr[16], ks[16];
    memcpy(ctr, iv, 16);
    unsigned used = 16;
    uint8_t* p = buf;
    for (int i = 0; i < nsub; i++) {
        p += sub[i].clear_bytes;
        for (uint32_t k = 0; k < sub[i].encrypted_bytes; k++) {
            if (used == 16) {
                aes_ecb(key, ctr, ks);
                ctr_inc(ctr);
                used = 0;
            }
            p[k] ^= ks[used++];
        }
        p += sub[i].encrypted_bytes;
    }
}

/* cbcs encrypt: per subsample, IV reset, pattern crypt:skip, partial crypt groups clear. */
static void ref_cbcs_encrypt(const uint8_t key[16], const uint8_t iv[16], uint8_t* buf,
                             const SubSampleInfo* sub, int nsub, uint32_t crypt, uint32_t skip) {
    uint8_t* p = buf;
    for (int i = 0; i < nsub; i++) {
        p += sub[i].clear_bytes;
        uint8_t chain[16];
        memcpy(chain, iv, 16);
        size_t n = sub[i].encrypted_bytes, off = 0;
        if (crypt == 0) {
            crypt = 1;
            skip = 0;
        }
        while (n - off >= crypt * 16u) {
            for (uint32_t b = 0; b < crypt; b++) {
                uint8_t x[16];
                for (int k = 0; k < 16; k++) x[k] = p[off + k] ^ chain[k];
                aes_ecb(key, x, p + off);
                memcpy(chain, p + off, 16);
                off += 16;
            }
            size_t s = n - off < skip * 16u ? n - off : skip * 16u;
            off += s;
        }
        p += sub[i].encrypted_bytes;
    }
}

/* cens: CTR keystream over the crypt blocks only (partial crypt groups and tails clear). */
static void ref_cens(const uint8_t key[16], const uint8_t iv[16], uint8_t* buf,
                     const SubSampleInfo* sub, int nsub, uint32_t crypt, uint32_t skip) {
    uint8_t ctr[16], ks[16];
    memcpy(ctr, iv, 16);
    uint8_t* p = buf;
    for (int i = 0; i < nsub; i++) {
        p += sub[i].clear_bytes;
        size_t n = sub[i].encrypted_bytes, off = 0;
        while (n - off >= crypt * 16u) {
            for (uint32_t b = 0; b < crypt * 16u; b++) {
                if (b % 16 == 0) {
                    aes_ecb(key, ctr, ks);
                    ctr_inc(ctr);
                }
                p[off + b] ^= ks[b % 16];
            }
            off += crypt * 16u;
            off += n - off < skip * 16u ? n - off : skip * 16u;
        }
        p += sub[i].encrypted_bytes;
    }
}

/* ---- tests ----------------------------------------------------------------------------------- */

static const char* KID_HEX = "0123456789abcdef0123456789abcdef";
static const char* KEY_HEX = "2b7e151628aed2a6abf7158809cf4f3c"; /* SP 800-38A */

static struct OpenCDMSession* clearkey_session(struct OpenCDMSystem* sys, rec_t* r, LicenseType lt) {
    uint8_t kid[16];
    char kid64[32], init[128];
    unhex(KID_HEX, kid);
    b64url(kid, 16, kid64);
    snprintf(init, sizeof init, "{\"kids\":[\"%s\"]}", kid64);
    struct OpenCDMSession* s = NULL;
    CHECK(opencdm_construct_session(sys, lt, "keyids", (const uint8_t*)init,
                                    (uint16_t)strlen(init), NULL, 0, &CBS, r, &s) == ERROR_NONE);
    CHECK(s != NULL);
    return s;
}

static void license_for(const char* key_hex, char* out, size_t cap) {
    uint8_t kid[16], key[16];
    char kid64[32], key64[32];
    unhex(KID_HEX, kid);
    unhex(key_hex, key);
    b64url(kid, 16, kid64);
    b64url(key, 16, key64);
    snprintf(out, cap, "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"%s\",\"k\":\"%s\"}],\"type\":\"temporary\"}",
             kid64, key64);
}

static void test_clearkey(void) {
    rec_t r;
    rec_init(&r);
    struct OpenCDMSystem* sys = opencdm_create_system("org.w3.clearkey");
    CHECK(sys != NULL);
    struct OpenCDMSession* s = clearkey_session(sys, &r, Temporary);
    CHECK(atoi(opencdm_session_id(s)) >= 10);
    wait_challenges(&r, 1);
    CHECK(strcmp(r.url, "http://no-valid-license-server") == 0);
    CHECK(strstr(r.challenge, "\"type\":\"temporary\"") != NULL);
    CHECK(strstr(r.challenge, "ASNFZ4mrze8BI0VniavN7w") != NULL);
    uint8_t kid[16];
    unhex(KID_HEX, kid);
    CHECK(opencdm_session_has_key_id(s, 16, kid) == 1);
    CHECK(opencdm_session_status(s, kid, 16) == StatusPending);

    /* decrypt before the license: an error, no crash; Clear needs no key */
    uint8_t buf[64] = {0};
    EncryptionPattern none = {0, 0};
    CHECK(opencdm_session_decrypt(s, buf, 16, Clear, none, NULL, 0, NULL, 0, 0) == ERROR_NONE);
    CHECK(opencdm_session_decrypt(s, buf, 16, (EncryptionScheme)9, none, NULL, 0, kid, 16, 0) ==
          ERROR_INVALID_ARG);
    CHECK(opencdm_session_decrypt(s, buf, 16, AesCtr_Cenc, none, NULL, 0, kid, 16, 0) ==
          ERROR_UNKNOWN);

    /* malformed license: error callback, non-zero return, no keys */
    const char* bad = "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"ASNFZ4mrze8BI0VniavN7w\",\"k\":\"AAEC\"}]}";
    CHECK(opencdm_session_update(s, (const uint8_t*)bad, (uint16_t)strlen(bad)) == ERROR_INVALID_ARG);
    CHECK(r.errors == 1 && r.keys_updated == 0);

    char lic[512];
    license_for(KEY_HEX, lic, sizeof lic);
    CHECK(opencdm_session_update(s, (const uint8_t*)lic, (uint16_t)strlen(lic)) == ERROR_NONE);
    CHECK(r.key_updates == 1 && r.keys_updated == 1); /* delivered before update returned */
    CHECK(opencdm_session_status(s, kid, 16) == Usable);

    /* SP 800-38A F.5.1 CTR-AES128 block 1 */
    uint8_t iv[16], ct[16], pt[16];
    unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", iv);
    unhex("874d6191b620e3261bef6864990db6ce", ct);
    unhex("6bc1bee22e409f96e93d7e117393172a", pt);
    memcpy(buf, ct, 16);
    CHECK(opencdm_session_decrypt(s, buf, 16, AesCtr_Cenc, none, iv, 16, kid, 16, 0) == ERROR_NONE);
    CHECK(memcmp(buf, pt, 16) == 0);

    /* SP 800-38A F.2.2 CBC-AES128 block 1, via decrypt_v2 (cbc1, one subsample) */
    uint8_t cbc_iv[16];
    unhex("000102030405060708090a0b0c0d0e0f", cbc_iv);
    unhex("7649abac8119b246cee98e9b12e9197d", ct);
    memcpy(buf, ct, 16);
    SubSampleInfo one = {0, 16};
    SampleInfo si = {AesCbc_Cbc1, {0, 0}, cbc_iv, 16, kid, 16, 1, &one};
    CHECK(opencdm_session_decrypt_v2(s, buf, 16, &si, NULL) == ERROR_NONE);
    CHECK(memcmp(buf, pt, 16) == 0);

    /* cenc with subsamples and a mid-block carry-over, 8-byte IV */
    uint8_t key[16];
    unhex(KEY_HEX, key);
    enum { N = 1000 };
    uint8_t* plain = malloc(N);
    uint8_t* work = malloc(N);
    for (int i = 0; i < N; i++) plain[i] = (uint8_t)(i * 7 + 3);
    SubSampleInfo subs[3] = {{5, 683}, {5, 300}, {7, 0}};
    uint8_t iv8[16] = {1, 2, 3, 4, 5, 6, 7, 8};
    memcpy(work, plain, N);
    ref_cenc(key, iv8, work, subs, 3);
    SampleInfo sc = {AesCtr_Cenc, {0, 0}, iv8, 8, kid, 16, 3, subs};
    CHECK(opencdm_session_decrypt_v2(s, work, N, &sc, NULL) == ERROR_NONE);
    CHECK(memcmp(work, plain, N) == 0);

    /* cbcs 1:9 and 2:8 (partial crypt group stays clear), constant IV per subsample */
    uint32_t pats[3][2] = {{1, 9}, {2, 8}, {0, 0}};
    SubSampleInfo cs[3] = {{10, 29}, {3, 500}, {0, 458}};
    for (int t = 0; t < 3; t++) {
        memcpy(work, plain, N);
        ref_cbcs_encrypt(key, cbc_iv, work, cs, 3, pats[t][0], pats[t][1]);
        SampleInfo sb = {AesCbc_Cbcs, {pats[t][0], pats[t][1]}, cbc_iv, 16, kid, 16, 3, cs};
        CHECK(memcmp(work, plain, N) != 0);
        CHECK(opencdm_session_decrypt_v2(s, work, N, &sb, NULL) == ERROR_NONE);
        CHECK(memcmp(work, plain, N) == 0);
    }

    /* large samples: the batched pattern path (more crypt groups than one gather buffer holds) */
    {
        enum { L = 300007 };
        uint8_t* lp = malloc(L);
        uint8_t* lw = malloc(L);
        for (int i = 0; i < L; i++) lp[i] = (uint8_t)(i * 31 + 7);
        SubSampleInfo ls[3] = {{100, 150000}, {7, 100000}, {0, 49900}};
        uint32_t lpats[4][2] = {{1, 9}, {2, 3}, {5, 5}, {300, 1}};
        for (int t = 0; t < 4; t++) {
            memcpy(lw, lp, L);
            ref_cbcs_encrypt(key, cbc_iv, lw, ls, 3, lpats[t][0], lpats[t][1]);
            SampleInfo sb = {AesCbc_Cbcs, {lpats[t][0], lpats[t][1]}, cbc_iv, 16, kid, 16, 3, ls};
            CHECK(opencdm_session_decrypt_v2(s, lw, L, &sb, NULL) == ERROR_NONE);
            CHECK(memcmp(lw, lp, L) == 0);
            memcpy(lw, lp, L);
            ref_cens(key, iv8, lw, ls, 3, lpats[t][0], lpats[t][1]);
            SampleInfo sn = {AesCtr_Cens, {lpats[t][0], lpats[t][1]}, iv8, 8, kid, 16, 3, ls};
            CHECK(opencdm_session_decrypt_v2(s, lw, L, &sn, NULL) == ERROR_NONE);
            CHECK(memcmp(lw, lp, L) == 0);
        }
        free(lp);
        free(lw);
    }

    /* a map that does not add up, odd IV sizes, unknown kid */
    SubSampleInfo wrong = {0, 10};
    SampleInfo sw = {AesCtr_Cenc, {0, 0}, iv8, 8, kid, 16, 1, &wrong};
    CHECK(opencdm_session_decrypt_v2(s, work, N, &sw, NULL) == ERROR_INVALID_ARG);
    CHECK(opencdm_session_decrypt(s, buf, 16, AesCtr_Cenc, none, iv, 12, kid, 16, 0) ==
          ERROR_INVALID_ARG);
    uint8_t other[16] = {9};
    CHECK(opencdm_session_decrypt(s, buf, 16, AesCtr_Cenc, none, iv, 16, other, 16, 0) ==
          ERROR_UNKNOWN);
    CHECK(drmkit_refcdm_session_decrypt_legacy(s, buf, 16, iv, 16, kid, 16, 0) == ERROR_NONE);
    free(plain);
    free(work);

    /* key with zero bytes must work (no strlen) */
    license_for("00000000000000000000000000000000", lic, sizeof lic);
    CHECK(opencdm_session_update(s, (const uint8_t*)lic, (uint16_t)strlen(lic)) == ERROR_NONE);
    uint8_t zkey[16] = {0}, zplain[16] = "zero-key-sample", zbuf[16];
    memcpy(zbuf, zplain, 16);
    uint8_t ziv[16] = {0};
    ref_cenc(zkey, ziv, zbuf, &one, 1);
    CHECK(opencdm_session_decrypt(s, zbuf, 16, AesCtr_Cenc, none, NULL, 0, kid, 16, 0) ==
          ERROR_NONE);
    CHECK(memcmp(zbuf, zplain, 16) == 0);

    CHECK(r.on_caller_thread == 0);
    CHECK(opencdm_session_close(s) == ERROR_NONE);
    CHECK(opencdm_session_update(s, (const uint8_t*)lic, (uint16_t)strlen(lic)) ==
          ERROR_INVALID_SESSION);
    CHECK(opencdm_destruct_session(s) == ERROR_NONE);
    CHECK(opencdm_destruct_session(s) == ERROR_INVALID_SESSION);
    CHECK(opencdm_session_update(s, (const uint8_t*)lic, 3) == ERROR_INVALID_SESSION);
    CHECK(opencdm_destruct_system(sys) == ERROR_NONE);
    rec_free(&r);
    expect_stats_zero();
}

static void test_persistent(void) {
    char dir[] = "/tmp/refcdm-smoke-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char cfg[256], reply[512];
    uint32_t size = sizeof reply;
    snprintf(cfg, sizeof cfg, "{\"store_dir\":\"%s\"}", dir);
    CHECK(drmkit_refcdm_configure(cfg, reply, &size) == 0);

    rec_t r;
    rec_init(&r);
    struct OpenCDMSystem* sys = opencdm_create_system("org.w3.clearkey");
    struct OpenCDMSession* s = clearkey_session(sys, &r, PersistentLicense);
    wait_challenges(&r, 1);
    CHECK(strstr(r.challenge, "\"type\":\"persistent-license\"") != NULL);
    char lic[512], id[64];
    license_for(KEY_HEX, lic, sizeof lic);
    CHECK(opencdm_session_update(s, (const uint8_t*)lic, (uint16_t)strlen(lic)) == ERROR_NONE);
    snprintf(id, sizeof id, "%s", opencdm_session_id(s));
    CHECK(opencdm_session_close(s) == ERROR_NONE);
    CHECK(opencdm_destruct_session(s) == ERROR_NONE);

    rec_t r2;
    rec_init(&r2);
    struct OpenCDMSession* s2 = NULL;
    CHECK(opencdm_construct_session(sys, PersistentLicense, "persistent-session-id",
                                    (const uint8_t*)id, (uint16_t)strlen(id), NULL, 0, &CBS, &r2,
                                    &s2) == ERROR_NONE);
    CHECK(strcmp(opencdm_session_id(s2), id) == 0);
    CHECK(opencdm_session_load(s2) == ERROR_NONE);
    CHECK(r2.key_updates == 1 && r2.keys_updated == 1);
    uint8_t kid[16];
    unhex(KID_HEX, kid);
    CHECK(opencdm_session_status(s2, kid, 16) == Usable);
    CHECK(opencdm_session_remove(s2) == ERROR_NONE);
    CHECK(opencdm_session_status(s2, kid, 16) == Released);
    CHECK(r2.challenges == 1 && strstr(r2.challenge, "persistent-license") != NULL);
    CHECK(opencdm_destruct_session(s2) == ERROR_NONE);

    /* the record is gone: loading again fails */
    s2 = NULL;
    CHECK(opencdm_construct_session(sys, PersistentLicense, "persistent-session-id",
                                    (const uint8_t*)id, (uint16_t)strlen(id), NULL, 0, &CBS, &r2,
                                    &s2) == ERROR_NONE);
    CHECK(opencdm_session_load(s2) == ERROR_UNKNOWN);
    CHECK(opencdm_destruct_session(s2) == ERROR_NONE);
    CHECK(opencdm_destruct_system(sys) == ERROR_NONE);
    rmdir(dir);
    rec_free(&r);
    rec_free(&r2);
    size = sizeof reply;
    CHECK(drmkit_refcdm_configure("{\"store_dir\":\"\"}", reply, &size) == 0);
    expect_stats_zero();
}

static void test_widevine(void) {
    /* a Widevine PSSH (v0) whose WidevinePsshData has key_ids (twice: deduped) and a provider */
    uint8_t pssh[128];
    uint8_t data[64];
    size_t dl = 0;
    data[dl++] = 0x08; data[dl++] = 0x01;                 /* algorithm = 1 */
    for (int rep = 0; rep < 2; rep++) {
        data[dl++] = 0x12; data[dl++] = 0x10;             /* key_ids, 16 bytes */
        unhex("ad13f9ea2be698b875f504a8e3ccea64", data + dl);
        dl += 16;
    }
    data[dl++] = 0x1a; data[dl++] = 0x06;                 /* provider */
    memcpy(data + dl, "drmkit", 6);
    dl += 6;
    data[dl++] = 0x48; data[dl++] = 0xe3; data[dl++] = 0xdc; data[dl++] = 0x95; data[dl++] = 0x9b;
    data[dl++] = 0x06;                                    /* protection_scheme = 'cenc' */
    size_t total = 32 + dl;
    memset(pssh, 0, 32);
    pssh[3] = (uint8_t)total;
    memcpy(pssh + 4, "pssh", 4);
    unhex("edef8ba979d64acea3c827dcd51d21ed", pssh + 12);
    pssh[31] = (uint8_t)dl;
    memcpy(pssh + 32, data, dl);
    /* a box whose size lies is rejected */
    {
        struct OpenCDMSystem* wsys = opencdm_create_system("com.widevine.alpha");
        struct OpenCDMSession* bad = NULL;
        pssh[3] = (uint8_t)(total + 1);
        CHECK(opencdm_construct_session(wsys, Temporary, "cenc", pssh, (uint16_t)total, NULL, 0,
                                        &CBS, NULL, &bad) == ERROR_INVALID_ARG && bad == NULL);
        pssh[3] = (uint8_t)total;
        opencdm_destruct_system(wsys);
    }
    rec_t r;
    rec_init(&r);
    struct OpenCDMSystem* sys = opencdm_create_system("com.widevine.alpha");
    struct OpenCDMSession* s = NULL;
    CHECK(opencdm_construct_session(sys, Temporary, "cenc", pssh, (uint16_t)total, NULL, 0, &CBS,
                                    &r, &s) == ERROR_NONE);
    CHECK(r.challenges == 1); /* before construct returned */
    CHECK(strncmp(r.challenge, "0:Type:", 7) == 0);
    CHECK(strstr(r.challenge, "ad13f9ea2be698b875f504a8e3ccea64") != NULL);
    CHECK(strstr(r.challenge, "\"provider\":\"drmkit\"") != NULL);
    CHECK(strstr(r.challenge, "\"protection_scheme\":\"cenc\"") != NULL);
    char lic[512];
    snprintf(lic, sizeof lic,
             "{\"drmkit_test_license\":1,\"key_system\":\"com.widevine.alpha\",\"session_id\":\"%s\","
             "\"keys\":[{\"kid\":\"ad13f9ea2be698b875f504a8e3ccea64\",\"key\":\"be7df8a3667a6a8fd564d0ed81339a95\"}]}",
             "wrong");
    CHECK(opencdm_session_update(s, (const uint8_t*)lic, (uint16_t)strlen(lic)) != ERROR_NONE);
    CHECK(r.errors == 1 && strcmp(r.error, "TypeError") == 0 && r.keys_updated == 0);
    snprintf(lic, sizeof lic,
             "{\"drmkit_test_license\":1,\"key_system\":\"com.widevine.alpha\",\"session_id\":\"%s\","
             "\"keys\":[{\"kid\":\"ad13f9ea2be698b875f504a8e3ccea64\",\"key\":\"be7df8a3667a6a8fd564d0ed81339a95\"}]}",
             opencdm_session_id(s));
    CHECK(opencdm_session_update(s, (const uint8_t*)lic, (uint16_t)strlen(lic)) == ERROR_NONE);
    CHECK(r.key_updates == 1 && r.keys_updated == 1);
    uint8_t ssid[16];
    CHECK(opencdm_session_store_license_data(s, (const uint8_t*)lic, 3, ssid) ==
          ERROR_METHOD_NOT_IMPLEMENTED);
    char cmd[256], reply[256];
    snprintf(cmd, sizeof cmd, "{\"op\":\"renewal\",\"session_id\":\"%s\"}", opencdm_session_id(s));
    CHECK(control(cmd, reply, sizeof reply) == 0);
    CHECK(r.challenges == 2 && strncmp(r.challenge, "1:Type:", 7) == 0);
    snprintf(cmd, sizeof cmd,
             "{\"op\":\"key_status\",\"session_id\":\"%s\",\"key_id\":\"ad13f9ea2be698b875f504a8e3ccea64\",\"status\":\"expired\"}",
             opencdm_session_id(s));
    CHECK(control(cmd, reply, sizeof reply) == 0);
    if (strcmp(reply, "{}")) fprintf(stderr, "key_status: %s\n", reply);
    uint8_t kid[16];
    unhex("ad13f9ea2be698b875f504a8e3ccea64", kid);
    CHECK(opencdm_session_status(s, kid, 16) == Expired);
    CHECK(r.key_updates == 2 && r.keys_updated == 2);
    CHECK(opencdm_session_remove(s) == ERROR_NONE);
    CHECK(r.challenges == 3 && strncmp(r.challenge, "2:Type:", 7) == 0);
    CHECK(opencdm_destruct_session(s) == ERROR_NONE);
    CHECK(opencdm_destruct_system(sys) == ERROR_NONE);
    rec_free(&r);
    expect_stats_zero();
}


/* PRO with a v4.3 WRMHEADER (UTF-16LE) naming `kid` (CENC order) and an escaped LA_URL. */
static size_t make_pro(const uint8_t kid[16], uint8_t* out, size_t cap) {
    static const int swap[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    uint8_t le[16];
    for (int i = 0; i < 16; i++) le[i] = kid[swap[i]];
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char b64[32];
    size_t o = 0;
    for (size_t i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)le[i] << 16 | (i + 1 < 16 ? (uint32_t)le[i + 1] << 8 : 0) |
                     (i + 2 < 16 ? le[i + 2] : 0);
        b64[o++] = a[v >> 18];
        b64[o++] = a[(v >> 12) & 63];
        b64[o++] = i + 1 < 16 ? a[(v >> 6) & 63] : '=';
        b64[o++] = i + 2 < 16 ? a[v & 63] : '=';
    }
    b64[o] = 0;
    char xml[1024];
    snprintf(xml, sizeof xml,
             "<WRMHEADER xmlns=\"http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader\" "
             "version=\"4.3.0.0\"><DATA><PROTECTINFO><KIDS><KID ALGID=\"AESCTR\" VALUE=\"%s\">"
             "</KID></KIDS></PROTECTINFO><LA_URL>http://pr.test/rm?a=1&amp;b=2</LA_URL></DATA>"
             "</WRMHEADER>",
             b64);
    size_t xl = strlen(xml);
    size_t rec = 2 * xl, total = 6 + 4 + rec;
    if (total > cap) return 0;
    out[0] = (uint8_t)total; out[1] = (uint8_t)(total >> 8); out[2] = 0; out[3] = 0;
    out[4] = 1; out[5] = 0;
    out[6] = 1; out[7] = 0; out[8] = (uint8_t)rec; out[9] = (uint8_t)(rec >> 8);
    for (size_t i = 0; i < xl; i++) {
        out[10 + 2 * i] = (uint8_t)xml[i];
        out[11 + 2 * i] = 0;
    }
    return total;
}

static void test_legacy_playready(void) {
    uint8_t kid[16], key[16], pro[2048];
    unhex(KID_HEX, kid);
    unhex(KEY_HEX, key);
    size_t pl = make_pro(kid, pro, sizeof pro);
    rec_t r;
    rec_init(&r);
    struct OpenCDMSystem* sys = opencdm_create_system("com.microsoft.playready");
    struct OpenCDMSession* s = NULL;
    const char* custom = "<custom>&</custom>";
    CHECK(opencdm_construct_session(sys, Temporary, "cenc", pro, (uint16_t)pl,
                                    (const uint8_t*)custom, (uint16_t)strlen(custom), &CBS, &r,
                                    &s) == ERROR_NONE);
    CHECK(r.challenges == 1);
    CHECK(strcmp(r.url, "http://pr.test/rm?a=1&b=2") == 0);
    CHECK(strstr(r.challenge, "<KID>" "0123456789abcdef0123456789abcdef" "</KID>") != NULL);
    CHECK(strstr(r.challenge, "<CustomData>&lt;custom&gt;&amp;&lt;/custom&gt;</CustomData>") != NULL);
    CHECK(strlen(opencdm_session_id(s)) == 24);
    char lic[512];
    snprintf(lic, sizeof lic,
             "{\"drmkit_test_license\":1,\"key_system\":\"com.microsoft.playready\",\"session_id\":\"%s\","
             "\"keys\":[{\"kid\":\"%s\",\"key\":\"%s\"}]}", opencdm_session_id(s), KID_HEX, KEY_HEX);
    CHECK(opencdm_session_update(s, (const uint8_t*)lic, (uint16_t)strlen(lic)) == ERROR_NONE);
    CHECK(r.key_updates == 1 && r.keys_updated == 1);
    /* the GUID byte-swapped form of the kid matches too */
    static const int swap[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    uint8_t swapped[16];
    for (int i = 0; i < 16; i++) swapped[i] = kid[swap[i]];
    CHECK(opencdm_session_status(s, swapped, 16) == Usable);
    uint8_t buf[16], pt[16], iv[16];
    unhex("874d6191b620e3261bef6864990db6ce", buf);
    unhex("6bc1bee22e409f96e93d7e117393172a", pt);
    unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", iv);
    EncryptionPattern none = {0, 0};
    CHECK(opencdm_session_decrypt(s, buf, 16, AesCtr_Cenc, none, iv, 16, swapped, 16, 0) ==
          ERROR_NONE);
    CHECK(memcmp(buf, pt, 16) == 0);
    CHECK(opencdm_destruct_session(s) == ERROR_NONE);
    CHECK(opencdm_destruct_system(sys) == ERROR_NONE);
    rec_free(&r);
    expect_stats_zero();
}

static void test_netflix(void) {
    char dir[] = "/tmp/refcdm-smoke-nf-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char cfg[256], reply[512];
    uint32_t size = sizeof reply;
    snprintf(cfg, sizeof cfg, "{\"store_dir\":\"%s\"}", dir);
    CHECK(drmkit_refcdm_configure(cfg, reply, &size) == 0);

    uint8_t kid[16], key[16], pro[2048];
    unhex(KID_HEX, kid);
    unhex(KEY_HEX, key);
    size_t pl = make_pro(kid, pro, sizeof pro);
    rec_t r;
    rec_init(&r);
    struct OpenCDMSystem* sys = opencdm_create_system("com.netflix.playready");
    struct OpenCDMSession* s = NULL;
    CHECK(opencdm_construct_session(sys, Temporary, "", NULL, 0, NULL, 0, &CBS, &r, &s) ==
          ERROR_NONE);
    uint32_t cs = 0;
    CHECK(opencdm_session_get_challenge_data(s, NULL, &cs, 0) == ERROR_INVALID_ARG); /* no header */
    CHECK(opencdm_session_set_drm_header(s, (const uint8_t*)"garbage", 7) == ERROR_INVALID_ARG);
    CHECK(opencdm_session_set_drm_header(s, pro, (uint32_t)pl) == ERROR_NONE);
    CHECK(r.challenges == 0);
    CHECK(opencdm_session_get_challenge_data(s, NULL, &cs, 1) == ERROR_NONE && cs > 100);
    uint8_t* c1 = malloc(cs);
    uint8_t* c2 = malloc(cs);
    uint32_t small = 10;
    CHECK(opencdm_session_get_challenge_data(s, c1, &small, 1) == ERROR_BUFFER_TOO_SMALL &&
          small == cs);
    uint32_t got = cs;
    CHECK(opencdm_session_get_challenge_data(s, c1, &got, 1) == ERROR_NONE && got == cs);
    got = cs;
    CHECK(opencdm_session_get_challenge_data(s, c2, &got, 1) == ERROR_NONE && !memcmp(c1, c2, cs));
    free(c1);
    free(c2);
    CHECK(opencdm_session_cancel_challenge_data(s) == ERROR_NONE);

    char lic[512];
    snprintf(lic, sizeof lic,
             "{\"drmkit_test_license\":1,\"key_system\":\"com.netflix.playready\",\"session_id\":\"%s\","
             "\"keys\":[{\"kid\":\"%s\",\"key\":\"%s\"}]}", opencdm_session_id(s), KID_HEX, KEY_HEX);
    uint8_t ssid[16] = {0}, zero[16] = {0};
    CHECK(opencdm_session_store_license_data(s, (const uint8_t*)lic, (uint32_t)strlen(lic), ssid) ==
          ERROR_NONE);
    CHECK(memcmp(ssid, zero, 16) != 0);
    CHECK(r.key_updates == 1 && r.keys_updated == 1);

    /* decrypt needs a bound context */
    uint8_t buf[48], plain[48], iv[16] = {0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7,
                                          0, 0, 0, 0, 0, 0, 0, 2};
    for (int i = 0; i < 48; i++) plain[i] = (uint8_t)i;
    EncryptionPattern none = {0, 0};
    CHECK(opencdm_session_decrypt(s, buf, 48, AesCtr_Cenc, none, iv, 16, NULL, 0, 1) ==
          ERROR_UNKNOWN);
    CHECK(opencdm_session_select_key_id(s, 16, kid) == ERROR_NONE);
    CHECK(r.challenges == 1 && strcmp(r.url, "properties") == 0);
    CHECK(r.challenge_len == strlen(r.challenge) + 1); /* NUL included */
    struct PlayLevels lv;
    CHECK(opencdm_system_ext_get_properties(&lv, r.challenge) == ERROR_NONE);
    CHECK(lv._compressedDigitalVideoLevel == 400 && lv._analogVideoLevel == 150);
    CHECK(opencdm_session_select_key_id(s, 16, kid) == ERROR_NONE);
    CHECK(r.challenges == 1); /* only once */

    /* counter context {LE64 iv, LE64 block offset, byte offset} == CENC counter block + offset */
    uint8_t ctx[17];
    for (int i = 0; i < 8; i++) {
        ctx[i] = iv[7 - i];
        ctx[8 + i] = iv[15 - i];
    }
    ctx[16] = 5;
    uint8_t tmp[64];
    memset(tmp, 0, sizeof tmp);
    memcpy(tmp + 5, plain, 48);
    SubSampleInfo all = {0, 53};
    ref_cenc(key, iv, tmp, &all, 1); /* keystream from the block start; we use bytes 5.. */
    memcpy(buf, tmp + 5, 48);
    CHECK(opencdm_session_decrypt(s, buf, 48, AesCtr_Cenc, none, ctx, 17, NULL, 0, 1) == ERROR_NONE);
    CHECK(memcmp(buf, plain, 48) == 0);
    CHECK(opencdm_session_clean_decrypt_context(s) == ERROR_NONE);
    CHECK(opencdm_session_decrypt(s, buf, 48, AesCtr_Cenc, none, ctx, 17, NULL, 0, 1) ==
          ERROR_UNKNOWN);

    /* secure stops and store hashes */
    uint32_t count = 0;
    uint8_t ids[16 * 8];
    CHECK(opencdm_system_ext_get_secure_stop_ids(sys, ids, sizeof ids, &count) == ERROR_NONE);
    CHECK(count == 1 && memcmp(ids, ssid, 16) == 0);
    uint16_t raw = 0;
    CHECK(opencdm_system_ext_get_secure_stop(sys, ssid, 16, NULL, &raw) == ERROR_NONE && raw > 0);
    CHECK(opencdm_system_ext_commit_secure_stop(sys, ssid, 16, (const uint8_t*)"ok", 2) == ERROR_NONE);
    CHECK(opencdm_system_ext_get_secure_stop_ids(sys, ids, sizeof ids, &count) == ERROR_NONE &&
          count == 0);
    uint8_t h1[64], h2[64];
    CHECK(opencdm_get_secure_store_hash_ext(sys, h1, 32) == ERROR_BUFFER_TOO_SMALL);
    CHECK(opencdm_get_secure_store_hash_ext(sys, h1, 64) == ERROR_NONE);
    CHECK(opencdm_get_key_store_hash_ext(sys, h2, 64) == ERROR_NONE && !memcmp(h1, h2, 64));
    CHECK(opencdm_delete_secure_store(sys) == ERROR_NONE);
    CHECK(opencdm_get_secure_store_hash_ext(sys, h2, 64) == ERROR_NONE && memcmp(h1, h2, 32));
    uint32_t ldl = 0;
    CHECK(opencdm_system_ext_get_ldl_session_limit(sys, &ldl) == ERROR_NONE && ldl > 0);
    uint64_t t = 0;
    CHECK(opencdm_system_get_drm_time(sys, &t) == ERROR_NONE && t > 1000000000u);

    /* extension calls on a ClearKey session/system are refused, not crashes */
    struct OpenCDMSystem* ck = opencdm_create_system("org.w3.clearkey");
    rec_t r2;
    rec_init(&r2);
    struct OpenCDMSession* cks = clearkey_session(ck, &r2, Temporary);
    CHECK(opencdm_session_select_key_id(cks, 16, kid) == ERROR_METHOD_NOT_IMPLEMENTED);
    CHECK(opencdm_session_get_challenge_data(cks, NULL, &cs, 0) == ERROR_METHOD_NOT_IMPLEMENTED);
    CHECK(opencdm_system_ext_get_ldl_session_limit(ck, &ldl) == ERROR_METHOD_NOT_IMPLEMENTED);
    CHECK(opencdm_destruct_session(cks) == ERROR_NONE);
    CHECK(opencdm_destruct_system(ck) == ERROR_NONE);
    rec_free(&r2);

    CHECK(opencdm_destruct_session(s) == ERROR_NONE);
    CHECK(opencdm_destruct_system(sys) == ERROR_NONE);
    rec_free(&r);
    rmdir(dir);
    size = sizeof reply;
    CHECK(drmkit_refcdm_configure("{\"store_dir\":\"\"}", reply, &size) == 0);
    expect_stats_zero();
}

/* ---- threads --------------------------------------------------------------------------------- */

static struct OpenCDMSystem* g_sys;

static void cb_destruct_self(struct OpenCDMSession* s, void* ud, const char url[],
                             const uint8_t c[], const uint16_t len) {
    (void)url;
    (void)c;
    (void)len;
    (void)ud;
    CHECK(opencdm_destruct_session(s) == ERROR_NONE); /* from the worker: must not deadlock */
}

static void* worker_thread(void* arg) {
    (void)arg;
    rec_t r;
    rec_init(&r);
    uint8_t kid[16], key[16];
    unhex(KID_HEX, kid);
    unhex(KEY_HEX, key);
    char lic[512];
    license_for(KEY_HEX, lic, sizeof lic);
    uint8_t* buf = malloc(4096);
    EncryptionPattern none = {0, 0};
    for (int i = 0; i < 30; i++) {
        struct OpenCDMSession* s = clearkey_session(g_sys, &r, Temporary);
        CHECK(opencdm_session_update(s, (const uint8_t*)lic, (uint16_t)strlen(lic)) == ERROR_NONE);
        for (int k = 0; k < 20; k++)
            CHECK(opencdm_session_decrypt(s, buf, 4096, AesCtr_Cenc, none, NULL, 0, kid, 16, 0) ==
                  ERROR_NONE);
        CHECK(opencdm_destruct_session(s) == ERROR_NONE);
    }
    free(buf);
    rec_free(&r);
    return NULL;
}

static void test_threads(void) {
    g_sys = opencdm_create_system("org.w3.clearkey");
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker_thread, NULL);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    /* a session destructed by its own callback */
    OpenCDMSessionCallbacks self = {cb_destruct_self, NULL, NULL, NULL};
    uint8_t kid[16];
    unhex(KID_HEX, kid);
    struct OpenCDMSession* s = NULL;
    CHECK(opencdm_construct_session(g_sys, Temporary, "webm", kid, 16, NULL, 0, &self, NULL, &s) ==
          ERROR_NONE);
    char reply[128];
    for (int i = 0; i < 200; i++) { /* wait for the challenge (and with it the destruct) */
        CHECK(control("{\"op\":\"stats\"}", reply, sizeof reply) == 0);
        if (strstr(reply, "\"sessions\":0")) break;
        nanosleep(&(struct timespec){0, 5000000L}, NULL);
    }
    CHECK(opencdm_destruct_system(g_sys) == ERROR_NONE);
    expect_stats_zero();
}

/* The worker thread does not survive fork(): the child must get a fresh one. */
static void test_fork(void) {
    struct OpenCDMSystem* sys = opencdm_create_system("org.w3.clearkey");
    rec_t r;
    rec_init(&r);
    struct OpenCDMSession* s = clearkey_session(sys, &r, Temporary);
    wait_challenges(&r, 1);
    pid_t pid = fork();
    if (pid == 0) {
        rec_t rc;
        rec_init(&rc);
        struct OpenCDMSession* cs = clearkey_session(sys, &rc, Temporary);
        char lic[512];
        license_for(KEY_HEX, lic, sizeof lic);
        int ok = opencdm_session_update(cs, (const uint8_t*)lic, (uint16_t)strlen(lic)) == 0 &&
                 rc.keys_updated == 1;
        _exit(ok ? 0 : 3);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(opencdm_destruct_session(s) == ERROR_NONE);
    CHECK(opencdm_destruct_system(sys) == ERROR_NONE);
    rec_free(&r);
    expect_stats_zero();
}

static void test_quirks(void) {
    char reply[512];
    uint32_t size = sizeof reply;
    CHECK(drmkit_refcdm_configure("{\"quirks\":[\"nope\"]}", reply, &size) == ERROR_INVALID_ARG);
    size = sizeof reply;
    CHECK(drmkit_refcdm_configure("{\"quirks\":[\"inverted_load\",\"create_system_extended_invalid_arg\","
                                  "\"empty_session_id_on_failure\",\"clearkey_silent_license_errors\","
                                  "\"unknown_kid_internal_error\"],\"clearkey_challenge\":\"ocdm\"}",
                                  reply, &size) == 0);
    CHECK(strstr(reply, "\"inverted_load\"") != NULL);
    struct OpenCDMSystem* sys = NULL;
    CHECK(opencdm_create_system_extended("org.w3.clearkey", &sys) == ERROR_INVALID_ARG && sys);
    rec_t r;
    rec_init(&r);
    struct OpenCDMSession* s = clearkey_session(sys, &r, Temporary);
    wait_challenges(&r, 1);
    CHECK(strncmp(r.challenge, "{\"kids\" : [\"ASNFZ4mrze8BI0VniavN7w\"],\"type\":\"temporary\"}", 60) == 0);
    CHECK(opencdm_session_update(s, (const uint8_t*)"{}", 2) == ERROR_NONE);
    CHECK(r.errors == 0 && r.keys_updated == 1);
    uint8_t other[16] = {7};
    CHECK(opencdm_session_status(s, other, 16) == InternalError);
    CHECK(opencdm_session_load(s) == 0); /* inverted: the load failed */
    struct OpenCDMSession* z = NULL;
    CHECK(opencdm_construct_session(sys, Temporary, "keyids", (const uint8_t*)"x", 1, NULL, 0, &CBS,
                                    &r, &z) == ERROR_NONE && z != NULL);
    CHECK(strcmp(opencdm_session_id(z), "") == 0);
    CHECK(opencdm_destruct_session(z) == ERROR_NONE);
    CHECK(opencdm_destruct_session(s) == ERROR_NONE);
    CHECK(opencdm_destruct_system(sys) == ERROR_NONE);

    /* Widevine generateRequest failure, faithful: empty url and zero-length challenge */
    size = sizeof reply;
    CHECK(drmkit_refcdm_configure("{\"quirks\":[\"empty_challenge_on_failure\"]}", reply, &size) == 0);
    struct OpenCDMSystem* wv = opencdm_create_system("com.widevine.alpha");
    rec_t rw;
    rec_init(&rw);
    struct OpenCDMSession* ws = NULL;
    CHECK(opencdm_construct_session(wv, Temporary, "cenc", (const uint8_t*)"junk", 4, NULL, 0, &CBS,
                                    &rw, &ws) == ERROR_NONE);
    CHECK(rw.challenges == 1 && rw.challenge_len == 0 && rw.url[0] == 0);
    CHECK(strlen(opencdm_session_id(ws)) == 32);
    /* unsolicited error through the test control */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "{\"op\":\"error\",\"session_id\":\"%s\",\"message\":\"boom\",\"code\":1}",
             opencdm_session_id(ws));
    CHECK(control(cmd, reply, sizeof reply) == 0);
    CHECK(rw.errors == 1 && strcmp(rw.error, "boom") == 0 && opencdm_session_system_error(ws) == 1);
    CHECK(opencdm_destruct_session(ws) == ERROR_NONE);
    CHECK(opencdm_destruct_system(wv) == ERROR_NONE);
    rec_free(&rw);
    CHECK(control("{\"op\":\"reset\"}", reply, sizeof reply) == 0);
    size = sizeof reply;
    CHECK(drmkit_refcdm_configure("{}", reply, &size) == 0);
    CHECK(strstr(reply, "\"quirks\":[]") != NULL && strstr(reply, "\"w3c\"") != NULL);
    rec_free(&r);
    expect_stats_zero();
}

static void test_injection_and_destruct(void) {
    char reply[256];
    CHECK(control("{\"op\":\"inject\",\"key_system\":\"*\",\"operation\":\"update\","
                  "\"error_message\":\"injected\",\"fail_code\":2147500037,\"count\":1}",
                  reply, sizeof reply) == 0);
    rec_t r;
    rec_init(&r);
    struct OpenCDMSystem* sys = opencdm_create_system("org.w3.clearkey");
    struct OpenCDMSession* s = clearkey_session(sys, &r, Temporary);
    char lic[512];
    license_for(KEY_HEX, lic, sizeof lic);
    CHECK(opencdm_session_update(s, (const uint8_t*)lic, (uint16_t)strlen(lic)) == ERROR_FAIL);
    CHECK(r.errors == 1 && strcmp(r.error, "injected") == 0);
    CHECK(opencdm_session_update(s, (const uint8_t*)lic, (uint16_t)strlen(lic)) == ERROR_NONE);
    CHECK(control("{\"op\":\"reset\"}", reply, sizeof reply) == 0);
    /* destruct right after construct: the queued challenge must never arrive afterwards */
    for (int i = 0; i < 50; i++) {
        struct OpenCDMSession* t = clearkey_session(sys, &r, Temporary);
        CHECK(opencdm_destruct_session(t) == ERROR_NONE);
    }
    CHECK(opencdm_destruct_session(s) == ERROR_NONE);
    CHECK(opencdm_destruct_system(sys) == ERROR_NONE);
    CHECK(control("{\"op\":\"bogus\"}", reply, sizeof reply) == ERROR_INVALID_ARG);
    CHECK(control("not json", reply, sizeof reply) == ERROR_INVALID_ARG);
    rec_free(&r);
    expect_stats_zero();
}

/* Registry at scale: handle validation, id lookups and destruct in any order with many live
 * sessions (hash tables with backward-shift deletion and growth); ids are never reused. */
static void test_many_sessions(void) {
    enum { N = 1500 };
    rec_t r;
    rec_init(&r);
    struct OpenCDMSystem* sys = opencdm_create_system("org.w3.clearkey");
    struct OpenCDMSession** s = calloc(N, sizeof *s);
    char(*ids)[32] = calloc(N, sizeof *ids);
    uint8_t kid[16];
    unhex(KID_HEX, kid);
    for (int i = 0; i < N; i++) {
        s[i] = clearkey_session(sys, &r, Temporary);
        snprintf(ids[i], sizeof ids[i], "%s", opencdm_session_id(s[i]));
        CHECK(ids[i][0] != '\0');
        if (i) CHECK(atoi(ids[i]) > atoi(ids[i - 1]));
    }
    char reply[256], cmd[128];
    /* the oldest session holds the only usable key: found by key id behind all the newer ones */
    char lic[512];
    license_for(KEY_HEX, lic, sizeof lic);
    CHECK(opencdm_get_session(kid, 16, 0) == NULL);
    CHECK(opencdm_session_update(s[0], (const uint8_t*)lic, (uint16_t)strlen(lic)) == ERROR_NONE);
    struct OpenCDMSession* found = opencdm_get_session(kid, 16, 0);
    CHECK(found == s[0]);
    if (found) CHECK(opencdm_destruct_session(found) == ERROR_NONE); /* its AddRef */
    /* destruct two thirds in a scattered order; the rest must stay valid and findable by id */
    for (int k = 0; k < N; k++) {
        int i = (int)(((long)k * 7919) % N);
        if (i % 3 == 0) continue;
        CHECK(opencdm_destruct_session(s[i]) == ERROR_NONE);
        CHECK(opencdm_session_has_key_id(s[i], 16, kid) == 0);
        CHECK(opencdm_destruct_session(s[i]) == ERROR_INVALID_SESSION);
        CHECK(opencdm_session_status(s[i], kid, 16) == InternalError);
        CHECK(strcmp(opencdm_session_id(s[i]), "") == 0);
        snprintf(cmd, sizeof cmd, "{\"op\":\"renewal\",\"session_id\":\"%s\"}", ids[i]);
        CHECK(control(cmd, reply, sizeof reply) == ERROR_INVALID_SESSION);
    }
    for (int i = 0; i < N; i += 3) {
        CHECK(opencdm_session_has_key_id(s[i], 16, kid) == 1);
        CHECK(strcmp(opencdm_session_id(s[i]), ids[i]) == 0);
        if (i % 300 == 0) {
            snprintf(cmd, sizeof cmd, "{\"op\":\"renewal\",\"session_id\":\"%s\"}", ids[i]);
            CHECK(control(cmd, reply, sizeof reply) == ERROR_NONE);
        }
    }
    snprintf(cmd, sizeof cmd, "{\"op\":\"stats\"}");
    CHECK(control(cmd, reply, sizeof reply) == 0);
    snprintf(cmd, sizeof cmd, "\"sessions\":%d,", (N + 2) / 3);
    CHECK(strstr(reply, cmd) != NULL);
    /* new sessions get fresh ids, above every id handed out before */
    struct OpenCDMSession* extra = clearkey_session(sys, &r, Temporary);
    CHECK(atoi(opencdm_session_id(extra)) > atoi(ids[N - 1]));
    CHECK(opencdm_destruct_session(extra) == ERROR_NONE);
    for (int i = 0; i < N; i += 3) CHECK(opencdm_destruct_session(s[i]) == ERROR_NONE);
    CHECK(opencdm_destruct_system(sys) == ERROR_NONE);
    free(s);
    free(ids);
    rec_free(&r);
    expect_stats_zero();
}

static void test_null_args(void) {
    CHECK(opencdm_create_system(NULL) == NULL);
    CHECK(opencdm_create_system("com.example.none") == NULL);
    CHECK(opencdm_destruct_system(NULL) == ERROR_INVALID_ARG);
    CHECK(opencdm_is_type_supported("org.w3.clearkey", "") == ERROR_NONE);
    CHECK(opencdm_is_type_supported("x", "") == ERROR_KEYSYSTEM_NOT_SUPPORTED);
    CHECK(opencdm_session_update(NULL, NULL, 0) == ERROR_INVALID_SESSION);
    CHECK(opencdm_session_decrypt_v2(NULL, NULL, 0, NULL, NULL) == ERROR_INVALID_SESSION);
    CHECK(strcmp(opencdm_session_id(NULL), "") == 0);
    CHECK(opencdm_construct_session(NULL, Temporary, "keyids", NULL, 0, NULL, 0, NULL, NULL, NULL) ==
          ERROR_INVALID_ARG);
}

int main(void) {
    test_null_args();
    test_clearkey();
    test_persistent();
    test_widevine();
    test_legacy_playready();
    test_netflix();
    test_injection_and_destruct();
    test_many_sessions();
    test_threads();
    test_fork();
    test_quirks();
    opencdm_dispose();
    if (failures) {
        fprintf(stderr, "smoke: %d check(s) failed\n", failures);
        return 1;
    }
    printf("smoke: all checks passed\n");
    return 0;
}
