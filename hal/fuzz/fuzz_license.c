/*
 * libFuzzer harness: licenses through the public API. Each input goes to opencdm_session_update
 * of a ClearKey session (JWK sets) and of a Widevine session (drmkit test licenses), and to
 * opencdm_session_store_license_data of a Netflix session; then a decrypt with the installed keys
 * exercises the engine with whatever the license produced.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drmkit/open_cdm.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static struct OpenCDMSystem *ck_sys, *wv_sys, *nf_sys;

static struct OpenCDMSession* session(struct OpenCDMSystem* sys, const char* type,
                                      const uint8_t* init, uint16_t len) {
    static OpenCDMSessionCallbacks cbs; /* all NULL: callbacks are skipped */
    struct OpenCDMSession* s = NULL;
    if (opencdm_construct_session(sys, Temporary, type, init, len, NULL, 0, &cbs, NULL, &s))
        abort();
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (!ck_sys) {
        ck_sys = opencdm_create_system("org.w3.clearkey");
        wv_sys = opencdm_create_system("com.widevine.alpha");
        nf_sys = opencdm_create_system("com.netflix.playready");
    }
    if (size > 65535) return 0;
    static const uint8_t kid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    struct OpenCDMSession* ck = session(ck_sys, "webm", kid, 16);
    struct OpenCDMSession* wv = session(wv_sys, "webm", kid, 16);
    struct OpenCDMSession* nf = session(nf_sys, "", NULL, 0);
    uint8_t* lic = malloc(size ? size : 1);
    memcpy(lic, data, size);
    opencdm_session_update(ck, lic, (uint16_t)size);
    opencdm_session_update(wv, lic, (uint16_t)size);
    uint8_t ssid[16];
    opencdm_session_store_license_data(nf, lic, (uint32_t)size, ssid);
    uint8_t buf[64] = {0};
    EncryptionPattern pat = {1, 9};
    opencdm_session_decrypt(ck, buf, sizeof buf, AesCbc_Cbcs, pat, NULL, 0, kid, 16, 0);
    opencdm_session_decrypt(wv, buf, sizeof buf, AesCtr_Cenc, pat, NULL, 0, NULL, 0, 0);
    free(lic);
    opencdm_destruct_session(ck);
    opencdm_destruct_session(wv);
    opencdm_destruct_session(nf);
    return 0;
}
