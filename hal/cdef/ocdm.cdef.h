/*
 * cffi declarations of the OCDM types drmkit's HAL uses (C-only subset of
 * hal/include/drmkit/open_cdm.h). cffi's parser takes no preprocessor directives, so this file is
 * hand-kept; in API mode the C compiler checks every value and layout below against the header.
 */

struct OpenCDMSystem;
struct OpenCDMSession;

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
    ERROR_INVALID_ACCESSOR = 0x80000001,
    ERROR_KEYSYSTEM_NOT_SUPPORTED = 0x80000002,
    ERROR_INVALID_SESSION = 0x80000003,
    ERROR_INVALID_DECRYPT_BUFFER = 0x80000004,
    ERROR_OUT_OF_MEMORY = 0x80000005,
    ERROR_METHOD_NOT_IMPLEMENTED = 0x80000006,
    ERROR_FAIL = 0x80004005,
    ERROR_INVALID_ARG = 0x80070057,
    ERROR_SERVER_INTERNAL_ERROR = 0x8004C600,
    ERROR_SERVER_INVALID_MESSAGE = 0x8004C601,
    ERROR_SERVER_SERVICE_SPECIFIC = 0x8004C604,
    ERROR_BUSY_CANNOT_INITIALIZE = 0x8004DD00
} OpenCDMError;

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
    uint8_t* iv;
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

struct PlayLevels {
    uint16_t _compressedDigitalVideoLevel;
    uint16_t _uncompressedDigitalVideoLevel;
    uint16_t _analogVideoLevel;
    uint16_t _compressedDigitalAudioLevel;
    uint16_t _uncompressedDigitalAudioLevel;
    uint32_t _maxResDecodeWidth;
    uint32_t _maxResDecodeHeight;
};
