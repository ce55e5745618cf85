/*
 * Unit tests of the reference CDM's internal parsers and codecs (JSON, base64, UTF-16LE, pssh,
 * WRMHEADER). Linked with the library sources directly, since these symbols are not exported.
 * Built and run by `make -C hal/refcdm check`.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "refcdm.h"

static int failures;
#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static int json_ok(const char* s) {
    rc_json j;
    int rc = rc_json_parse(&j, s, strlen(s));
    if (rc == 0) rc_json_free(&j);
    return rc == 0;
}

static void test_json(void) {
    static const char* good[] = {
        "{}", "[]", "0", "-0.5e+10", "\"\\u0000\"", "{\"a\":[1,2,{\"b\":null}],\"c\":true}",
        " \t\r\n{\"x\" : \"\\ud83d\\ude00\\n\"} ", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", NULL};
    static const char* bad[] = {
        "", "{", "{\"a\":1}x", "[1,]", "{\"a\":1,}", "01", "1.", "-", ".5", "1e", "+1",
        "\"\\ud800\"", "\"\\udc00\"", "\"\\x\"", "\"a\nb\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
        "\"\xf5\x80\x80\x80\"", "\"\xe2\x82\"", "tru", "nul", "{a:1}", "{\"a\" 1}", "['a']", NULL};
    for (const char** g = good; *g; g++) {
        if (!json_ok(*g)) fprintf(stderr, "rejected good JSON: %s\n", *g);
        CHECK(json_ok(*g));
    }
    for (const char** b = bad; *b; b++) {
        if (json_ok(*b)) fprintf(stderr, "accepted bad JSON: %s\n", *b);
        CHECK(!json_ok(*b));
    }
    char deep[80];
    memset(deep, '[', 40);
    memset(deep + 40, ']', 40);
    rc_json j;
    CHECK(rc_json_parse(&j, deep, 64) != 0); /* unbalanced */
    CHECK(rc_json_parse(&j, deep, 80) != 0); /* deeper than 32 */
    CHECK(rc_json_parse(&j, deep + 8, 64) == 0);
    rc_json_free(&j);

    const char* doc = "{\"k\":\"a\\u0000b\",\"n\":-42,\"d\":1,\"d\":2}";
    CHECK(rc_json_parse(&j, doc, strlen(doc)) == 0);
    char out[16];
    long k = rc_json_get(&j, 0, "k");
    CHECK(k > 0 && rc_json_str(&j, (uint32_t)k, out, sizeof out) == 3 && !memcmp(out, "a\0b", 3));
    int64_t v = 0;
    CHECK(rc_json_int(&j, (uint32_t)rc_json_get(&j, 0, "n"), &v) == 0 && v == -42);
    CHECK(rc_json_get(&j, 0, "d") == -2); /* duplicate member */
    CHECK(rc_json_get(&j, 0, "missing") == -1);
    CHECK(rc_json_str(&j, (uint32_t)k, out, 3) == -1); /* does not fit */
    rc_json_free(&j);
}

static void test_codecs(void) {
    uint8_t out[32];
    CHECK(rc_b64_decode("AAEC", 4, out, sizeof out) == 3);
    CHECK(rc_b64_decode("AAE", 3, out, sizeof out) == 2);
    CHECK(rc_b64_decode("AAE=", 4, out, sizeof out) == 2);
    CHECK(rc_b64_decode("-_8", 3, out, sizeof out) == 2 && out[0] == 0xfb && out[1] == 0xff);
    CHECK(rc_b64_decode("+/8", 3, out, sizeof out) == 2 && out[0] == 0xfb);
    CHECK(rc_b64_decode("A", 1, out, sizeof out) == -1);
    CHECK(rc_b64_decode("AA=", 3, out, sizeof out) == -1); /* padding must complete a quantum */
    CHECK(rc_b64_decode("AA A", 4, out, sizeof out) == -1);
    CHECK(rc_b64_decode("AAAAAAAA", 8, out, 5) == -1); /* does not fit */
    char enc[64];
    static const uint8_t raw[16] = {0xfb, 0xff};
    CHECK(rc_b64_encode(raw, 2, enc, sizeof enc, 1, 0) == 3 && !strcmp(enc, "-_8"));
    CHECK(rc_b64_encode(raw, 2, enc, sizeof enc, 0, 1) == 4 && !strcmp(enc, "+/8="));
    CHECK(rc_b64_encode(raw, 16, enc, 10, 0, 1) == -1);
    CHECK(rc_unhex("0aFf", 4, out, sizeof out) == 2 && out[0] == 0x0a && out[1] == 0xff);
    CHECK(rc_unhex("0g", 2, out, sizeof out) == -1 && rc_unhex("abc", 3, out, sizeof out) == -1);
    char u8[32];
    static const uint8_t u16[] = {'<', 0, 0xe9, 0, 0x3d, 0xd8, 0x00, 0xde};
    CHECK(rc_utf16le_to_utf8(u16, sizeof u16, u8, sizeof u8) == 1 + 2 + 4);
    static const uint8_t lone[] = {0x3d, 0xd8, 'a', 0};
    CHECK(rc_utf16le_to_utf8(lone, sizeof lone, u8, sizeof u8) == -1);
    CHECK(rc_utf16le_to_utf8(u16, 3, u8, sizeof u8) == -1);     /* odd length */
    static const uint8_t nul[] = {0, 0};
    CHECK(rc_utf16le_to_utf8(nul, 2, u8, sizeof u8) == -1);
}

static void test_wrmheader(void) {
    rc_initdata d;
    const char* v40 =
        "<WRMHEADER xmlns=\"http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader\" "
        "version=\"4.0.0.0\"><DATA><PROTECTINFO><KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID>"
        "</PROTECTINFO><KID>6vkTreYruJh19QSo48zqZA==</KID><LA_URL>http://a/b?x=1&amp;y=2</LA_URL>"
        "</DATA></WRMHEADER>";
    memset(&d, 0, sizeof d);
    CHECK(rc_parse_wrmheader_xml(v40, strlen(v40), &d) == 0);
    static const uint8_t want[16] = {0xad, 0x13, 0xf9, 0xea, 0x2b, 0xe6, 0x98, 0xb8,
                                     0x75, 0xf5, 0x04, 0xa8, 0xe3, 0xcc, 0xea, 0x64};
    CHECK(d.nkids == 1 && !memcmp(d.kids[0].b, want, 16));
    CHECK(!strcmp(d.la_url, "http://a/b?x=1&y=2"));
    const char* v42 =
        "<?xml version=\"1.0\"?><!-- c --><WRMHEADER version=\"4.2.0.0\"><DATA><PROTECTINFO><KIDS>"
        "<KID ALGID=\"AESCTR\" VALUE=\"6vkTreYruJh19QSo48zqZA==\"></KID><KID VALUE='AAAAAAAAAAAAAAAAAAAAAA=='/>"
        "</KIDS></PROTECTINFO></DATA></WRMHEADER>";
    memset(&d, 0, sizeof d);
    CHECK(rc_parse_wrmheader_xml(v42, strlen(v42), &d) == 0 && d.nkids == 2);
    static const char* bad[] = {
        "<WRMHEADER version=\"4.4.0.0\"></WRMHEADER>",
        "<WRMHEADER></WRMHEADER>",
        "<WRMHEADER version=\"4.0.0.0\"><DATA></WRMHEADER>",
        "<WRMHEADER version=\"4.0.0.0\"><KID>short</KID></WRMHEADER>",
        "<WRMHEADER version=\"4.0.0.0\"><![CDATA[x]]></WRMHEADER>",
        "<X version=\"4.0.0.0\"></X>",
        "<WRMHEADER version=\"4.0.0.0\"></WRMHEADER><WRMHEADER version=\"4.0.0.0\"></WRMHEADER>",
        "<WRMHEADER version=\"4.0.0.0\"><LA_URL>&bogus;</LA_URL></WRMHEADER>",
        "<WRMHEADER version=\"4.0.0.0\" a=b></WRMHEADER>",
        NULL};
    for (const char** b = bad; *b; b++) {
        memset(&d, 0, sizeof d);
        if (rc_parse_wrmheader_xml(*b, strlen(*b), &d) == 0) fprintf(stderr, "accepted: %s\n", *b);
        CHECK(rc_parse_wrmheader_xml(*b, strlen(*b), &d) != 0);
    }
}

static void test_pssh(void) {
    /* Common v1 box with one KID (the layout of media-and-vectors §2) */
    uint8_t box[52] = {0, 0, 0, 52, 'p', 's', 's', 'h', 1, 0, 0, 0,
                       0x10, 0x77, 0xef, 0xec, 0xc0, 0xb2, 0x4d, 0x02,
                       0xac, 0xe3, 0x3c, 0x1e, 0x52, 0xe2, 0xfb, 0x4b, 0, 0, 0, 1};
    memset(box + 32, 0x11, 16);
    rc_initdata d;
    memset(&d, 0, sizeof d);
    CHECK(rc_parse_clearkey_initdata("cenc", box, sizeof box, &d) == 0 && d.nkids == 1);
    box[31] = 2; /* KID count lies */
    memset(&d, 0, sizeof d);
    CHECK(rc_parse_clearkey_initdata("cenc", box, sizeof box, &d) != 0);
    box[31] = 1;
    box[3] = 53; /* size lies */
    memset(&d, 0, sizeof d);
    CHECK(rc_parse_clearkey_initdata("cenc", box, sizeof box, &d) != 0);
    box[3] = 52;
    box[8] = 0; /* v0: no KIDs, then the data size no longer matches */
    memset(&d, 0, sizeof d);
    CHECK(rc_parse_clearkey_initdata("cenc", box, sizeof box, &d) != 0);
    memset(&d, 0, sizeof d);
    CHECK(rc_parse_clearkey_initdata("cenc", box, 7, &d) != 0);
    memset(&d, 0, sizeof d);
    CHECK(rc_parse_clearkey_initdata("keyids", (const uint8_t*)"{\"kids\":[\"!!\"]}", 15, &d) != 0);
    memset(&d, 0, sizeof d);
    CHECK(rc_parse_clearkey_initdata("keyids", (const uint8_t*)"{\"kids\":[]}", 11, &d) != 0);
    memset(&d, 0, sizeof d);
    CHECK(rc_parse_clearkey_initdata("webm", box, 17, &d) != 0); /* > 16 bytes */
    /* Widevine protobuf: unknown fields skipped, lengths checked */
    static const uint8_t wv[] = {0x08, 0x01, 0x12, 0x02, 0xaa, 0xbb, 0x7a, 0x01, 0x00,
                                 0x1a, 0x02, 'h', 'i', 0x48, 0x63};
    memset(&d, 0, sizeof d);
    CHECK(rc_parse_widevine_pssh_data(wv, sizeof wv, &d) == 0 && d.nkids == 1 &&
          !strcmp(d.provider, "hi"));
    static const uint8_t wvbad[] = {0x12, 0x05, 0xaa};
    memset(&d, 0, sizeof d);
    CHECK(rc_parse_widevine_pssh_data(wvbad, sizeof wvbad, &d) != 0);
}

int main(void) {
    test_json();
    test_codecs();
    test_wrmheader();
    test_pssh();
    if (failures) {
        fprintf(stderr, "unit: %d check(s) failed\n", failures);
        return 1;
    }
    printf("unit: all checks passed\n");
    return 0;
}
