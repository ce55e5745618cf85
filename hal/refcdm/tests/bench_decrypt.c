/*
 * Decrypt throughput of the reference CDM against OpenSSL's own AES-128-CTR (the baseline of
 * `openssl speed -evp aes-128-ctr`), measured in the same process on 1 MiB cenc samples.
 * Prints MB/s for both and the ratio (make -C hal/refcdm bench).
 */
#define _POSIX_C_SOURCE 200809L
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drmkit/open_cdm.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
    size_t len = 1u << 20;
    int iters = argc > 1 ? atoi(argv[1]) : 400;
    uint8_t* buf = malloc(len);
    memset(buf, 0x42, len);
    static const uint8_t key[16] = {0x69, 0xea, 0xa8, 0x02, 0xa6, 0x76, 0x3a, 0xf9,
                                    0x79, 0xe8, 0xd1, 0x94, 0x0f, 0xb8, 0x83, 0x92};
    static const uint8_t kid[16] = {0xab, 0xba, 0x27, 0x1e, 0x8b, 0xcf, 0x55, 0x2b,
                                    0xbd, 0x2e, 0x86, 0xa4, 0x34, 0xa9, 0xa5, 0xd9};
    uint8_t iv[16] = {1, 2, 3, 4, 5, 6, 7, 8};

    /* baseline: EVP AES-128-CTR, new IV per sample, as openssl speed (minus its context reuse) */
    EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, iv);
    double t0 = now();
    for (int i = 0; i < iters; i++) {
        int out;
        EVP_EncryptInit_ex(c, NULL, NULL, NULL, iv);
        EVP_EncryptUpdate(c, buf, &out, buf, (int)len);
    }
    double base = (double)len * iters / (now() - t0) / 1e6;
    EVP_CIPHER_CTX_free(c);

    struct OpenCDMSystem* sys = opencdm_create_system("org.w3.clearkey");
    OpenCDMSessionCallbacks cbs = {0};
    struct OpenCDMSession* s = NULL;
    opencdm_construct_session(sys, Temporary, "webm", kid, 16, NULL, 0, &cbs, NULL, &s);
    static const char lic[] =
        "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"q7onHovPVSu9LoakNKml2Q\",\"k\":\"aeqoAqZ2OvlJ6NGUD7iDkg\"}]}";
    if (opencdm_session_update(s, (const uint8_t*)lic, sizeof lic - 1)) return 1;
    EncryptionPattern none = {0, 0};
    t0 = now();
    for (int i = 0; i < iters; i++)
        if (opencdm_session_decrypt(s, buf, (uint32_t)len, AesCtr_Cenc, none, iv, 8, kid, 16, 0))
            return 1;
    double cdm = (double)len * iters / (now() - t0) / 1e6;
    printf("openssl evp aes-128-ctr: %.0f MB/s\nrefcdm cenc decrypt:     %.0f MB/s\nratio: %.3f\n",
           base, cdm, cdm / base);
    /* cbcs 1:9 (one block in ten encrypted) against EVP AES-128-CBC over the same bytes */
    c = EVP_CIPHER_CTX_new();
    EVP_DecryptInit_ex(c, EVP_aes_128_cbc(), NULL, key, iv);
    EVP_CIPHER_CTX_set_padding(c, 0);
    t0 = now();
    for (int i = 0; i < iters; i++) {
        int out;
        EVP_DecryptInit_ex(c, NULL, NULL, NULL, iv);
        EVP_DecryptUpdate(c, buf, &out, buf, (int)len);
    }
    double cbc = (double)len * iters / (now() - t0) / 1e6;
    EVP_CIPHER_CTX_free(c);
    EncryptionPattern p19 = {1, 9};
    t0 = now();
    for (int i = 0; i < iters; i++)
        if (opencdm_session_decrypt(s, buf, (uint32_t)len, AesCbc_Cbcs, p19, iv, 16, kid, 16, 0))
            return 1;
    double cbcs = (double)len * iters / (now() - t0) / 1e6;
    printf("openssl evp aes-128-cbc: %.0f MB/s\nrefcdm cbcs 1:9 decrypt: %.0f MB/s of samples\n"
           "ratio (sample bytes): %.3f\n", cbc, cbcs, cbcs / cbc);
    opencdm_destruct_session(s);
    opencdm_destruct_system(sys);
    free(buf);
    return 0;
}
