/*
 * The decrypt engine shared by every key system: ISO/IEC 23001-7 cenc, cbc1, cens and cbcs, in
 * place, with subsample maps and crypt:skip patterns.
 *
 * Each key caches one EVP_CIPHER_CTX per mode (created on first use), so a decrypt only resets
 * the IV: the hot path allocates nothing.
 */
#define _POSIX_C_SOURCE 200809L /* strict -std=c11: expose POSIX declarations */
#include <openssl/evp.h>
#include <string.h>

#include "refcdm.h"

#define CHUNK (1u << 30) /* EVP_*Update takes an int length */

static EVP_CIPHER_CTX* key_ctx(rc_key* k, int cbc) {
    void** slot = cbc ? &k->cbc : &k->ctr;
    if (!*slot) {
        static const uint8_t zero[16];
        EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
        if (!c) return NULL;
        if (EVP_DecryptInit_ex(c, cbc ? EVP_aes_128_cbc() : EVP_aes_128_ctr(), NULL, k->key,
                               zero) != 1) {
            EVP_CIPHER_CTX_free(c);
            return NULL;
        }
        EVP_CIPHER_CTX_set_padding(c, 0);
        *slot = c;
    }
    return *slot;
}

void rc_key_free_ctx(rc_key* k) {
    EVP_CIPHER_CTX_free(k->ctr);
    EVP_CIPHER_CTX_free(k->cbc);
    k->ctr = k->cbc = NULL;
}

static int set_iv(EVP_CIPHER_CTX* c, const uint8_t iv[16]) {
    if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, iv) != 1) return -1;
    EVP_CIPHER_CTX_set_padding(c, 0);
    return 0;
}

static int run(EVP_CIPHER_CTX* c, uint8_t* p, size_t n) {
    while (n) {
        size_t k = n > CHUNK ? CHUNK : n;
        int out = 0;
        if (EVP_DecryptUpdate(c, p, &out, p, (int)k) != 1 || (size_t)out != k) return -1;
        p += k;
        n -= k;
    }
    return 0;
}

/* One protected range with a crypt:skip pattern of 16-byte blocks. A final group with fewer than
 * `crypt` whole blocks stays clear (ISO/IEC 23001-7 §9.6.1), as does a trailing partial block.
 * Skip blocks are not part of the CBC chain nor of the CTR keystream, so the crypt groups are
 * gathered into a stack buffer, decrypted in one call per batch and scattered back: with the
 * usual 1:9 pattern this avoids one EVP call per 16-byte block. */
static int run_pattern(EVP_CIPHER_CTX* c, uint8_t* p, size_t n, uint32_t crypt, uint32_t skip) {
    size_t cb = (size_t)crypt * 16;
    size_t sb = (size_t)skip * 16;
    if (n < cb) return 0;
    size_t groups = (n - cb) / (cb + sb) + 1; /* crypt groups that are complete */
    uint8_t scratch[4096];
    size_t per_batch = sizeof scratch / cb;
    if (sb == 0) return run(c, p, groups * cb); /* contiguous */
    if (per_batch == 0) { /* groups larger than the buffer: one call per group */
        for (size_t g = 0; g < groups; g++)
            if (run(c, p + g * (cb + sb), cb)) return -1;
        return 0;
    }
    for (size_t g = 0; g < groups;) {
        size_t k = groups - g < per_batch ? groups - g : per_batch;
        for (size_t i = 0; i < k; i++) memcpy(scratch + i * cb, p + (g + i) * (cb + sb), cb);
        if (run(c, scratch, k * cb)) return -1;
        for (size_t i = 0; i < k; i++) memcpy(p + (g + i) * (cb + sb), scratch + i * cb, cb);
        g += k;
    }
    return 0;
}

OpenCDMError rc_decrypt(rc_key* key, uint8_t* buf, uint32_t len, const rc_sample* smp) {
    /* The map must describe the buffer exactly. */
    uint64_t total = 0;
    for (uint32_t i = 0; i < smp->nsub; i++)
        total += (uint64_t)smp->sub[i].clear_bytes + smp->sub[i].encrypted_bytes;
    if (smp->nsub && total != len) return ERROR_INVALID_ARG;
    if (smp->scheme == Clear || len == 0) return ERROR_NONE;
    if (smp->scheme != AesCtr_Cenc && smp->scheme != AesCtr_Cens && smp->scheme != AesCbc_Cbc1 &&
        smp->scheme != AesCbc_Cbcs)
        return ERROR_INVALID_ARG;
    if (smp->crypt > 0xFFFF || smp->skip > 0xFFFF) return ERROR_INVALID_ARG;

    int cbc = smp->scheme == AesCbc_Cbc1 || smp->scheme == AesCbc_Cbcs;
    EVP_CIPHER_CTX* c = key_ctx(key, cbc);
    if (!c) return ERROR_UNKNOWN;
    if (set_iv(c, smp->iv)) return ERROR_UNKNOWN;
    if (!cbc && smp->byte_offset) { /* Netflix counter context: start mid-block */
        uint8_t scratch[16] = {0};
        if (run(c, scratch, smp->byte_offset % 16)) return ERROR_UNKNOWN;
    }

    SubSampleInfo whole = {0, len};
    const SubSampleInfo* sub = smp->nsub ? smp->sub : &whole;
    uint32_t nsub = smp->nsub ? smp->nsub : 1;
    uint8_t* p = buf;
    int pattern = smp->crypt != 0;
    for (uint32_t i = 0; i < nsub; i++) {
        p += sub[i].clear_bytes;
        size_t n = sub[i].encrypted_bytes;
        int rc = 0;
        switch (smp->scheme) {
            case AesCtr_Cenc:
                rc = run(c, p, n); /* keystream continues across ranges, partial blocks carry */
                break;
            case AesCtr_Cens:
                /* no pattern (audio): whole blocks only, a partial tail stays clear (as cbcs) */
                rc = pattern ? run_pattern(c, p, n, smp->crypt, smp->skip)
                             : run(c, p, n & ~(size_t)15);
                break;
            case AesCbc_Cbc1:
                rc = run(c, p, n & ~(size_t)15); /* chain continues; a partial tail stays clear */
                break;
            case AesCbc_Cbcs:
                if (i > 0 && set_iv(c, smp->iv)) return ERROR_UNKNOWN; /* constant IV per range */
                rc = pattern ? run_pattern(c, p, n, smp->crypt, smp->skip)
                             : run(c, p, n & ~(size_t)15);
                break;
            default:
                break;
        }
        if (rc) return ERROR_UNKNOWN;
        p += n;
    }
    return ERROR_NONE;
}
