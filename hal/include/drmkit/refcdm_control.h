/*
 * Control entry points of drmkit's reference CDM (libdrmkit_refcdm.so). They are not part of the
 * OCDM ABI: a platform libocdm.so does not export them, and the HAL looks them up with dlsym.
 *
 * Both take a NUL-terminated JSON object and write a NUL-terminated JSON reply into `reply`
 * (capacity `*reply_size` bytes; on return `*reply_size` is the length needed including the NUL).
 * They return 0 on success and a non-zero OpenCDMError value on failure, with
 * {"error": "<message>"} as the reply. The commands are documented in docs/reference-cdm.md.
 */
#ifndef DRMKIT_REFCDM_CONTROL_H
#define DRMKIT_REFCDM_CONTROL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Production configuration, e.g. {"store_dir": "/var/lib/drmkit/refcdm",
 * "clearkey_challenge": "w3c" | "ocdm"}. */
__attribute__((visibility("default"))) uint32_t drmkit_refcdm_configure(const char* json,
                                                                      char* reply,
                                                                      uint32_t* reply_size);

/* Test control: fault injection and unsolicited events; never needed in production. */
__attribute__((visibility("default"))) uint32_t drmkit_refcdm_test_control(const char* json,
                                                                         char* reply,
                                                                         uint32_t* reply_size);

/* The pre-2021 8-argument opencdm_session_decrypt (no scheme, no pattern: AES-CTR "cenc" over
 * the whole buffer), exported under its own name so the HAL's "legacy" decrypt variant can be
 * exercised against the reference CDM. Same return codes as opencdm_session_decrypt. */
struct OpenCDMSession;
__attribute__((visibility("default"))) uint32_t drmkit_refcdm_session_decrypt_legacy(
    struct OpenCDMSession* session, uint8_t encrypted[], uint32_t encryptedLength,
    const uint8_t* IV, uint16_t IVLength, const uint8_t* keyId, uint16_t keyIdLength,
    uint32_t initWithLast15);

#ifdef __cplusplus
}
#endif

#endif /* DRMKIT_REFCDM_CONTROL_H */
