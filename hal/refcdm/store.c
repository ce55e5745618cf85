/*
 * Persistent-license records and the simulated PlayReady "drmstore", kept in the store directory
 * (drmkit_refcdm_configure {"store_dir"}, else $DRMKIT_REFCDM_STORE_DIR, else a per-user
 * directory). Records are written to a temporary file and renamed, so a crash never leaves a
 * half-written record.
 */
#define _POSIX_C_SOURCE 200809L /* strict -std=c11: expose POSIX declarations */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "refcdm.h"

#define MAX_RECORD 65536

static int record_path(rc_ks ks, const char* id, char* out, size_t cap, int create) {
    char dir[1024], hid[2 * RC_MAX_ID + 1];
    size_t l = strlen(id);
    if (l == 0 || l > RC_MAX_ID) return -1;
    if (rc_store_dir(dir, sizeof dir, create)) return -1;
    rc_hex((const uint8_t*)id, l, hid); /* ids may contain '/' (base64): never a raw path */
    int w = snprintf(out, cap, "%s/%s-%s.json", dir, rc_ks_name(ks), hid);
    return w < 0 || (size_t)w >= cap ? -1 : 0;
}

static int write_all(int fd, const char* p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int rc_record_save(const struct OpenCDMSession* s) {
    char path[1200], tmp[1300];
    if (record_path(s->ks, s->id, path, sizeof path, 1)) return -1;
    size_t cap = 256 + (size_t)s->nkeys * 100;
    char* buf = malloc(cap);
    if (!buf) return -1;
    rc_sb sb;
    rc_sb_init(&sb, buf, cap);
    rc_sb_fmt(&sb, "{\"drmkit_refcdm_record\":1,\"key_system\":\"%s\",\"session_id\":",
              rc_ks_name(s->ks));
    rc_sb_jstr(&sb, s->id, strlen(s->id));
    rc_sb_raw(&sb, ",\"keys\":[");
    unsigned n = 0;
    for (unsigned i = 0; i < s->nkeys; i++) {
        const rc_key* k = &s->keys[i];
        if (!k->has_key) continue;
        char hk[33], hkid[2 * RC_MAX_KID + 1];
        rc_hex(k->kid.b, k->kid.len, hkid);
        rc_hex(k->key, 16, hk);
        rc_sb_fmt(&sb, "%s{\"kid\":\"%s\",\"key\":\"%s\"}", n++ ? "," : "", hkid, hk);
    }
    rc_sb_raw(&sb, "]}\n");
    int rc = -1;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (!sb.overflow) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
            int ok = write_all(fd, buf, sb.len) == 0 && fsync(fd) == 0;
            ok = close(fd) == 0 && ok;
            if (ok && rename(tmp, path) == 0) rc = 0;
            else unlink(tmp);
        }
    }
    memset(buf, 0, cap);
    free(buf);
    return rc;
}

int rc_record_exists(rc_ks ks, const char* id) {
    char path[1200];
    struct stat st;
    if (record_path(ks, id, path, sizeof path, 0)) return 0;
    return stat(path, &st) == 0;
}

static long read_file(const char* path, char* buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = 0;
    for (;;) {
        if (n == cap) {
            close(fd);
            return -2; /* too large */
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            close(fd);
            return -2;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    return (long)n;
}

int rc_record_load(struct OpenCDMSession* s) {
    char path[1200];
    if (record_path(s->ks, s->id, path, sizeof path, 0)) return -1;
    char* buf = malloc(MAX_RECORD);
    if (!buf) return -2;
    long n = read_file(path, buf, MAX_RECORD);
    if (n == -1) {
        free(buf);
        return -1;
    }
    int rc = -2;
    rc_json j;
    if (n > 0 && rc_json_parse(&j, buf, (size_t)n) == 0) {
        long keys = rc_json_get(&j, 0, "keys");
        long sid = rc_json_get(&j, 0, "session_id");
        char idb[RC_MAX_ID + 1];
        if (j.t[0].type == JT_OBJ && keys >= 0 && j.t[keys].type == JT_ARR && sid >= 0 &&
            rc_json_str(&j, (uint32_t)sid, idb, sizeof idb) >= 0 && !strcmp(idb, s->id)) {
            rc = 0;
            uint32_t e = rc_json_first(&j, (uint32_t)keys);
            for (uint32_t i = 0; i < j.t[keys].size && rc == 0; i++, e = j.t[e].next) {
                long kt = rc_json_get(&j, e, "kid"), vt = rc_json_get(&j, e, "key");
                char hk[80];
                rc_kid kid;
                uint8_t key[16];
                long l;
                if (kt < 0 || vt < 0 || (l = rc_json_str(&j, (uint32_t)kt, hk, sizeof hk)) < 0 ||
                    (l = rc_unhex(hk, (size_t)l, kid.b, RC_MAX_KID)) <= 0) {
                    rc = -2;
                    break;
                }
                kid.len = (uint8_t)l;
                if ((l = rc_json_str(&j, (uint32_t)vt, hk, sizeof hk)) < 0 ||
                    rc_unhex(hk, (size_t)l, key, 16) != 16) {
                    rc = -2;
                    break;
                }
                rc_key* k = rc_session_add_kid(s, &kid);
                if (!k) {
                    rc = -2;
                    break;
                }
                rc_key_free_ctx(k);
                memcpy(k->key, key, 16);
                k->has_key = 1;
                k->status = Usable;
            }
        }
        rc_json_free(&j);
    }
    memset(buf, 0, MAX_RECORD);
    free(buf);
    return rc;
}

int rc_record_delete(rc_ks ks, const char* id) {
    char path[1200];
    if (record_path(ks, id, path, sizeof path, 0)) return -1;
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* ---- simulated PlayReady drmstore ------------------------------------------------------------ */

static pthread_mutex_t g_drmstore_mu = PTHREAD_MUTEX_INITIALIZER;

static void store_prepare(void) {
    pthread_mutex_lock(&g_drmstore_mu);
}

static void store_after(void) {
    pthread_mutex_unlock(&g_drmstore_mu);
}

__attribute__((constructor)) static void store_load(void) {
    pthread_atfork(store_prepare, store_after, store_after);
}

static int drmstore_path(char* out, size_t cap, int create) {
    char dir[1024];
    if (rc_store_dir(dir, sizeof dir, create)) return -1;
    int w = snprintf(out, cap, "%s/playready-drmstore", dir);
    return w < 0 || (size_t)w >= cap ? -1 : 0;
}

int rc_drmstore_append(const char* line) {
    char path[1100];
    if (drmstore_path(path, sizeof path, 1)) return -1;
    pthread_mutex_lock(&g_drmstore_mu);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int rc = -1;
    if (fd >= 0) {
        rc = write_all(fd, line, strlen(line));
        close(fd);
    }
    pthread_mutex_unlock(&g_drmstore_mu);
    return rc;
}

int rc_drmstore_hash(uint8_t out[32]) {
    char path[1100];
    if (drmstore_path(path, sizeof path, 0)) return -1;
    pthread_mutex_lock(&g_drmstore_mu);
    int rc = -1;
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        int ok = 1;
        if (fd >= 0) { /* a missing store hashes as empty */
            uint8_t b[4096];
            for (;;) {
                ssize_t r = read(fd, b, sizeof b);
                if (r < 0 && errno == EINTR) continue;
                if (r < 0) ok = 0;
                if (r <= 0) break;
                if (EVP_DigestUpdate(md, b, (size_t)r) != 1) ok = 0;
            }
            close(fd);
        }
        unsigned int l = 0;
        if (ok && EVP_DigestFinal_ex(md, out, &l) == 1 && l == 32) rc = 0;
    }
    EVP_MD_CTX_free(md);
    pthread_mutex_unlock(&g_drmstore_mu);
    return rc;
}

int rc_drmstore_delete(void) {
    char path[1100];
    if (drmstore_path(path, sizeof path, 0)) return -1;
    pthread_mutex_lock(&g_drmstore_mu);
    int rc = unlink(path) == 0 || errno == ENOENT ? 0 : -1;
    pthread_mutex_unlock(&g_drmstore_mu);
    return rc;
}
