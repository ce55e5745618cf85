/*
 * drmkit's C header of the OpenCDM (OCDM) client ABI.
 *
 * The platform header (ThunderClientLibraries Source/ocdm/open_cdm.h and open_cdm_ext.h) is C++:
 * it includes <string> and <list>, uses a default argument and std::string references. This header
 * declares the same C ABI -- names, argument order, enum values and struct layouts -- in plain C so
 * that a C compiler and cffi can check drmkit's binding and drmkit's reference CDM against it.
 *
 * Interface facts (signatures, values, layouts) follow the OCDM ABI; see docs/reference-cdm.md and
 * docs/architecture.md for how drmkit uses them.
 */
#ifndef DRMKIT_OPEN_CDM_H
#define DRMKIT_OPEN_CDM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef OCDM_EXTERNAL
#define OCDM_EXTERNAL __attribute__((visibility("default")))
#endif

#define SESSION_ID_LEN 16
#define MAX_NUM_SECURE_STOPS 8

struct OpenCDMSystem;
struct OpenCDMSession;
struct PlayLevels;

/* All enums are 4 bytes wide. OpenCDMError is unsigned: several values exceed INT_MAX. */

typedef enum {
    Temporary = 0,
    PersistentUsageRecord = 1,
    PersistentLicense = 2
} LicenseType;

typedef enum {
    Clear = 0,
    AesCtr_Cenc = 1,
    AesCbc_Cbc1 = 2,
    AesCtr_Cens = 3,
    AesCbc_Cbcs = 4
} EncryptionScheme;

typedef enum {
    MediaType_Unknown = 0,
    MediaType_Video = 1,
    MediaType_Audio = 2,
    MediaType_Data = 3
} MediaType;

typedef enum {
    Usable = 0,
    Expired = 1,
    Released = 2,
    OutputRestricted = 3,
    OutputRestrictedHDCP22 = 4,
    OutputDownscaled = 5,
    StatusPending = 6,
    InternalError = 7,
    HWError = 8
} KeyStatus;

typedef enum {
    OPENCDM_BOOL_FALSE = 0,
    OPENCDM_BOOL_TRUE = 1
} OpenCDMBool;

typedef enum {
    ERROR_NONE = 0,
    ERROR_UNKNOWN = 1,
    ERROR_MORE_DATA_AVAILABLE = 2,
    ERROR_INTERFACE_NOT_IMPLEMENTED = 3,
    ERROR_BUFFER_TOO_SMALL = 4,
    ERROR_INVALID_ACCESSOR = 0x80000001u,
    ERROR_KEYSYSTEM_NOT_SUPPORTED = 0x80000002u,
    ERROR_INVALID_SESSION = 0x80000003u,
    ERROR_INVALID_DECRYPT_BUFFER = 0x80000004u,
    ERROR_OUT_OF_MEMORY = 0x80000005u,
    ERROR_METHOD_NOT_IMPLEMENTED = 0x80000006u,
    ERROR_FAIL = 0x80004005u,
    ERROR_INVALID_ARG = 0x80070057u,
    ERROR_SERVER_INTERNAL_ERROR = 0x8004C600u,
    ERROR_SERVER_INVALID_MESSAGE = 0x8004C601u,
    ERROR_SERVER_SERVICE_SPECIFIC = 0x8004C604u,
    ERROR_BUSY_CANNOT_INITIALIZE = 0x8004DD00u
} OpenCDMError;

/* Field order as in open_cdm.h (the server-side CDMi struct has the reverse order). */
typedef struct {
    uint32_t encrypted_blocks;
    uint32_t clear_blocks;
} EncryptionPattern;

typedef struct {
    uint16_t clear_bytes;
    uint32_t encrypted_bytes;
} SubSampleInfo;

typedef struct {
    EncryptionScheme scheme;
    EncryptionPattern pattern;
    uint8_t* iv;             /* NULL means an all-zero IV */
    uint8_t ivLength;
    uint8_t* keyId;
    uint8_t keyIdLength;
    uint8_t subSampleCount;
    SubSampleInfo* subSample;
} SampleInfo;

typedef struct {
    uint16_t height;
    uint16_t width;
    MediaType media_type;
} MediaProperties;

struct PlayLevels {
    uint16_t _compressedDigitalVideoLevel;
    uint16_t _uncompressedDigitalVideoLevel;
    uint16_t _analogVideoLevel;
    uint16_t _compressedDigitalAudioLevel;
    uint16_t _uncompressedDigitalAudioLevel;
    uint32_t _maxResDecodeWidth;
    uint32_t _maxResDecodeHeight;
};

/* The library stores a pointer to this struct (no copy): keep it alive until destruct. */
typedef struct {
    void (*process_challenge_callback)(struct OpenCDMSession* session, void* userData,
                                       const char url[], const uint8_t challenge[],
                                       const uint16_t challengeLength);
    void (*key_update_callback)(struct OpenCDMSession* session, void* userData,
                                const uint8_t keyId[], const uint8_t length);
    void (*error_message_callback)(struct OpenCDMSession* session, void* userData,
                                   const char message[]);
    void (*keys_updated_callback)(const struct OpenCDMSession* session, void* userData);
} OpenCDMSessionCallbacks;

/* ---- open_cdm.h (core) ---------------------------------------------------------------------- */

OCDM_EXTERNAL struct OpenCDMSystem* opencdm_create_system(const char keySystem[]);
OCDM_EXTERNAL OpenCDMError opencdm_create_system_extended(const char keySystem[],
                                                          struct OpenCDMSystem** system);
OCDM_EXTERNAL OpenCDMError opencdm_destruct_system(struct OpenCDMSystem* system);
OCDM_EXTERNAL OpenCDMError opencdm_is_type_supported(const char keySystem[], const char mimeType[]);
OCDM_EXTERNAL OpenCDMError opencdm_system_get_metadata(struct OpenCDMSystem* system, char metadata[],
                                                       uint16_t* metadataSize);
OCDM_EXTERNAL OpenCDMError opencdm_system_get_version(struct OpenCDMSystem* system,
                                                      char versionStr[]);
OCDM_EXTERNAL OpenCDMError opencdm_system_get_drm_time(struct OpenCDMSystem* system, uint64_t* time);
OCDM_EXTERNAL struct OpenCDMSession* opencdm_get_session(const uint8_t keyId[], const uint8_t length,
                                                         const uint32_t waitTime);
OCDM_EXTERNAL struct OpenCDMSession* opencdm_get_system_session(struct OpenCDMSystem* system,
                                                                const uint8_t keyId[],
                                                                const uint8_t length,
                                                                const uint32_t waitTime);
OCDM_EXTERNAL OpenCDMBool opencdm_system_supports_server_certificate(struct OpenCDMSystem* system);
OCDM_EXTERNAL OpenCDMError opencdm_system_set_server_certificate(struct OpenCDMSystem* system,
                                                                 const uint8_t serverCertificate[],
                                                                 const uint16_t serverCertificateLength);
OCDM_EXTERNAL OpenCDMError opencdm_get_metric_system_data(struct OpenCDMSystem* system,
                                                          uint32_t* bufferLength, uint8_t* buffer);
OCDM_EXTERNAL OpenCDMError opencdm_construct_session(struct OpenCDMSystem* system,
                                                     const LicenseType licenseType,
                                                     const char initDataType[],
                                                     const uint8_t initData[],
                                                     const uint16_t initDataLength,
                                                     const uint8_t CDMData[],
                                                     const uint16_t CDMDataLength,
                                                     OpenCDMSessionCallbacks* callbacks,
                                                     void* userData,
                                                     struct OpenCDMSession** session);
OCDM_EXTERNAL OpenCDMError opencdm_destruct_session(struct OpenCDMSession* session);
OCDM_EXTERNAL OpenCDMError opencdm_session_load(struct OpenCDMSession* session);
OCDM_EXTERNAL OpenCDMError opencdm_session_update(struct OpenCDMSession* session,
                                                  const uint8_t keyMessage[], const uint16_t keyLength);
OCDM_EXTERNAL OpenCDMError opencdm_session_remove(struct OpenCDMSession* session);
OCDM_EXTERNAL OpenCDMError opencdm_session_metadata(const struct OpenCDMSession* session,
                                                    char metadata[], uint16_t* metadataSize);
OCDM_EXTERNAL OpenCDMError opencdm_session_resetoutputprotection(struct OpenCDMSession* session);
OCDM_EXTERNAL const char* opencdm_session_id(const struct OpenCDMSession* session);
/* Note the argument order (length, keyId): the reverse of opencdm_session_status. */
OCDM_EXTERNAL uint32_t opencdm_session_has_key_id(struct OpenCDMSession* session, const uint8_t length,
                                                  const uint8_t keyId[]);
OCDM_EXTERNAL KeyStatus opencdm_session_status(const struct OpenCDMSession* session,
                                               const uint8_t keyId[], const uint8_t length);
OCDM_EXTERNAL uint32_t opencdm_session_error(const struct OpenCDMSession* session,
                                             const uint8_t keyId[], const uint8_t length);
OCDM_EXTERNAL OpenCDMError opencdm_session_system_error(const struct OpenCDMSession* session);
OCDM_EXTERNAL const char* opencdm_session_buffer_id(const struct OpenCDMSession* session);
OCDM_EXTERNAL OpenCDMError opencdm_session_close(struct OpenCDMSession* session);
/* 10-argument form (OCDM since 2021); EncryptionPattern is passed by value. */
OCDM_EXTERNAL OpenCDMError opencdm_session_decrypt(struct OpenCDMSession* session, uint8_t encrypted[],
                                                   const uint32_t encryptedLength,
                                                   const EncryptionScheme encScheme,
                                                   const EncryptionPattern pattern,
                                                   const uint8_t* IV, uint16_t IVLength,
                                                   const uint8_t* keyId, const uint16_t keyIdLength,
                                                   uint32_t initWithLast15);
OCDM_EXTERNAL OpenCDMError opencdm_session_decrypt_v2(struct OpenCDMSession* session,
                                                      uint8_t encrypted[],
                                                      const uint32_t encryptedLength,
                                                      const SampleInfo* sampleInfo,
                                                      const MediaProperties* streamProperties);
OCDM_EXTERNAL OpenCDMError opencdm_get_metric_session_data(struct OpenCDMSession* session,
                                                           uint32_t* bufferLength, uint8_t* buffer);
OCDM_EXTERNAL void opencdm_dispose(void);

/* ---- open_cdm_ext.h (Netflix / PlayReady extended API) ------------------------------------- */

OCDM_EXTERNAL OpenCDMError opencdm_system_ext_get_ldl_session_limit(struct OpenCDMSystem* system,
                                                                    uint32_t* ldlLimit);
OCDM_EXTERNAL uint32_t opencdm_system_ext_is_secure_stop_enabled(struct OpenCDMSystem* system);
OCDM_EXTERNAL OpenCDMError opencdm_system_ext_enable_secure_stop(struct OpenCDMSystem* system,
                                                                 uint32_t use);
OCDM_EXTERNAL uint32_t opencdm_system_ext_reset_secure_stop(struct OpenCDMSystem* system);
OCDM_EXTERNAL OpenCDMError opencdm_system_ext_get_secure_stop_ids(struct OpenCDMSystem* system,
                                                                  uint8_t Ids[], uint16_t idsLength,
                                                                  uint32_t* count);
OCDM_EXTERNAL OpenCDMError opencdm_system_ext_get_secure_stop(struct OpenCDMSystem* system,
                                                              const uint8_t sessionID[],
                                                              uint32_t sessionIDLength,
                                                              uint8_t rawData[], uint16_t* rawSize);
OCDM_EXTERNAL OpenCDMError opencdm_system_ext_commit_secure_stop(struct OpenCDMSystem* system,
                                                                 const uint8_t sessionID[],
                                                                 uint32_t sessionIDLength,
                                                                 const uint8_t serverResponse[],
                                                                 uint32_t serverResponseLength);
OCDM_EXTERNAL OpenCDMError opencdm_get_key_store_hash_ext(struct OpenCDMSystem* system,
                                                          uint8_t keyStoreHash[],
                                                          uint32_t keyStoreHashLength);
OCDM_EXTERNAL OpenCDMError opencdm_get_secure_store_hash_ext(struct OpenCDMSystem* system,
                                                             uint8_t secureStoreHash[],
                                                             uint32_t secureStoreHashLength);
OCDM_EXTERNAL OpenCDMError opencdm_delete_key_store(struct OpenCDMSystem* system);
OCDM_EXTERNAL OpenCDMError opencdm_delete_secure_store(struct OpenCDMSystem* system);
OCDM_EXTERNAL OpenCDMError opencdm_session_set_drm_header(struct OpenCDMSession* opencdmSession,
                                                          const uint8_t drmHeader[],
                                                          uint32_t drmHeaderSize);
OCDM_EXTERNAL OpenCDMError opencdm_session_get_challenge_data(struct OpenCDMSession* mOpenCDMSession,
                                                              uint8_t* challenge,
                                                              uint32_t* challengeSize,
                                                              uint32_t isLDL);
OCDM_EXTERNAL OpenCDMError opencdm_session_cancel_challenge_data(
    struct OpenCDMSession* mOpenCDMSession);
/* secureStopId is a 16-byte OUT buffer. */
OCDM_EXTERNAL OpenCDMError opencdm_session_store_license_data(struct OpenCDMSession* mOpenCDMSession,
                                                              const uint8_t licenseData[],
                                                              uint32_t licenseDataSize,
                                                              uint8_t* secureStopId);
OCDM_EXTERNAL OpenCDMError opencdm_session_select_key_id(struct OpenCDMSession* mOpenCDMSession,
                                                         uint8_t keyLenght, const uint8_t keyId[]);
OCDM_EXTERNAL OpenCDMError opencdm_system_teardown(struct OpenCDMSystem* system);
OCDM_EXTERNAL OpenCDMError opencdm_session_clean_decrypt_context(
    struct OpenCDMSession* mOpenCDMSession);
OCDM_EXTERNAL OpenCDMError opencdm_system_ext_get_properties(struct PlayLevels* system,
                                                             const char* propertiesJSONText);

#ifdef __cplusplus
}
#endif

#endif /* DRMKIT_OPEN_CDM_H */
